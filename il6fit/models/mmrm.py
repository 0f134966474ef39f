r"""Mixed model for repeated measures (MMRM): change from baseline by arm and visit.

For patient :math:`i` in arm :math:`a[i]` with baseline score :math:`B_i` (DAS28-ESR,
DAS28-CRP, CDAI or SDAI) and the change from baseline :math:`y_{iv}` at each post-baseline visit
:math:`v = 1, \ldots, V`:

.. math::

    y_i &\sim \mathrm{MvNormal}_V(\mu_i, \Sigma) \quad \text{(the visits observed)} \\
    \mu_{iv} &= \beta_{a[i], v} + \gamma_v (B_i - \bar B)
        \; [+ \lambda_{a[i], v} (x_i - \bar x)] \\
    \Sigma &= \mathrm{diag}(\sigma) \, R \, \mathrm{diag}(\sigma)

:math:`\beta_{a v}` is the mean change of arm :math:`a` at visit :math:`v` for a patient with
the mean baseline score :math:`\bar B` of the analysed patients; :math:`\gamma_v` the change per
unit of baseline score (regression to the mean); the optional :math:`\lambda_{a v}` the change
per unit of baseline ln IL-6 :math:`x_i` (pg/mL; a result below the assay limit enters at the
limit) in each arm, so that :math:`\lambda_{a v} - \lambda_{0 v}` is the effect modification of
arm :math:`a` by baseline IL-6. :math:`\sigma_v` is the SD of the change at visit :math:`v` and
:math:`R` the correlation between visits of one patient: unstructured (LKJ prior), compound
symmetric (:math:`R_{uv} = \rho`), first-order autoregressive on the visit index
(:math:`R_{uv} = \rho^{|u - v|}`) or independent (:math:`R = I`).

No value is imputed and no patient has a parameter of their own: a patient's likelihood is the
multivariate normal density of the visits they have, a sub-vector of :math:`y_i` with the
matching block of :math:`\Sigma`, which is valid when visits are missing at random (MAR: given
the patient's observed scores). It is the exact per-patient log-likelihood that
leave-one-patient-out uses. A censored score (DAS28-CRP derived from CRP below its assay limit
is known only to lie below the value stored) is never taken as exact: it is left out, a visit
or, at baseline, the patient (counted in the log). Low CRP goes with low activity, so when many
scores are censored this is a missing-not-at-random exclusion; interval censoring of the
change would avoid it.

Clinical estimands at the landmark week :math:`L` (a modelled visit), standardised over the
patients analysed (each counterfactually in each arm, with their own baseline): mean change
:math:`\frac{1}{n} \sum_i \mu_{iL}(a)` per arm, its difference from control (the treatment effect),
the posterior probability that the effect exceeds a clinically important difference, and from
predictive draws of each patient's score at the landmark
(:math:`B_i + \mu_{iL}(a) + \sigma_L \varepsilon_i`), the probability of remission and, for a
DAS28 score, of a EULAR good response. Unlike ``treatment_response`` it assumes no shape of the
course over time, so the landmark estimand does not inherit a wrong one; it is the trials'
primary analysis (brms.mmrm is the Bayesian reference).

Priors (domain-facts §4-§5c, DAS28 units): week-24 changes from about -0.8 (placebo + MTX) to
-3.7 (tocilizumab), ``Normal(-1.5, 2)``; a residual SD near 0.7 and between-patient SD near 0.6
give change SDs of about 1, ``HalfNormal(2)``; LKJ(2) mildly favours weak correlations; the
:math:`\rho` of compound symmetry and AR(1) is positive, ``Beta(2, 2)`` (a patient's visits of
one score are positively correlated). For CDAI
or SDAI (0-76, 0-86 points) set ``beta`` and ``sigma`` priors about ten times wider.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

from il6fit.data.scores import DAS28_REMISSION, eular_response
from il6fit.errors import SpecError
from il6fit.models.arms import ARMS_DOC, ARMS_SCHEMA, DEFAULT_ARMS, arm_order
from il6fit.models.censored import exact_scores
from il6fit.models.family import (
    Calibration,
    FigureInput,
    FigureSpec,
    Landmark,
    ModelFamily,
    ObservedInfo,
    ParameterInfo,
    option,
)
from il6fit.models.landmark import HEADLINES
from il6fit.models.priors import Prior

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Scores the model can analyse and the remission threshold of each (domain-facts §3:
#: DAS28 < 2.6, CDAI <= 2.8, SDAI <= 3.3; remission is "at or below" for CDAI and SDAI).
REMISSION = {"DAS28ESR": DAS28_REMISSION, "DAS28CRP": DAS28_REMISSION, "CDAI": 2.8, "SDAI": 3.3}
#: Scores the EULAR response is defined on.
EULAR_SCORES = ("DAS28ESR", "DAS28CRP")
COVARIANCES = ("unstructured", "compound_symmetry", "ar1", "independent")


@dataclass(frozen=True)
class Options:
    """Options of the repeated-measures model (``model_options.mmrm``)."""

    score: Literal["DAS28ESR", "DAS28CRP", "CDAI", "SDAI"] = option(
        "DAS28ESR",
        "Score whose change from baseline is analysed (a PARAMCD of the data; DAS28 scores "
        "are derived from their components). For CDAI or SDAI widen the beta and sigma priors.",
    )
    arms: Mapping[str, float] | None = option(None, ARMS_DOC, **ARMS_SCHEMA)
    landmark_week: float = option(
        24, "Week at which the clinical estimands are read; must be a modelled visit."
    )
    clinically_important_difference: float = option(
        1.2,
        "Score units; P(effect against control larger than this) is reported.",
        exclusiveMinimum=0,
    )
    visits: tuple[float, ...] | None = option(
        None,
        "Post-baseline weeks modelled; default every post-baseline week the score was "
        "measured (after `prepare.visit_weeks` windowing).",
        minItems=1,
        uniqueItems=True,
    )
    covariance: Literal["unstructured", "compound_symmetry", "ar1", "independent"] = option(
        "unstructured",
        "Correlation of a patient's visits: unstructured (LKJ), compound_symmetry, ar1 (on "
        "the visit index) or independent; an SD per visit in every case.",
    )
    effect_modification: bool = option(
        False,
        "Add baseline ln IL-6 by arm by visit (lambda): how the effect changes with baseline "
        "IL-6. Needs baseline IL-6.",
    )


PARAMETERS = {
    "beta": ParameterInfo("mean change by arm and visit at the mean baseline", "score"),
    "gamma": ParameterInfo("change per unit of baseline score, by visit", "score per score"),
    "lambda_il6": ParameterInfo(
        "change per ln baseline IL-6, by arm and visit", "score per ln(pg/mL)"
    ),
    "sigma": ParameterInfo("SD of the change at each visit", "score"),
    "rho": ParameterInfo("correlation between visits (compound symmetry or AR(1))", "correlation"),
    "corr": ParameterInfo("correlation between two visits (unstructured)", "correlation"),
}

#: Defaults (module docstring; domain-facts §4-§5c).
DEFAULT_PRIORS = {
    "beta": Prior("Normal", {"mu": -1.5, "sigma": 2.0}),
    "gamma": Prior("Normal", {"mu": 0.0, "sigma": 1.0}),
    "lambda_il6": Prior("Normal", {"mu": 0.0, "sigma": 1.0}),
    "sigma": Prior("HalfNormal", {"sigma": 2.0}),
    "rho": Prior("Beta", {"alpha": 2.0, "beta": 2.0}),
    "corr": Prior("LKJ", {"eta": 2.0}),
}


def requires(options: Options) -> tuple[str, ...]:
    """PARAMCD codes a dataset needs: the score, and IL-6 with effect modification.

    Parameters
    ----------
    options : Options
        The model's options.

    Returns
    -------
    tuple of str
    """
    return ("IL6", options.score) if options.effect_modification else (options.score,)


def analysis_table(
    subjects: pd.DataFrame, measurements: pd.DataFrame, options: Options
) -> pd.DataFrame:
    """One row per patient and post-baseline visit: the change from baseline of the score.

    Parameters
    ----------
    subjects, measurements : pandas.DataFrame
        A prepared dataset.
    options : Options
        ``score``, ``arms`` (``TRT01P`` label to dose, exactly one arm with dose 0; patients
        in other arms are left out), ``visits``, ``landmark_week`` (must be a modelled visit)
        and ``effect_modification`` (baseline IL-6 needed).

    Returns
    -------
    pandas.DataFrame
        ``USUBJID``, ``week``, ``y`` (change from baseline), ``base`` (baseline score),
        ``arm``, ``dose`` and, with effect modification, ``log_il6`` (baseline); patients
        with a baseline score and at least one modelled visit, sorted by patient and week.

    Raises
    ------
    SpecError
        If the arms are not as described, the landmark is not a modelled visit, or no
        patient has what the model needs.
    """
    score = options.score
    arms = dict(DEFAULT_ARMS if options.arms is None else options.arms)
    if sum(dose == 0 for dose in arms.values()) != 1:
        raise SpecError(f"mmrm needs exactly one control arm (dose 0) in `arms`; got {arms}.")
    rows = measurements[(measurements["PARAMCD"] == score) & measurements["AVAL"].notna()]
    rows = exact_scores(rows, "mmrm", score)[["USUBJID", "AVISITN", "AVAL"]]
    rows = rows.astype({"AVISITN": float, "AVAL": float})
    baseline = rows[rows["AVISITN"] == 0].groupby("USUBJID")["AVAL"].first()
    later = rows[rows["AVISITN"] > 0]
    if options.visits is not None:
        later = later[later["AVISITN"].isin([float(v) for v in options.visits])]
    table = pd.DataFrame(
        {
            "USUBJID": later["USUBJID"].to_numpy(),
            "week": later["AVISITN"].to_numpy(float),
            "base": later["USUBJID"].map(baseline).to_numpy(float),
        }
    )
    table["y"] = later["AVAL"].to_numpy(float) - table["base"]
    table["arm"] = table["USUBJID"].map(subjects.set_index("USUBJID")["TRT01P"])
    table = table[table["arm"].isin(arms) & table["base"].notna()]
    table["dose"] = table["arm"].map(arms).astype(float)
    if options.effect_modification:
        il6 = measurements[(measurements["PARAMCD"] == "IL6") & (measurements["AVISITN"] == 0)]
        table["log_il6"] = np.log(table["USUBJID"].map(il6.groupby("USUBJID")["AVAL"].first()))
        table = table[table["log_il6"].notna()]
    if table.empty:
        raise SpecError(
            f"mmrm: no patient in arms {list(arms)} has a baseline {score} and a later one"
            + (" and baseline IL-6." if options.effect_modification else ".")
        )
    repeated = table[table.duplicated(["USUBJID", "week"], keep=False)]
    if not repeated.empty:
        first = repeated.iloc[0]
        count = int(
            ((repeated["USUBJID"] == first["USUBJID"]) & (repeated["week"] == first["week"])).sum()
        )
        raise SpecError(
            f"mmrm: patient {first['USUBJID']} has {count} "
            f"{score} results at week {first['week']:g}; a visit holds one result per patient. "
            "Window the visits (`prepare.visit_weeks`) or keep one result per visit."
        )
    weeks = sorted(table["week"].unique())
    if float(options.landmark_week) not in weeks:
        raise SpecError(
            f"mmrm: the landmark week {options.landmark_week:g} is not a modelled visit of "
            f"{score}; the visits are weeks {', '.join(f'{w:g}' for w in weeks)}. Set "
            "`landmark_week` to one of them (or `prepare.visit_weeks` to window the visits)."
        )
    return table.sort_values(["USUBJID", "week"]).reset_index(drop=True)


def _design(table: pd.DataFrame) -> dict:
    """Patients, visits, arms, centred covariates and missingness patterns of a table."""
    subjects, subject_idx = np.unique(table["USUBJID"], return_inverse=True)
    weeks, week_idx = np.unique(table["week"].to_numpy(float), return_inverse=True)
    arms = arm_order(table)
    per_subject = table.groupby("USUBJID").first().loc[subjects]
    observed = np.zeros((len(subjects), len(weeks)), dtype=bool)
    observed[subject_idx, week_idx] = True
    patterns, pattern_idx = np.unique(observed, axis=0, return_inverse=True)
    base = per_subject["base"].to_numpy(float)
    x = per_subject["log_il6"].to_numpy(float) if "log_il6" in per_subject else np.zeros(base.size)
    return {
        "subjects": subjects,
        "first_row": np.unique(subject_idx, return_index=True)[1],
        "weeks": weeks,
        "arms": arms,
        "cell": subject_idx * len(weeks) + week_idx,
        "subject_arm": per_subject["arm"].map({a: i for i, a in enumerate(arms)}).to_numpy(),
        "base_centred": base - base.mean(),
        "il6_centred": x - x.mean(),
        "patterns": patterns.astype(float),
        "pattern_idx": pattern_idx.ravel(),
    }


def _covariance_factor(priors: Mapping[str, Prior], covariance: str, n_visits: int):
    r"""Cholesky factor of :math:`\Sigma`, its variables created in the model.

    Creates ``sigma`` (dims visit) and, by structure, ``corr`` (dims visit_pair) or ``rho``.
    """
    if covariance not in COVARIANCES:
        raise SpecError(f"mmrm: unknown covariance '{covariance}'; choose {COVARIANCES}.")
    if covariance == "unstructured" and n_visits > 1:
        factor, corr, sds = pm.LKJCholeskyCov(
            "cov_factor",
            n=n_visits,
            eta=priors["corr"].params["eta"],
            sd_dist=priors["sigma"].unnamed(shape=n_visits),
            compute_corr=True,
            store_in_trace=False,
        )
        pm.Deterministic("sigma", sds, dims="visit")
        pm.Deterministic("corr", corr[np.tril_indices(n_visits, -1)], dims="visit_pair")
        return factor
    sigma = priors["sigma"].create("sigma", dims="visit")
    if covariance in ("independent", "unstructured"):  # unstructured: a single visit
        return pt.diag(sigma)
    rho = priors["rho"].create("rho")
    lag = np.abs(np.subtract.outer(np.arange(n_visits), np.arange(n_visits)))
    corr = pt.switch(pt.eq(lag, 0), 1.0, rho) if covariance == "compound_symmetry" else rho**lag
    return sigma[:, None] * pt.linalg.cholesky(corr)


def masked_logp(value, mean, chol, patterns, pattern_idx, cell, first_row, *, n_visits: int):
    r"""Each patient's log-likelihood, the density of the visits they have (module docstring).

    The observed block of :math:`\Sigma` of each missingness pattern is embedded in a
    :math:`V \times V` matrix :math:`B` with zeros off the observed block and ones on the
    diagonal of the missing visits, so that every pattern's matrix has the same shape. Sweeping
    :math:`B` on each observed visit :math:`k` in turn (Goodnight's sweep operator, the
    elimination behind a Cholesky factor: with pivot :math:`d = B_{kk}`,
    :math:`B_{ij} \leftarrow B_{ij} - B_{ik} B_{kj} / d` for :math:`i, j \ne k`,
    :math:`B_{ik}, B_{ki} \leftarrow B_{ik} / d`, :math:`B_{kk} \leftarrow -1 / d`) leaves
    :math:`-\Sigma_{OO}^{-1}` in the observed block (zeros beside it, the missing visits'
    identity untouched) and pivots that are the conditional variances of each observed visit
    given the ones swept before it, whose logs sum to :math:`\ln |\Sigma_{OO}|`. A missing
    visit's residual is 0 and adds nothing.

    The sweeps run over every pattern at once, one visit at a time, in element-wise
    operations (a pattern that lacks the visit keeps its matrix), so the log density and its
    gradient need no batched linear algebra: against a batched inverse and determinant (LU) a
    gradient costs a third to a half as much and numba compiles it sooner
    (benchmarks/RESULTS.md, issue 20).

    Parameters
    ----------
    value : tensor
        The observed changes, one per table row.
    mean : tensor
        :math:`\mu`, patients x visits.
    chol : tensor
        Cholesky factor of :math:`\Sigma`, visits x visits.
    patterns : tensor
        Which visits each missingness pattern observes (patterns x visits, 0/1).
    pattern_idx : tensor
        Each patient's pattern.
    cell : tensor
        Each row's position in the flattened patients x visits grid.
    first_row : tensor
        Each patient's first row in the table.
    n_visits : int
        :math:`V`, the number of visits (the sweeps are unrolled over them).

    Returns
    -------
    tensor
        One value per row: a patient's log-likelihood on their first row, 0 on the others, so
        that a patient's rows sum to it (the unit of leave-one-patient-out).
    """
    eye = np.eye(n_visits)
    cov = chol @ chol.T
    swept = (
        cov[None] * patterns[:, :, None] * patterns[:, None, :]
        + (1 - patterns)[:, :, None] * eye[None]
    )
    log_det = 0.0
    for k in range(n_visits):
        seen = patterns[:, k]
        pivot = swept[:, k, k]
        column = swept[:, :, k]
        scaled = seen[:, None] * column / pivot[:, None]  # 0 where the visit is missing
        # B - u (c - e_k)' + e_k (u - (2 + 1/d) e_k)' with u = c/d: the sweep above; B itself
        # where u is 0
        row = scaled - (seen * (2.0 + 1.0 / pivot))[:, None] * eye[k]
        swept = (
            swept
            - scaled[:, :, None] * (column - eye[k])[:, None, :]
            + eye[k][None, :, None] * row[:, None, :]
        )
        log_det = log_det + seen * pt.log(pivot)
    observed = patterns[pattern_idx]
    grid = pt.set_subtensor(pt.zeros(mean.shape[0] * n_visits)[cell], value)
    residual = grid.reshape(mean.shape) - mean * observed
    # r' swept r = -r' inv(Sigma_OO) r: the missing visits' residuals are 0
    quadratic = (swept[pattern_idx] * residual[:, :, None] * residual[:, None, :]).sum(axis=(1, 2))
    patient = -0.5 * (np.log(2 * np.pi) * observed.sum(axis=1) + log_det[pattern_idx] - quadratic)
    return pt.set_subtensor(pt.zeros_like(value)[first_row], patient)


def _draw_rows(mean, chol, patterns, pattern_idx, cell, first_row, size):
    """Draw every patient's visits jointly and keep the rows of the table."""
    return pm.MvNormal.dist(mean, chol=chol).reshape((-1,))[cell]


