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

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from il6fit.catalogue import MODEL_FIGURES
from il6fit.data.scores import DAS28_REMISSION, eular_response
from il6fit.errors import SpecError
from il6fit.models.family import ModelFamily, ObservedInfo, ParameterInfo
from il6fit.models.il6_crp import IL6_REFERENCE
from il6fit.models.priors import Prior
from il6fit.simulate import SCENARIOS

#: Arm labels of the simulated trial and their tocilizumab doses, mg/kg IV q4w.
DEFAULT_ARMS = {arm.label: arm.dose for arm in SCENARIOS["ra_tcz_trial"].arms}

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
    subjects: pd.DataFrame,
    measurements: pd.DataFrame,
    *,
    score: str = "DAS28ESR",
    arms: Mapping[str, float] | None = None,
    landmark_week: float = 24,
    clinically_important_difference: float = 1.2,
) -> pd.DataFrame:
    """One row per subject-visit with the score, the subject's arm and baseline IL-6.

    Parameters
    ----------
    subjects, measurements : pandas.DataFrame
        A prepared dataset.
    score : {"DAS28ESR", "DAS28CRP"}
        The disease-activity score modelled (derived from components during preparation).
        DAS28-ESR by default, as in the trials' remission figures.
    arms : mapping of str to float, optional
        ``TRT01P`` label to tocilizumab dose (mg/kg); exactly one arm must have dose 0 (the
        control). Defaults to :data:`DEFAULT_ARMS`. Subjects in other arms are left out.
    landmark_week, clinically_important_difference : float
        Used by :func:`estimands`; accepted here so all options live in one config block.

    Returns
    -------
    pandas.DataFrame
        Columns ``USUBJID``, ``week``, ``y``, ``arm`` (label), ``dose``, ``log_il6`` (baseline).

    Raises
    ------
    SpecError
        If the arms are not as described, or no subject has a baseline score and IL-6.
    """
    arms = dict(DEFAULT_ARMS if arms is None else arms)
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


def arm_order(table: pd.DataFrame) -> list[str]:
    """Arms ordered by dose, control first."""
    doses = table.groupby("arm")["dose"].first().sort_values(kind="stable")
    return list(doses.index)


def build(
    table: pd.DataFrame, priors: Mapping[str, Prior], *, effect_modification: bool = True
) -> pm.Model:
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
    effect_modification : bool
        Estimate ``eta``; ``False`` fixes it at 0 (the variable is left out), the model a
        comparison without IL-6 effect modification needs.

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
        eta = priors["eta"].create("eta") if effect_modification else 0.0
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


def estimands(
    tree: xr.DataTree,
    table: pd.DataFrame,
    *,
    landmark_week: float = 24,
    clinically_important_difference: float = 1.2,
    seed: int = 0,
    **_: object,
) -> xr.Dataset:
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
    landmark_week : float
        Week at which the estimands are read.
    clinically_important_difference : float
        DAS28 units; the probability that the mean effect against control is larger.
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


FAMILY = ModelFamily(
    name="treatment_response",
    title="Longitudinal DAS28 by arm with placebo response and baseline-IL-6 modification",
    requires=("IL6", "DAS28ESR"),
    parameters=PARAMETERS,
    default_priors=DEFAULT_PRIORS,
    analysis_table=analysis_table,
    build=build,
    equations=__doc__,
    estimands=estimands,
    estimand_parameters=ESTIMANDS,
    figures=MODEL_FIGURES["treatment_response"],
    build_options=("effect_modification",),
    observed={"y": ObservedInfo("DAS28 at every visit (score)")},
    with_observed=lambda table, values: table.assign(y=np.asarray(values["y"], dtype=float)),
)
