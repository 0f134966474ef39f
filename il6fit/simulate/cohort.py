r"""Simulate a cohort in the data contract, with the generating truth beside it.

For subject :math:`i` at site :math:`s` and visit :math:`t` (week :math:`w_t`):

.. math::

    \ln IL6_{i} &= \ln m_{IL6} + b^{IL6}_{BMI}(BMI_i - 27) + b^{IL6}_{age}(AGE_i - 53) + u_s
        + \varepsilon_i, && \varepsilon_i \sim N(0, \sigma_{IL6}) \\
    \ln CRP_{i} &= \ln m_{CRP} + \beta(\ln IL6_i - \ln m_{IL6}) + b^{CRP}_{BMI}(BMI_i - 27)
        + v_s + \eta_i, && \eta_i \sim N(0, \sigma_{CRP}) \\
    BASE_i &= BASE\;L_i^{0.13} e^{\zeta_i}, && L_i = \ln(1000\,IL6_i)/9.9

at baseline; then exposure :math:`C_{it}` and latent activity :math:`D_{it}` from the PK/PD model
of :mod:`il6fit.simulate.pkpd` (placebo arms get background DMARD only), and

.. math::

    \ln IL6_{it} &= \ln IL6_i + \lambda (D_{it} - D_{i0}) + \rho\,O(C_{it}) + \delta_{it} \\
    \ln CRP_{it} &= \ln CRP_i + \beta(\lambda (D_{it} - D_{i0}) + \delta_{it})
        + \ln(1 - I_{max} O(C_{it})) + \kappa_{it}

where :math:`O` is receptor occupancy: blockade raises serum IL-6 (its clearance is
receptor-mediated) and suppresses CRP. ESR follows CRP. Tender and swollen joints (of 28) and
patient global (0-100 mm) are drawn around the values that give :math:`D_{it}` through the
DAS28-ESR formula, with beta-binomial and normal noise; DAS28 itself is never simulated, only
computed. Visits are missed at random; dropout rises while the last observed DAS28 exceeds 5.1
(missing at random, not completely at random). Laboratory results carry assay noise and are
reported as ``<LLOQ`` / ``>ULOQ`` beyond the assay range; chosen sites report CRP in mg/dL.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pandas as pd
from scipy.stats import betabinom, norm

from il6fit.data.scores import DAS28_HIGH, das28_esr
from il6fit.simulate.pkpd import (
    MAX_DOSE_MG,
    crp_inhibition,
    levi_il6_covariate,
    receptor_occupancy,
    simulate_course,
)
from il6fit.simulate.scenarios import Scenario

_COLUMNS = ("USUBJID", "PARAMCD", "AVAL", "AVALC", "AVALU", "AVISITN", "ADY", "LLOQ", "ULOQ")


def simulate_cohort(spec: Scenario, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Simulate subjects and measurements in the data contract, and the truth behind them.

    Parameters
    ----------
    spec : Scenario
        What to simulate.
    seed : int
        Random seed; the same seed and scenario give the same cohort.

    Returns
    -------
    subjects : pandas.DataFrame
        The subjects table (plus ``DTHFL`` for the ``covid`` population).
    measurements : pandas.DataFrame
        The measurements table; censored results as ``<x`` / ``>x`` in ``AVALC`` with ``AVAL``
        empty; ``ADY`` is the study day (day 1 = week 0).
    truth : dict
        The scenario, the seed and every subject's latent values.
    """
    rng = np.random.default_rng(seed)
    n = spec.n_subjects
    weeks = np.asarray(spec.weeks, dtype=float)
    site = rng.integers(0, spec.n_sites, n)
    arm = rng.integers(0, len(spec.arms), n)
    dose = np.array([a.dose for a in spec.arms])[arm]
    female = rng.random(n) < spec.female_fraction
    male = (~female).astype(float)
    age = np.clip(rng.normal(spec.age_mean, spec.age_sd, n), 18, 90).round()
    bmi = (spec.bmi_median * np.exp(rng.normal(0, spec.bmi_sd_log, n))).round(1)
    height = np.where(female, spec.height_female, spec.height_male) + rng.normal(
        0, spec.height_sd, n
    )
    weight = bmi * height**2

    il6_site = rng.normal(0, spec.il6_site_sd, spec.n_sites)
    crp_site = rng.normal(0, spec.crp_site_sd, spec.n_sites)
    log_il6 = (
        np.log(spec.il6_median)
        + spec.il6_bmi * (bmi - 27)
        + spec.il6_age * (age - 53)
        + il6_site[site]
        + rng.normal(0, spec.il6_sd_log, n)
    )
    log_crp = (
        np.log(spec.crp_median)
        + spec.crp_il6_slope * (log_il6 - np.log(spec.il6_median))
        + spec.crp_bmi * (bmi - 27)
        + crp_site[site]
        + rng.normal(0, spec.crp_sd_log, n)
    )

    latent: dict[str, np.ndarray] = {}
    nvis = weeks.size
    conc = np.zeros((nvis, n))
    activity = np.zeros((nvis, n))
    if spec.population == "ra":
        conc, activity, latent = _disease_course(
            spec, rng, weeks, dose, weight, female, log_il6, arm
        )
    occupancy = receptor_occupancy(conc, spec.pd)

    later = (np.arange(nvis) > 0)[:, None]
    il6_dev = np.where(later, rng.normal(0, spec.il6_visit_sd, (nvis, n)), 0.0)
    production = spec.il6_activity * (activity - activity[0]) + il6_dev
    true_log_il6 = log_il6 + production + spec.il6_blockade_rise_log * occupancy
    crp_dev = np.where(later, rng.normal(0, spec.crp_visit_sd, (nvis, n)), 0.0)
    true_log_crp = (
        log_crp + spec.crp_il6_slope * production + np.log(crp_inhibition(conc, spec.pd)) + crp_dev
    )
    esr_subject = rng.normal(0, spec.esr_sd_log, n)
    esr = np.clip(
        np.exp(
            np.log(spec.esr_median)
            + spec.esr_crp_slope * (true_log_crp - np.log(spec.crp_median))
            + spec.esr_male * male
            + spec.esr_age * (age - 53)
            + esr_subject
            + rng.normal(0, 0.1, (nvis, n))
        ),
        1,
        150,
    ).round()

    values = {"ESR": esr}
    das28 = None
    if spec.population == "ra":
        values.update(_components(spec, rng, activity, esr))
        das28 = das28_esr(values["TJC28"], values["SJC28"], esr, values["PTGA"])
    observed = _visit_pattern(spec, rng, das28, n, nvis)

    subjects = pd.DataFrame(
        {
            "USUBJID": [f"{spec.study}-{s + 1:02d}-{i + 1:05d}" for i, s in enumerate(site)],
            "STUDYID": spec.study,
            "SITEID": [f"S{s + 1:02d}" for s in site],
            "TRT01P": np.array([a.label for a in spec.arms])[arm],
            "AGE": age.astype(int),
            "SEX": np.where(female, "F", "M"),
            "BMI": bmi,
        }
    )
    if spec.population == "covid":
        death_day, died = _deaths(spec, rng, log_il6, log_crp)
        subjects["DTHFL"] = np.where(died, "Y", "N")
        observed &= (weeks * 7 + 1)[:, None] <= death_day
        latent["death_day"] = np.where(died, death_day, np.nan)

    crp_mgdl = (
        np.zeros(n, dtype=bool)
        if spec.crp_mgdl_from_site is None
        else site >= spec.crp_mgdl_from_site
    )
    il6 = np.exp(true_log_il6 + rng.normal(0, spec.il6_assay_cv, (nvis, n)))
    crp = np.exp(true_log_crp + rng.normal(0, spec.crp_assay_cv, (nvis, n)))
    ids = subjects["USUBJID"].to_numpy()
    parts = [
        _lab_rows(ids, weeks, observed, il6, "IL6", "pg/mL", spec.il6_lloq, spec.il6_uloq),
        _lab_rows(ids, weeks, observed & ~crp_mgdl, crp, "CRP", "mg/L",
                  spec.crp_lloq, spec.crp_uloq),
        # mg/dL sites: 1 mg/dL = 10 mg/L [§2b]
        _lab_rows(ids, weeks, observed & crp_mgdl, crp / 10, "CRP", "mg/dL",
                  spec.crp_lloq / 10, spec.crp_uloq / 10),
    ]  # fmt: skip
    if spec.tcz_samples and spec.population == "ra":
        parts.append(_drug_rows(spec, seed, ids, weeks, observed & later & (dose > 0), conc))
    units = {"ESR": "mm/h", "TJC28": "joints", "SJC28": "joints", "PTGA": "mm"}
    parts += [_value_rows(ids, weeks, observed, values[c], c, units[c]) for c in values]
    measurements = (
        pd.concat(parts, ignore_index=True)
        .sort_values(["USUBJID", "AVISITN", "PARAMCD"], kind="stable")
        .reset_index(drop=True)
    )

    truth = {
        "scenario": asdict(spec),
        "seed": seed,
        "sites": {
            "SITEID": [f"S{s + 1:02d}" for s in range(spec.n_sites)],
            "il6_site": il6_site.round(6).tolist(),
            "crp_site": crp_site.round(6).tolist(),
        },
        "weeks": weeks.tolist(),
        "subjects": {
            "USUBJID": ids.tolist(),
            "weight_kg": weight.round(2).tolist(),
            "log_il6_baseline": log_il6.round(6).tolist(),
            "log_crp_baseline": log_crp.round(6).tolist(),
            "log_il6_by_visit": true_log_il6.T.round(5).tolist(),
            "log_crp_by_visit": true_log_crp.T.round(5).tolist(),
            "attended_by_visit": observed.T.astype(int).tolist(),
            **{k: np.round(v, 5).tolist() for k, v in latent.items()},
        },
    }
    return subjects, measurements, truth


