r"""A binary clinical outcome on baseline biomarkers: logistic regression, censoring-aware.

For subject :math:`i` at site :math:`s[i]` with outcome :math:`y_i \in \{0, 1\}`: a ``Y``/``N``
column of the subjects table (in-hospital death ``DTHFL`` in COVID-19), or, in RA, a EULAR good
response at the landmark week (``outcome: EULAR_GOOD``, from the DAS28 score at weeks 0 and the
landmark as ``eular_response`` derives it):

.. math::

    x_i &\sim \mathrm{Normal}(\mu_x, \sigma_x)
        && \text{true } \ln \mathrm{IL6}_i \text{ [pg/mL] at the chosen visit} \\
    c_i \mid x_i &\sim \mathrm{Normal}(\kappa_0 + \kappa_1 (x_i - \ln 20), \sigma_c)
        && \text{true } \ln \mathrm{CRP}_i \text{ [mg/L] (option)} \\
    \eta_i &= \alpha + \alpha^{site}_{s[i]} + \beta_{IL6} (x_i - \ln 20)
        [+ \beta_{CRP} (c_i - \ln 10)] + \beta_{age} \frac{AGE_i - 50}{10}
        + \beta_{male}\, male_i + \beta_{BMI} \frac{BMI_i - 27}{5} + \beta_{a[i]} \\
    y_i &\sim \mathrm{Bernoulli}(\mathrm{logit}^{-1}(\eta_i)),
        \qquad \beta_{control} = 0, \quad \sum_s \alpha^{site}_s = 0

Covariates are options (``covariates``); site deviations are present only when the data have
more than one site (fixed zero-sum deviations, as ``il6_crp`` fits sites); arm effects only
with ``arm`` among the covariates (``arms`` maps labels to doses, dose 0 the control).

Censoring: an IL-6 (or CRP) reported below its LLOQ :math:`L` (above its ULOQ :math:`U`) is
not a number to plug in. :math:`x_i` is then a latent parameter constrained to
:math:`x_i < \ln L` (:math:`x_i > \ln U`) with the population density above
(:func:`il6fit.models.censored.latent_log_biomarker`), informed by the IL-6 distribution and by
the patient's outcome. A logistic likelihood has no closed-form integral over a normal
predictor, so the latent values are sampled (as ``eular_response`` does), not integrated out.

Priors (``DEFAULT_PRIORS``; all on the log-odds scale):

* :math:`\alpha \sim N(-1, 1.5)`: the risk of the reference patient (IL-6 20 pg/mL, CRP
  10 mg/L, age 50, female, BMI 27, control arm). In-hospital or 28-day mortality of
  hospitalised COVID-19 is 22-36 % in RECOVERY and REMAP-CAP (domain-facts §7), logit about
  -1; the SD lets the reference risk lie anywhere from 5 % to 90 %, which also covers RA
  responder rates;
* :math:`\beta_{IL6}, \beta_{CRP} \sim N(0, 1)` per ln unit: IL-6 marks severity in COVID-19
  (death vs survival +60 pg/mL, IL-6 > 80 pg/mL predicting ventilation with AUC 0.97, §7) but
  its association with RA response is weak and of either sign (§6); a symmetric prior with
  odds ratios per doubling between 0.26 and 3.9 (95 %) assumes no direction and still allows
  the steep COVID-19 gradient (an IL-6 SD of 1.7 ln units, §1b);
* :math:`\beta_{age}` (per 10 years), :math:`\beta_{male}`, :math:`\beta_{BMI}` (per 5
  kg/m²) :math:`\sim N(0, 1)`: weakly informative, odds ratios between 0.14 and 7 (95 %);
  domain-facts gives no outcome effects for them;
* :math:`\beta_a \sim N(0, 2.5)`: arm vs control, as ``eular_response`` (tocilizumab response
  odds ratios up to about 30, §4);
* :math:`\alpha^{site} \sim \mathrm{ZeroSumNormal}(0.5)`: between-site differences of a factor of
  1.65 in the odds, fixed rather than estimated (few sites identify no between-site SD);
* biomarker population models as ``eular_response``
  (:data:`il6fit.models.censored.BIOMARKER_PRIORS`: RA IL-6 median ~22 pg/mL, wide enough for
  COVID-19's 25-37 pg/mL with SD 1.7).

Estimands (:func:`estimands`), draws per posterior draw:

* odds ratio per doubling of IL-6, :math:`2^{\beta_{IL6}}`, and per ln unit,
  :math:`e^{\beta_{IL6}}` (and per doubling of CRP with ``crp``);
* the risk of the reference patient across IL-6 (:data:`IL6_GRID`, pg/mL);
* out-of-sample discrimination and calibration. Each patient's predicted risk is its
  leave-one-patient-out (LOO) expectation :math:`\hat p_i = \sum_s w_{is}\,
  \mathrm{logit}^{-1}(\eta_{is})`, with Pareto-smoothed importance weights
  :math:`w_{is} \propto 1 / p(y_i \mid \eta_{is})` (``arviz_stats`` ``psislw``): the posterior
  without the patient's outcome, the latent IL-6 of a censored patient then following its
  population given the limit, as it would for a new patient. The AUC of :math:`\hat p` and, in
  bins of :math:`\hat p` (quantiles), the observed share against the mean predicted risk, are
  given with Bayesian-bootstrap uncertainty (one Dirichlet(1, ..., 1) weighting of the
  patients per posterior draw; Rubin 1981): what another sample of patients like these would
  show. They are computed from posteriors of at least :data:`MIN_LOO_DRAWS` draws.

Subjects without the outcome, or without the biomarkers at the chosen visit, are left out
(logged): a complete-case analysis.
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
from scipy.special import expit, log_expit

from il6fit.data import response_table
from il6fit.errors import SpecError
from il6fit.models.arms import ARMS_DOC, ARMS_SCHEMA, DEFAULT_ARMS, arm_order
from il6fit.models.censored import (
    AGE_REFERENCE,
    AGE_SCALE,
    BIOMARKER_PARAMETERS,
    BIOMARKER_PRIORS,
    BIOMARKERS,
    BMI_REFERENCE,
    BMI_SCALE,
    IL6_REFERENCE,
    biomarker_predictors,
    wide_results,
)
from il6fit.models.family import (
    Answer,
    Calibration,
    FigureInput,
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

#: Subject covariates by config name: (analysis-table column, reference, scale).
COVARIATES = {
    "age": ("AGE", AGE_REFERENCE, AGE_SCALE),
    "male": ("male", 0.0, 1.0),
    "bmi": ("BMI", BMI_REFERENCE, BMI_SCALE),
}
#: IL-6 values (pg/mL) at which the reference patient's risk is reported: the Elecsys measuring
#: range, 1.5-5,000 pg/mL (domain-facts §1c), from healthy to cytokine-storm levels (§7).
IL6_GRID = (2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 5000.0)
#: Fewest posterior draws from which the LOO estimands are computed (PSIS needs a tail).
MIN_LOO_DRAWS = 100
#: Flag values of the outcome column.
FLAGS = {"Y": 1, "N": 0}
#: The ``outcome`` that is a EULAR good response, derived from the score (not a column).
RESPONDER = "EULAR_GOOD"
#: Words for an outcome in figures and tables.
OUTCOME_WORDS = {"DTHFL": "in-hospital death", RESPONDER: "EULAR good response"}


@dataclass(frozen=True)
class Options:
    """Options of the binary outcome model (``model_options.binary_outcome``)."""

    outcome: str = option(
        "DTHFL",
        "The outcome: a subjects-table column holding Y/N (DTHFL: death), or EULAR_GOOD, a "
        "EULAR good response at landmark_week from the score (RA responders). Subjects "
        "without it are left out (logged).",
    )
    score: Literal["DAS28ESR", "DAS28CRP"] = option(
        "DAS28ESR", "With outcome EULAR_GOOD: the score the EULAR response is computed from."
    )
    landmark_week: float = option(
        24, "With outcome EULAR_GOOD: the week of the response assessment (against week 0)."
    )
    visit: float = option(
        0,
        "Visit (AVISITN) of the biomarkers: baseline (admission) by default. Subjects without "
        "them there are left out (logged).",
    )
    biomarkers: tuple[Literal["il6", "crp"], ...] = option(
        ("il6",),
        "Biomarker predictors, censoring-aware (latent where the assay gave a limit); il6 is "
        "required, crp adds ln CRP.",
        minItems=1,
        uniqueItems=True,
    )
    covariates: tuple[Literal["age", "male", "bmi", "arm"], ...] = option(
        ("age", "male"),
        "Subject covariates (subjects-table AGE, SEX, BMI, TRT01P, needed only when listed). "
        "One empty for every subject is dropped with a note in the log; one empty for some "
        "stops the fit (set prepare.missing: drop for complete cases).",
        uniqueItems=True,
    )
    arms: Mapping[str, float] | None = option(None, ARMS_DOC, **ARMS_SCHEMA)
    calibration_bins: int = option(
        5,
        "Bins (quantiles of the LOO predicted risk) of the calibration estimand and figure.",
        minimum=2,
    )


PARAMETERS = {
    "alpha": ParameterInfo("log odds of the outcome, reference patient, IL-6 20 pg/mL", "logit"),
    "beta_il6": ParameterInfo("log odds ratio per ln IL-6", "log OR per ln(pg/mL)"),
    "beta_crp": ParameterInfo("log odds ratio per ln CRP", "log OR per ln(mg/L)"),
    "beta_age": ParameterInfo("log odds ratio per 10 years of age", "log OR per 10 years"),
    "beta_male": ParameterInfo("log odds ratio, male vs female", "log OR"),
    "beta_bmi": ParameterInfo("log odds ratio per 5 kg/m² BMI", "log OR per 5 kg/m²"),
    "beta_arm": ParameterInfo("log odds ratio, arm vs control", "log OR"),
    "alpha_site": ParameterInfo("site deviation of the log odds", "logit"),
    **BIOMARKER_PARAMETERS,
}

#: Defaults and their sources: the module docstring.
DEFAULT_PRIORS = {
    "alpha": Prior("Normal", {"mu": -1.0, "sigma": 1.5}),
    "beta_il6": Prior("Normal", {"mu": 0.0, "sigma": 1.0}),
    "beta_crp": Prior("Normal", {"mu": 0.0, "sigma": 1.0}),
    "beta_age": Prior("Normal", {"mu": 0.0, "sigma": 1.0}),
    "beta_male": Prior("Normal", {"mu": 0.0, "sigma": 1.0}),
    "beta_bmi": Prior("Normal", {"mu": 0.0, "sigma": 1.0}),
    "beta_arm": Prior("Normal", {"mu": 0.0, "sigma": 2.5}),
    "alpha_site": Prior("ZeroSumNormal", {"sigma": 0.5}),
    **BIOMARKER_PRIORS,
}


def requires(options: Options) -> tuple[str, ...]:
    """PARAMCD codes a dataset needs: the biomarker predictors, and the score for EULAR_GOOD.

    Parameters
    ----------
    options : Options
        The model's options.

    Returns
    -------
    tuple of str
    """
    codes = tuple(BIOMARKERS[p][0] for p in BIOMARKERS if p in options.biomarkers)
    return (*codes, options.score) if options.outcome == RESPONDER else codes


def outcome_words(options: Options) -> str:
    """Return the outcome in words, for labels: ``in-hospital death`` for DTHFL, else the column."""
    return OUTCOME_WORDS.get(options.outcome, f"{options.outcome} = Y")


def odds_ratio_sentence(answer: Answer) -> str:
    """Say the odds ratio per doubling of IL-6 in words.

    Parameters
    ----------
    answer : Answer
        ``or_il6_doubling``.

    Returns
    -------
    str
    """
    return (
        f"Each doubling of IL-6 multiplies the odds of {outcome_words(answer.options)} by "
        f"{answer.mean:.2f} ({answer.interval} {answer.lower:.2f} to {answer.upper:.2f}), the "
        "covariates held fixed."
    )


def auc_sentence(answer: Answer) -> str:
    """Say the out-of-sample discrimination in words."""
    return (
        f"Out of sample (leave-one-out), the model ranks a patient with "
        f"{outcome_words(answer.options)} above one without with probability {answer.mean:.2f} "
        f"(AUC; {answer.interval} {answer.lower:.2f} to {answer.upper:.2f})."
    )


def analysis_table(
    subjects: pd.DataFrame, measurements: pd.DataFrame, options: Options
) -> pd.DataFrame:
    """One row per subject: the outcome, the biomarkers at the chosen visit and the covariates.

    Parameters
    ----------
    subjects, measurements : pandas.DataFrame
        A prepared dataset.
    options : Options
        ``outcome`` (a Y/N column of ``subjects``), ``visit``, ``biomarkers``, ``covariates``
        and ``arms``.

    Returns
    -------
    pandas.DataFrame
        ``USUBJID``, ``site``, ``outcome`` (1 = Y), for each biomarker its value and
        ``<code>_cens``, and the covariate columns kept (``AGE``, ``male``, ``BMI``; ``arm``
        and ``dose``), sorted by ``USUBJID``.

    Raises
    ------
    SpecError
        If the outcome column is absent or holds other values than Y, N or empty, IL-6 is not
        a predictor, a covariate is missing for some subjects, or no subject is left.
    """
    if "il6" not in options.biomarkers:
        raise SpecError("binary_outcome: biomarkers must include il6.")
    column = options.outcome
    if column == RESPONDER:
        flags = _eular_good(subjects, measurements, options)
    elif column not in subjects:
        raise SpecError(
            f"binary_outcome: the subjects table has no column {column} (the outcome); its "
            f"columns are {', '.join(subjects.columns)}."
        )
    else:
        flags = subjects[column].fillna("").astype(str).str.strip()
    bad = sorted(set(flags) - {*FLAGS, ""})
    if bad:
        raise SpecError(f"binary_outcome: {column} must be Y, N or empty; found {', '.join(bad)}.")
    table = subjects.assign(outcome=flags.map(FLAGS))
    unknown = int(table["outcome"].isna().sum())
    if unknown:
        log.info("binary_outcome: %d subject(s) without %s left out", unknown, column)
    table = table[table["outcome"].notna()]
    codes = list(requires(options))
    biomarkers = wide_results(measurements, codes, [options.visit]).drop(columns="AVISITN")
    kept = table.merge(biomarkers, on="USUBJID", how="inner")
    if len(kept) < len(table):
        log.info(
            "binary_outcome: %d of %d subject(s) with %s have no %s at visit %g: left out",
            len(table) - len(kept), len(table), column, " and ".join(codes), options.visit,
        )  # fmt: skip
    table = kept
    table["outcome"] = table["outcome"].astype(int)
    table["site"] = table["STUDYID"].astype(str) + ":" + table["SITEID"].astype(str)
    columns = ["USUBJID", "site", "outcome"]
    for code in codes:
        columns += [code, f"{code}_cens"]
    if "male" in options.covariates:
        sex = table["SEX"].fillna("").astype(str)
        table["male"] = np.where(sex == "", np.nan, (sex == "M").astype(float))
    for name in (c for c in options.covariates if c != "arm"):
        source = COVARIATES[name][0]
        values = pd.to_numeric(table[source].replace("", np.nan))
        table[source] = values
        if values.isna().all():
            log.info("binary_outcome: the data have no %s; covariate %s dropped", source, name)
            continue
        if values.isna().any():
            source = "SEX" if name == "male" else source
            raise SpecError(
                f"binary_outcome: {source} is missing for {int(values.isna().sum())} of "
                f"{len(table)} subjects; supply it, set prepare.missing: drop (complete cases), "
                f"or remove '{name}' from covariates."
            )
        columns.append(COVARIATES[name][0])
    if "arm" in options.covariates:
        arms = dict(DEFAULT_ARMS if options.arms is None else options.arms)
        if sum(dose == 0 for dose in arms.values()) != 1:
            raise SpecError(
                f"binary_outcome needs exactly one control arm (dose 0) in `arms`; got {arms}."
            )
        table = table[table["TRT01P"].isin(arms)].assign(arm=lambda t: t["TRT01P"])
        table["dose"] = table["arm"].map(arms)
        columns += ["arm", "dose"]
    if table.empty:
        raise SpecError(
            f"binary_outcome: no subject has {column} and {' and '.join(codes)} at visit "
            f"{options.visit:g}" + (" in the configured arms." if "arm" in columns else ".")
        )
    return table[columns].sort_values("USUBJID").reset_index(drop=True)


def _eular_good(subjects: pd.DataFrame, measurements: pd.DataFrame, options: Options) -> pd.Series:
    """Each subject's EULAR good response (Y/N) at the landmark, empty where unknown.

    From :func:`il6fit.data.response_table`: the score at weeks 0 and ``landmark_week``; a
    censored score whose bounds leave the category open gives no outcome.
    """
    responses = response_table(measurements, subjects, landmark_week=options.landmark_week)
    category = responses[responses["PARAMCD"] == options.score].set_index("USUBJID")["EULAR"]
    good = category.map({"good": "Y", "moderate": "N", "none": "N"})
    return subjects["USUBJID"].map(good).fillna("")


def build(table: pd.DataFrame, priors: Mapping[str, Prior], options: Options) -> pm.Model:
    """Build the logistic model of the outcome for an analysis table.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`analysis_table`.
    priors : mapping of str to Prior
        A prior for every key of :data:`DEFAULT_PRIORS` the model uses.
    options : Options
        Unused: the table carries what the options chose.

    Returns
    -------
    pymc.Model
        Observed ``outcome`` (dims ``subject``) and ``log_il6`` (measured IL-6, and
        ``log_crp`` with CRP); deterministic ``eta``, the log odds of each subject.

    Raises
    ------
    SpecError
        If the table has no rows.
    """
    if table.empty:
        raise SpecError("binary_outcome: the analysis table has no subject.")
    predictors = [p for p, (code, _) in BIOMARKERS.items() if code in table]
    sites, site_idx = np.unique(table["site"], return_inverse=True)
    coords = {"subject": table["USUBJID"].to_numpy(), "site": sites}
    if "arm" in table:
        arms = arm_order(table)
        coords["active_arm"] = arms[1:]
    with pm.Model(coords=coords) as model:
        x = biomarker_predictors(table, priors, predictors)
        eta = priors["alpha"].create("alpha")
        for p in predictors:
            eta = eta + priors[f"beta_{p}"].create(f"beta_{p}") * x[p]
        for name, (column, reference, scale) in COVARIATES.items():
            if column in table:
                value = pm.Data(
                    name, (table[column].to_numpy(float) - reference) / scale, dims="subject"
                )
                eta = eta + priors[f"beta_{name}"].create(f"beta_{name}") * value
        if "arm" in table and len(arms) > 1:
            arm = pm.Data(
                "arm_idx", table["arm"].map({a: i for i, a in enumerate(arms)}).to_numpy(),
                dims="subject",
            )  # fmt: skip
            beta_arm = priors["beta_arm"].create("beta_arm", dims="active_arm")
            eta = eta + pm.math.concatenate([[0.0], beta_arm])[arm]
        if sites.size > 1:
            site = pm.Data("site_idx", site_idx, dims="subject")
            eta = eta + priors["alpha_site"].create("alpha_site", dims="site")[site]
        eta = pm.Deterministic("eta", eta, dims="subject")
        pm.Bernoulli(
            "outcome",
            logit_p=eta,
            observed=pm.Data("outcome_observed", table["outcome"].to_numpy(int), dims="subject"),
            dims="subject",
        )
    return model


def reference_risk(alpha: np.ndarray, beta_il6: np.ndarray, il6: np.ndarray) -> np.ndarray:
    """Risk of the reference patient at IL-6 values, per draw.

    Parameters
    ----------
    alpha, beta_il6 : numpy.ndarray
        Draws, shape (draws,).
    il6 : numpy.ndarray
        IL-6 values, pg/mL.

    Returns
    -------
    numpy.ndarray
        Shape (draws, values).

    Examples
    --------
    >>> reference_risk(np.zeros(1), np.ones(1), np.array([20.0, 40.0])).round(3).tolist()
    [[0.5, 0.667]]
    """
    return expit(alpha[:, None] + beta_il6[:, None] * (np.log(il6) - np.log(IL6_REFERENCE)))


def loo_risk(eta: np.ndarray, outcome: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Each patient's leave-one-out predicted risk and the Pareto k of its weights.

    Parameters
    ----------
    eta : numpy.ndarray
        Log odds, shape (chains, draws, patients).
    outcome : numpy.ndarray
        Observed outcomes (0/1), one per patient.

    Returns
    -------
    risk : numpy.ndarray
        :math:`\sum_s w_{is} \mathrm{logit}^{-1}(\eta_{is})` per patient, with PSIS weights
        :math:`w_{is} \propto 1 / p(y_i \mid \eta_{is})`.
    pareto_k : numpy.ndarray
        Per patient.
    """
    log_lik = np.where(outcome == 1, log_expit(eta), log_expit(-eta))
    # psislw takes the log-likelihood: the log ratios are its negative
    log_lik = xr.DataArray(log_lik, dims=("chain", "draw", "patient"))
    log_weights, pareto_k = log_lik.azstats.psislw(dim=["chain", "draw"])
    log_weights = log_weights.transpose("chain", "draw", "patient").values
    weights = np.exp(log_weights - log_weights.max(axis=(0, 1)))
    weights /= weights.sum(axis=(0, 1))
    return (weights * expit(eta)).sum(axis=(0, 1)), np.asarray(pareto_k)