def build(table: pd.DataFrame, priors: Mapping[str, Prior], options: Options) -> pm.Model:
    """Build the repeated-measures model for an analysis table.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`analysis_table`.
    priors : mapping of str to Prior
        A prior for every key of :data:`DEFAULT_PRIORS` the model uses.
    options : Options
        ``covariance`` and ``effect_modification``.

    Returns
    -------
    pymc.Model
        Observed ``y`` (dims ``obs``, one per row, log density per row as in
        :func:`masked_logp`); ``beta`` (arm, visit), ``gamma`` (visit), ``sigma`` (visit),
        ``lambda_il6`` (arm, visit) with effect modification, ``rho`` or ``corr``
        (``visit_pair``) by covariance; every input is ``pm.Data``.
    """
    design = _design(table)
    weeks, arms = design["weeks"], design["arms"]
    n_visits = len(weeks)
    pairs = [
        f"{weeks[j]:g}-{weeks[i]:g}" for i, j in zip(*np.tril_indices(n_visits, -1), strict=True)
    ]
    coords = {
        "obs": np.arange(len(table)),
        "subject": design["subjects"],
        "visit": weeks,
        "arm": arms,
        "visit_pair": pairs,
    }
    with pm.Model(coords=coords) as model:
        arm = pm.Data("subject_arm", design["subject_arm"], dims="subject")
        base = pm.Data("base_centred", design["base_centred"], dims="subject")
        patterns = pm.Data("patterns", design["patterns"])
        pattern_idx = pm.Data("pattern_idx", design["pattern_idx"], dims="subject")
        cell = pm.Data("cell_idx", design["cell"], dims="obs")
        first_row = pm.Data("first_row", design["first_row"], dims="subject")
        beta = priors["beta"].create("beta", dims=("arm", "visit"))
        gamma = priors["gamma"].create("gamma", dims="visit")
        mean = beta[arm] + base[:, None] * gamma[None, :]
        if options.effect_modification:
            il6 = pm.Data("il6_centred", design["il6_centred"], dims="subject")
            lam = priors["lambda_il6"].create("lambda_il6", dims=("arm", "visit"))
            mean = mean + il6[:, None] * lam[arm]
        chol = _covariance_factor(priors, options.covariance, n_visits)
        pm.CustomDist(
            "y",
            mean,
            chol,
            patterns,
            pattern_idx,
            cell,
            first_row,
            logp=partial(masked_logp, n_visits=n_visits),
            dist=_draw_rows,
            observed=pm.Data("y_observed", table["y"].to_numpy(float), dims="obs"),
            dims="obs",
        )
    return model


