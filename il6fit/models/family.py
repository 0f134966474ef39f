"""What a model family declares, in its own module, and what everything else reads from it.

A family module defines a frozen options dataclass (each field made with :func:`option`: its
default and a one-line description), its parameters with units, default priors, the data it
needs as a function of its options, the analysis table, the PyMC model, estimands, figures,
what simulation-based calibration draws and its recovery study, and ends with one
:class:`ModelFamily`. Registering it is one line in :data:`il6fit.models.FAMILY_MODULES`; the
config schema, the workflow's targets, calibration, recovery, the report and the docs tables are
all read from the registry.
"""

from __future__ import annotations

import dataclasses
import types
import typing
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from il6fit.errors import SpecError
from il6fit.models.priors import Prior, resolve_priors


def option(default: Any, doc: str, **schema: Any) -> Any:
    """Declare one field of a family's options class: its default and its description.

    Parameters
    ----------
    default : object
        The default (immutable: a tuple for a list, None for "derived from the data").
    doc : str
        One line, shown in the config schema and ``config/README.md``.
    **schema
        Further JSON Schema keywords for the config, e.g. ``minItems=1`` or
        ``exclusiveMinimum=0``.

    Returns
    -------
    dataclasses.Field
    """
    return field(default=default, metadata={"doc": doc, "schema": schema})


@dataclass(frozen=True)
class NoOptions:
    """Options of a family that has none."""


def _type_schema(hint: Any) -> dict:
    """Return the JSON Schema of one options field's type annotation."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _type_schema(inner[0])
    if origin is Literal:
        kind = "number" if all(isinstance(a, int | float) for a in args) else "string"
        return {"type": kind, "enum": list(args)}
    if origin is tuple:
        return {"type": "array", "items": _type_schema(args[0])}
    if origin in (Mapping, dict, typing.Mapping) or hint in (dict, Mapping):
        value = _type_schema(args[1]) if args else {}
        return {"type": "object", "additionalProperties": value}
    simple = {bool: "boolean", int: "integer", float: "number", str: "string"}
    if hint in simple:
        return {"type": simple[hint]}
    raise TypeError(f"no config schema for option type {hint!r}")


def _plain(value: Any) -> Any:
    """Return an option value as JSON/YAML gives it (tuples as lists)."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def options_schema(options: type) -> dict:
    """Return the JSON Schema of a family's ``model_options`` block, made from its options class.

    Every field becomes a property with its type, its description and, unless it is None,
    its default; ``priors`` (overrides by parameter) is added to every family.

    Parameters
    ----------
    options : type
        A frozen dataclass whose fields were made with :func:`option`.

    Returns
    -------
    dict

    Examples
    --------
    >>> @dataclass(frozen=True)
    ... class Toy:
    ...     visits: tuple[float, ...] = option((0,), "Visits used.", minItems=1)
    >>> options_schema(Toy)["properties"]["visits"]
    {'type': 'array', 'items': {'type': 'number'}, 'minItems': 1, 'default': [0], \
'description': 'Visits used.'}
    """
    hints = typing.get_type_hints(options)
    properties = {}
    for f in dataclasses.fields(options):
        spec = {**_type_schema(hints[f.name]), **f.metadata.get("schema", {})}
        if f.default is not None:
            spec["default"] = _plain(f.default)
        spec["description"] = f.metadata.get("doc", "")
        properties[f.name] = spec
    properties["priors"] = {"$ref": "#/$defs/priors"}
    return {
        "type": "object",
        "additionalProperties": False,
        "default": {},
        "properties": properties,
    }


def options_dict(options: Any) -> dict:
    """Return an options object as plain config values (lists, dicts), e.g. for a fit's attributes.

    Parameters
    ----------
    options : dataclass instance
        A family's options.

    Returns
    -------
    dict
    """
    return {f.name: _plain(getattr(options, f.name)) for f in dataclasses.fields(options)}


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
class FigureInput:
    """What a figure is drawn from: one fit and what it stores.

    Attributes
    ----------
    tree : xarray.DataTree
        The fit.
    summary : pandas.DataFrame
        Its summary table.
    table : pandas.DataFrame
        The analysis table it was fitted to (stored in the fit).
    options : dataclass instance
        The family's resolved options (stored in the fit).
    ci_prob : float
        Probability of credible bands.
    family : ModelFamily
        The fitted family.
    """

    tree: xr.DataTree
    summary: pd.DataFrame
    table: pd.DataFrame
    options: Any
    ci_prob: float
    family: ModelFamily


