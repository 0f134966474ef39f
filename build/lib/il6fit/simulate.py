r"""Simulate clinical-style cohorts in the data contract, with the generating truth beside them.

A compact generator: enough biology for every pipeline stage to do real work. Every default cites
``domain-facts.md`` (section numbers in brackets). Scenarios:

``ra_tcz_trial``
    A randomised RA trial like OPTION: placebo + MTX, TCZ 4 mg/kg and TCZ 8 mg/kg IV q4w, visits at
    weeks 0, 2, 4, 8, 12, 16, 20, 24, several sites.
``healthy``
    Healthy controls, one visit, for IL-6 and CRP reference ranges.

The generative model, for subject :math:`i` at site :math:`s` and week :math:`t`:

.. math::

    \ln IL6_i^{base} &= \ln m_{IL6} + b_{BMI}^{IL6}(BMI_i - 27) + b_{age}^{IL6}(AGE_i - 53)
                        + u_s + \varepsilon_i, \quad \varepsilon_i \sim N(0, \sigma_{IL6}) \\
    \ln CRP_i^{base} &= \ln m_{CRP} + \beta (\ln IL6_i^{base} - \ln m_{IL6})
                        + b_{BMI}^{CRP}(BMI_i - 27) + v_s + \eta_i,
                        \quad \eta_i \sim N(0, \sigma_{CRP}) \\
    DAS28_{it} &= BASE_i + \Delta_{a(i)} r_i \frac{1 - e^{-k_{out} t}}{1 - e^{-k_{out} 24}}

with treatment lowering CRP and raising IL-6 (receptor blockade) from week 2 on, joint counts and
patient global drawn around the latent activity, ESR from CRP, assay noise, and results outside
the assay range reported as ``<LLOQ`` / ``>ULOQ`` strings, as laboratories report them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd

from il6fit.errors import SpecError


@dataclass(frozen=True)
class Arm:
    """A trial arm: its label in ``TRT01P`` and its tocilizumab dose (mg/kg IV q4w)."""

    label: str
    dose: float


@dataclass(frozen=True)
class Scenario:
    """Parameters of a simulated cohort. Units in each name's comment; sources in brackets."""

    name: str
    study: str
    population: str  # "ra" or "healthy"
    n_subjects: int = 300
    n_sites: int = 6
    weeks: tuple[float, ...] = (0,)
    arms: tuple[Arm, ...] = (Arm("Healthy control", 0.0),)
    # demographics: ~80-84 % female, median age 52-54 [§6, Frey 2010]
    female_fraction: float = 0.82
    age_mean: float = 53.0  # years
    age_sd: float = 12.0
    bmi_median: float = 27.0  # kg/m²
    bmi_sd_log: float = 0.18
    # IL-6: RA median ~22 pg/mL, sd_ln 1.13 [§1a, OPTION; sarilumab pool]; healthy median 2-5 [§1a]
    il6_median: float = 22.0  # pg/mL
    il6_sd_log: float = 1.13
    il6_bmi: float = 0.03  # ln(pg/mL) per kg/m² [§6, Mohamed-Ali 1997, r = 0.48]
    il6_age: float = 0.01  # ln(pg/mL) per year [§1a, Said 2021]
    il6_site_sd: float = 0.15
    # CRP: RA median ~16 mg/L, sd_ln 0.86 [§2c]; log-log slope 0.6-0.9 [§2d]
    crp_median: float = 15.7  # mg/L at il6_median
    crp_il6_slope: float = 0.75  # ln(mg/L) per ln(pg/mL)
    crp_bmi: float = 0.04  # ln(mg/L) per kg/m² [§6, George 2017: 0.03-0.06]
    crp_sd_log: float = 0.55  # residual
    crp_site_sd: float = 0.2
    # assays: Elecsys IL-6 1.5-5000 pg/mL [§1c]; hs-CRP 0.3 mg/L LoD [§2a], ceiling 320 mg/L
    il6_lloq: float = 1.5
    il6_uloq: float = 5000.0
    crp_lloq: float = 0.3
    crp_uloq: float = 320.0
    il6_assay_cv: float = 0.10
    crp_assay_cv: float = 0.05
    # sites with index >= this report CRP in mg/dL [§2b]; none by default
    crp_mgdl_from_site: int | None = None
    # disease activity: Levi 2013 BASE 6.8 (IIV 9.4 %), kout 0.038/d, residual 0.68 [§5c];
    # typical-subject week-24 change -1.14 / -2.69 / -3.53 (placebo / 4 / 8 mg/kg) [§4]
    das28_base: float = 6.8
    das28_base_cv: float = 0.094
    das28_kout: float = 0.038 * 7  # per week
    das28_change_24: dict[float, float] = field(
        default_factory=lambda: {0.0: -1.14, 4.0: -2.69, 8.0: -3.53}
    )
    das28_response_sd_log: float = 0.3
    # treatment: CRP to normal by week 2, -74 % on average by week 4 [§5b];
    # IL-6 rises on TCZ, several-fold (UNVERIFIED size) [§5b]
    crp_drop_log: dict[float, float] = field(
        default_factory=lambda: {0.0: -0.1, 4.0: -1.3, 8.0: -2.0}
    )
    il6_rise_log: dict[float, float] = field(default_factory=lambda: {0.0: 0.0, 4.0: 0.7, 8.0: 1.1})
    onset_per_week: float = 1.5
    # ESR: RA baseline ~50 mm/h [§3a]
    esr_median: float = 50.0  # mm/h at crp_median
    esr_crp_slope: float = 0.5
    esr_sd_log: float = 0.3
    visit_missing: float = 0.05  # probability a scheduled visit is missed
    dropout_per_visit: float = 0.02  # plus the same again while DAS28 > 5.1


