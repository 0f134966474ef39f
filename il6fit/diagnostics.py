"""Summaries and convergence checks of a fit: the numbers a report and a gate rely on."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import arviz_stats as azs
import numpy as np
import pandas as pd
import xarray as xr

from il6fit.errors import FitFailedError, SpecError
from il6fit.loo import DEFAULT_LOO, VARIABLE, LooSettings, patient_loo
from il6fit.models.family import ModelFamily, ParameterInfo
from il6fit.models.landmark import landmark_check
from il6fit.sampling import is_preview
from il6fit.storage import fitted_inputs

log = logging.getLogger(__name__)

#: Columns of a summary table, in order.
SUMMARY_COLUMNS = (
    "parameter",
    "mean",
    "sd",
    "ci_lower",
    "ci_upper",
    "ci_kind",
    "ci_prob",
    "r_hat",
    "ess_bulk",
    "ess_tail",
    "mcse_mean",
    "unit",
    "description",
)


@dataclass(frozen=True)
class Thresholds:
    """Limits a fit must meet to pass.

    Attributes
    ----------
    r_hat_max : float
        Largest rank-normalised split R-hat allowed.
    ess_bulk_min, ess_tail_min : float
        Smallest bulk and tail effective sample sizes allowed.
    divergences_max : int
        Most post-warm-up divergent transitions allowed.
    treedepth_saturation_max : float
        Largest fraction of draws that may hit the maximum tree depth.
    ebfmi_min : float
        Smallest E-BFMI of any chain allowed.
    landmark_p_min : float
        Smallest two-sided posterior predictive p-value of each arm's observed mean change at
        the landmark week (completers) allowed; 0.01 marks a fit whose observed mean lies
        outside the central 99 % of its predictive distribution (families with a landmark).
    pareto_k_max : float
        Largest Pareto shape k of leave-one-patient-out PSIS-LOO for which a patient's
        estimate counts as reliable (capped at ``1 - 1/log10(draws)``, see
        :func:`il6fit.loo.k_limit`). Reported as its own column: it judges how well LOO
        estimates the model's predictions, not the posterior, so it never fails the gate.
    """

    r_hat_max: float = 1.01
    ess_bulk_min: float = 400
    ess_tail_min: float = 400
    divergences_max: int = 0
    treedepth_saturation_max: float = 0.0
    ebfmi_min: float = 0.3
    landmark_p_min: float = 0.01
    pareto_k_max: float = 0.7


#: The row of the checks that judges leave-one-out's reliability rather than the posterior:
#: shown with the checks, never part of the gate's verdict (more tuning cannot change it).
PARETO_K_CHECK = "max Pareto k"


def summarise(
    tree: xr.DataTree,
    parameters: Mapping[str, ParameterInfo],
    *,
    ci_kind: str,
    ci_prob: float,
) -> pd.DataFrame:
    """Tabulate posterior mean, sd, a credible interval and convergence of each parameter.

    Parameters
    ----------
    tree : xarray.DataTree
        A fit with a ``posterior`` group.
    parameters : mapping of str to ParameterInfo
        Variables to report, with units; a variable with dims gives one row per element,
        named like ``alpha_site[S01]``.
    ci_kind : {"eti", "hdi"}
        Equal-tailed or highest-density interval. Always explicit: library defaults change.
    ci_prob : float
        Interval probability, e.g. 0.9.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SUMMARY_COLUMNS`, unrounded.
    """
    names = [p for p in parameters if p in tree["posterior"].data_vars]
    table = azs.summary(
        tree, var_names=names, kind="all", ci_kind=ci_kind, ci_prob=ci_prob, round_to="none"
    )
    lower, upper = (c for c in table.columns if c.endswith(("_lb", "_ub")))
    table = table.rename(columns={lower: "ci_lower", upper: "ci_upper"})
    table.index.name = "parameter"
    table = table.reset_index()
    base = table["parameter"].str.replace(r"\[.*\]$", "", regex=True)
    table["unit"] = base.map(lambda p: parameters[p].unit)
    table["description"] = base.map(lambda p: parameters[p].description)
    table["ci_kind"] = ci_kind
    table["ci_prob"] = ci_prob
    return table[list(SUMMARY_COLUMNS)]


def check(
    tree: xr.DataTree,
    summary: pd.DataFrame,
    thresholds: Thresholds,
    loo: LooSettings = DEFAULT_LOO,
) -> pd.DataFrame:
    """Judge a fit against the thresholds.

    Parameters
    ----------
    tree : xarray.DataTree
        A fit with ``sample_stats`` (``diverging``, ``maxdepth_reached`` or ``tree_depth``,
        ``energy``) and, for the Pareto-k check, ``log_likelihood``; without that group the
        check is reported as not computed (value missing, passed).
    summary : pandas.DataFrame
        From :func:`summarise`; R-hat and ESS are read from it.
    thresholds : Thresholds
        The limits.
    loo : LooSettings
        Fallbacks of the leave-one-patient-out estimate where PSIS is unreliable.

    Returns
    -------
    pandas.DataFrame
        One row per check: ``check``, ``value``, ``threshold``, ``rule`` (``<=`` or ``>=``),
        ``passed`` and ``worst`` (the parameter or chain responsible). An approximate preview
        (:func:`il6fit.sampling.is_preview`) gets one failed row saying so instead: sampler
        checks do not apply to it and it is never reported as sound.
    """
    if is_preview(tree):
        return pd.DataFrame(
            [
                {
                    "check": f"approximate preview ({tree.attrs['il6fit_method'].upper()})",
                    "value": np.nan,
                    "threshold": np.nan,
                    "rule": "",
                    "passed": False,
                    "gates": True,
                    "worst": "not for inference: refit with sampler.method nuts",
                }
            ]
        )
    stats = tree["sample_stats"]
    draws = stats.sizes["chain"] * stats.sizes["draw"]
    saturated = _treedepth_saturated(stats)
    bfmi = np.atleast_1d(azs.bfmi(tree).to_dataset()["energy"].values)
    rows = [
        _row("max R-hat", summary, "r_hat", max, "<=", thresholds.r_hat_max),
        _row("min bulk ESS", summary, "ess_bulk", min, ">=", thresholds.ess_bulk_min),
        _row("min tail ESS", summary, "ess_tail", min, ">=", thresholds.ess_tail_min),
        {
            "check": "divergences",
            "value": float(stats["diverging"].sum()),
            "threshold": thresholds.divergences_max,
            "rule": "<=",
            "worst": "",
        },
        {
            "check": "tree-depth saturation",
            "value": float(saturated) / draws,
            "threshold": thresholds.treedepth_saturation_max,
            "rule": "<=",
            "worst": "",
        },
        {
            "check": "min E-BFMI",
            "value": float(bfmi.min()),
            "threshold": thresholds.ebfmi_min,
            "rule": ">=",
            "worst": f"chain {int(bfmi.argmin())}",
        },
        _pareto_k_row(tree, thresholds.pareto_k_max, loo),
    ]
    table = pd.DataFrame(rows)
    table["gates"] = table["check"] != PARETO_K_CHECK
    table["passed"] = table["value"].isna() | np.where(
        table["rule"] == "<=",
        table["value"] <= table["threshold"],
        table["value"] >= table["threshold"],
    )
    return table[list(CHECK_COLUMNS)]


#: Columns of a checks table: ``gates`` says whether the check is part of the gate's verdict
#: (every sampler check) or reported beside it (LOO reliability).
CHECK_COLUMNS = ("check", "value", "threshold", "rule", "passed", "gates", "worst")


def failed_checks(checks: pd.DataFrame) -> list[str]:
    """Describe the gate's checks a fit failed, e.g. ``"max R-hat 1.05 (limit <= 1.01; x)"``.

    Only checks of the gate's verdict (``gates``) count; LOO reliability is reported apart
    (:func:`loo_warning`).

    Parameters
    ----------
    checks : pandas.DataFrame
        From :func:`check`.

    Returns
    -------
    list of str
        Empty when every check passed.
    """
    return [
        f"{r.check}: {r.worst}"
        if pd.isna(r.rule) or not r.rule  # no limit (read back from CSV: NaN): a preview
        else f"{r.check} {r.value:.4g} (limit {r.rule} {r.threshold:g}"
        + (f"; {r.worst})" if r.worst else ")")
        for r in checks.itertuples()
        if not r.passed and getattr(r, "gates", True)
    ]


def loo_warning(checks: pd.DataFrame) -> str:
    """Say why a fit's leave-one-out estimate is unreliable, or ``""`` when it is reliable.

    Parameters
    ----------
    checks : pandas.DataFrame
        From :func:`check`.

    Returns
    -------
    str
    """
    row = checks[checks["check"] == PARETO_K_CHECK]
    if row.empty or bool(row["passed"].iloc[0]):
        return ""
    r = row.iloc[0]
    return f"LOO unreliable: max Pareto k {r.value:.3g} (limit {r.threshold:.3g}; {r.worst})"


def _row(name: str, summary: pd.DataFrame, column: str, pick, rule: str, threshold: float):
    values = summary.set_index("parameter")[column]
    worst = values.idxmax() if pick is max else values.idxmin()
    return {
        "check": name,
        "value": float(values[worst]),
        "threshold": threshold,
        "rule": rule,
        "worst": worst,
    }


def _pareto_k_row(tree: xr.DataTree, threshold: float, settings: LooSettings) -> dict:
    row = {"check": PARETO_K_CHECK, "threshold": threshold, "rule": "<="}
    if "log_likelihood" not in tree.children or VARIABLE not in tree["log_likelihood"]:
        return {**row, "value": np.nan, "worst": "not computed: no log-likelihood per patient"}
    loo = patient_loo(tree, threshold, settings)
    # no identifier: this table goes into the report (patients are named in the fit's log)
    worst = f"{loo.unreliable} of {loo.pareto_k.size} patients above the limit; {loo.method}"
    if loo.unreliable:
        log.warning(
            "PSIS-LOO unreliable (Pareto k above %.3g) for patients %s",
            loo.limit, ", ".join(loo.unreliable_patients),
        )  # fmt: skip
    return {**row, "threshold": loo.limit, "value": float(np.nanmax(loo.pareto_k)), "worst": worst}


def _treedepth_saturated(stats: xr.Dataset) -> int:
    if "maxdepth_reached" in stats:  # nutpie
        return int(stats["maxdepth_reached"].sum())
    if "reached_max_treedepth" in stats:  # PyMC's sampler
        return int(stats["reached_max_treedepth"].sum())
    return 0


def judge(
    tree: xr.DataTree,
    parameters: Mapping[str, ParameterInfo],
    thresholds: Thresholds,
    *,
    ci_kind: str = "eti",
    ci_prob: float = 0.9,
    loo: LooSettings = DEFAULT_LOO,
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Summarise a fit and judge it: the one summary and verdict fits, calibration and recovery use.

    Parameters
    ----------
    tree : xarray.DataTree
        A fit.
    parameters : mapping of str to ParameterInfo
        The parameters summarised and checked (a family's ``parameters``).
    thresholds : Thresholds
        The limits.
    ci_kind, ci_prob
        Credible interval kind and probability of the summary (the checks read only R-hat
        and ESS from it).
    loo : LooSettings
        Fallbacks of the leave-one-patient-out estimate where PSIS is unreliable.

    Returns
    -------
    summary : pandas.DataFrame
        From :func:`summarise`.
    checks : pandas.DataFrame
        From :func:`check`.
    failures : list of str
        From :func:`failed_checks`; empty when the fit passed.
    """
    summary = summarise(tree, parameters, ci_kind=ci_kind, ci_prob=ci_prob)
    checks = check(tree, summary, thresholds, loo)
    return summary, checks, failed_checks(checks)


def sampler_failures(tree: xr.DataTree, family: ModelFamily, thresholds: Thresholds) -> list[str]:
    """List the gate's failed checks: the judge of an escalating fit.

    Parameters
    ----------
    tree : xarray.DataTree
        A fit.
    family : ModelFamily
        Its model family.
    thresholds : Thresholds
        The limits.

    Returns
    -------
    list of str
        As :func:`failed_checks`; empty when the sampler did its job.
    """
    return judge(tree, family.parameters, thresholds)[2]


#: What a fit that fails the gate leads to.
POLICIES = ("mark", "stop", "escalate")


def gate(
    tree: xr.DataTree,
    family: ModelFamily,
    *,
    fit_name: str,
    thresholds: Thresholds,
    on_failure: str,
    ci_kind: str,
    ci_prob: float,
    loo: LooSettings = DEFAULT_LOO,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Summarise a fit and judge it; stop or mark it when it fails.

    Parameters
    ----------
    tree : xarray.DataTree
        The fit.
    family : ModelFamily
        Its model family (which parameters to report, with units).
    fit_name : str
        Name used in messages, e.g. ``"il6_crp on ra_trial"``.
    thresholds : Thresholds
        The limits.
    on_failure : {"mark", "stop", "escalate"}
        ``mark``: return the tables with the failures marked; ``stop``: raise; ``escalate``:
        the fit was already refitted with more tuning (see :func:`il6fit.inference.fit_model`),
        so a fit that still fails is marked like ``mark``. An approximate preview is marked,
        whatever the policy: it was asked for.
    ci_kind, ci_prob
        Credible interval kind and probability.
    loo : LooSettings
        Fallbacks of the leave-one-patient-out estimate where PSIS is unreliable.

    Returns
    -------
    summary : pandas.DataFrame
        From :func:`summarise`.
    checks : pandas.DataFrame
        From :func:`check`.

    Raises
    ------
    FitFailedError
        If a check fails and ``on_failure`` is ``"stop"``.
    SpecError
        If ``on_failure`` is not one of :data:`POLICIES`.
    """
    if on_failure not in POLICIES:
        raise SpecError(
            f"unknown diagnostics policy '{on_failure}'; choose one of {', '.join(POLICIES)}."
        )
    summary, checks, _ = judge(
        tree, family.parameters, thresholds, ci_kind=ci_kind, ci_prob=ci_prob, loo=loo
    )
    if family.landmark is not None and not is_preview(tree):
        row = landmark_row(tree, thresholds.landmark_p_min)
        checks = pd.concat([checks, pd.DataFrame([row])], ignore_index=True)
    failures = failed_checks(checks)
    if not failures:
        log.info("%s passed every check", fit_name)
    elif is_preview(tree):
        log.warning("fit %s is an approximate preview, marked as not passed", fit_name)
    elif on_failure == "stop":
        raise FitFailedError(f"fit {fit_name} failed the diagnostics gate: {'; '.join(failures)}.")
    else:
        log.warning("fit %s FAILED the diagnostics gate: %s", fit_name, "; ".join(failures))
    return summary, checks


#: The gate's estimand check (families with a landmark week).
LANDMARK_CHECK = "landmark change vs predictive"


def landmark_row(tree: xr.DataTree, p_min: float) -> dict:
    """Check a fit's estimand: observed mean change per arm against its predictive (the gate).

    Each arm's completers' observed mean change at the landmark week is compared with its
    posterior predictive distribution (:func:`il6fit.models.landmark.landmark_check`); the
    smallest two-sided p-value across arms is the check's value. A model whose course or
    covariance does not fit the trial shows here, where more sampling cannot help.

    Parameters
    ----------
    tree : xarray.DataTree
        A fit written by :func:`il6fit.inference.fit_model` (its table and options stored)
        with a ``posterior`` group.
    p_min : float
        Smallest p-value that passes.

    Returns
    -------
    dict
        A row of a checks table (:data:`CHECK_COLUMNS`); ``worst`` names the arm with the
        smallest p-value, its observed mean and predictive interval.
    """
    row = {"check": LANDMARK_CHECK, "threshold": p_min, "rule": ">=", "gates": True}
    if "analysis_table" not in tree.children or "il6fit_options" not in tree.attrs:
        return {**row, "value": np.nan, "passed": True, "worst": "not computed: no stored table"}
    family, options, table = fitted_inputs(tree)
    observed = family.landmark.observed(table, options)
    predictive = family.landmark.predictive(tree, table, options, np.random.default_rng(0))
    result = landmark_check(observed, predictive, prob=1 - p_min)
    if result.empty:
        return {**row, "value": np.nan, "passed": True, "worst": "not computed: no completers"}
    worst = result.loc[result["p"].idxmin()]
    return {
        **row,
        "value": float(worst["p"]),
        "passed": bool(worst["p"] >= p_min),
        "worst": (
            f"{worst['arm']}: observed mean change {worst['observed']:.3g} "
            f"({worst['completers']} completers), predictive {1 - p_min:.0%} "
            f"{worst['predictive_lower']:.3g} to {worst['predictive_upper']:.3g}"
        ),
    }


def summarise_estimands(
    tree: xr.DataTree,
    family: ModelFamily,
    table: pd.DataFrame,
    options: object,
    *,
    ci_kind: str,
    ci_prob: float,
    seed: int,
) -> pd.DataFrame:
    """Tabulate a model's clinical estimands like its parameters (mean, sd, interval, units).

    Parameters
    ----------
    tree : xarray.DataTree
        The fit.
    family : ModelFamily
        Its model family; must define ``estimands``.
    table : pandas.DataFrame
        The analysis table it was fitted to.
    options : mapping or options object
        The family's options (landmark week and the like are read from here).
    ci_kind, ci_prob
        Credible interval kind and probability.
    seed : int
        Seed of the predictive draws some estimands need.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SUMMARY_COLUMNS`; for a probability-of-effect row, ``mean`` is the
        posterior probability.
    """
    draws = family.estimand_draws(tree, table, options, seed=seed)
    with warnings.catch_warnings():
        # indicators and proportions can be constant across draws (a probability of 1), where
        # R-hat and ESS are undefined and numpy says so; they are reported as missing
        warnings.simplefilter("ignore", RuntimeWarning)
        summary = summarise(
            xr.DataTree.from_dict({"posterior": draws}),
            family.estimand_parameters,
            ci_kind=ci_kind,
            ci_prob=ci_prob,
        )
    # a posterior probability is a single number: no interval around it
    single = summary["unit"] == "posterior probability"
    summary.loc[single, ["sd", "ci_lower", "ci_upper", "r_hat", "ess_bulk", "ess_tail"]] = np.nan
    return summary


#: Columns of a prior-sensitivity table, in order.
SENSITIVITY_COLUMNS = ("parameter", "prior", "likelihood", "diagnosis", "flagged", "unit")


def prior_sensitivity(
    tree: xr.DataTree, family: ModelFamily, *, threshold: float = 0.05
) -> pd.DataFrame:
    """Power-scaling sensitivity of each reported parameter to its prior and to the likelihood.

    The posterior is reweighted (Pareto-smoothed importance sampling) as if the prior, or the
    likelihood, were raised to a power near 1; the sensitivity is the rate of change of the
    posterior (cumulative Jensen-Shannon distance), following Kallioinen et al. (2024). Only the
    priors the config sets are power-scaled, not the standard-normal offsets of non-centred
    effects, which are part of the model's structure.

    Parameters
    ----------
    tree : xarray.DataTree
        A fit with ``log_prior`` and ``log_likelihood`` groups.
    family : ModelFamily
        Its model family.
    threshold : float
        Sensitivity above which a parameter is flagged (0.05 in the paper).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SENSITIVITY_COLUMNS`: one row per parameter (element), its prior and
        likelihood sensitivity, the diagnosis (``prior-data conflict``, ``strong prior / weak
        likelihood`` or ``-``) and ``flagged``.

    Raises
    ------
    SpecError
        If the fit has no ``log_prior`` or ``log_likelihood`` group.
    """
    missing = [g for g in ("log_prior", "log_likelihood") if g not in tree.children]
    if missing:
        raise SpecError(
            f"prior sensitivity needs the groups {', '.join(missing)} in the fit; set "
            "`store.log_likelihood: true` and refit."
        )
    names = [p for p in family.parameters if p in tree["posterior"].data_vars]
    priors = [v for v in tree["log_prior"].data_vars if v in family.default_priors]
    with warnings.catch_warnings():
        # arviz-stats logs and warns about what this table reports anyway
        warnings.simplefilter("ignore", UserWarning)
        logging.getLogger("arviz_stats").setLevel(logging.ERROR)
        table = azs.psense_summary(
            tree, var_names=names, threshold=threshold, prior_var_names=priors, round_to=6
        )
    table.index.name = "parameter"
    table = table.reset_index()
    conflict = (table["prior"] >= threshold) & (table["likelihood"] >= threshold)
    weak = (table["prior"] > threshold) & (table["likelihood"] < threshold)
    table["diagnosis"] = np.select(
        [conflict, weak], ["prior-data conflict", "strong prior / weak likelihood"], "-"
    )
    table["flagged"] = conflict | weak
    table["unit"] = "dimensionless"
    return table[list(SENSITIVITY_COLUMNS)]