def _plots():
    """Return :mod:`il6fit.plots`, imported only when a figure is drawn.

    Jobs that draw none (fitting, checking, estimands) then skip importing arviz-plots and
    matplotlib: 0.7-0.9 s of each such job's start (benchmarks/RESULTS.md).
    """
    from il6fit import plots

    return plots


@dataclass(frozen=True)
class FigureSpec:
    """A report figure: how it is drawn and what it shows.

    Attributes
    ----------
    draw : callable
        ``(FigureInput) -> matplotlib.figure.Figure``, units on every axis.
    caption : str
        What the figure shows, for the report's list of figures and ``snakemake --report``;
        ``{outcomes}`` is replaced by the family's observed variables.
    """

    draw: Callable[[FigureInput], Any]
    caption: str


def _scalars(fig: FigureInput, most: int = 9) -> dict[str, str]:
    """Pick the parameters of rank, trace and power-scaling plots, with their units.

    The scalar ones, else the elements that mixed worst (lowest bulk ESS), at most ``most``.
    """
    units = dict(zip(fig.summary["parameter"], fig.summary["unit"], strict=True))
    chosen = [p for p in units if "[" not in p]
    if not chosen:
        chosen = list(fig.summary.nsmallest(most, "ess_bulk")["parameter"])
    return {p: units[p] for p in chosen}


def _priors(fig: FigureInput) -> list[str]:
    """Return the priors the config sets, those power-scaled (not standard-normal offsets)."""
    return [v for v in fig.tree["log_prior"].data_vars if v in fig.family.default_priors]


#: Figures drawn for every fit of every family, after the family's own.
COMMON_FIGURES: dict[str, FigureSpec] = {
    "forest": FigureSpec(
        lambda f: _plots().forest(f.tree, f.summary),
        "posterior means with 50 % and reported credible intervals of the parameters, with units",
    ),
    "ranks": FigureSpec(
        lambda f: _plots().rank_plot(f.tree, list(_scalars(f))),
        "rank ECDFs per chain with their simultaneous band (inside when the chains mix)",
    ),
    "prior_ppc": FigureSpec(
        lambda f: _plots().predictive_check(
            f.tree, f.family.observed, group="prior_predictive", ci_prob=f.ci_prob
        ),
        "prior predictive check of {outcomes}: what the priors alone expect, over the data",
    ),
    "ppc": FigureSpec(
        lambda f: _plots().predictive_check(f.tree, f.family.observed, ci_prob=f.ci_prob),
        "posterior predictive check of {outcomes} (ECDFs on the censored scale; rootograms of "
        "discrete outcomes)",
    ),
    "trace": FigureSpec(
        lambda f: _plots().trace_plot(f.tree, _scalars(f)),
        "trace plots per chain",
    ),
    "pareto_k": FigureSpec(
        lambda f: _plots().pareto_k(f.tree),
        "Pareto k of each patient's PSIS-LOO estimate (above the marked limit, 0.7 from 2,200 "
        "draws up: unreliable)",
    ),
    "power_scaling": FigureSpec(
        lambda f: _plots().power_scaling(f.tree, _scalars(f), _priors(f)),
        "power-scaling sensitivity: posteriors with the prior or the likelihood raised to "
        "0.8 and 1.25",
    ),
}


@dataclass(frozen=True)
class Answer:
    """One estimate as the report's first section states it.

    Attributes
    ----------
    element : str or None
        The element of a vector quantity (``"TCZ 8 mg/kg"`` of ``effect[TCZ 8 mg/kg]``).
    mean, lower, upper : float
        Posterior mean and credible interval.
    prob : float
        Probability of the interval.
    options : dataclass instance
        The fit's resolved options.
    control : str or None
        The fit's control arm (its first arm), for effects against it.
    """

    element: str | None
    mean: float
    lower: float
    upper: float
    prob: float
    options: Any
    control: str | None = None

    @property
    def interval(self) -> str:
        """E.g. ``90 % interval``."""
        return f"{self.prob:.0%} interval".replace("%", " %")