SCENARIOS: dict[str, Scenario] = {
    "ra_tcz_trial": Scenario(
        name="ra_tcz_trial",
        study="IL6FIT-RA",
        population="ra",
        weeks=(0, 2, 4, 8, 12, 16, 20, 24),
        arms=(
            Arm("Placebo + MTX", 0.0),
            Arm("TCZ 4 mg/kg + MTX", 4.0),
            Arm("TCZ 8 mg/kg + MTX", 8.0),
        ),
        crp_mgdl_from_site=5,
    ),
    "healthy": Scenario(
        name="healthy",
        study="IL6FIT-HC",
        population="healthy",
        n_sites=3,
        female_fraction=0.5,
        age_mean=45.0,
        age_sd=14.0,
        bmi_median=25.5,
        # healthy median 2-5 pg/mL, sd_ln 0.6-0.8 (UNVERIFIED) [§1a]
        il6_median=3.0,
        il6_sd_log=0.7,
        # healthy CRP median 0.6-0.8 mg/L [§2a]
        crp_median=0.8,
        esr_median=10.0,
    ),
}


def scenario(name: str, **overrides: object) -> Scenario:
    """Return a named scenario with some fields replaced.

    Parameters
    ----------
    name : str
        One of :data:`SCENARIOS`.
    **overrides
        Fields of :class:`Scenario` to replace, e.g. ``n_subjects=100``.

    Returns
    -------
    Scenario

    Raises
    ------
    SpecError
        For an unknown scenario or field.
    """
    if name not in SCENARIOS:
        raise SpecError(f"unknown scenario '{name}'; choose one of {', '.join(SCENARIOS)}.")
    known = Scenario.__dataclass_fields__
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise SpecError(f"unknown scenario option(s) {', '.join(unknown)} for '{name}'.")
    return replace(SCENARIOS[name], **overrides)