def _disease_course(spec, rng, weeks, dose, weight, female, log_il6, arm):
    """Latent activity and exposure of every subject at the visits (PK/PD of pkpd.py)."""
    n = dose.size
    pk, pd_ = spec.pk, spec.pd
    lognormal = lambda sd: np.exp(rng.normal(0, sd, n))  # noqa: E731
    cl = (
        pk.cl
        * (weight / 70) ** pk.cl_weight_power
        * np.where(female, pk.cl_female, 1.0)
        * lognormal(pk.cl_iiv)
    )
    v1 = pk.v1 * lognormal(pk.v1_iiv)
    v2 = pk.v2 * lognormal(pk.v2_iiv)
    vmax = pk.vmax * lognormal(pk.vmax_iiv)
    il6_cov = levi_il6_covariate(np.exp(log_il6))
    base = (spec.das28_base * il6_cov**spec.das28_il6_power * lognormal(spec.das28_base_cv)).clip(
        2.0, 9.4
    )
    ec50 = pd_.ec50 * il6_cov**pd_.ec50_il6_power * lognormal(pd_.ec50_iiv)
    emax = np.clip(
        pd_.emax * np.where(female, 1.0, pd_.emax_male) * lognormal(pd_.emax_iiv), 0, 0.99
    )
    kout = pd_.kout * lognormal(pd_.kout_iiv)
    dmard = (
        pd_.dmard * il6_cov**pd_.dmard_il6_power * lognormal(pd_.dmard_iiv)
        if spec.dmard
        else np.zeros(n)
    )
    sc = np.array([a.route == "sc" for a in spec.arms])[arm]
    every_days = np.array([a.every_weeks * 7 for a in spec.arms])[arm]
    dose_mg = np.where(sc, dose, np.minimum(dose * weight, MAX_DOSE_MG))
    course = simulate_course(
        dose_mg, weeks * 7, cl=cl, v1=v1, v2=v2, vmax=vmax, base=base, ec50=ec50,
        emax=emax, kout=kout, dmard=dmard, pk=pk, gamma=pd_.gamma, sc=sc,
        every_days=every_days,
    )  # fmt: skip
    activity = course.activity
    if spec.das28_visit_sd > 0:
        # stationary AR(1) drift between visits, as activity waxes and wanes in a cohort
        drift = np.zeros_like(activity)
        innovation_sd = spec.das28_visit_sd * np.sqrt(1 - spec.das28_visit_rho**2)
        for t in range(1, drift.shape[0]):
            drift[t] = spec.das28_visit_rho * drift[t - 1] + rng.normal(0, innovation_sd, n)
        activity = np.clip(activity + drift, 1.0, 9.4)
    latent = {
        "dose_mg": dose_mg,
        "cl": cl,
        "v1": v1,
        "v2": v2,
        "vmax": vmax,
        "das28_base": base,
        "ec50": ec50,
        "emax": emax,
        "kout": kout,
        "dmard": dmard,
        "average_concentration_last_interval": course.average_concentration,
        "concentration_by_visit": course.concentration.T,
        "das28_latent_by_visit": activity.T,
    }
    return course.concentration, activity, latent


