"""What every model family declares: its data needs, parameters with units, priors and builder."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pandas as pd
import pymc as pm
import xarray as xr

from il6fit.models.priors import Prior


@dataclass(frozen=True)
class ParameterInfo:
    """A model parameter as shown in tables and figures."""

    description: str
    unit: str


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
