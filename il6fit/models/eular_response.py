r"""EULAR response at the landmark week: an ordinal (cumulative logit) model on arm and biomarkers.

For subject :math:`i` in arm :math:`a[i]` with response :math:`Y_i \in` {none < moderate < good}
(van Gestel's table from baseline and landmark DAS28, domain-facts §3d, or the category the data
supply where they have no DAS28 to derive it from):

.. math::

    \eta_i &= \beta_{a[i]} + \gamma_{IL6} (x_i - \ln 20) + \gamma_{CRP} (c_i - \ln 10)
        [+ \gamma_{DAS28} (D_i - 6)], \qquad \beta_{control} = 0 \\
    P(Y_i \le \text{none}) &= \mathrm{logit}^{-1}(\theta_1 - \eta_i), \qquad
    P(Y_i \le \text{moderate}) = \mathrm{logit}^{-1}(\theta_2 - \eta_i) \\
    \theta_2 &= \theta_1 + \Delta\theta, \quad \Delta\theta > 0

:math:`x_i` and :math:`c_i` are the true baseline ln IL-6 (pg/mL) and ln CRP (mg/L),
censoring-aware predictors (:mod:`il6fit.models.censored`); :math:`D_i` the baseline DAS28,
an optional adjustment (``covariates: [il6, crp, das28]``). :math:`\beta_a` is the log odds
ratio of a better response category on arm :math:`a` against control (proportional odds).

The response of a subject is the one the chosen DAS28 score gives at weeks 0 and the landmark;
where that score is censored (derived from CRP below its assay limit, say) it is known only
within bounds, and the response is used where it is the same at every value the bounds allow
(:func:`il6fit.data.response_table`). Otherwise it is a supplied EULAR row at the landmark
week (``PARAMCD`` EULAR, for data without the components). Subjects with neither (dropouts,
or a censored score whose bounds leave the category open and no supplied category) are left
out: a complete-case analysis, unbiased only if dropout does not depend on the response; the
count left out because of censoring is logged, and leaving them out is a missing-not-at-random
exclusion when many scores are censored (low CRP goes with a good response), which interval
censoring of the ordinal response would avoid. The ``das28`` adjustment needs an exact
baseline score: subjects whose baseline score is censored or absent are left out of that
variant (logged). The ``treatment_response`` model, which uses every visit, is the one to trust
when dropout is informative.

Estimands, standardised over the subjects in the data (each counterfactually in each arm, with
their own baseline biomarkers) for every posterior draw: P(good), P(moderate or good) and
P(none) by arm, and the difference in P(good) against control.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr
from scipy.special import expit

from il6fit.data import response_table
from il6fit.data.contract import PARAMETERS as DATA_PARAMETERS
from il6fit.errors import SpecError
from il6fit.models.arms import ARMS_DOC, ARMS_SCHEMA, DEFAULT_ARMS, arm_order
from il6fit.models.censored import (
    BIOMARKER_PARAMETERS,
    BIOMARKER_PRIORS,
    BIOMARKERS,
    biomarker_predictors,
    wide_results,
)
from il6fit.models.family import (
    Answer,
    Calibration,
    FigureSpec,
    Headline,
    ModelFamily,
    ObservedInfo,
    ParameterInfo,
    RecoveryStudy,
    option,
)
from il6fit.models.priors import Prior

if TYPE_CHECKING:
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)

_EULAR_NUMBERS = DATA_PARAMETERS["EULAR"].categories

#: Response categories, in order; the model's codes are their positions, which are also their
#: numbers in the data contract (``none``, ``moderate``, ``good``).
CATEGORIES = tuple(sorted(_EULAR_NUMBERS, key=_EULAR_NUMBERS.get))
#: Baseline DAS28 at which the optional adjustment is centred (RA trial baselines, §4).
DAS28_REFERENCE = 6.0
COVARIATES = (*BIOMARKERS, "das28")

PARAMETERS = {
    "beta": ParameterInfo("log odds ratio of a better response, arm vs control", "log OR"),
    "odds_ratio": ParameterInfo("odds ratio of a better response, arm vs control", "OR"),
    "gamma_il6": ParameterInfo("log odds of a better response per ln IL-6", "log OR per ln(pg/mL)"),
    "gamma_crp": ParameterInfo("log odds of a better response per ln CRP", "log OR per ln(mg/L)"),
    "gamma_das28": ParameterInfo("log odds of a better response per baseline DAS28", "log OR"),
    "theta_none": ParameterInfo("cutpoint none | moderate (control, reference)", "logit"),
    "theta_gap": ParameterInfo("distance from cutpoint 1 to cutpoint 2", "logit"),
    **BIOMARKER_PARAMETERS,
}

#: Defaults from domain-facts.md §4 (OPTION-like trials): on placebo about 60 % have no EULAR
#: response and few a good one (cutpoints near 0.4 and 3.5); tocilizumab 8 mg/kg gives a good
#: response to about half, odds ratios up to ~30 (log 3.4), within Normal(0, 2.5). Baseline
#: biomarker effects are weak (§6), Normal(0, 1) per ln unit.
DEFAULT_PRIORS = {
    "beta": Prior("Normal", {"mu": 0.0, "sigma": 2.5}),
    "gamma_il6": Prior("Normal", {"mu": 0.0, "sigma": 1.0}),
    "gamma_crp": Prior("Normal", {"mu": 0.0, "sigma": 1.0}),
    "gamma_das28": Prior("Normal", {"mu": 0.0, "sigma": 1.0}),
    "theta_none": Prior("Normal", {"mu": 0.0, "sigma": 2.0}),
    "theta_gap": Prior("Gamma", {"alpha": 2.0, "beta": 0.75}),
    **BIOMARKER_PRIORS,
}


@dataclass(frozen=True)
class Options:
    """Options of the EULAR response model (``model_options.eular_response``)."""

    score: Literal["DAS28ESR", "DAS28CRP"] = option(
        "DAS28ESR",
        "Score the EULAR response is computed from; a supplied EULAR row is used where a subject "
        "has no such score at weeks 0 and the landmark (or its bounds leave the category open).",
    )
    arms: Mapping[str, float] | None = option(None, ARMS_DOC, **ARMS_SCHEMA)
    landmark_week: float = option(
        24,
        "Week of the response assessment; subjects without a response then (from the score or "
        "supplied) are left out (complete case).",
    )
    covariates: tuple[Literal["il6", "crp", "das28"], ...] = option(
        ("il6", "crp"),
        "Baseline adjustments (biomarkers censoring-aware; das28 is the score).",
        uniqueItems=True,
    )


def requires(options: Options) -> tuple[str, ...]:
    """PARAMCD codes a dataset needs: the biomarkers adjusted for, and the score for ``das28``.

    The response itself comes from the score or from supplied EULAR rows, either will do, so
    neither is demanded here; :func:`analysis_table` stops when no subject has a response.

    Parameters
    ----------
    options : Options
        The model's options.

    Returns
    -------
    tuple of str
    """
    biomarkers = [BIOMARKERS[p][0] for p in BIOMARKERS if p in options.covariates]
    return (*biomarkers, options.score) if "das28" in options.covariates else tuple(biomarkers)


def analysis_table(
    subjects: pd.DataFrame, measurements: pd.DataFrame, options: Options
) -> pd.DataFrame:
    """One row per subject: arm, baseline biomarkers and EULAR response at the landmark week.

    Parameters
    ----------
    subjects, measurements : pandas.DataFrame
        A prepared dataset.
    options : Options
        ``score`` the EULAR response is computed from; ``arms`` (``TRT01P`` label to dose,
        exactly one arm with dose 0, the simulated trial's arms if None); ``landmark_week`` of
        the response assessment; ``covariates``, the baseline adjustments.

    Returns
    -------
    pandas.DataFrame
        ``USUBJID``, ``arm``, ``dose``, ``response`` (0 none, 1 moderate, 2 good),
        ``response_source`` (``score`` or ``supplied``), ``BASE`` and ``LANDMARK`` (the two
        scores where exact, else empty), for each biomarker its value and ``<code>_cens``,
        and ``das28_centred`` (baseline score minus 6) when adjusted for.

    Raises
    ------
    SpecError
        For bad arms or covariates, or when no subject has what the model needs.
    """
    score, landmark_week, covariates = options.score, options.landmark_week, options.covariates
    arms = dict(DEFAULT_ARMS if options.arms is None else options.arms)
    if sum(dose == 0 for dose in arms.values()) != 1:
        raise SpecError(
            f"eular_response needs exactly one control arm (dose 0) in `arms`; got {arms}."
        )
    unknown = sorted(set(covariates) - set(COVARIATES))
    if unknown:
        raise SpecError(
            f"eular_response: unknown covariate(s) {', '.join(unknown)}; choose from "
            f"{', '.join(COVARIATES)}."
        )
    codes = [BIOMARKERS[p][0] for p in BIOMARKERS if p in covariates]
    table = _responses(subjects, measurements, score, landmark_week)
    if codes:
        biomarkers = wide_results(measurements, codes, [0]).drop(columns="AVISITN")
        table = table.merge(biomarkers, on="USUBJID", how="inner")
    table["arm"] = table["USUBJID"].map(subjects.set_index("USUBJID")["TRT01P"])
    table = table[table["arm"].isin(arms)]
    if "das28" in covariates:
        inexact = table["BASE"].isna()
        if inexact.any():
            log.info(
                "eular_response: %d subject(s) without an exact baseline %s (absent, or censored: "
                "derived from a result beyond an assay limit) left out for the das28 adjustment",
                int(inexact.sum()),
                score,
            )
        table = table[~inexact]
        table["das28_centred"] = table["BASE"] - DAS28_REFERENCE
    if table.empty:
        raise SpecError(
            f"eular_response: no subject in arms {list(arms)} has a EULAR response at week "
            f"{landmark_week:g} ({score} at weeks 0 and {landmark_week:g}, or a supplied EULAR "
            "row)"
            + (f" and baseline {', '.join(codes)}" if codes else "")
            + (f" and an exact baseline {score}" if "das28" in covariates else "")
            + "."
        )
    table["dose"] = table["arm"].map(arms)
    columns = ["USUBJID", "arm", "dose", "response", "response_source", "BASE", "LANDMARK"]
    rest = [c for c in table.columns if c not in columns]
    return table[columns + rest].sort_values("USUBJID").reset_index(drop=True)


def _responses(
    subjects: pd.DataFrame, measurements: pd.DataFrame, score: str, landmark_week: float
) -> pd.DataFrame:
    """Each subject's response code at the landmark: from the score, else supplied."""
    derived = response_table(measurements, subjects, landmark_week=landmark_week)
    derived = derived[derived["PARAMCD"] == score].set_index("USUBJID")
    base_exact, exact = (derived[c].eq(0).fillna(False).astype(bool) for c in ("BASECENS", "CENS"))
    both = derived["BASECENS"].notna() & derived["CENS"].notna()
    open_ = both & ~(base_exact & exact) & (derived["EULAR"] == "")
    rows = measurements[
        (measurements["PARAMCD"] == "EULAR") & (measurements["AVISITN"] == landmark_week)
    ]
    supplied = rows.groupby("USUBJID")["AVAL"].first()
    codes = {c: i for i, c in enumerate(CATEGORIES)}
    from_score = derived["EULAR"].map(codes).dropna()
    from_supplied = supplied[~supplied.index.isin(from_score.index)]
    if open_.any():
        rescued = int(open_[open_].index.isin(from_supplied.index).sum())
        log.info(
            "eular_response: %d subject(s) have a censored %s whose bounds leave the EULAR "
            "response open: %d with a supplied category use it, %d are left out",
            int(open_.sum()),
            score,
            rescued,
            int(open_.sum()) - rescued,
        )
    table = pd.DataFrame(
        {
            "response": pd.concat([from_score, from_supplied]).astype(int),
            "response_source": ["score"] * len(from_score) + ["supplied"] * len(from_supplied),
        }
    )
    table["BASE"] = derived["BASE"].where(base_exact).reindex(table.index)
    table["LANDMARK"] = derived["AVAL"].where(exact).reindex(table.index)
    return table.rename_axis("USUBJID").reset_index()


def build(table: pd.DataFrame, priors: Mapping[str, Prior], options: Options) -> pm.Model:
    """Build the EULAR response model for an analysis table.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`analysis_table`.
    priors : mapping of str to Prior
        A prior for every key of :data:`DEFAULT_PRIORS` the model uses.

    Returns
    -------
    pymc.Model
        Observed ``response`` (dims ``subject``); ``beta`` and ``odds_ratio`` over
        ``active_arm``.
    """
    arms = arm_order(table)
    arm_idx = table["arm"].map({a: i for i, a in enumerate(arms)}).to_numpy()
    predictors = [p for p, (code, _) in BIOMARKERS.items() if code in table]
    coords = {
        "subject": table["USUBJID"].to_numpy(),
        "arm": arms,
        "active_arm": arms[1:],
        "category": list(CATEGORIES),
    }
    with pm.Model(coords=coords) as model:
        x = biomarker_predictors(table, priors, predictors)
        arm = pm.Data("arm_idx", arm_idx, dims="subject")
        beta = priors["beta"].create("beta", dims="active_arm")
        pm.Deterministic("odds_ratio", pm.math.exp(beta), dims="active_arm")
        eta = pm.math.concatenate([[0.0], beta])[arm]
        for p in predictors:
            eta = eta + priors[f"gamma_{p}"].create(f"gamma_{p}") * x[p]
        if "das28_centred" in table:
            base = pm.Data("das28_centred", table["das28_centred"].to_numpy(float), dims="subject")
            eta = eta + priors["gamma_das28"].create("gamma_das28") * base
        pm.Deterministic("eta", eta, dims="subject")
        theta_none = priors["theta_none"].create("theta_none")
        theta_gap = priors["theta_gap"].create("theta_gap")
        cutpoints = pm.math.stack([theta_none, theta_none + theta_gap])
        pm.OrderedLogistic(
            "response", eta=eta, cutpoints=cutpoints, compute_p=False,
            observed=pm.Data("response_observed", table["response"].to_numpy(int), dims="subject"),
            dims="subject",
        )  # fmt: skip
    return model


def probabilities(eta: np.ndarray, theta_none: np.ndarray, theta_gap: np.ndarray) -> np.ndarray:
    """P(none), P(moderate), P(good) for linear predictors and cutpoints.

    Parameters
    ----------
    eta : numpy.ndarray
        Linear predictors, shape (draws, subjects).
    theta_none, theta_gap : numpy.ndarray
        Cutpoint and gap per draw, shape (draws,).

    Returns
    -------
    numpy.ndarray
        Shape (draws, subjects, 3).

    Examples
    --------
    >>> p = probabilities(np.zeros((1, 1)), np.zeros(1), np.full(1, 1e9))
    >>> p.round(3).tolist()
    [[[0.5, 0.5, 0.0]]]
    """
    first = expit(theta_none[:, None] - eta)
    second = expit((theta_none + theta_gap)[:, None] - eta)
    return np.stack([first, second - first, 1 - second], axis=-1)


def estimands(tree: xr.DataTree, table: pd.DataFrame, options: Options, seed: int) -> xr.Dataset:
    """Posterior draws of response probabilities by arm, standardised over the subjects.

    Parameters
    ----------
    tree : xarray.DataTree
        A fit of :func:`build`.
    table : pandas.DataFrame
        Its analysis table.
    options, seed
        Unused: the estimands are exact functions of the parameters.

    Returns
    -------
    xarray.Dataset
        ``p_good``, ``p_moderate_or_good``, ``p_none`` with dims (chain, draw, arm);
        ``p_good_difference`` (arm minus control) with dims (chain, draw, active_arm).
    """
    post = tree["posterior"]
    arms = arm_order(table)
    chains, draws = post.sizes["chain"], post.sizes["draw"]
    eta = post["eta"].values.reshape(chains * draws, -1)
    beta = np.concatenate(
        [np.zeros((chains * draws, 1)), post["beta"].values.reshape(chains * draws, -1)], axis=1
    )
    own = table["arm"].map({a: i for i, a in enumerate(arms)}).to_numpy()
    without_arm = eta - beta[:, own]
    theta, gap = (post[v].values.reshape(-1) for v in ("theta_none", "theta_gap"))
    probs = np.stack(
        [probabilities(without_arm + beta[:, [j]], theta, gap).mean(axis=1) for j in
         range(len(arms))], axis=1,
    )  # fmt: skip  # (S, arm, category)
    shape = (chains, draws, len(arms))
    good = probs[..., 2]
    return xr.Dataset(
        {
            "p_good": (("chain", "draw", "arm"), good.reshape(shape)),
            "p_moderate_or_good": (
                ("chain", "draw", "arm"),
                (probs[..., 1] + good).reshape(shape),
            ),
            "p_none": (("chain", "draw", "arm"), probs[..., 0].reshape(shape)),
            "p_good_difference": (
                ("chain", "draw", "active_arm"),
                (good[:, 1:] - good[:, [0]]).reshape(chains, draws, -1),
            ),
        },
        coords={
            "chain": post["chain"].values,
            "draw": post["draw"].values,
            "arm": arms,
            "active_arm": arms[1:],
        },
    )


#: Estimands reported, with units.
ESTIMANDS = {
    "p_good": ParameterInfo("P(EULAR good response) at the landmark week", "probability"),
    "p_moderate_or_good": ParameterInfo(
        "P(EULAR moderate or good response) at the landmark week", "probability"
    ),
    "p_none": ParameterInfo("P(no EULAR response) at the landmark week", "probability"),
    "p_good_difference": ParameterInfo("P(good response) minus control's", "probability"),
}


def with_observed(table: pd.DataFrame, values: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Return the analysis table with the response replaced by values drawn from the model.

    Parameters
    ----------
    table : pandas.DataFrame
        An analysis table.
    values : mapping of str to numpy.ndarray
        ``response`` codes.

    Returns
    -------
    pandas.DataFrame
    """
    return table.assign(response=np.asarray(values["response"], dtype=int))


def probabilities_by_arm(draws: xr.Dataset, table: pd.DataFrame, *, ci_prob: float) -> Figure:
    """EULAR response probabilities per arm: posterior means and intervals over observed shares.

    Parameters
    ----------
    draws : xarray.Dataset
        Estimand draws (``p_none``, ``p_moderate_or_good``, ``p_good``, dims chain, draw, arm).
    table : pandas.DataFrame
        The analysis table (``arm``, ``response`` codes 0 none, 1 moderate, 2 good).
    ci_prob : float
        Interval probability.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    arms = [str(a) for a in draws["arm"].values]
    levels = {
        "p_none": ("none", lambda r: (r == 0).mean()),
        "p_moderate_or_good": ("moderate or good", lambda r: (r >= 1).mean()),
        "p_good": ("good", lambda r: (r == 2).mean()),
    }
    tail = (1 - ci_prob) / 2
    figure, ax = plt.subplots(figsize=(7, 4.5))
    width = 0.8 / len(levels)
    for k, (name, (label, share)) in enumerate(levels.items()):
        at = np.arange(len(arms)) + (k - (len(levels) - 1) / 2) * width
        values = draws[name].stack(sample=("chain", "draw")).transpose("arm", "sample").values
        mean = values.mean(axis=1)
        low, high = np.quantile(values, [tail, 1 - tail], axis=1)
        ax.bar(at, mean, width, color=f"C{k}", alpha=0.6, label=f"{label} (model)")
        ax.errorbar(at, mean, yerr=[mean - low, high - mean], fmt="none", color="k", lw=1)
        observed = [share(table.loc[table["arm"] == a, "response"]) for a in arms]
        ax.plot(at, observed, "kx", ms=6, label="observed share" if k == 0 else None)
    ax.set_xticks(np.arange(len(arms)), arms, fontsize=8)
    ax.set(ylim=(0, 1), xlabel="arm", ylabel="probability at the landmark week (0-1)")
    ax.set_title(f"EULAR response by arm, posterior mean and {ci_prob:.0%} interval")
    ax.legend(fontsize=7)
    return figure


def good_difference_sentence(answer: Answer) -> str:
    """Say an arm's gain in the probability of a good response over control, in words.

    Parameters
    ----------
    answer : Answer
        ``p_good_difference`` of one active arm.

    Returns
    -------
    str
    """
    return (
        f"{answer.element}: probability of a EULAR good response at week "
        f"{answer.options.landmark_week:g} {100 * answer.mean:+.0f} percentage points against "
        f"{answer.control} ({answer.interval} {100 * answer.lower:+.0f} to "
        f"{100 * answer.upper:+.0f})."
    )


FAMILY = ModelFamily(
    name="eular_response",
    title="EULAR response (none / moderate / good) at the landmark week, cumulative logit",
    equations=__doc__,
    options=Options,
    requires=requires,
    parameters=PARAMETERS,
    default_priors=DEFAULT_PRIORS,
    analysis_table=analysis_table,
    builder=build,
    estimands=estimands,
    estimand_parameters=ESTIMANDS,
    figures={
        "eular": FigureSpec(
            lambda f: probabilities_by_arm(
                f.family.estimand_draws(f.tree, f.table, f.options), f.table, ci_prob=f.ci_prob
            ),
            "EULAR response probabilities by arm at the landmark week over observed shares",
        )
    },
    observed={
        "response": ObservedInfo(
            "EULAR response at the landmark week", kind="discrete", categories=CATEGORIES
        )
    },
    with_observed=with_observed,
    headlines=(
        Headline(
            "p_good_difference",
            "P(EULAR good response) against control",
            good_difference_sentence,
        ),
    ),
    calibration=Calibration(
        design={"scenario": "ra_tcz_trial", "n_subjects": 150},
        estimands=("p_good", "p_none", "p_good_difference"),
    ),
    # values of the size the trials report (domain-facts.md §4-§6)
    recovery=RecoveryStudy(
        truth={
            "beta": [1.8, 3.0],
            "gamma_il6": -0.3,
            "gamma_crp": 0.3,
            "theta_none": 0.4,
            "theta_gap": 2.8,
        },
    ),
    # cold compile on one core, default design (benchmarks/RESULTS.md, issue 20)
    compile_seconds=45.0,
)