def _components(spec, rng, activity, esr):
    r"""Joint counts and patient global whose DAS28-ESR is, on average, the latent activity.

    The activity left after ESR's part, :math:`0.70 \ln ESR`, is split over the three other
    parts by the subject's shares, and each part is the expected value of its term of the
    formula: the count's mean is chosen so that :math:`E[0.56\sqrt{TJC28}]` (beta-binomial,
    :func:`_count_for_root`) is the tender joints' part, and the patient global's so that its
    clipped, rounded normal has the part's mean (:func:`_global_for_mean`). Drawing counts around
    the square of the part instead would put the mean DAS28 0.1 below the activity at a trial's
    baseline and 0.2-0.35 below it at the activity of treated patients (Jensen's inequality for
    the square root), so a treatment's effect on DAS28 would look larger than on the activity.
    A part its term cannot reach (28 joints, 100 mm) passes to the next term; an activity below
    ESR's part (which follows CRP, not the activity) gives the lowest components.
    """
    n = activity.shape[1]
    shares = rng.dirichlet(np.asarray(spec.das28_shares) * spec.das28_share_concentration, n)
    rest = np.clip(activity - 0.70 * np.log(esr), 0, None)
    concentration = spec.joint_count_concentration
    tjc, left = _count_for_root(shares[:, 0] * rest / 0.56, concentration)
    sjc, left = _count_for_root((shares[:, 1] * rest + 0.56 * left) / 0.28, concentration)
    ptga = _global_for_mean((shares[:, 2] * rest + 0.28 * left) / 0.014, spec.ptga_sd)
    return {
        "TJC28": _beta_binomial(rng, tjc, concentration),
        "SJC28": _beta_binomial(rng, sjc, concentration),
        "PTGA": np.clip(rng.normal(ptga, spec.ptga_sd), 0, 100).round(),
    }