@dataclass(frozen=True)
class Headline:
    """A primary result the report answers with before any detail.

    Attributes
    ----------
    parameter : str
        A parameter of the fit's summary or an estimand; each element is one answer, and a
        parameter the fit lacks (an option left it out) gives none.
    question : str
        The question it answers, in a few words.
    sentence : callable
        ``(Answer) -> str``: the answer in one plain-language line, with its interval.
    """

    parameter: str
    question: str
    sentence: Callable[[Answer], str]


@dataclass(frozen=True)
class Calibration:
    """What simulation-based calibration of a family draws and checks.

    Attributes
    ----------
    design : mapping
        The default design: ``scenario`` plus :class:`il6fit.simulate.Scenario` fields (such
        as ``n_subjects``) of the simulated dataset whose arms, visits and covariates every
        replicate keeps.
    estimands : tuple of str
        Estimands ranked besides the parameters (functions of the parameters alone).
    design_data : tuple of str
        Observed variables kept from the design rather than drawn (biomarker predictors).
    not_assessed : tuple of str
        Parameters left out of the check (the population model of design data).
    prepare_design : callable, optional
        ``(table, scenario) -> table``: adjust the design's analysis table, e.g. add the
        scenario's assay limits for censoring the drawn outcomes.
    """

    design: Mapping[str, Any]
    estimands: tuple[str, ...] = ()
    design_data: tuple[str, ...] = ()
    not_assessed: tuple[str, ...] = ()
    prepare_design: Callable[[pd.DataFrame, Any], pd.DataFrame] | None = None


@dataclass(frozen=True)
class RecoveryStudy:
    """A recovery study: the design of a simulated trial, outcomes drawn at a known truth.

    Attributes
    ----------
    truth : mapping of str to array_like
        Values of the free parameters assessed (of the size the trials report).
    n_subjects : int
        Subjects of the simulated trial.
    scenario : str
        Its scenario.
    options : mapping
        The family's options for the study.
    """

    truth: Mapping[str, Any]
    n_subjects: int = 600
    scenario: str = "ra_tcz_trial"
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Marginal:
    """Latent values integrated out of the sampled model and drawn back after sampling.

    A family whose model is Gaussian in its per-patient (or per-observation) latent values
    given the global parameters samples only the globals; its builder adds ``pm.Potential``
    terms holding the exact marginal log-likelihood of each unit (one element per patient, or
    per table row: its dim's coordinate is patient identifiers or row positions), which join
    the pointwise log-likelihood of its observed variables.

    Attributes
    ----------
    generative : callable
        ``(table, priors, options) -> pm.Model``: the same model written with its latent
        values, which draws data (prior and posterior predictive checks, simulation,
        calibration) and is the reference the marginal form is checked against.
    conditional : callable
        ``(posterior, constant_data, rng) -> xarray.Dataset``: for every posterior draw of
        the globals, one draw of the generative model's latent free variables (and of the
        deterministics made from them) from their exact conditional distribution given the
        globals and the data; ``constant_data`` is the marginal model's.
    potentials : tuple of str
        Names of those potentials (those a model lacks are skipped).
    log_likelihood : callable, optional
        ``(posterior, constant_data) -> xarray.Dataset``: the potentials' terms at every
        draw, dims (chain, draw, the potential's dim), computed by the family itself where
        that is cheaper than evaluating the potentials' graph over the draws; equal to it to
        rounding (a test per family).
    joint : callable, optional
        ``(posterior, constant_data, rng) -> (latent, log_likelihood)``: what
        :attr:`conditional` and :attr:`log_likelihood` return, in one pass over the draws,
        where the two share most of their work; the same numbers as the two apart.
    """

    generative: Callable[..., pm.Model]
    conditional: Callable[..., xr.Dataset]
    potentials: tuple[str, ...] = ("y",)
    log_likelihood: Callable[..., xr.Dataset] | None = None
    joint: Callable[..., tuple[xr.Dataset, xr.Dataset]] | None = None


@dataclass(frozen=True)
class Landmark:
    """The observed mean change per arm at the landmark week and the model's replicate of it.

    What the gate's estimand check compares (:func:`il6fit.models.landmark.landmark_check`):
    the completers' observed mean change per arm against its posterior predictive
    distribution, each completer's landmark score drawn given their other observed visits (so
    a selection of completers on earlier scores, missing at random, is no misfit).

    Attributes
    ----------
    observed : callable
        ``(table, options) -> DataFrame``: one row per completer (a score at baseline and at
        the landmark) with ``USUBJID``, ``arm`` and ``change``.
    predictive : callable
        ``(tree, table, options, rng) -> xarray.DataArray``: draws of the completers' mean
        change per arm, dims (chain, draw, arm).
    """

    observed: Callable[[pd.DataFrame, Any], pd.DataFrame]
    predictive: Callable[..., xr.DataArray]