def weighted_auc(risk: np.ndarray, outcome: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Area under the ROC curve of fixed risks, with each patient weighted, per weighting.

    The probability that a case drawn with the weights has a higher risk than a non-case drawn
    with the weights (ties count one half).

    Parameters
    ----------
    risk : numpy.ndarray
        Predicted risks, one per patient.
    outcome : numpy.ndarray
        Outcomes (0/1), one per patient.
    weights : numpy.ndarray
        Patient weights, shape (weightings, patients).

    Returns
    -------
    numpy.ndarray
        One AUC per weighting.

    Examples
    --------
    >>> weighted_auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1]), np.ones((1, 4)))
    array([0.75])
    """
    cases, controls = outcome == 1, outcome == 0
    higher = np.sign(risk[cases][:, None] - risk[controls][None, :]) / 2 + 0.5
    w1, w0 = weights[:, cases], weights[:, controls]
    return np.einsum("si,ij,sj->s", w1, higher, w0) / (w1.sum(axis=1) * w0.sum(axis=1))


def risk_bins(risk: np.ndarray, n_bins: int) -> tuple[np.ndarray, list[str]]:
    """Bins of predicted risk at its quantiles: each patient's bin and the bins' labels.

    Parameters
    ----------
    risk : numpy.ndarray
        Predicted risks.
    n_bins : int
        Bins wanted (fewer where risks tie).

    Returns
    -------
    bin : numpy.ndarray
        Per patient, 0 to the number of bins - 1.
    labels : list of str
        The risk range of each bin, e.g. ``0.05-0.12``.
    """
    edges = np.unique(np.quantile(risk, np.linspace(0, 1, n_bins + 1)))
    which = np.clip(np.searchsorted(edges, risk, side="right") - 1, 0, max(edges.size - 2, 0))
    used = np.unique(which)
    which = np.searchsorted(used, which)
    labels = [
        f"{risk[which == b].min():.2f}-{risk[which == b].max():.2f}" for b in range(used.size)
    ]
    return which, labels


def estimands(tree: xr.DataTree, table: pd.DataFrame, options: Options, seed: int) -> xr.Dataset:
    """Posterior draws of odds ratios, reference risks and out-of-sample performance.

    Parameters
    ----------
    tree : xarray.DataTree
        A fit of :func:`build` (``posterior`` with ``alpha``, ``beta_il6``, ``eta``).
    table : pandas.DataFrame
        Its analysis table.
    options : Options
        ``calibration_bins``.
    seed : int
        Seed of the Bayesian-bootstrap weights.

    Returns
    -------
    xarray.Dataset
        ``or_il6_doubling``, ``or_il6_per_ln`` (and ``or_crp_doubling`` with CRP), dims
        (chain, draw); ``risk_reference`` (chain, draw, ``il6_pgml``); and, from posteriors of at
        least :data:`MIN_LOO_DRAWS` draws, ``auc_loo`` (chain, draw) and ``calibration_observed``,
        ``calibration_predicted`` (chain, draw, ``risk_bin``).
    """
    post = tree["posterior"]
    chains, draws = post.sizes["chain"], post.sizes["draw"]
    flat = {name: post[name].values.reshape(-1) for name in ("alpha", "beta_il6")}
    sample = ("chain", "draw")
    out = {
        "or_il6_doubling": (sample, np.exp(post["beta_il6"].values * np.log(2))),
        "or_il6_per_ln": (sample, np.exp(post["beta_il6"].values)),
        "risk_reference": (
            (*sample, "il6_pgml"),
            reference_risk(flat["alpha"], flat["beta_il6"], np.asarray(IL6_GRID)).reshape(
                chains, draws, -1
            ),
        ),
    }
    if "beta_crp" in post:
        out["or_crp_doubling"] = (sample, np.exp(post["beta_crp"].values * np.log(2)))
    coords = {"chain": post["chain"].values, "draw": post["draw"].values}
    coords["il6_pgml"] = list(IL6_GRID)
    if chains * draws >= MIN_LOO_DRAWS and "eta" in post:
        outcome = table["outcome"].to_numpy(int)
        risk, pareto_k = loo_risk(post["eta"].transpose(*sample, ...).values, outcome)
        limit = min(1 - 1 / np.log10(chains * draws), 0.7)
        if (pareto_k > limit).any():
            log.warning(
                "binary_outcome: LOO predicted risk unreliable (Pareto k > %.2f) for %d of %d "
                "patients", limit, int((pareto_k > limit).sum()), pareto_k.size,
            )  # fmt: skip
        weights = np.random.default_rng(seed).dirichlet(np.ones(risk.size), chains * draws)
        out["auc_loo"] = (sample, weighted_auc(risk, outcome, weights).reshape(chains, draws))
        which, labels = risk_bins(risk, options.calibration_bins)
        member = (which[:, None] == np.arange(len(labels))).astype(float)
        mass = weights @ member
        for name, values in (("observed", outcome), ("predicted", risk)):
            share = (weights * values) @ member / mass
            out[f"calibration_{name}"] = ((*sample, "risk_bin"), share.reshape(chains, draws, -1))
        coords["risk_bin"] = labels
    return xr.Dataset(out, coords=coords)


#: Estimands reported, with units.
ESTIMANDS = {
    "or_il6_doubling": ParameterInfo("odds ratio per doubling of IL-6", "OR per doubling"),
    "or_il6_per_ln": ParameterInfo("odds ratio per ln unit of IL-6 (x 2.72)", "OR per ln(pg/mL)"),
    "or_crp_doubling": ParameterInfo("odds ratio per doubling of CRP", "OR per doubling"),
    "risk_reference": ParameterInfo(
        "risk of the reference patient (age 50, female) at IL-6 (pg/mL)", "probability"
    ),
    "auc_loo": ParameterInfo(
        "AUC of the leave-one-out predicted risk (Bayesian bootstrap)", "probability"
    ),
    "calibration_observed": ParameterInfo(
        "observed share in a bin of LOO predicted risk", "probability"
    ),
    "calibration_predicted": ParameterInfo("mean LOO predicted risk in the bin", "probability"),
}


def with_observed(table: pd.DataFrame, values: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Return the analysis table with the outcome replaced by values drawn from the model.

    Parameters
    ----------
    table : pandas.DataFrame
        An analysis table.
    values : mapping of str to numpy.ndarray
        ``outcome`` (0/1).

    Returns
    -------
    pandas.DataFrame
    """
    return table.assign(outcome=np.asarray(values["outcome"], dtype=int))


