"""What every model family declares: its data needs, parameters with units, priors and builder."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from il6fit.errors import SpecError
from il6fit.models.priors import Prior


@dataclass(frozen=True)
class ParameterInfo:
    """A model parameter as shown in tables and figures."""

    description: str
    unit: str


@dataclass(frozen=True)
class ObservedInfo:
    """An observed variable as shown in predictive checks.

    Attributes
    ----------
    label : str
        Axis label with its unit, e.g. ``"CRP (mg/L)"``.
    kind : {"continuous", "discrete"}
        Continuous values are compared as ECDFs; discrete ones (counts, categories) as
        frequencies of each value.
    log : bool
        The variable is a natural log: shown back-transformed on a log axis.
    categories : tuple of str
        Names of the codes 0, 1, ... of a categorical variable.
    """

    label: str
    kind: str = "continuous"
    log: bool = False
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelFamily:
    """A model family.

    Attributes
    ----------
    name : str
        Name used in the config and in output paths.
    title : str
        One-line description.
    requires : tuple of str
        PARAMCD codes the dataset must contain.
    parameters : mapping of str to ParameterInfo
        Parameters reported in summaries, in order.
    default_priors : mapping of str to Prior
        Default prior of each free parameter (overridable from config).
    analysis_table : callable
        ``(subjects, measurements, **options) -> DataFrame``: the rows the model uses.
    build : callable
        ``(table, priors, **build_options) -> pm.Model``.
    equations : str
        The model written out in maths (the module docstring).
    estimands : callable, optional
        ``(tree, table, **options) -> xarray.Dataset`` of clinical estimand draws.
    estimand_parameters : mapping of str to ParameterInfo
        The estimands reported, with units.
    figures : tuple of str
        Report figures drawn for every fit (names known to :func:`il6fit.plots.draw`).
    build_options : tuple of str
        Config options passed to ``build`` as keywords (all other options, but ``priors``, go to
        ``analysis_table``).
    observed : mapping of str to ObservedInfo
        The outcome variables, shown in prior and posterior predictive checks.
    with_observed : callable, optional
        ``(table, {variable: values}) -> table``: the analysis table with its outcomes replaced
        by values drawn from the model (for recovery and calibration studies).
    """

    name: str
    title: str
    requires: tuple[str, ...]
    parameters: Mapping[str, ParameterInfo]
    default_priors: Mapping[str, Prior]
    analysis_table: Callable[..., pd.DataFrame]
    build: Callable[..., pm.Model]
    equations: str
    estimands: Callable[..., xr.Dataset] | None = None
    estimand_parameters: Mapping[str, ParameterInfo] = field(default_factory=dict)
    figures: tuple[str, ...] = ("forest", "ranks")
    build_options: tuple[str, ...] = ()
    observed: Mapping[str, ObservedInfo] = field(default_factory=dict)
    with_observed: Callable[..., pd.DataFrame] | None = None

    def table(
        self, subjects: pd.DataFrame, measurements: pd.DataFrame, options: Mapping
    ) -> pd.DataFrame:
        """Build the analysis table with the model's config options (``priors`` ignored).

        Parameters
        ----------
        subjects, measurements : pandas.DataFrame
            A prepared dataset.
        options : mapping
            The model's config options.

        Returns
        -------
        pandas.DataFrame
        """
        table_options = {
            k: v for k, v in options.items() if k != "priors" and k not in self.build_options
        }
        return self.analysis_table(subjects, measurements, **table_options)

    def build_kwargs(self, options: Mapping) -> dict:
        """Pick the model's config options that ``build`` takes.

        Parameters
        ----------
        options : mapping
            The model's config options.

        Returns
        -------
        dict
        """
        return {k: options[k] for k in self.build_options if k in options}

    def simulate(
        self,
        table: pd.DataFrame,
        priors: Mapping[str, Prior],
        truth: Mapping[str, object],
        seed: int,
        build_kwargs: Mapping | None = None,
    ) -> pd.DataFrame:
        """Draw new outcomes from the model's generative process with the given parameters.

        Everything about the data but the outcomes (design, arms, biomarkers, visits) is kept;
        parameters not in ``truth`` (subject effects, latent censored values) are drawn from
        their distributions.

        Parameters
        ----------
        table : pandas.DataFrame
            An analysis table of the family.
        priors : mapping of str to Prior
            Priors (the model is built with them; fixed parameters override them).
        truth : mapping of str to array_like
            Values of free parameters, by name.
        seed : int
            Random seed.
        build_kwargs : mapping, optional
            Build options.

        Returns
        -------
        pandas.DataFrame
            The table with its outcomes replaced.

        Raises
        ------
        SpecError
            If the family cannot simulate, or ``truth`` names an unknown variable.
        """
        if self.with_observed is None:
            raise SpecError(f"model {self.name} cannot simulate its outcomes.")
        model = self.build(table, priors, **dict(build_kwargs or {}))
        unknown = sorted(set(truth) - {v.name for v in model.free_RVs})
        if unknown:
            raise SpecError(f"{self.name}: no free parameter {', '.join(unknown)} to fix.")
        fixed = pm.do(
            model, {name: np.asarray(value, dtype=float) for name, value in truth.items()}
        )
        names = [name for name in self.observed if name in fixed.named_vars]
        with warnings.catch_warnings():
            # numba has no truncated-normal sampler (latent censored predictors): object mode
            warnings.filterwarnings("ignore", "Numba will use object mode", UserWarning)
            values = pm.draw([fixed[name] for name in names], random_seed=seed)
        return self.with_observed(table, dict(zip(names, values, strict=True)))


def missing_parameters(family: ModelFamily, measurements: pd.DataFrame) -> list[str]:
    """Return the PARAMCD codes a model needs that a prepared dataset lacks.

    Parameters
    ----------
    family : ModelFamily
        The model.
    measurements : pandas.DataFrame
        Prepared measurements.

    Returns
    -------
    list of str
        Missing codes, empty when the model can be fitted.
    """
    present = set(measurements["PARAMCD"])
    return [code for code in family.requires if code not in present]