def _landmark_index(post: xr.Dataset, options: Options) -> int:
    weeks = [float(w) for w in post["visit"].values]
    return weeks.index(float(options.landmark_week))


def _flat(post: xr.Dataset, name: str) -> np.ndarray:
    """Draws of a variable with chains and draws flattened into one leading axis."""
    value = post[name].values
    return value.reshape(-1, *value.shape[2:])


def _mean_change(post: xr.Dataset, constant: xr.Dataset, j: int) -> np.ndarray:
    r""":math:`\mu_{iv}(a)` at visit ``j`` for every patient counterfactually in every arm.

    Returns an array (draws, patients, arms).
    """
    beta = _flat(post, "beta")[:, :, j]  # (S, arm)
    gamma = _flat(post, "gamma")[:, j]
    base = constant["base_centred"].values
    mean = beta[:, None, :] + (gamma[:, None] * base)[:, :, None]
    if "lambda_il6" in post:
        lam = _flat(post, "lambda_il6")[:, :, j]
        mean = mean + constant["il6_centred"].values[None, :, None] * lam[:, None, :]
    return mean


def _covariances(post: xr.Dataset, options: Options) -> np.ndarray:
    r""":math:`\Sigma` for every draw, (draws, visits, visits)."""
    sigma = _flat(post, "sigma")
    n_draws, n_visits = sigma.shape
    corr = np.broadcast_to(np.eye(n_visits), (n_draws, n_visits, n_visits)).copy()
    if options.covariance == "unstructured" and n_visits > 1:
        lower = np.tril_indices(n_visits, -1)
        values = _flat(post, "corr")
        corr[:, lower[0], lower[1]] = values
        corr[:, lower[1], lower[0]] = values
    elif options.covariance in ("compound_symmetry", "ar1") and n_visits > 1:
        rho = _flat(post, "rho")[:, None, None]
        lag = np.abs(np.subtract.outer(np.arange(n_visits), np.arange(n_visits)))
        symmetric = options.covariance == "compound_symmetry"
        corr = np.where(lag == 0, 1.0, rho) if symmetric else rho**lag
    return sigma[:, :, None] * corr * sigma[:, None, :]


