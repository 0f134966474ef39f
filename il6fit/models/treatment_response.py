r"""Treatment response: longitudinal DAS28 by arm, placebo response, baseline-IL-6 modification.

For subject :math:`i` in arm :math:`a[i]`, visit at week :math:`t`:

.. math::

    y_{it} &\sim \mathrm{Normal}(b_i + \Delta_i (1 - e^{-k t}), \sigma)
        && \text{DAS28 (score units)} \\
    b_i &= \mu_b + \gamma_b (x_i - \ln 20) + \sigma_b z^b_i, \quad z^b_i \sim N(0, 1)
        && \text{baseline activity} \\
    \Delta_i &= \delta_{a[i]} + \eta\, d_{a[i]} (x_i - \ln 20) + \tau_\Delta z^\Delta_i,
        \quad z^\Delta_i \sim N(0, 1) && \text{plateau change} \\
    \ln k &\sim \mathrm{Normal}(\ln 0.27, 0.7) && \text{per week}

:math:`x_i` is the subject's baseline ln IL-6 (pg/mL; a result below the assay limit enters at the
limit), :math:`d_a` is 1 for an active arm and 0 for control, so :math:`\eta` is how much the
plateau effect of active treatment changes per unit of baseline ln IL-6 (effect modification);
:math:`\delta_{control}` is the placebo (background DMARD) response. The exponential approach at
a shared rate :math:`k` is the time course of an indirect-response model (Levi 2013: DAS28
turnover half-life about 18 days, :math:`k \approx 0.27`/week). With ``rates: per_arm`` each
arm has its own rate :math:`k_{a[i]}` (same prior), as a lower dose's effect builds up more
slowly: the formulas below hold with :math:`k_{a[i]}` for :math:`k`. Post-baseline IL-6 is never a
predictor: it rises on tocilizumab. A censored score (DAS28-CRP derived from CRP below its assay
limit is known only to lie below the value stored) is never taken as exact: the visit, or at
baseline the subject, is left out (counted in the log), a missing-not-at-random exclusion when
many scores are censored (low CRP goes with low activity); interval censoring would avoid it.

The model is Gaussian in the subject effects :math:`u_i = (z^b_i, z^\Delta_i)` given the
global parameters :math:`\theta`, so they are integrated out exactly and NUTS samples only the
globals. With :math:`z_{it} = 1 - e^{-k t_{it}}`, the residual
:math:`r_{it} = y_{it} - m^b_i - m^\Delta_i z_{it}` from the means
:math:`m^b_i = \mu_b + \gamma_b (x_i - \ln 20)`,
:math:`m^\Delta_i = \delta_{a[i]} + \eta d_{a[i]} (x_i - \ln 20)`, the 2-vector
:math:`h_i = (\sigma_b \sum_t r_{it}, \tau_\Delta \sum_t z_{it} r_{it})` and

.. math::

    M_i = I_2 + \sigma^{-2} G_i^\top G_i, \qquad G_i = [\sigma_b \mathbf 1, \tau_\Delta z_i],

each subject's visits are multivariate normal with covariance
:math:`\sigma^2 I + G_i G_i^\top`, whose log density (Woodbury identity and determinant lemma)
costs :math:`O(T_i)`:

.. math::

    \log p(y_i \mid \theta) = -\tfrac{1}{2} \left[ T_i \log(2\pi\sigma^2) + \log\det M_i
        + \frac{r_i^\top r_i}{\sigma^2} - \frac{h_i^\top M_i^{-1} h_i}{\sigma^4} \right].

It is the model's log-likelihood, one term per subject (the unit of leave-one-out). The subject
effects are drawn back afterwards, one per posterior draw, from their exact conditional
:math:`u_i \mid y_i, \theta \sim N(M_i^{-1} h_i / \sigma^2, M_i^{-1})`; estimands, figures and
predictive checks read them as if they had been sampled.

Clinical estimands at the landmark week :math:`L`, standardised over the subjects in the data
(each subject counterfactually in each arm) and computed for every posterior draw: mean change in
DAS28 and its difference from control, P(DAS28 < 2.6), P(EULAR good response) and the posterior
probability that the effect against control exceeds a clinically important difference.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from il6fit.data.scores import DAS28_REMISSION, eular_response
from il6fit.errors import SpecError
from il6fit.models.arms import ARMS_DOC, ARMS_SCHEMA, DEFAULT_ARMS, arm_order
from il6fit.models.censored import IL6_REFERENCE, exact_scores
from il6fit.models.family import (
    Calibration,
    FigureInput,
    FigureSpec,
    Landmark,
    Marginal,
    ModelFamily,
    ObservedInfo,
    ParameterInfo,
    RecoveryStudy,
    option,
)
from il6fit.models.landmark import HEADLINES
from il6fit.models.priors import Prior

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class Options:
    """Options of the treatment-response model (``model_options.treatment_response``)."""

    score: Literal["DAS28ESR", "DAS28CRP"] = option(
        "DAS28ESR",
        "Disease-activity score modelled (derived from its components). DAS28-CRP falls "
        "mechanically with CRP on tocilizumab; DAS28-ESR is what the trials' remission figures "
        "use.",
    )
    arms: Mapping[str, float] | None = option(None, ARMS_DOC, **ARMS_SCHEMA)
    landmark_week: float = option(24, "Week at which the clinical estimands are read.")
    clinically_important_difference: float = option(
        1.2,
        "DAS28 units; P(effect against control larger than this) is reported.",
        exclusiveMinimum=0,
    )
    effect_modification: bool = option(
        True,
        "Estimate eta, the change of the active-arm effect with baseline IL-6; false fixes it "
        "at 0 (a variant to compare against).",
    )
    rates: Literal["shared", "per_arm"] = option(
        "shared",
        "Rate of approach to the plateau: one for all arms, or one per arm (`per_arm`), for "
        "doses whose effect builds up at different speeds (a lower dose still falling at the "
        "landmark while a higher one has levelled off).",
    )


PARAMETERS = {
    "mu_base": ParameterInfo("mean baseline DAS28 at IL-6 20 pg/mL", "score"),
    "gamma_base": ParameterInfo("baseline DAS28 per ln IL-6", "score per ln(pg/mL)"),
    "sigma_base": ParameterInfo("between-subject SD of baseline DAS28", "score"),
    "delta": ParameterInfo("plateau change in DAS28 by arm", "score"),
    "eta": ParameterInfo("change in active-arm effect per ln baseline IL-6", "score per ln(pg/mL)"),
    "tau_delta": ParameterInfo("between-subject SD of the plateau change", "score"),
    "k": ParameterInfo("rate of approach to the plateau (by arm with `rates: per_arm`)", "1/week"),
    "sigma": ParameterInfo("residual SD", "score"),
}

#: Defaults from domain-facts.md: BASE 6.8 (IIV 9.4 %), residual SD 0.68 (Levi 2013, §5c);
#: week-24 changes -0.8 to -3.7 by arm (§4); kout 0.038/d = 0.27/week (§5c).
DEFAULT_PRIORS = {
    "mu_base": Prior("Normal", {"mu": 6.5, "sigma": 1.0}),
    "gamma_base": Prior("Normal", {"mu": 0.0, "sigma": 0.5}),
    "sigma_base": Prior("HalfNormal", {"sigma": 1.0}),
    "delta": Prior("Normal", {"mu": -1.5, "sigma": 2.0}),
    "eta": Prior("Normal", {"mu": 0.0, "sigma": 0.5}),
    "tau_delta": Prior("HalfNormal", {"sigma": 1.0}),
    "log_k": Prior("Normal", {"mu": float(np.log(0.27)), "sigma": 0.7}),
    "sigma": Prior("HalfNormal", {"sigma": 1.0}),
}


def analysis_table(
    subjects: pd.DataFrame, measurements: pd.DataFrame, options: Options
) -> pd.DataFrame:
    """One row per subject-visit with the score, the subject's arm and baseline IL-6.

    Parameters
    ----------
    subjects, measurements : pandas.DataFrame
        A prepared dataset.
    options : Options
        ``score``: the disease-activity score modelled (derived from components during
        preparation); ``arms``: ``TRT01P`` label to tocilizumab dose (mg/kg), exactly one arm
        with dose 0 (the control), :data:`DEFAULT_ARMS` if None; subjects in other arms are
        left out.

    Returns
    -------
    pandas.DataFrame
        Columns ``USUBJID``, ``week``, ``y``, ``arm`` (label), ``dose``, ``log_il6`` (baseline).

    Raises
    ------
    SpecError
        If the arms are not as described, or no subject has a baseline score and IL-6.
    """
    score = options.score
    arms = dict(DEFAULT_ARMS if options.arms is None else options.arms)
    controls = [label for label, dose in arms.items() if dose == 0]
    if len(controls) != 1:
        raise SpecError(
            f"treatment_response needs exactly one control arm (dose 0) in `arms`; got {arms}."
        )
    arm_of = subjects.set_index("USUBJID")["TRT01P"]
    rows = exact_scores(measurements[measurements["PARAMCD"] == score], "treatment_response", score)
    il6 = measurements[(measurements["PARAMCD"] == "IL6") & (measurements["AVISITN"] == 0)]
    il6 = il6.set_index("USUBJID")["AVAL"]
    table = pd.DataFrame(
        {
            "USUBJID": rows["USUBJID"].to_numpy(),
            "week": rows["AVISITN"].to_numpy(float),
            "y": rows["AVAL"].to_numpy(float),
        }
    )
    table["arm"] = table["USUBJID"].map(arm_of)
    table = table[table["arm"].isin(arms)]
    table["dose"] = table["arm"].map(arms)
    table["log_il6"] = np.log(table["USUBJID"].map(il6).astype(float))
    with_baseline = set(table.loc[table["week"] == 0, "USUBJID"])
    table = table[table["USUBJID"].isin(with_baseline) & table["log_il6"].notna()]
    if table.empty:
        raise SpecError(
            f"treatment_response: no subject in arms {list(arms)} has a baseline {score} and "
            "baseline IL-6."
        )
    return table.sort_values(["USUBJID", "week"]).reset_index(drop=True)


def build_latent(table: pd.DataFrame, priors: Mapping[str, Prior], options: Options) -> pm.Model:
    r"""Build the treatment-response model with its subject effects as parameters.

    The model that draws data (predictive checks, simulation, calibration) and the reference
    the fitted, marginal form (:func:`build`) is checked against. The subject effects are in
    the non-centred form of the equations
    (:math:`z^b_i`, :math:`z^\Delta_i`); the course :math:`b_i + \Delta_i (1 - e^{-k t})` is
    computed once per subject and distinct week and read off that grid for every row; and every
    input, the outcome included, is ``pm.Data``, so the compiled model does not depend on the
    data (``benchmarks/RESULTS.md``).

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`analysis_table`.
    priors : mapping of str to Prior
        A prior for every key of :data:`DEFAULT_PRIORS`.
    options : Options
        ``effect_modification``: estimate ``eta``; ``False`` fixes it at 0 (the variable is
        left out), the model a comparison without IL-6 effect modification needs.

    Returns
    -------
    pymc.Model
        Observed variable ``y`` (dims ``obs``); ``z_base`` and ``z_plateau`` (dims ``subject``)
        free; ``base``, ``plateau`` (dims ``subject``) and ``k`` deterministic.
    """
    design = _design(table)
    subjects, subject_idx = design["subjects"], design["subject_idx"]
    weeks, week_idx, arms = design["weeks"], design["week_idx"], design["arms"]
    x, active, subject_arm = design["x"], design["active"], design["subject_arm"]
    coords = {"obs": np.arange(len(table)), "subject": subjects, "arm": arms, "week": weeks}
    with pm.Model(coords=coords) as model:
        il6 = pm.Data("log_il6_centred", x, dims="subject")
        is_active = pm.Data("active", active, dims="subject")
        arm = pm.Data("subject_arm", subject_arm, dims="subject")
        week = pm.Data("weeks", weeks, dims="week")
        # row -> cell of the (subject, week) grid, flattened
        cell = pm.Data("cell_idx", subject_idx * len(weeks) + week_idx, dims="obs")
        mu_base = priors["mu_base"].create("mu_base")
        gamma_base = priors["gamma_base"].create("gamma_base")
        sigma_base = priors["sigma_base"].create("sigma_base")
        z_base = pm.Normal("z_base", 0.0, 1.0, dims="subject")
        base = pm.Deterministic(
            "base", mu_base + gamma_base * il6 + sigma_base * z_base, dims="subject"
        )
        delta = priors["delta"].create("delta", dims="arm")
        eta = priors["eta"].create("eta") if options.effect_modification else 0.0
        tau_delta = priors["tau_delta"].create("tau_delta")
        z_plateau = pm.Normal("z_plateau", 0.0, 1.0, dims="subject")
        plateau = pm.Deterministic(
            "plateau", delta[arm] + eta * is_active * il6 + tau_delta * z_plateau, dims="subject"
        )
        k = _rates(priors, options)
        sigma = priors["sigma"].create("sigma")
        course = base[:, None] + plateau[:, None] * _approach(k, arm, week, options)
        y = pm.Data("y_observed", table["y"].to_numpy(float), dims="obs")
        pm.Normal("y", course.ravel()[cell], sigma, observed=y, dims="obs")
    return model


def _rates(priors: Mapping[str, Prior], options: Options):
    """Create ``log_k`` and the deterministic ``k``: a scalar, or one per arm (dims ``arm``)."""
    dims = {"dims": "arm"} if options.rates == "per_arm" else {}
    log_k = priors["log_k"].create("log_k", **dims)
    return pm.Deterministic("k", pm.math.exp(log_k), **dims)


def _approach(k, arm, week, options: Options):
    """:math:`1 - e^{-k w}` at the weeks: (week,) for a shared rate, (subject, week) per arm.

    Per arm, computed once an arm and read off for each subject: the same values, with as many
    exponentials as arms x weeks rather than subjects x weeks (most of a gradient's cost).
    """
    if options.rates == "per_arm":
        return (1 - pm.math.exp(-k[:, None] * week[None, :]))[arm]
    return 1 - pm.math.exp(-k * week)


def _reached(post: xr.Dataset, arms: int, week) -> np.ndarray:
    """:math:`1 - e^{-k w}` by draw and arm, (draws, arms), shared rate or one per arm."""
    k = post["k"].values.reshape(post.sizes["chain"] * post.sizes["draw"], -1)
    return np.broadcast_to(1 - np.exp(-k * week), (k.shape[0], arms))


def _design(table: pd.DataFrame) -> dict:
    """Per-subject design of an analysis table, shared by the two forms of the model."""
    subjects, subject_idx = np.unique(table["USUBJID"], return_inverse=True)
    weeks, week_idx = np.unique(table["week"].to_numpy(float), return_inverse=True)
    arms = arm_order(table)
    per_subject = table.groupby("USUBJID").first().loc[subjects]
    return {
        "subjects": subjects,
        "subject_idx": subject_idx,
        "weeks": weeks,
        "week_idx": week_idx,
        "arms": arms,
        "x": per_subject["log_il6"].to_numpy(float) - np.log(IL6_REFERENCE),
        "active": (per_subject["dose"].to_numpy(float) > 0).astype(float),
        "subject_arm": per_subject["arm"].map({a: i for i, a in enumerate(arms)}).to_numpy(),
    }


def woodbury_terms(
    data: Mapping, z, mean_base, mean_plateau, sigma_base, tau_delta, sigma, own: bool = False
) -> tuple:
    r"""Compute the per-subject terms of the marginal likelihood and the conditional effects.

    Written with arithmetic only, so the same code serves the model (PyTensor tensors) and the
    draws after sampling (NumPy arrays, a leading axis of posterior draws).

    Parameters
    ----------
    data : mapping
        ``visits`` (:math:`T_i`), ``sum_y``, ``sum_yy`` per subject; ``visit_count`` and
        ``visit_sum`` (subject x week: visits and the sum of their outcomes in each week).
    z : array_like
        :math:`1 - e^{-k w}` at the distinct weeks (last axis week), the same for every subject
        or, with ``own``, each subject's (axes subject, week last; rates per arm).
    mean_base, mean_plateau : array_like
        :math:`m^b_i`, :math:`m^\Delta_i` (last axis subject).
    sigma_base, tau_delta, sigma : array_like
        Scales, broadcastable against the subject axis.
    own : bool
        Whether ``z`` has a subject axis.

    Returns
    -------
    tuple
        :math:`M_{11}, M_{12}, M_{22}` (entries of :math:`M_i`), :math:`h_{i1}, h_{i2}` and
        :math:`r_i^\top r_i`, each with a subject axis last.
    """
    count, total = data["visit_count"], data["visit_sum"]
    sum_z = _against_weeks(z, count, own)
    sum_zz = _against_weeks(z**2, count, own)
    sum_zy = _against_weeks(z, total, own)
    visits, sum_y = data["visits"], data["sum_y"]
    sum_r = sum_y - visits * mean_base - mean_plateau * sum_z
    sum_zr = sum_zy - mean_base * sum_z - mean_plateau * sum_zz
    sum_rr = (
        data["sum_yy"]
        - 2 * mean_base * sum_y
        - 2 * mean_plateau * sum_zy
        + visits * mean_base**2
        + 2 * mean_base * mean_plateau * sum_z
        + mean_plateau**2 * sum_zz
    )
    var = sigma**2
    m11 = 1 + sigma_base**2 * visits / var
    m12 = sigma_base * tau_delta * sum_z / var
    m22 = 1 + tau_delta**2 * sum_zz / var
    return m11, m12, m22, sigma_base * sum_r, tau_delta * sum_zr, sum_rr


def _against_weeks(z, grid, own: bool = False):
    """``sum_w grid[i, w] z[..., w]`` for every subject i: (..., week) x (subject, week).

    With ``own``, ``z`` is each subject's, (..., subject, week).
    """
    if own:
        return (z * grid).sum(axis=-1)
    if isinstance(z, np.ndarray):
        return z @ grid.T
    return pm.math.dot(grid, z)


#: Data of the marginal model made by :func:`_grid_data`, kept in a fit's ``constant_data``.
GRID_DATA = ("visit_count", "visit_sum", "visits", "sum_y", "sum_yy")


def _grid_data(table: pd.DataFrame, design: Mapping) -> dict[str, np.ndarray]:
    """Visit counts and outcome sums per subject and week, and per-subject sums."""
    shape = (len(design["subjects"]), len(design["weeks"]))
    count = np.zeros(shape)
    total = np.zeros(shape)
    y = table["y"].to_numpy(float)
    np.add.at(count, (design["subject_idx"], design["week_idx"]), 1.0)
    np.add.at(total, (design["subject_idx"], design["week_idx"]), y)
    return {
        "visit_count": count,
        "visit_sum": total,
        "visits": count.sum(axis=1),
        "sum_y": total.sum(axis=1),
        "sum_yy": np.bincount(design["subject_idx"], y**2, minlength=shape[0]),
    }


def build(table: pd.DataFrame, priors: Mapping[str, Prior], options: Options) -> pm.Model:
    r"""Build the fitted treatment-response model: subject effects integrated out.

    NUTS samples the global parameters only; the likelihood is the exact marginal one of the
    module docstring, a ``pm.Potential`` named ``y`` with one term per subject (dims
    ``subject``), which is the pointwise log-likelihood of the fit. Every input is ``pm.Data``,
    so a refit on new outcomes of the same design reuses the compiled model.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`analysis_table`.
    priors : mapping of str to Prior
        A prior for every key of :data:`DEFAULT_PRIORS`.
    options : Options
        ``effect_modification``: estimate ``eta``; ``False`` fixes it at 0 (the variable is
        left out), the model a comparison without IL-6 effect modification needs.

    Returns
    -------
    pymc.Model
        Free globals only; ``k`` deterministic; the potential ``y`` (dims ``subject``).
    """
    design = _design(table)
    sums = _grid_data(table, design)
    coords = {"subject": design["subjects"], "arm": design["arms"], "week": design["weeks"]}
    with pm.Model(coords=coords) as model:
        il6 = pm.Data("log_il6_centred", design["x"], dims="subject")
        is_active = pm.Data("active", design["active"], dims="subject")
        arm = pm.Data("subject_arm", design["subject_arm"], dims="subject")
        week = pm.Data("weeks", design["weeks"], dims="week")
        data = {
            name: pm.Data(name, value, dims=("subject", "week") if value.ndim == 2 else "subject")
            for name, value in sums.items()
        }
        mu_base = priors["mu_base"].create("mu_base")
        gamma_base = priors["gamma_base"].create("gamma_base")
        sigma_base = priors["sigma_base"].create("sigma_base")
        delta = priors["delta"].create("delta", dims="arm")
        eta = priors["eta"].create("eta") if options.effect_modification else 0.0
        tau_delta = priors["tau_delta"].create("tau_delta")
        k = _rates(priors, options)
        sigma = priors["sigma"].create("sigma")
        m11, m12, m22, h1, h2, sum_rr = woodbury_terms(
            data,
            _approach(k, arm, week, options),
            mu_base + gamma_base * il6,
            delta[arm] + eta * is_active * il6,
            sigma_base,
            tau_delta,
            sigma,
            own=options.rates == "per_arm",
        )
        var = sigma**2
        det = m11 * m22 - m12**2
        quad = sum_rr / var - (m22 * h1**2 - 2 * m12 * h1 * h2 + m11 * h2**2) / (det * var**2)
        visits = data["visits"]
        pm.Potential(
            "y",
            -0.5 * (visits * pm.math.log(2 * np.pi * var) + pm.math.log(det) + quad),
            dims="subject",
        )
    return model


def conditional_effects(
    posterior: xr.Dataset, constant: xr.Dataset, rng: np.random.Generator, chunk: int = 250
) -> xr.Dataset:
    r"""Draw the subject effects from their exact conditional, one per posterior draw.

    :math:`u_i = (z^b_i, z^\Delta_i) \mid y_i, \theta \sim N(M_i^{-1} h_i / \sigma^2,
    M_i^{-1})` (module docstring), drawn through the Cholesky factor of the 2 x 2 covariance.

    Parameters
    ----------
    posterior : xarray.Dataset
        Draws of the globals (a fit of :func:`build`).
    constant : xarray.Dataset
        The fit's ``constant_data``.
    rng : numpy.random.Generator
        Source of the draws.
    chunk : int
        Posterior draws handled at once (memory: ``chunk`` x subjects x weeks).

    Returns
    -------
    xarray.Dataset
        ``z_base``, ``z_plateau``, ``base``, ``plateau`` with dims (chain, draw, subject).
    """
    return _over_draws(posterior, constant, rng, chunk)[0]


def subject_log_likelihood(posterior: xr.Dataset, constant: xr.Dataset) -> xr.Dataset:
    """Each subject's marginal log-likelihood (the potential ``y`` of :func:`build`) per draw.

    Parameters
    ----------
    posterior : xarray.Dataset
        Draws of the globals (a fit of :func:`build`).
    constant : xarray.Dataset
        The fit's ``constant_data``.

    Returns
    -------
    xarray.Dataset
        ``y`` with dims (chain, draw, subject).
    """
    return _over_draws(posterior, constant, None)[1]


def effects_and_log_likelihood(
    posterior: xr.Dataset, constant: xr.Dataset, rng: np.random.Generator
) -> tuple[xr.Dataset, xr.Dataset]:
    """:func:`conditional_effects` and :func:`subject_log_likelihood` in one pass over the draws.

    Both are read off the same terms of :func:`woodbury_terms`; the numbers are those the two
    give apart.

    Parameters
    ----------
    posterior : xarray.Dataset
        Draws of the globals (a fit of :func:`build`).
    constant : xarray.Dataset
        The fit's ``constant_data``.
    rng : numpy.random.Generator
        Source of the draws.

    Returns
    -------
    effects, log_likelihood : xarray.Dataset
        As the two functions return them.
    """
    return _over_draws(posterior, constant, rng, log_likelihood=True)


def _over_draws(
    posterior: xr.Dataset,
    constant: xr.Dataset,
    rng: np.random.Generator | None,
    chunk: int = 250,
    log_likelihood: bool = False,
) -> tuple[xr.Dataset | None, xr.Dataset | None]:
    """Draw the subject effects and compute each subject's log-likelihood, chunk by chunk.

    Effects are drawn with ``rng`` (None: none drawn), log-likelihoods given with
    ``log_likelihood`` or without ``rng``; what is not computed is None.
    """
    shape = (posterior.sizes["chain"], posterior.sizes["draw"])
    n_draws = shape[0] * shape[1]

    def flat(name, default=0.0):
        if name not in posterior:
            return np.full((n_draws, 1), default)
        return posterior[name].values.reshape(n_draws, -1)

    data = {name: constant[name].values for name in GRID_DATA}
    x, active = constant["log_il6_centred"].values, constant["active"].values
    arm, weeks = constant["subject_arm"].values.astype(int), constant["weeks"].values
    own = "arm" in posterior["k"].dims  # rates per arm
    effects = ("z_base", "z_plateau", "base", "plateau") if rng is not None else ()
    terms = ("y",) if log_likelihood or rng is None else ()
    out = {name: np.empty((n_draws, x.size)) for name in (*effects, *terms)}
    for start in range(0, n_draws, chunk):
        rows = slice(start, min(start + chunk, n_draws))
        sigma_base, tau = flat("sigma_base")[rows], flat("tau_delta")[rows]
        sigma = flat("sigma")[rows]
        mean_base = flat("mu_base")[rows] + flat("gamma_base")[rows] * x
        mean_plateau = flat("delta")[rows][:, arm] + flat("eta")[rows] * active * x
        k = flat("k")[rows]  # (draws, 1) shared or (draws, arms)
        if own:
            z = (1 - np.exp(-k[:, :, None] * weeks))[:, arm]  # (draws, subject, week)
        else:
            z = 1 - np.exp(-k * weeks)
        m11, m12, m22, h1, h2, sum_rr = woodbury_terms(
            data, z, mean_base, mean_plateau, sigma_base, tau, sigma, own
        )
        det = m11 * m22 - m12**2
        var = sigma**2
        if terms:
            quad = sum_rr / var - (m22 * h1**2 - 2 * m12 * h1 * h2 + m11 * h2**2) / (det * var**2)
            out["y"][rows] = -0.5 * (data["visits"] * np.log(2 * np.pi * var) + np.log(det) + quad)
        if not effects:
            continue
        c11, c12, c22 = m22 / det, -m12 / det, m11 / det  # M^{-1}
        mean1 = (c11 * h1 + c12 * h2) / var
        mean2 = (c12 * h1 + c22 * h2) / var
        l11 = np.sqrt(c11)
        l21 = c12 / l11
        l22 = np.sqrt(c22 - l21**2)
        e = rng.standard_normal((2, *mean1.shape))
        z_base = mean1 + l11 * e[0]
        z_plateau = mean2 + l21 * e[0] + l22 * e[1]
        out["z_base"][rows] = z_base
        out["z_plateau"][rows] = z_plateau
        out["base"][rows] = mean_base + sigma_base * z_base
        out["plateau"][rows] = mean_plateau + tau * z_plateau
    dims = ("chain", "draw", "subject")
    coords = {
        "chain": posterior["chain"].values,
        "draw": posterior["draw"].values,
        "subject": constant["subject"].values,
    }

    def dataset(names):
        if not names:
            return None
        return xr.Dataset(
            {name: (dims, out[name].reshape(*shape, -1)) for name in names}, coords=coords
        )

    return dataset(effects), dataset(terms)


def estimands(tree: xr.DataTree, table: pd.DataFrame, options: Options, seed: int) -> xr.Dataset:
    """Posterior draws of the clinical estimands at the landmark week.

    Standardised over the subjects in ``table``: every subject is put, counterfactually, in every
    arm, with their own baseline activity and baseline IL-6; remission and EULAR response are
    drawn from the model's predictive distribution (between-subject and residual variation).

    Parameters
    ----------
    tree : xarray.DataTree
        A fit of :func:`build`.
    table : pandas.DataFrame
        Its analysis table.
    options : Options
        ``landmark_week``, the week at which the estimands are read, and
        ``clinically_important_difference`` (DAS28 units): the probability that the mean
        effect against control is larger is reported.
    seed : int
        Seed of the predictive draws.

    Returns
    -------
    xarray.Dataset
        Variables with dims (chain, draw, arm): ``change`` (mean DAS28 change), ``remission``
        (P(DAS28 < 2.6)), ``eular_good`` (P(EULAR good)); with dims (chain, draw, active_arm):
        ``effect`` (change minus control's) and ``effect_exceeds_cid`` (1 where the effect is
        below minus the difference, so its mean is the posterior probability).
    """
    landmark_week = options.landmark_week
    clinically_important_difference = options.clinically_important_difference
    post = tree["posterior"]
    arms = [str(a) for a in post["arm"].values]
    chains, draws = post.sizes["chain"], post.sizes["draw"]
    active = np.array([table.loc[table["arm"] == a, "dose"].iloc[0] > 0 for a in arms], dtype=float)
    x = tree["constant_data"]["log_il6_centred"].values  # (subject,)
    base = post["base"].values.reshape(chains * draws, -1)  # (S, n)
    delta = post["delta"].values.reshape(chains * draws, -1)  # (S, arms)
    eta = post["eta"].values.reshape(-1, 1) if "eta" in post else np.zeros((chains * draws, 1))
    tau = post["tau_delta"].values.reshape(-1, 1)
    sigma = post["sigma"].values.reshape(-1, 1)
    reached = _reached(post, len(arms), landmark_week)
    rng = np.random.default_rng(seed)
    n = x.size
    out = {name: np.empty((chains * draws, len(arms))) for name in
           ("change", "remission", "eular_good")}  # fmt: skip
    noise0 = rng.normal(size=(chains * draws, n))
    for j in range(len(arms)):
        plateau = delta[:, [j]] + eta * active[j] * x + tau * rng.normal(size=(chains * draws, n))
        mean_change = (delta[:, [j]] + eta * active[j] * x) * reached[:, [j]]
        out["change"][:, j] = mean_change.mean(axis=1)
        start = base + sigma * noise0
        end = base + plateau * reached[:, [j]] + sigma * rng.normal(size=(chains * draws, n))
        out["remission"][:, j] = (end < DAS28_REMISSION).mean(axis=1)
        good = eular_response(start.ravel(), end.ravel()).reshape(start.shape) == "good"
        out["eular_good"][:, j] = good.mean(axis=1)
    effect = out["change"][:, 1:] - out["change"][:, [0]]
    exceeds = (effect < -clinically_important_difference).astype(float)
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


def observed_change(table: pd.DataFrame, options: Options) -> pd.DataFrame:
    """Return the completers' observed change at the landmark week, one per completer.

    Parameters
    ----------
    table : pandas.DataFrame
        An analysis table of the family (a patient's first score at a week is used).
    options : Options
        ``landmark_week``.

    Returns
    -------
    pandas.DataFrame
        ``USUBJID``, ``arm``, ``change`` (landmark score minus baseline).
    """
    first = table.groupby(["USUBJID", "week"], sort=True)[["y", "arm"]].first()
    start = first.xs(0.0, level="week")
    end = first.xs(float(options.landmark_week), level="week")
    both = end.join(start["y"].rename("baseline"), how="inner")
    return pd.DataFrame(
        {
            "USUBJID": both.index.to_numpy(),
            "arm": both["arm"].to_numpy(),
            "change": (both["y"] - both["baseline"]).to_numpy(float),
        }
    )


def landmark_predictive(
    tree: xr.DataTree, table: pd.DataFrame, options: Options, rng: np.random.Generator
) -> xr.DataArray:
    r"""Draws of the completers' mean change per arm, each given their other visits.

    For every posterior draw the completers' subject effects are drawn from their exact
    conditional given all their visits but the landmark (:func:`conditional_effects` on the
    data without the landmark rows), then their landmark score
    :math:`b_i + \Delta_i (1 - e^{-kL}) + \sigma \varepsilon`, less the observed baseline.

    Parameters
    ----------
    tree : xarray.DataTree
        A fit of :func:`build`.
    table : pandas.DataFrame
        Its analysis table.
    options : Options
        ``landmark_week``.
    rng : numpy.random.Generator
        Source of the draws.

    Returns
    -------
    xarray.DataArray
        Dims (chain, draw, arm).
    """
    landmark = float(options.landmark_week)
    post = tree["posterior"].to_dataset()
    constant = tree["constant_data"].to_dataset()
    design = _design(table)
    keep = (table["week"] != landmark).to_numpy()
    reduced = _grid_data(
        table[keep],
        {
            **design,
            "subject_idx": design["subject_idx"][keep],
            "week_idx": design["week_idx"][keep],
        },
    )
    # a stored fit keeps the generative model's constant data: the grid is made here
    dims = {
        name: ("subject", "week") if name.startswith("visit_") else ("subject",)
        for name in GRID_DATA
    }
    without = constant.assign({name: (dims[name], reduced[name]) for name in GRID_DATA})
    effects = conditional_effects(post, without, rng)
    completers = observed_change(table, options)
    position = {s: i for i, s in enumerate(design["subjects"])}
    members = np.array([position[s] for s in completers["USUBJID"]])
    shape = (post.sizes["chain"], post.sizes["draw"])
    arms = [str(a) for a in post["arm"].values]
    reached = _reached(post, len(arms), landmark)[:, [arms.index(a) for a in completers["arm"]]]
    base = effects["base"].values.reshape(-1, len(design["subjects"]))[:, members]
    plateau = effects["plateau"].values.reshape(-1, len(design["subjects"]))[:, members]
    sigma = post["sigma"].values.reshape(-1, 1)
    end = base + plateau * reached + sigma * rng.standard_normal(base.shape)
    baseline = table[table["week"] == 0].groupby("USUBJID")["y"].first()
    change = end - baseline.loc[completers["USUBJID"]].to_numpy()
    arm_of = completers["arm"].to_numpy()
    means = np.full((change.shape[0], len(arms)), np.nan)
    for j, arm in enumerate(arms):
        if (arm_of == arm).any():
            means[:, j] = change[:, arm_of == arm].mean(axis=1)
    return xr.DataArray(
        means.reshape(*shape, len(arms)),
        dims=("chain", "draw", "arm"),
        coords={"chain": post["chain"].values, "draw": post["draw"].values, "arm": arms},
    )


#: Estimands reported, with units.
ESTIMANDS = {
    "change": ParameterInfo("mean change in DAS28 at the landmark week", "score"),
    "effect": ParameterInfo("mean change minus control's", "score"),
    "remission": ParameterInfo("P(DAS28 < 2.6) at the landmark week", "probability"),
    "eular_good": ParameterInfo("P(EULAR good response) at the landmark week", "probability"),
    "effect_exceeds_cid": ParameterInfo(
        "posterior probability that the effect exceeds the clinically important difference",
        "posterior probability",
    ),
}


def _eta_draws(post: xr.DataTree) -> np.ndarray:
    """Draws of the effect modification, zero for a variant fitted without it."""
    if "eta" in post:
        return post["eta"].stack(sample=("chain", "draw")).values
    return np.zeros(post.sizes["chain"] * post.sizes["draw"])


def course(fig: FigureInput) -> Figure:
    """Observed mean DAS28 by arm and week with the fitted mean course and its credible band.

    Parameters
    ----------
    fig : FigureInput
        A ``treatment_response`` fit and its analysis table (``USUBJID``, ``week``, ``y``,
        ``arm``, ``dose``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    tree, table, ci_prob = fig.tree, fig.table, fig.ci_prob
    post = tree["posterior"]
    subjects = [str(s) for s in post["subject"].values]
    x = tree["constant_data"]["log_il6_centred"].values
    base = post["base"].stack(sample=("chain", "draw")).values  # (subject, S)
    eta = _eta_draws(post)
    arm_of = table.groupby("USUBJID")[["arm", "dose"]].first().loc[subjects]
    weeks = np.linspace(0, table["week"].max(), 60)
    tail = (1 - ci_prob) / 2
    figure, ax = plt.subplots(figsize=(7, 4.8))
    for colour, arm in enumerate(post["arm"].values):
        members = (arm_of["arm"] == arm).to_numpy()
        active = float(arm_of.loc[members, "dose"].iloc[0] > 0)
        delta = post["delta"].sel(arm=arm).stack(sample=("chain", "draw")).values
        plateau = delta + eta * active * x[members].mean()
        k = (post["k"].sel(arm=arm) if "arm" in post["k"].dims else post["k"]).stack(
            sample=("chain", "draw")
        )
        curves = base[members].mean(axis=0) + plateau * (1 - np.exp(-np.outer(weeks, k.values)))
        low, mid, high = np.quantile(curves, [tail, 0.5, 1 - tail], axis=1)
        ax.plot(weeks, mid, color=f"C{colour}", label=f"{arm} (model)")
        ax.fill_between(weeks, low, high, color=f"C{colour}", alpha=0.2)
        observed = table[table["arm"] == arm].groupby("week")["y"].agg(["mean", "sem"])
        ax.errorbar(
            observed.index, observed["mean"], yerr=observed["sem"], fmt="o", ms=4,
            color=f"C{colour}", label=f"{arm} (observed mean ± SE)",
        )  # fmt: skip
    ax.axhline(2.6, color="grey", ls=":", lw=0.8)
    ax.text(0, 2.65, "remission (DAS28 < 2.6)", fontsize=7, color="grey")
    ax.set(xlabel="week since randomisation (weeks)", ylabel="DAS28 (score, 0-10)")
    ax.set_title(f"DAS28 over time by arm, {ci_prob:.0%} credible bands")
    ax.legend(fontsize=7, ncol=2)
    return figure


def effect_by_il6(fig: FigureInput) -> Figure:
    r"""Effect of each active arm against control at the landmark week, by baseline IL-6.

    The mean plateau change of an active arm minus control's, reached to the landmark week:
    :math:`(\delta_a - \delta_0 + \eta (x - \ln 20))(1 - e^{-kL})`, with its credible band.
    A flat band means no effect modification by baseline IL-6. The rug shows the subjects'
    baseline IL-6 (values at the assay limit included at the limit); the clinically important
    difference is drawn as a reference line.

    Parameters
    ----------
    fig : FigureInput
        A ``treatment_response`` fit, its analysis table (``USUBJID``, ``arm``, ``dose``,
        ``log_il6``) and options (``landmark_week``, ``clinically_important_difference``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    from il6fit.plots import plain_log_ticks

    tree, table, ci_prob = fig.tree, fig.table, fig.ci_prob
    landmark_week = fig.options.landmark_week
    cid = fig.options.clinically_important_difference
    post = tree["posterior"]
    arms = [str(a) for a in post["arm"].values]
    doses = table.groupby("arm")["dose"].first()
    delta = post["delta"].stack(sample=("chain", "draw")).values  # (arm, S)
    eta = _eta_draws(post)
    reached = _reached(post, len(arms), landmark_week)  # (S, arms)
    baseline = table.groupby("USUBJID")["log_il6"].first()
    grid = np.geomspace(np.exp(baseline.min()), np.exp(baseline.max()), 60)
    x = np.log(grid) - np.log(IL6_REFERENCE)
    tail = (1 - ci_prob) / 2
    figure, ax = plt.subplots(figsize=(7, 4.8))
    for j, arm in enumerate(arms):
        if doses[arm] == 0:
            continue
        curves = (delta[j] + np.outer(x, eta)) * reached[:, j] - delta[0] * reached[:, 0]
        low, mid, high = np.quantile(curves, [tail, 0.5, 1 - tail], axis=1)
        ax.plot(grid, mid, color=f"C{j}", label=f"{arm} vs {arms[0]}")
        ax.fill_between(grid, low, high, color=f"C{j}", alpha=0.2)
    ax.axhline(0, color="grey", lw=0.8)
    ax.axhline(-cid, color="grey", ls=":", lw=0.8)
    ax.text(grid[0], -cid + 0.05, "clinically important difference", fontsize=7, color="grey")
    ax.plot(np.exp(baseline), np.full(len(baseline), 0), "|", color="k", alpha=0.3, ms=8,
            transform=ax.get_xaxis_transform(), label="subjects' baseline IL-6")  # fmt: skip
    ax.set(xscale="log", xlabel="baseline IL-6 (pg/mL)",
           ylabel=f"effect on DAS28 at week {landmark_week:g} (score)")  # fmt: skip
    plain_log_ticks(ax.xaxis)
    ax.set_title(f"Treatment effect against baseline IL-6, {ci_prob:.0%} credible bands")
    ax.legend(fontsize=7)
    return figure


FAMILY = ModelFamily(
    name="treatment_response",
    title="Longitudinal DAS28 by arm with placebo response and baseline-IL-6 modification",
    equations=__doc__,
    options=Options,
    requires=lambda options: ("IL6", options.score),
    parameters=PARAMETERS,
    default_priors=DEFAULT_PRIORS,
    analysis_table=analysis_table,
    builder=build,
    estimands=estimands,
    estimand_parameters=ESTIMANDS,
    figures={
        "course": FigureSpec(
            course, "DAS28 time course per arm: credible bands over observed means"
        ),
        "effect": FigureSpec(
            effect_by_il6, "treatment effect against baseline IL-6 at the landmark week"
        ),
    },
    observed={"y": ObservedInfo("DAS28 at every visit (score)")},
    with_observed=lambda table, values: table.assign(y=np.asarray(values["y"], dtype=float)),
    marginal=Marginal(
        generative=build_latent,
        conditional=conditional_effects,
        log_likelihood=subject_log_likelihood,
        joint=effects_and_log_likelihood,
    ),
    landmark=Landmark(observed=observed_change, predictive=landmark_predictive),
    headlines=HEADLINES,
    calibration=Calibration(
        design={"scenario": "ra_tcz_trial", "n_subjects": 60}, estimands=("change", "effect")
    ),
    # values of the size the trials report (domain-facts.md §4-§6)
    recovery=RecoveryStudy(
        truth={
            "mu_base": 6.6,
            "gamma_base": 0.2,
            "sigma_base": 0.6,
            "delta": [-1.0, -2.6, -3.4],
            "eta": -0.3,
            "tau_delta": 0.8,
            "log_k": float(np.log(0.27)),
            "sigma": 0.6,
        },
    ),
    # cold compile on one core, default design (benchmarks/RESULTS.md, issue 20)
    compile_seconds=65.0,
)
