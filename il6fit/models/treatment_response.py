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
turnover half-life about 18 days, :math:`k \approx 0.27`/week). Post-baseline IL-6 is never a
predictor: it rises on tocilizumab.

Clinical estimands at the landmark week :math:`L`, standardised over the subjects in the data
(each subject counterfactually in each arm) and computed for every posterior draw: mean change in
DAS28 and its difference from control, P(DAS28 < 2.6), P(EULAR good response) and the posterior
probability that the effect against control exceeds a clinically important difference.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from il6fit.data.scores import DAS28_REMISSION, eular_response
from il6fit.errors import SpecError
from il6fit.models.arms import ARMS_DOC, ARMS_SCHEMA, DEFAULT_ARMS, arm_order
from il6fit.models.censored import IL6_REFERENCE
from il6fit.models.family import (
    Calibration,
    FigureInput,
    FigureSpec,
    ModelFamily,
    ObservedInfo,
    ParameterInfo,
    RecoveryStudy,
    option,
)
from il6fit.models.priors import Prior
from il6fit.plots import plain_log_ticks


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


PARAMETERS = {
    "mu_base": ParameterInfo("mean baseline DAS28 at IL-6 20 pg/mL", "score"),
    "gamma_base": ParameterInfo("baseline DAS28 per ln IL-6", "score per ln(pg/mL)"),
    "sigma_base": ParameterInfo("between-subject SD of baseline DAS28", "score"),
    "delta": ParameterInfo("plateau change in DAS28 by arm", "score"),
    "eta": ParameterInfo("change in active-arm effect per ln baseline IL-6", "score per ln(pg/mL)"),
    "tau_delta": ParameterInfo("between-subject SD of the plateau change", "score"),
    "k": ParameterInfo("rate of approach to the plateau", "1/week"),
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
    rows = measurements[measurements["PARAMCD"] == score]
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


def build(table: pd.DataFrame, priors: Mapping[str, Prior], options: Options) -> pm.Model:
    r"""Build the treatment-response model for an analysis table.

    The subject effects are sampled in the non-centred form of the equations
    (:math:`z^b_i`, :math:`z^\Delta_i`); the course :math:`b_i + \Delta_i (1 - e^{-k t})` is
    computed once per subject and distinct week and read off that grid for every row; and every
    input, the outcome included, is ``pm.Data``, so the compiled model does not depend on the
    data (``benchmarks/RESULTS.md``). The centred form samples the 600-patient default trial
    about 1.2x faster per effective draw, but on small trials whose between-subject SDs are small
    next to the residual (60 patients, parameters drawn from the prior) its fits diverged in 58
    of 200 calibration replicates and the posterior of :math:`\sigma_b` was miscalibrated
    (``docs/calibration.md``); the non-centred form is the robust choice.

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
    subjects, subject_idx = np.unique(table["USUBJID"], return_inverse=True)
    weeks, week_idx = np.unique(table["week"].to_numpy(float), return_inverse=True)
    arms = arm_order(table)
    per_subject = table.groupby("USUBJID").first().loc[subjects]
    x = per_subject["log_il6"].to_numpy(float) - np.log(IL6_REFERENCE)
    active = (per_subject["dose"].to_numpy(float) > 0).astype(float)
    subject_arm = per_subject["arm"].map({a: i for i, a in enumerate(arms)}).to_numpy()
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
        log_k = priors["log_k"].create("log_k")
        k = pm.Deterministic("k", pm.math.exp(log_k))
        sigma = priors["sigma"].create("sigma")
        course = base[:, None] + plateau[:, None] * (1 - pm.math.exp(-k * week))[None, :]
        y = pm.Data("y_observed", table["y"].to_numpy(float), dims="obs")
        pm.Normal("y", course.ravel()[cell], sigma, observed=y, dims="obs")
    return model


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
    reached = 1 - np.exp(-post["k"].values.reshape(-1, 1) * landmark_week)
    rng = np.random.default_rng(seed)
    n = x.size
    out = {name: np.empty((chains * draws, len(arms))) for name in
           ("change", "remission", "eular_good")}  # fmt: skip
    noise0 = rng.normal(size=(chains * draws, n))
    for j in range(len(arms)):
        plateau = delta[:, [j]] + eta * active[j] * x + tau * rng.normal(size=(chains * draws, n))
        mean_change = (delta[:, [j]] + eta * active[j] * x) * reached
        out["change"][:, j] = mean_change.mean(axis=1)
        start = base + sigma * noise0
        end = base + plateau * reached + sigma * rng.normal(size=(chains * draws, n))
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


def course(fig: FigureInput) -> plt.Figure:
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
    tree, table, ci_prob = fig.tree, fig.table, fig.ci_prob
    post = tree["posterior"]
    subjects = [str(s) for s in post["subject"].values]
    x = tree["constant_data"]["log_il6_centred"].values
    base = post["base"].stack(sample=("chain", "draw")).values  # (subject, S)
    k = post["k"].stack(sample=("chain", "draw")).values
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
        curves = base[members].mean(axis=0) + plateau * (1 - np.exp(-np.outer(weeks, k)))
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


def effect_by_il6(fig: FigureInput) -> plt.Figure:
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
    tree, table, ci_prob = fig.tree, fig.table, fig.ci_prob
    landmark_week = fig.options.landmark_week
    cid = fig.options.clinically_important_difference
    post = tree["posterior"]
    arms = [str(a) for a in post["arm"].values]
    doses = table.groupby("arm")["dose"].first()
    delta = post["delta"].stack(sample=("chain", "draw")).values  # (arm, S)
    eta = _eta_draws(post)
    reached = 1 - np.exp(-post["k"].stack(sample=("chain", "draw")).values * landmark_week)
    baseline = table.groupby("USUBJID")["log_il6"].first()
    grid = np.geomspace(np.exp(baseline.min()), np.exp(baseline.max()), 60)
    x = np.log(grid) - np.log(IL6_REFERENCE)
    tail = (1 - ci_prob) / 2
    figure, ax = plt.subplots(figsize=(7, 4.8))
    for j, arm in enumerate(arms):
        if doses[arm] == 0:
            continue
        curves = (delta[j] - delta[0] + np.outer(x, eta)) * reached  # (grid, S)
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
)