#: Bounds of a joint count's mean fraction (of 28) in the simulator.
COUNT_MEAN = (0.005, 0.995)


def _count_for_root(root: np.ndarray, concentration: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean fraction of 28 joints whose beta-binomial count has ``E[sqrt(count)] = root``.

    Returns the fraction and what of ``root`` it cannot give (beyond its bounds, else 0).
    """
    fraction, expected = _root_table(concentration)
    reached = np.clip(root, expected[0], expected[-1])
    return np.interp(reached, expected, fraction), root - reached


def _root_table(concentration: float) -> tuple[np.ndarray, np.ndarray]:
    """E[sqrt(count)] of a beta-binomial count of 28 on a grid of mean fractions (increasing)."""
    fraction = np.linspace(*COUNT_MEAN, 397)
    counts = np.arange(29)
    pmf = betabinom.pmf(
        counts[None, :],
        28,
        fraction[:, None] * concentration,
        (1 - fraction[:, None]) * concentration,
    )
    return fraction, pmf @ np.sqrt(counts)


def _global_for_mean(mean: np.ndarray, sd: float) -> np.ndarray:
    """Mean of a normal whose value clipped to 0-100 mm has mean ``mean`` (within 0-100)."""
    centre = np.linspace(-4 * sd, 100 + 4 * sd, 801)
    a, b = (0 - centre) / sd, (100 - centre) / sd
    # mean of a normal clipped to [0, 100]: inside part, plus 100 x P(above)
    clipped = (
        centre * (norm.cdf(b) - norm.cdf(a)) + sd * (norm.pdf(a) - norm.pdf(b)) + 100 * norm.sf(b)
    )
    return np.interp(np.clip(mean, clipped[0], clipped[-1]), clipped, centre)


def _beta_binomial(rng, mean, concentration):
    mean = np.clip(mean, *COUNT_MEAN)
    p = rng.beta(mean * concentration, (1 - mean) * concentration)
    return rng.binomial(28, p).astype(float)


def _visit_pattern(spec, rng, das28, n, nvis):
    """Attended visits: baseline always; missed at random; dropout rising with activity."""
    missed = rng.random((nvis, n)) < spec.visit_missing
    hazard_draws = rng.random((nvis, n))
    observed = np.zeros((nvis, n), dtype=bool)
    observed[0] = True
    in_study = np.ones(n, dtype=bool)
    last = das28[0] if das28 is not None else np.zeros(n)
    for t in range(1, nvis):
        hazard = spec.dropout_per_visit + spec.dropout_if_high_activity * (last > DAS28_HIGH)
        in_study &= hazard_draws[t] >= hazard
        observed[t] = in_study & ~missed[t]
        if das28 is not None:
            last = np.where(observed[t], das28[t], last)
    return observed


def _deaths(spec, rng, log_il6, log_crp):
    logit = (
        np.log(spec.death_baseline / (1 - spec.death_baseline))
        + spec.death_il6 * (log_il6 - np.log(spec.il6_median))
        + spec.death_crp * (log_crp - np.log(spec.crp_median))
    )
    died = rng.random(log_il6.size) < 1 / (1 + np.exp(-logit))
    return rng.integers(3, 22, log_il6.size), died


def _lab_rows(ids, weeks, observed, values, code, unit, lloq, uloq):
    t, i = np.nonzero(observed)
    v = values[t, i]
    text = np.char.mod("%.3g", v).astype(object)
    below, above = v < lloq, (v > uloq) if uloq is not None else np.zeros(v.shape, bool)
    avalc = text.copy()
    avalc[below] = f"<{lloq:g}"
    if above.any():
        avalc[above] = f">{uloq:g}"
    aval = np.where(below | above, "", text)
    limit = "" if uloq is None else f"{uloq:g}"
    return _frame(ids, weeks, t, i, code, aval, avalc, unit, f"{lloq:g}", limit)


def _drug_rows(spec, seed, ids, weeks, sampled, conc):
    """Measured tocilizumab with Frey 2010's combined residual error, on a stream of its own."""
    rng = np.random.default_rng([int(seed), 1])
    noise = rng.standard_normal((2, *conc.shape))
    pk = spec.pk
    measured = conc * (1 + pk.residual_proportional * noise[0]) + pk.residual_additive * noise[1]
    return _lab_rows(ids, weeks, sampled, measured, "TCZ", "ug/mL", spec.tcz_lloq, None)


def _value_rows(ids, weeks, observed, values, code, unit):
    t, i = np.nonzero(observed)
    text = np.char.mod("%g", values[t, i]).astype(object)
    return _frame(ids, weeks, t, i, code, text, text, unit, "", "")


def _frame(ids, weeks, t, i, code, aval, avalc, unit, lloq, uloq):
    return pd.DataFrame(
        {
            "USUBJID": ids[i],
            "PARAMCD": code,
            "AVAL": aval,
            "AVALC": avalc,
            "AVALU": unit,
            "AVISITN": weeks[t],
            "ADY": (weeks[t] * 7 + 1).astype(int),
            "LLOQ": lloq,
            "ULOQ": uloq,
        },
        columns=list(_COLUMNS),
    )