@dataclass(frozen=True)
class ModelFamily:
    """A model family.

    Attributes
    ----------
    name : str
        Name used in the config and in output paths (the module's name).
    title : str
        One-line description.
    equations : str
        The model written out in maths (the module docstring).
    options : type
        Frozen dataclass of the family's options, fields made with :func:`option`; the single
        place of their defaults.
    requires : callable
        ``(options) -> tuple of str``: PARAMCD codes the dataset must contain.
    subject_columns : mapping
        Subjects-table columns an option's values use, ``{option: {value: column}}`` (e.g.
        ``{"covariates": {"age": "AGE"}}``): a dataset fitted with the option taking the value
        must have the column (the workflow's ``subject_columns`` reads it from the catalogue).
    parameters : mapping of str to ParameterInfo
        Parameters reported in summaries, in order.
    default_priors : mapping of str to Prior
        Default prior of each free parameter (overridable from config).
    analysis_table : callable
        ``(subjects, measurements, options) -> DataFrame``: the rows the model uses.
    builder : callable
        ``(table, priors, options) -> pm.Model``.
    estimands : callable, optional
        ``(tree, table, options, seed) -> xarray.Dataset`` of clinical estimand draws.
    estimand_parameters : mapping of str to ParameterInfo
        The estimands reported, with units.
    figures : mapping of str to FigureSpec
        The family's own report figures; :data:`COMMON_FIGURES` follow them.
    observed : mapping of str to ObservedInfo
        The outcome variables, shown in prior and posterior predictive checks.
    with_observed : callable, optional
        ``(table, {variable: values}) -> table``: the analysis table with its outcomes replaced
        by values drawn from the model (for recovery and calibration studies).
    calibration : Calibration, optional
        What simulation-based calibration draws; None if the family is not calibrated.
    recovery : RecoveryStudy, optional
        Its recovery study.
    marginal : Marginal, optional
        For a family that samples only its global parameters, how its latent values are
        drawn back and which model draws data.
    landmark : Landmark, optional
        For a family with treatment estimands at a landmark week, the observed and replicated
        mean change per arm (the gate's estimand check and the report's side-by-side table).
    headlines : tuple of Headline
        The results the report states first (parameters or estimands), in order.
    reads_dosing : bool
        Whether :attr:`analysis_table` reads dosing records (a ``dosing`` keyword argument:
        :attr:`il6fit.data.Prepared.dosing`); the workflow gives them to such a family only.
    compile_seconds : float
        About how long its model takes to compile with an empty compile cache (seconds on
        one core, default options and design): the workflow starts the fits that compile
        longest first, so that on few cores no long compilation is left to run alone at the
        end (longest-processing-time-first scheduling). A hint; it changes no result.
    """

    name: str
    title: str
    equations: str
    options: type
    requires: Callable[[Any], tuple[str, ...]]
    parameters: Mapping[str, ParameterInfo]
    default_priors: Mapping[str, Prior]
    analysis_table: Callable[..., pd.DataFrame]
    builder: Callable[..., pm.Model]
    estimands: Callable[..., xr.Dataset] | None = None
    estimand_parameters: Mapping[str, ParameterInfo] = field(default_factory=dict)
    figures: Mapping[str, FigureSpec] = field(default_factory=dict)
    observed: Mapping[str, ObservedInfo] = field(default_factory=dict)
    with_observed: Callable[..., pd.DataFrame] | None = None
    calibration: Calibration | None = None
    recovery: RecoveryStudy | None = None
    marginal: Marginal | None = None
    landmark: Landmark | None = None
    subject_columns: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    headlines: tuple[Headline, ...] = ()
    reads_dosing: bool = False
    compile_seconds: float = 10.0

    def make_options(self, options: Any = None) -> Any:
        """Return typed options from config values (``priors`` ignored), defaults filled in.

        Parameters
        ----------
        options : mapping or options object, optional
            Config values of ``model_options.<family>``; an options object is returned as is.

        Returns
        -------
        dataclass instance
            Of :attr:`options`.

        Raises
        ------
        SpecError
            For an option the family does not have; the message lists those it has.
        """
        if isinstance(options, self.options):
            return options
        values = {k: v for k, v in dict(options or {}).items() if k != "priors"}
        fields = {f.name: f for f in dataclasses.fields(self.options)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise SpecError(
                f"model {self.name} has no option {', '.join(unknown)}; its options are "
                f"{', '.join(fields) or 'none'} and priors."
            )
        hints = typing.get_type_hints(self.options)
        typed = {
            name: tuple(value)
            if typing.get_origin(hints[name]) is tuple and value is not None
            else value
            for name, value in values.items()
        }
        return self.options(**typed)

    def priors(self, overrides: Mapping[str, Mapping] | None = None) -> dict[str, Prior]:
        """Return the family's priors with config overrides (``{parameter: {dist: ..., ...}}``).

        Parameters
        ----------
        overrides : mapping, optional
            From ``model_options.<family>.priors``.

        Returns
        -------
        dict of str to Prior
        """
        return resolve_priors(self.default_priors, overrides, self.name)

    def required(self, options: Any = None) -> tuple[str, ...]:
        """PARAMCD codes a dataset must contain for a fit with these options.

        Parameters
        ----------
        options : mapping or options object, optional
            The family's options.

        Returns
        -------
        tuple of str
        """
        return tuple(self.requires(self.make_options(options)))

    def table(
        self,
        subjects: pd.DataFrame,
        measurements: pd.DataFrame,
        options: Any = None,
        dosing: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """Build the analysis table.

        Parameters
        ----------
        subjects, measurements : pandas.DataFrame
            A prepared dataset.
        options : mapping or options object, optional
            The family's options (config values are typed first).
        dosing : pandas.DataFrame, optional
            The dataset's dosing records (:attr:`il6fit.data.Prepared.dosing`); read by a family
            that :attr:`reads_dosing`, ignored by the others.

        Returns
        -------
        pandas.DataFrame
        """
        typed = self.make_options(options)
        if self.reads_dosing and dosing is not None:
            return self.analysis_table(subjects, measurements, typed, dosing=dosing)
        return self.analysis_table(subjects, measurements, typed)

    def build(
        self,
        table: pd.DataFrame,
        priors: Mapping[str, Prior] | None = None,
        options: Any = None,
    ) -> pm.Model:
        """Build the PyMC model for an analysis table.

        Parameters
        ----------
        table : pandas.DataFrame
            From :meth:`table`.
        priors : mapping of str to Prior, optional
            A prior for every free parameter (the defaults if not given).
        options : mapping or options object, optional
            The family's options.

        Returns
        -------
        pymc.Model
        """
        chosen = dict(self.default_priors if priors is None else priors)
        return self.builder(table, chosen, self.make_options(options))

    def generative(
        self,
        table: pd.DataFrame,
        priors: Mapping[str, Prior] | None = None,
        options: Any = None,
    ) -> pm.Model:
        """Build the model that draws data: the latent form of a marginal family, else the model.

        Parameters
        ----------
        table : pandas.DataFrame
            From :meth:`table`.
        priors : mapping of str to Prior, optional
            A prior for every free parameter (the defaults if not given).
        options : mapping or options object, optional
            The family's options.

        Returns
        -------
        pymc.Model
        """
        if self.marginal is None:
            return self.build(table, priors, options)
        chosen = dict(self.default_priors if priors is None else priors)
        return self.marginal.generative(table, chosen, self.make_options(options))

    def complete(self, tree: xr.DataTree, seed: int) -> xr.DataTree:
        """Add the latent values a marginal fit integrated out, drawn from their conditionals.

        Parameters
        ----------
        tree : xarray.DataTree
            A fit of :meth:`build` with ``posterior`` and ``constant_data`` groups; returned as
            is for a family without :attr:`marginal`.
        seed : int
            Seed of the conditional draws.

        Returns
        -------
        xarray.DataTree
            The same tree, its posterior holding the latent values too.
        """
        if self.marginal is None:
            return tree
        posterior = tree["posterior"].to_dataset()
        drawn = self.marginal.conditional(
            posterior, tree["constant_data"].to_dataset(), np.random.default_rng(seed)
        )
        tree["posterior"] = xr.DataTree(posterior.assign(drawn.data_vars))
        return tree

    def complete_with_log_likelihood(
        self, tree: xr.DataTree, seed: int, graph: Callable[[], xr.Dataset]
    ) -> tuple[xr.DataTree, xr.Dataset]:
        """:meth:`complete` a marginal fit and return its units' log-likelihood terms too.

        In one pass over the draws where the family's :attr:`Marginal.joint` does both, else
        from :attr:`Marginal.log_likelihood`, else from ``graph`` (the potentials' graph
        evaluated over the draws); the same numbers whichever way.

        Parameters
        ----------
        tree : xarray.DataTree
            A fit of :meth:`build` with ``posterior`` and ``constant_data`` groups.
        seed : int
            Seed of the conditional draws.
        graph : callable
            ``() -> xarray.Dataset``: the terms where the family computes none itself.

        Returns
        -------
        tree : xarray.DataTree
            As :meth:`complete` returns it.
        terms : xarray.Dataset
            The marginal potentials' terms, dims (chain, draw, unit).
        """
        marginal = self.marginal
        posterior = tree["posterior"].to_dataset()
        constant = tree["constant_data"].to_dataset()
        if marginal.joint is not None:
            drawn, terms = marginal.joint(posterior, constant, np.random.default_rng(seed))
            tree["posterior"] = xr.DataTree(posterior.assign(drawn.data_vars))
            return tree, terms
        terms = (
            marginal.log_likelihood(posterior, constant)
            if marginal.log_likelihood is not None
            else graph()
        )
        return self.complete(tree, seed), terms

    def estimand_draws(
        self, tree: xr.DataTree, table: pd.DataFrame, options: Any = None, *, seed: int = 0
    ) -> xr.Dataset:
        """Clinical estimand draws of a fit.

        Parameters
        ----------
        tree : xarray.DataTree
            A fit of the family.
        table : pandas.DataFrame
            Its analysis table.
        options : mapping or options object, optional
            Its options.
        seed : int
            Seed of any simulation the estimands need.

        Returns
        -------
        xarray.Dataset

        Raises
        ------
        SpecError
            If the family has no estimands.
        """
        if self.estimands is None:
            raise SpecError(f"model {self.name} has no clinical estimands.")
        return self.estimands(tree, table, self.make_options(options), seed)

    @property
    def all_figures(self) -> dict[str, FigureSpec]:
        """The family's figures, then :data:`COMMON_FIGURES`, in report order."""
        return {**self.figures, **COMMON_FIGURES}

    def captions(self) -> dict[str, str]:
        """Return what each of the family's figures shows, by figure name.

        Returns
        -------
        dict of str to str
        """
        outcomes = " and ".join(info.label for info in self.observed.values()) or "the outcomes"
        return {
            name: spec.caption.replace("{outcomes}", outcomes)
            for name, spec in self.all_figures.items()
        }

    def draw(self, figure: str, fig: FigureInput) -> Any:
        """Draw one report figure by name.

        Parameters
        ----------
        figure : str
            A key of :attr:`all_figures`.
        fig : FigureInput
            The fit and what it stores.

        Returns
        -------
        matplotlib.figure.Figure

        Raises
        ------
        SpecError
            For a figure the family does not draw.
        """
        figures = self.all_figures
        if figure not in figures:
            raise SpecError(
                f"model {self.name} draws no figure '{figure}'; its figures are "
                f"{', '.join(figures)}."
            )
        return figures[figure].draw(fig)

    def simulate(
        self,
        table: pd.DataFrame,
        priors: Mapping[str, Prior],
        truth: Mapping[str, object],
        seed: int,
        options: Any = None,
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
        options : mapping or options object, optional
            The family's options.

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
        model = self.generative(table, priors, options)
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


def missing_parameters(
    family: ModelFamily, measurements: pd.DataFrame, options: Any = None
) -> list[str]:
    """Return the PARAMCD codes a fit needs that a prepared dataset lacks.

    Parameters
    ----------
    family : ModelFamily
        The model.
    measurements : pandas.DataFrame
        Prepared measurements.
    options : mapping or options object, optional
        The family's options (what a family needs can depend on them).

    Returns
    -------
    list of str
        Missing codes, empty when the model can be fitted.
    """
    present = set(measurements["PARAMCD"])
    return [code for code in family.required(options) if code not in present]
