"""Validation studies: fit a model to outcomes drawn from it with known parameters."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import binom

from il6fit.data import as_read, prepare
from il6fit.diagnostics import Thresholds, check, summarise
from il6fit.inference import SamplerSettings, sample
from il6fit.models import ModelFamily, ParameterInfo, Prior, get_model
from il6fit.models.censored import biomarker_estimates
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
    build_kwargs: Mapping | None = None,
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
    build_kwargs : mapping, optional
        Build options.
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
    build_kwargs = dict(build_kwargs or {})
    simulated = family.simulate(
        table, priors, {**dict(fixed or {}), **truth}, seed=seed, build_kwargs=build_kwargs
    )
    tree = sample(family.build(simulated, priors, **build_kwargs), settings, seed + 1)
    infos = {name: family.parameters.get(name, ParameterInfo(name, "-")) for name in truth}
    summary = summarise(tree, infos, ci_kind="eti", ci_prob=ci_prob)
    checks = check(tree, summarise(tree, family.parameters, ci_kind="eti", ci_prob=ci_prob),
                   Thresholds())  # fmt: skip
    summary["truth"] = np.concatenate(
        [np.atleast_1d(np.asarray(value, dtype=float)) for value in truth.values()]
    )
    summary["covered"] = summary["ci_lower"].le(summary["truth"]) & summary["ci_upper"].ge(
        summary["truth"]
    )
    summary["z"] = (summary["mean"] - summary["truth"]) / summary["sd"]
    return summary[list(RECOVERY_COLUMNS)], checks, tree


#: Recovery studies of the models whose outcomes are drawn from the model itself: the design
#: (arms, visits, biomarkers, censoring) of a simulated trial of ``n_subjects``, outcomes drawn
#: with ``truth`` (values of the size the trials report, domain-facts.md §4-§6).
RECOVERY_STUDIES = {
    "treatment_response": {
        "n_subjects": 600,
        "options": {},
        "truth": {
            "mu_base": 6.6, "gamma_base": 0.2, "sigma_base": 0.6,
            "delta": [-1.0, -2.6, -3.4], "eta": -0.3, "tau_delta": 0.8,
            "log_k": float(np.log(0.27)), "sigma": 0.6,
        },
    },
    "disease_activity": {
        "n_subjects": 600,
        "options": {},
        "truth": {
            "a_joint": [0.3, -0.4], "b_joint_il6": [0.25, 0.15], "b_joint_crp": [0.1, 0.2],
            "phi_joint": [3.0, 2.5], "a_ptga": 60.0, "b_ptga_il6": 4.0, "b_ptga_crp": 2.0,
            "sigma_ptga": 20.0,
        },
    },
    "eular_response": {
        "n_subjects": 600,
        "options": {},
        "truth": {
            "beta": [1.8, 3.0], "gamma_il6": -0.3, "gamma_crp": 0.3, "theta_none": 0.4,
            "theta_gap": 2.8,
        },
    },
}  # fmt: skip


def recovery_study(
    name: str, *, settings: SamplerSettings, seed: int = 2026
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run one of :data:`RECOVERY_STUDIES`.

    Parameters
    ----------
    name : str
        A key of :data:`RECOVERY_STUDIES` (a model name).
    settings : SamplerSettings
        Sampler options of the refit.
    seed : int
        Seed of the simulated trial; the outcome draws and the fit use derived seeds.

    Returns
    -------
    table, checks : pandas.DataFrame
        As :func:`recovery` returns them.
    """
    study = RECOVERY_STUDIES[name]
    subjects, measurements, _ = simulate_cohort(
        scenario("ra_tcz_trial", n_subjects=study["n_subjects"]), seed=seed
    )
    data = prepare(
        as_read(subjects), as_read(measurements),
        subjects_file="simulated", measurements_file="simulated",
    )  # fmt: skip
    family = get_model(name)
    table = family.table(data.subjects, data.measurements, study["options"])
    # the biomarkers are the design's data: their population model is fixed at its estimates
    fixed = biomarker_estimates(table) if "IL6_cens" in table else {}
    summary, checks, _ = recovery(
        family, table, study["truth"], settings=settings, seed=seed + 1, fixed=fixed
    )
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