def risk_curve(fig: FigureInput) -> Figure:
    """Risk of the reference patient against IL-6, observed outcomes as a rug.

    Parameters
    ----------
    fig : FigureInput
        A ``binary_outcome`` fit and its analysis table.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    from il6fit.plots import plain_log_ticks

    table, ci_prob = fig.table, fig.ci_prob
    post = fig.tree["posterior"]
    grid = np.geomspace(table["IL6"].min() * 0.8, table["IL6"].max() * 1.25, 120)
    risk = reference_risk(
        post["alpha"].values.reshape(-1), post["beta_il6"].values.reshape(-1), grid
    )
    tail = (1 - ci_prob) / 2
    low, mid, high = np.quantile(risk, [tail, 0.5, 1 - tail], axis=0)
    figure, ax = plt.subplots(figsize=(6.5, 4.5))
    ax.fill_between(grid, low, high, color="k", alpha=0.15, label=f"{ci_prob:.0%} credible band")
    ax.plot(grid, mid, color="k", label="posterior median, reference patient")
    words = outcome_words(fig.options)
    censored = table["IL6_cens"].to_numpy() != 0
    for value, name in ((1, words), (0, f"no {words}")):
        rows = table["outcome"].to_numpy() == value
        exact = table.loc[rows & ~censored, "IL6"]
        ax.plot(exact, np.full(exact.size, float(value)), "|", color=f"C{value}", ms=12,
                alpha=0.6, label=f"observed: {name}")  # fmt: skip
    # a censored IL-6 is known only to lie beyond its limit: drawn at the limit, marked
    limit = table.loc[censored, ["IL6", "outcome"]]
    if not limit.empty:
        ax.plot(limit["IL6"], limit["outcome"].astype(float), "^", mfc="none", mec="C3", ms=7,
                label="IL-6 at an assay limit (censored)")  # fmt: skip
    ax.set(xscale="log", ylim=(-0.05, 1.05), xlabel="IL-6 at the chosen visit (pg/mL)")
    ax.set_ylabel(f"P({words}), reference patient (0-1)")
    plain_log_ticks(ax.xaxis)
    ax.set_title(f"Risk of {words} against IL-6 (age 50, female)")
    ax.legend(fontsize=7, loc="center left")
    return figure


def calibration_plot(draws: xr.Dataset, *, ci_prob: float, words: str) -> Figure:
    """Observed share against LOO predicted risk by bin, with intervals and the AUC.

    Parameters
    ----------
    draws : xarray.Dataset
        Estimand draws with ``calibration_observed``, ``calibration_predicted`` and ``auc_loo``.
    ci_prob : float
        Interval probability.
    words : str
        The outcome in words.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], color="0.6", ls="--", lw=1, label="perfect calibration")
    tail = (1 - ci_prob) / 2
    if "calibration_observed" in draws:
        stacked = {
            k: draws[f"calibration_{k}"].stack(s=("chain", "draw")).transpose("risk_bin", ...)
            for k in ("observed", "predicted")
        }
        x, y = stacked["predicted"].values.mean(axis=1), stacked["observed"].values.mean(axis=1)
        low, high = np.quantile(stacked["observed"].values, [tail, 1 - tail], axis=1)
        ax.errorbar(x, y, yerr=[y - low, high - y], fmt="o", color="C0", capsize=3,
                    label=f"observed share, {ci_prob:.0%} interval")  # fmt: skip
        auc = draws["auc_loo"].values.reshape(-1)
        a_low, a_high = np.quantile(auc, [tail, 1 - tail])
        ax.set_title(
            f"Calibration, leave-one-out\nAUC {auc.mean():.2f} ({a_low:.2f}-{a_high:.2f})",
            fontsize=10,
        )
    ax.set(
        xlim=(0, 1), ylim=(0, 1), xlabel="LOO predicted risk, bin mean (0-1)",
        ylabel=f"observed share with {words} (0-1)",
    )  # fmt: skip
    ax.legend(fontsize=8, loc="upper left")
    return figure