def estimands(tree: xr.DataTree, table: pd.DataFrame, options: Options, seed: int) -> xr.Dataset:
    r"""Posterior draws of the clinical estimands at the landmark week.

    Standardised over the patients in ``table``: every patient is put, counterfactually, in
    every arm with their own baseline score (and baseline IL-6); remission and EULAR response
    come from a predictive draw of each patient's landmark score,
    :math:`B_i + \mu_{iL}(a) + \sigma_L \varepsilon_i`.

    Parameters
    ----------
    tree : xarray.DataTree
        A fit of :func:`build`.
    table : pandas.DataFrame
        Its analysis table.
    options : Options
        ``landmark_week``, ``clinically_important_difference`` and ``score`` (which
        remission threshold; EULAR response only for a DAS28 score).
    seed : int
        Seed of the predictive draws.

    Returns
    -------
    xarray.Dataset
        Dims (chain, draw, arm): ``change``, ``remission`` and, for DAS28, ``eular_good``;
        dims (chain, draw, active_arm): ``effect`` and ``effect_exceeds_cid``.
    """
    post, constant = tree["posterior"].to_dataset(), tree["constant_data"].to_dataset()
    arms = [str(a) for a in post["arm"].values]
    chains, draws = post.sizes["chain"], post.sizes["draw"]
    j = _landmark_index(post, options)
    mean = _mean_change(post, constant, j)  # (S, n, arm)
    baseline = table.groupby("USUBJID")["base"].first().loc[constant["subject"].values].to_numpy()
    sd = _flat(post, "sigma")[:, j][:, None]
    rng = np.random.default_rng(seed)
    out = {"change": mean.mean(axis=1), "remission": np.empty_like(mean[:, 0, :])}
    eular = options.score in EULAR_SCORES
    if eular:
        out["eular_good"] = np.empty_like(out["remission"])
    threshold = REMISSION[options.score]
    for a in range(len(arms)):
        end = baseline + mean[:, :, a] + sd * rng.standard_normal(mean.shape[:2])
        below = end < threshold if options.score in EULAR_SCORES else end <= threshold
        out["remission"][:, a] = below.mean(axis=1)
        if eular:
            start = np.broadcast_to(baseline, end.shape)
            good = eular_response(start.ravel(), end.ravel()).reshape(end.shape) == "good"
            out["eular_good"][:, a] = good.mean(axis=1)
    effect = out["change"][:, 1:] - out["change"][:, [0]]
    exceeds = (effect < -options.clinically_important_difference).astype(float)
    shape = (chains, draws)
    return xr.Dataset(
        {
            **{
                name: (("chain", "draw", "arm"), value.reshape(*shape, len(arms)))
                for name, value in out.items()
            },
            "effect": (("chain", "draw", "active_arm"), effect.reshape(*shape, -1)),
            "effect_exceeds_cid": (("chain", "draw", "active_arm"), exceeds.reshape(*shape, -1)),
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
    "change": ParameterInfo("mean change in the score at the landmark week", "score"),
    "effect": ParameterInfo("mean change minus control's", "score"),
    "remission": ParameterInfo(
        "P(remission) at the landmark week (DAS28 < 2.6, CDAI <= 2.8, SDAI <= 3.3)",
        "probability",
    ),
    "eular_good": ParameterInfo("P(EULAR good response) at the landmark week", "probability"),
    "effect_exceeds_cid": ParameterInfo(
        "posterior probability that the effect exceeds the clinically important difference",
        "posterior probability",
    ),
}


def observed_change(table: pd.DataFrame, options: Options) -> pd.DataFrame:
    """Return the completers' observed change at the landmark week, one per completer.

    Parameters
    ----------
    table : pandas.DataFrame
        An analysis table of the family.
    options : Options
        ``landmark_week``.

    Returns
    -------
    pandas.DataFrame
        ``USUBJID``, ``arm``, ``change``.
    """
    rows = table[table["week"] == float(options.landmark_week)]
    return rows[["USUBJID", "arm"]].assign(change=rows["y"].to_numpy()).reset_index(drop=True)


def landmark_predictive(
    tree: xr.DataTree,
    table: pd.DataFrame,
    options: Options,
    rng: np.random.Generator,
    chunk: int = 500,
) -> xr.DataArray:
    r"""Draws of the completers' mean change per arm, each given their other observed visits.

    For a completer with other observed visits :math:`O`, the landmark change is drawn from
    its conditional normal, mean :math:`\mu_L + \Sigma_{LO} \Sigma_{OO}^{-1} (y_O - \mu_O)`
    and variance :math:`\Sigma_{LL} - \Sigma_{LO} \Sigma_{OO}^{-1} \Sigma_{OL}`.

    Parameters
    ----------
    tree : xarray.DataTree
        A fit of :func:`build`.
    table : pandas.DataFrame
        Its analysis table.
    options : Options
        ``landmark_week`` and ``covariance``.
    rng : numpy.random.Generator
        Source of the draws.
    chunk : int
        Posterior draws handled at once.

    Returns
    -------
    xarray.DataArray
        Dims (chain, draw, arm).
    """
    post, constant = tree["posterior"].to_dataset(), tree["constant_data"].to_dataset()
    design = _design(table)
    n_subjects, n_visits = len(design["subjects"]), len(design["weeks"])
    j = _landmark_index(post, options)
    grid = np.zeros(n_subjects * n_visits)
    grid[design["cell"]] = table["y"].to_numpy(float)
    grid = grid.reshape(n_subjects, n_visits)
    observed = design["patterns"][design["pattern_idx"]].astype(bool)
    arm = design["subject_arm"]
    arms = [str(a) for a in post["arm"].values]
    completers = np.flatnonzero(observed[:, j])
    n_draws = post.sizes["chain"] * post.sizes["draw"]
    sums = np.zeros((n_draws, len(arms)))
    covariance = _covariances(post, options)
    # means of every patient in their own arm at every visit, (draws, patients, visits)
    beta = _flat(post, "beta")  # (S, arm, visit)
    gamma = _flat(post, "gamma")
    base = constant["base_centred"].values
    for start in range(0, n_draws, chunk):
        rows = slice(start, min(start + chunk, n_draws))
        mean = beta[rows][:, arm, :] + gamma[rows][:, None, :] * base[None, :, None]
        if "lambda_il6" in post:
            lam = _flat(post, "lambda_il6")[rows][:, arm, :]
            mean = mean + constant["il6_centred"].values[None, :, None] * lam
        cov = covariance[rows]
        for pattern in np.unique(observed[completers], axis=0):
            members = completers[(observed[completers] == pattern).all(axis=1)]
            others = np.flatnonzero(pattern & (np.arange(n_visits) != j))
            centre = mean[:, members, j]
            variance = cov[:, j, j]
            if others.size:
                s_oo = cov[:, others][:, :, others]
                s_ol = cov[:, others, j]
                coef = np.linalg.solve(s_oo, s_ol[:, :, None])[:, :, 0]  # (S, |O|)
                residual = grid[members][:, others][None] - mean[:, members][:, :, others]
                centre = centre + np.einsum("smo,so->sm", residual, coef)
                variance = variance - np.einsum("so,so->s", s_ol, coef)
            draw = centre + np.sqrt(variance)[:, None] * rng.standard_normal(centre.shape)
            for a in range(len(arms)):
                sums[rows, a] += draw[:, arm[members] == a].sum(axis=1)
    counts = np.bincount(arm[completers], minlength=len(arms))
    means = sums / np.where(counts > 0, counts, np.nan)
    return xr.DataArray(
        means.reshape(post.sizes["chain"], post.sizes["draw"], -1),
        dims=("chain", "draw", "arm"),
        coords={"chain": post["chain"].values, "draw": post["draw"].values, "arm": arms},
    )


def course(fig: FigureInput) -> Figure:
    """Mean change from baseline by arm and visit: observed (completers of each visit) and model.

    The model's line is the standardised mean change of each arm at each visit (every
    analysed patient in that arm) with its credible band; the points are the observed means of
    the patients seen at that visit, ± SE. They differ where missed visits are not missing
    completely at random.

    Parameters
    ----------
    fig : FigureInput
        An ``mmrm`` fit and its analysis table (``week``, ``y``, ``arm``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    tree, table, ci_prob = fig.tree, fig.table, fig.ci_prob
    post, constant = tree["posterior"].to_dataset(), tree["constant_data"].to_dataset()
    weeks = post["visit"].values.astype(float)
    tail = (1 - ci_prob) / 2
    figure, ax = plt.subplots(figsize=(7, 4.8))
    offset = 0.15 * (np.diff(weeks).min() if weeks.size > 1 else 1.0)
    for a, arm in enumerate(str(x) for x in post["arm"].values):
        curves = np.stack(
            [_mean_change(post, constant, j)[:, :, a].mean(axis=1) for j in range(weeks.size)]
        )  # (visit, S)
        low, mid, high = np.quantile(curves, [tail, 0.5, 1 - tail], axis=1)
        ax.plot(weeks, mid, color=f"C{a}", label=f"{arm} (model)")
        ax.fill_between(weeks, low, high, color=f"C{a}", alpha=0.2)
        seen = table[table["arm"] == arm].groupby("week")["y"].agg(["mean", "sem"])
        ax.errorbar(
            seen.index + (a - 1) * offset, seen["mean"], yerr=seen["sem"], fmt="o", ms=4,
            color=f"C{a}", label=f"{arm} (observed mean ± SE)",
        )  # fmt: skip
    landmark = fig.options.landmark_week
    ax.axvline(landmark, color="grey", ls=":", lw=0.8)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(
        xlabel="week since randomisation (weeks)",
        ylabel=f"change in {fig.options.score} from baseline (score)",
    )
    ax.set_title(
        f"Change from baseline by arm and visit (MMRM), {ci_prob:.0%} credible bands; "
        f"landmark week {landmark:g}",
        fontsize=9,
    )
    ax.legend(fontsize=7, ncol=2)
    return figure


FAMILY = ModelFamily(
    name="mmrm",
    title="Mixed model for repeated measures: change from baseline by arm and visit",
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
        "course": FigureSpec(
            course, "change from baseline by arm and visit: model (standardised) over observed"
        ),
    },
    observed={"y": ObservedInfo("change from baseline at each visit (score)")},
    with_observed=lambda table, values: table.assign(y=np.asarray(values["y"], dtype=float)),
    calibration=Calibration(
        design={"scenario": "ra_tcz_trial", "n_subjects": 60}, estimands=("change", "effect")
    ),
    landmark=Landmark(observed=observed_change, predictive=landmark_predictive),
    headlines=HEADLINES,
    # cold compile on one core, default design (benchmarks/RESULTS.md, issue 20)
    compile_seconds=95.0,
)
