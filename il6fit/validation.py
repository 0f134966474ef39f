"""Validation studies: fit a model to outcomes drawn from it with known parameters."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import binom

from il6fit.data import as_read, prepare
from il6fit.diagnostics import Thresholds, judge, summarise
from il6fit.errors import SpecError
from il6fit.models import MODELS, ModelFamily, ParameterInfo, Prior, get_model
from il6fit.models.censored import biomarker_estimates
from il6fit.sampling import SamplerSettings, sample
from il6fit.simulate import scenario, simulate_cohort

#: Columns of a recovery table.
RECOVERY_COLUMNS = (
    "parameter",
    "truth",
    "mean",
    "sd",
    "ci_lower",
    "ci_upper",
    "covered",
    "z",
    "r_hat",
    "ess_bulk",
)


def recovery(
    family: ModelFamily,
    table: pd.DataFrame,
    truth: Mapping[str, object],
    *,
    settings: SamplerSettings,
    seed: int,
    priors: Mapping[str, Prior] | None = None,
    options: object = None,
    ci_prob: float = 0.9,
    fixed: Mapping[str, object] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, xr.DataTree]:
    """Draw outcomes with known parameters, refit, and set the posterior beside the truth.

    Parameters
    ----------
    family : ModelFamily
        The model.
    table : pandas.DataFrame
        An analysis table: its design (arms, visits, biomarkers) is kept, its outcomes redrawn.
    truth : mapping of str to array_like
        Values of free parameters; the others (subject effects, latent values) are drawn.
    settings : SamplerSettings
        Sampler options of the refit.
    seed : int
        Seed of the simulation; the fit uses ``seed + 1``.
    priors : mapping of str to Prior, optional
        Priors of the fit (the family's defaults if not given).
    options : mapping or options object, optional
        The family's options.
    ci_prob : float
        Probability of the equal-tailed intervals.
    fixed : mapping of str to array_like, optional
        Further parameter values used in the simulation but not assessed, such as the
        population model of the biomarkers, whose data are the design's, not drawn.

    Returns
    -------
    table : pandas.DataFrame
        One row per parameter element, columns :data:`RECOVERY_COLUMNS`; ``z`` is
        (mean - truth) / sd and ``covered`` says whether the interval holds the truth.
    checks : pandas.DataFrame
        The diagnostics of the refit (:func:`il6fit.diagnostics.check`).
    tree : xarray.DataTree
        The refit.
    """
    priors = dict(family.default_priors if priors is None else priors)
    simulated = family.simulate(
        table, priors, {**dict(fixed or {}), **truth}, seed=seed, options=options
    )
    tree = sample(
        family.build(simulated, priors, options), settings, seed + 1, family=family,
        generative=family.generative(simulated, priors, options),
    )  # fmt: skip
    infos = {name: family.parameters.get(name, ParameterInfo(name, "-")) for name in truth}
    summary = summarise(tree, infos, ci_kind="eti", ci_prob=ci_prob)
    _, checks, _ = judge(tree, family.parameters, Thresholds(), ci_prob=ci_prob)
    summary["truth"] = np.concatenate(
        [np.atleast_1d(np.asarray(value, dtype=float)) for value in truth.values()]
    )
    summary["covered"] = summary["ci_lower"].le(summary["truth"]) & summary["ci_upper"].ge(
        summary["truth"]
    )
    summary["z"] = (summary["mean"] - summary["truth"]) / summary["sd"]
    return summary[list(RECOVERY_COLUMNS)], checks, tree


def studied_models() -> list[str]:
    """Return the model families that declare a recovery study, in registry order.

    Returns
    -------
    list of str
    """
    return [name for name, family in MODELS.items() if family.recovery is not None]


def recovery_study(
    name: str, *, settings: SamplerSettings, seed: int = 2026
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run a family's recovery study (:attr:`il6fit.models.ModelFamily.recovery`).

    Parameters
    ----------
    name : str
        A model family with a recovery study.
    settings : SamplerSettings
        Sampler options of the refit.
    seed : int
        Seed of the simulated trial; the outcome draws and the fit use derived seeds.

    Returns
    -------
    table, checks : pandas.DataFrame
        As :func:`recovery` returns them.
    """
    family = get_model(name)
    study = family.recovery
    if study is None:
        raise SpecError(f"model {name} declares no recovery study.")
    subjects, measurements, _ = simulate_cohort(
        scenario(study.scenario, n_subjects=study.n_subjects), seed=seed
    )
    data = prepare(
        as_read(subjects), as_read(measurements),
        subjects_file="simulated", measurements_file="simulated",
    )  # fmt: skip
    table = family.table(data.subjects, data.measurements, study.options)
    # the biomarkers are the design's data: their population model is fixed at its estimates
    fixed = biomarker_estimates(table) if "IL6_cens" in table else {}
    summary, checks, _ = recovery(
        family, table, study.truth, settings=settings, seed=seed + 1, fixed=fixed,
        options=study.options,
    )  # fmt: skip
    return summary, checks


def repeated_recovery_summary(
    rows: pd.DataFrame, *, ci_prob: float = 0.9, level: float = 0.95
) -> pd.DataFrame:
    """Summarise a recovery study repeated at the same truth over many simulated trials.

    At a fixed truth a correct posterior's ``ci_prob`` intervals cover it in about that share
    of trials (the closer, the more the data outweigh the prior), and z = (mean - truth) / sd
    averages about 0 with a spread about 1.

    Parameters
    ----------
    rows : pandas.DataFrame
        Recovery tables (:data:`RECOVERY_COLUMNS`) of several trials, with a ``seed`` column
        telling them apart.
    ci_prob : float
        Probability of the intervals in ``rows``.
    level : float
        Probability of the binomial range given for the number of trials that cover.

    Returns
    -------
    pandas.DataFrame
        One row per parameter, in the order of ``rows``: ``truth``, ``trials``, ``covered``
        (trials whose interval covers), ``coverage`` (their share), ``covered_low`` and
        ``covered_high`` (the central ``level`` range of ``covered`` for intervals of exactly
        ``ci_prob``), ``in_range``, ``mean_z``, ``se_mean_z`` (sd of z over root trials),
        ``sd_z``, ``within_2sd`` (share of trials with abs(z) <= 2) and ``max_abs_z``.

    Examples
    --------
    >>> rows = pd.DataFrame({"seed": [1, 2, 3, 4], "parameter": ["b"] * 4, "truth": 0.5,
    ...                      "covered": [True, True, True, False], "z": [0.5, -1.0, 1.5, 2.5]})
    >>> summary = repeated_recovery_summary(rows)
    >>> summary.loc[0, ["covered", "coverage", "mean_z", "within_2sd"]].tolist()
    [3.0, 0.75, 0.875, 0.75]
    """
    grouped = rows.groupby("parameter", sort=False)
    out = pd.DataFrame(
        {
            "truth": grouped["truth"].first(),
            "trials": grouped["seed"].nunique(),
            "covered": grouped["covered"].sum().astype(int),
            "mean_z": grouped["z"].mean(),
            "sd_z": grouped["z"].std(ddof=1),
            "within_2sd": grouped["z"].agg(lambda z: float((z.abs() <= 2).mean())),
            "max_abs_z": grouped["z"].agg(lambda z: float(z.abs().max())),
        }
    )
    out["coverage"] = out["covered"] / out["trials"]
    tail = (1 - level) / 2
    out["covered_low"] = binom.ppf(tail, out["trials"], ci_prob).astype(int)
    out["covered_high"] = binom.isf(tail, out["trials"], ci_prob).astype(int)
    out["in_range"] = out["covered"].between(out["covered_low"], out["covered_high"])
    out["se_mean_z"] = out["sd_z"] / np.sqrt(out["trials"])
    columns = ["truth", "trials", "covered", "coverage", "covered_low", "covered_high",
               "in_range", "mean_z", "se_mean_z", "sd_z", "within_2sd", "max_abs_z"]  # fmt: skip
    return out[columns].reset_index()