def simulate_cohort(spec: Scenario, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Simulate subjects and measurements in the data contract, and the truth behind them.

    Parameters
    ----------
    spec : Scenario
        What to simulate.
    seed : int
        Random seed; the same seed gives the same cohort.

    Returns
    -------
    subjects : pandas.DataFrame
        The subjects table.
    measurements : pandas.DataFrame
        The measurements table (censored results as ``<x`` / ``>x`` in ``AVALC``).
    truth : dict
        Every generating parameter and the per-subject latent values.
    """
    rng = np.random.default_rng(seed)
    n = spec.n_subjects
    site = rng.integers(0, spec.n_sites, n)
    arm = rng.integers(0, len(spec.arms), n)
    dose = np.array([spec.arms[a].dose for a in arm])
    female = rng.random(n) < spec.female_fraction
    age = np.clip(rng.normal(spec.age_mean, spec.age_sd, n), 18, 85).round()
    bmi = (spec.bmi_median * np.exp(rng.normal(0, spec.bmi_sd_log, n))).round(1)

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
    weeks = np.asarray(spec.weeks, dtype=float)
    onset = 1 - np.exp(-spec.onset_per_week * weeks)  # (visit,)
    crp_drop = np.array([spec.crp_drop_log[d] for d in dose])
    il6_rise = np.array([spec.il6_rise_log[d] for d in dose])
    true_log_crp = log_crp[:, None] + crp_drop[:, None] * onset
    true_log_il6 = log_il6[:, None] + il6_rise[:, None] * onset

    subjects = pd.DataFrame(
        {
            "USUBJID": [f"{spec.study}-{s + 1:02d}-{i + 1:04d}" for i, s in enumerate(site)],
            "STUDYID": spec.study,
            "SITEID": [f"S{s + 1:02d}" for s in site],
            "TRT01P": [spec.arms[a].label for a in arm],
            "AGE": age.astype(int),
            "SEX": np.where(female, "F", "M"),
            "BMI": bmi,
        }
    )
    observed = _visit_pattern(spec, rng, n, weeks)
    rows = []
    rows += _assay_rows(
        subjects, weeks, observed, true_log_il6, spec.il6_assay_cv, rng,
        "IL6", "pg/mL", spec.il6_lloq, spec.il6_uloq,
    )  # fmt: skip
    crp_in_mgdl = (
        np.zeros(n, dtype=bool)
        if spec.crp_mgdl_from_site is None
        else site >= spec.crp_mgdl_from_site
    )
    crp = _assay_rows(
        subjects, weeks, observed, true_log_crp, spec.crp_assay_cv, rng,
        "CRP", "mg/L", spec.crp_lloq, spec.crp_uloq,
    )  # fmt: skip
    rows += [_to_mgdl(r) if crp_in_mgdl[r["_i"]] else r for r in crp]
    esr = np.exp(
        np.log(spec.esr_median)
        + spec.esr_crp_slope * (true_log_crp - np.log(spec.crp_median))
        + rng.normal(0, spec.esr_sd_log, true_log_crp.shape)
    ).clip(1, 150)
    rows += _value_rows(subjects, weeks, observed, esr.round(), "ESR", "mm/h")

    truth: dict = {"scenario": asdict(spec), "seed": seed}
    das28 = None
    if spec.population == "ra":
        das28, components = _disease_activity(spec, rng, n, dose, weeks)
        for code, unit in (("TJC28", "joints"), ("SJC28", "joints"), ("PTGA", "mm")):
            rows += _value_rows(subjects, weeks, observed, components[code], code, unit)

    measurements = pd.DataFrame(rows).drop(columns="_i")
    truth["subjects"] = {
        "USUBJID": subjects["USUBJID"].tolist(),
        "log_il6_baseline": log_il6.round(6).tolist(),
        "log_crp_baseline": log_crp.round(6).tolist(),
        **({"das28_latent": das28.round(4).tolist()} if das28 is not None else {}),
    }
    truth["sites"] = {
        "SITEID": [f"S{s + 1:02d}" for s in range(spec.n_sites)],
        "il6_site": il6_site.round(6).tolist(),
        "crp_site": crp_site.round(6).tolist(),
    }
    return subjects, measurements, truth


def _visit_pattern(spec: Scenario, rng: np.random.Generator, n: int, weeks: np.ndarray):
    """Which scheduled visits happen: baseline always, then missed visits and dropout."""
    observed = rng.random((n, weeks.size)) >= spec.visit_missing
    observed[:, 0] = True
    dropped = np.cumsum(rng.random((n, weeks.size)) < spec.dropout_per_visit, axis=1) > 0
    dropped[:, 0] = False
    return observed & ~dropped


def _disease_activity(spec, rng, n, dose, weeks):
    """Latent DAS28 over time and components drawn around it."""
    base = spec.das28_base * np.exp(rng.normal(0, spec.das28_base_cv, n))
    change24 = np.array([spec.das28_change_24[d] for d in dose])
    response = np.exp(rng.normal(0, spec.das28_response_sd_log, n))
    course = (1 - np.exp(-spec.das28_kout * weeks)) / (1 - np.exp(-spec.das28_kout * 24))
    das28 = np.clip(base[:, None] + (change24 * response)[:, None] * course, 1.0, 9.0)
    # activity scaled so that a DAS28 of 6.8 gives trial-like baselines: TJC ~16, SJC ~11, PtGA ~62
    activity = np.clip((das28 - 2.0) / 4.8, 0.01, 1.6)
    components = {
        "TJC28": _beta_binomial(rng, 28, np.clip(16 / 28 * activity, 0.01, 0.97), 8.0),
        "SJC28": _beta_binomial(rng, 28, np.clip(11 / 28 * activity, 0.01, 0.97), 8.0),
        "PTGA": np.clip(rng.normal(62 * activity, 12), 0, 100).round(),
    }
    return das28, components


def _beta_binomial(rng, trials, mean, concentration):
    p = rng.beta(mean * concentration, (1 - mean) * concentration)
    return rng.binomial(trials, p).astype(float)


def _assay_rows(subjects, weeks, observed, true_log, cv, rng, code, unit, lloq, uloq):
    measured = np.exp(true_log + rng.normal(0, cv, true_log.shape))
    rows = []
    for i, j in zip(*np.nonzero(observed), strict=True):
        value = measured[i, j]
        if value < lloq:
            aval, avalc = "", f"<{lloq:g}"
        elif value > uloq:
            aval, avalc = "", f">{uloq:g}"
        else:
            aval, avalc = f"{value:.3g}", f"{value:.3g}"
        rows.append(_row(subjects, i, weeks[j], code, aval, avalc, unit, lloq, uloq))
    return rows


def _value_rows(subjects, weeks, observed, values, code, unit):
    return [
        _row(subjects, i, weeks[j], code, f"{values[i, j]:g}", f"{values[i, j]:g}", unit, "", "")
        for i, j in zip(*np.nonzero(observed), strict=True)
    ]


def _row(subjects, i, week, code, aval, avalc, unit, lloq, uloq):
    return {
        "_i": i,
        "USUBJID": subjects.at[i, "USUBJID"],
        "PARAMCD": code,
        "AVAL": aval,
        "AVALC": avalc,
        "AVALU": unit,
        "AVISITN": int(week),
        "ADY": int(week * 7 + 1),
        "LLOQ": lloq,
        "ULOQ": uloq,
    }


def _to_mgdl(row: dict) -> dict:
    """Report a CRP row in mg/dL, as some sites do (1 mg/dL = 10 mg/L)."""

    def convert(text: str) -> str:
        if text == "":
            return ""
        prefix = text[0] if text[0] in "<>" else ""
        return f"{prefix}{float(text.lstrip('<>')) / 10:.3g}"

    return {
        **row,
        "AVAL": convert(row["AVAL"]),
        "AVALC": convert(row["AVALC"]),
        "AVALU": "mg/dL",
        "LLOQ": float(row["LLOQ"]) / 10,
        "ULOQ": float(row["ULOQ"]) / 10,
    }