FAMILY = ModelFamily(
    name="binary_outcome",
    title="Binary outcome (death, response) on censored baseline IL-6, logistic",
    equations=__doc__,
    options=Options,
    requires=requires,
    subject_columns={
        "outcome": {"DTHFL": "DTHFL"},
        "covariates": {"age": "AGE", "male": "SEX", "bmi": "BMI", "arm": "TRT01P"},
    },
    parameters=PARAMETERS,
    default_priors=DEFAULT_PRIORS,
    analysis_table=analysis_table,
    builder=build,
    estimands=estimands,
    estimand_parameters=ESTIMANDS,
    figures={
        "risk": FigureSpec(
            risk_curve,
            "risk of the outcome against IL-6 for the reference patient, observed outcomes as a "
            "rug, censored IL-6 marked",
        ),
        "calibration": FigureSpec(
            lambda f: calibration_plot(
                f.family.estimand_draws(f.tree, f.table, f.options),
                ci_prob=f.ci_prob,
                words=outcome_words(f.options),
            ),
            "calibration of the leave-one-out predicted risk: observed share by bin of "
            "predicted risk, with the out-of-sample AUC",
        ),
    },
    observed={
        "outcome": ObservedInfo("outcome (0 = N, 1 = Y)", kind="discrete", categories=("N", "Y"))
    },
    with_observed=with_observed,
    headlines=(
        Headline(
            "or_il6_doubling", "odds ratio of the outcome per doubling of IL-6", odds_ratio_sentence
        ),
        Headline("auc_loo", "discrimination out of sample (AUC)", auc_sentence),
    ),
    # IL-6 (and CRP) are the design's data, measured; the outcome is drawn
    calibration=Calibration(
        design={"scenario": "covid", "n_subjects": 200},
        estimands=("risk_reference",),
        design_data=("log_il6", "log_crp"),
    ),
    # the covid scenario's death model: logit 0.8 per ln IL-6 (UNVERIFIED size, §7)
    recovery=RecoveryStudy(
        truth={"alpha": -1.2, "beta_il6": 0.8, "beta_age": 0.5, "beta_male": 0.3},
        n_subjects=600,
        scenario="covid",
    ),
    # cold compile on one core, default design (benchmarks/RESULTS.md, issue 20)
    compile_seconds=25.0,
)
