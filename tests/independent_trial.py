"""An RA trial generator independent of ``il6fit.simulate``, with its population truth.

Written without the simulator's code or functional forms, to check models on data il6fit did
not make. Everything a model could assume is different here:

- Disease activity is a patient's latent inflammation ``u ~ Normal(0, 1)`` and a course in
  time that is a Hill curve of weeks (``t^2 / (T50^2 + t^2)``, an S-shape, not an exponential
  approach), with an arm-specific size and no patient-specific rate.
- Tender and swollen joint counts are binomial out of 28 on a logit scale (not beta-binomial,
  not a DAS28 on a normal scale); the patient global (0-100 mm) is 100 x a logistic of its
  own linear predictor plus noise, rounded and clipped.
- CRP is log-normal and falls under active treatment with a first-order drop within weeks;
  ESR follows CRP on the log scale with its own noise. IL-6 (baseline only) is log-normal with
  median 20 pg/mL, reported below 1.5 pg/mL as ``<1.5``.
- DAS28 is derived by il6fit's preparation from the components (the published formula), so
  its population truth comes from the same formula, by Monte Carlo
  (:func:`population_change`), never from a model's parameters.
- Post-baseline visits are missed completely at random with probability ``p_missed``.

Arms use the simulated trial's labels, so that il6fit's default arm-to-dose mapping applies.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

ARMS = ("Placebo + MTX", "TCZ 4 mg/kg + MTX", "TCZ 8 mg/kg + MTX")
WEEKS = (0, 2, 4, 8, 12, 16, 20, 24)


@dataclass(frozen=True)
class Truth:
    """The generator's parameters (fixed: they define the population)."""

    #: Size of the course at its plateau per arm, on the logit scale of the joint counts.
    drop: dict = field(default_factory=lambda: {ARMS[0]: 0.35, ARMS[1]: 0.9, ARMS[2]: 1.3})
    t50: float = 6.0  # weeks to half the plateau
    tender_logit: float = -0.6  # at baseline, u = 0: about 10 of 28 tender
    swollen_logit: float = -1.2
    tender_u: float = 0.6
    swollen_u: float = 0.5
    global_logit: float = 0.5
    global_u: float = 0.5
    global_noise: float = 8.0  # mm
    crp_log: float = 2.5  # ln mg/L at baseline, u = 0 (about 12 mg/L)
    crp_u: float = 0.6
    crp_sd: float = 0.5
    crp_drop: dict = field(default_factory=lambda: {ARMS[0]: 0.2, ARMS[1]: 1.5, ARMS[2]: 2.3})
    esr_log: float = 2.2
    esr_crp: float = 0.55
    esr_sd: float = 0.3


def _course(weeks: np.ndarray, truth: Truth) -> np.ndarray:
    return weeks**2 / (truth.t50**2 + weeks**2)


def _draw(n_per_arm: int, rng: np.random.Generator, truth: Truth) -> pd.DataFrame:
    """Every patient at every visit, nothing missed: components per row."""
    arms = np.repeat(ARMS, n_per_arm)
    n = arms.size
    u = rng.normal(size=n)
    weeks = np.asarray(WEEKS, float)
    rows = []
    for arm in ARMS:
        kept = arms == arm
        shape = (int(kept.sum()), weeks.size)
        course = _course(weeks, truth)[None, :] * truth.drop[arm]
        ui = u[kept][:, None]
        tender = rng.binomial(
            28, _expit(truth.tender_logit + truth.tender_u * ui - course), size=shape
        )
        swollen = rng.binomial(
            28, _expit(truth.swollen_logit + truth.swollen_u * ui - 1.2 * course), size=shape
        )
        ptga = 100 * _expit(truth.global_logit + truth.global_u * ui - course)
        ptga = np.clip(np.round(ptga + rng.normal(0, truth.global_noise, shape)), 0, 100)
        crp_mean = truth.crp_log + truth.crp_u * ui - truth.crp_drop[arm] * (1 - np.exp(-weeks / 2))
        log_crp = crp_mean + rng.normal(0, truth.crp_sd, shape)
        log_esr = truth.esr_log + truth.esr_crp * log_crp + rng.normal(0, truth.esr_sd, shape)
        rows.append(
            pd.DataFrame(
                {
                    "patient": np.repeat(np.flatnonzero(kept), weeks.size),
                    "arm": arm,
                    "week": np.tile(weeks, shape[0]),
                    "TJC28": tender.ravel(),
                    "SJC28": swollen.ravel(),
                    "PTGA": ptga.ravel(),
                    "CRP": np.exp(log_crp).ravel(),
                    "ESR": np.clip(np.round(np.exp(log_esr)), 1, 200).ravel(),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def _expit(x):
    return 1 / (1 + np.exp(-x))


def das28crp(rows: pd.DataFrame) -> pd.Series:
    """DAS28-CRP(4) by the published formula (CRP in mg/L; domain-facts section 3)."""
    return (
        0.56 * np.sqrt(rows["TJC28"])
        + 0.28 * np.sqrt(rows["SJC28"])
        + 0.36 * np.log(rows["CRP"] + 1)
        + 0.014 * rows["PTGA"]
        + 0.96
    )


def population_change(
    week: float = 24, *, n_per_arm: int = 200_000, seed: int = 0, truth: Truth = Truth()
) -> pd.Series:
    """Population mean change of DAS28-CRP from week 0 to ``week`` per arm, by Monte Carlo.

    The Monte Carlo standard error is about 1.2 / sqrt(n_per_arm) (0.003 at the default).

    Returns
    -------
    pandas.Series
        Indexed by arm label.
    """
    rows = _draw(n_per_arm, np.random.default_rng(seed), truth)
    rows["das"] = das28crp(rows)
    wide = rows.pivot_table(index=["arm", "patient"], columns="week", values="das")
    return (wide[week] - wide[0]).groupby(level="arm").mean()


def trial(
    n_per_arm: int,
    seed: int,
    *,
    p_missed: float = 0.05,
    esr: bool = True,
    truth: Truth = Truth(),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One trial in il6fit's data contract (text cells, as read from files).

    ``esr=False`` leaves ESR out (a trial that measured CRP only: DAS28-CRP, no DAS28-ESR).

    Returns
    -------
    subjects, measurements : pandas.DataFrame
        ``USUBJID, STUDYID, SITEID, TRT01P, AGE, SEX, BMI`` and
        ``USUBJID, PARAMCD, AVAL, AVALC, AVALU, AVISITN``.
    """
    rng = np.random.default_rng(seed)
    rows = _draw(n_per_arm, rng, truth)
    n = 3 * n_per_arm
    ids = np.array([f"IND-{i:04d}" for i in range(n)])
    subjects = pd.DataFrame(
        {
            "USUBJID": ids,
            "STUDYID": "IND",
            "SITEID": rng.integers(1, 9, n).astype(str),
            "TRT01P": np.repeat(ARMS, n_per_arm),
            "AGE": rng.integers(25, 80, n).astype(str),
            "SEX": rng.choice(["F", "M"], n, p=[0.78, 0.22]),
            "BMI": np.round(np.exp(rng.normal(np.log(27), 0.15, n)), 1).astype(str),
        }
    )
    missed = (rows["week"] > 0) & (rng.random(len(rows)) < p_missed)
    rows = rows[~missed]
    units = {"TJC28": "", "SJC28": "", "PTGA": "mm", "CRP": "mg/L", "ESR": "mm/h"}
    if not esr:
        del units["ESR"]
    long = rows.melt(
        id_vars=["patient", "week"], value_vars=list(units), var_name="PARAMCD", value_name="v"
    )
    long["AVAL"] = long["v"].map(lambda v: f"{v:.4g}")
    long["AVALC"] = ""
    long["AVALU"] = long["PARAMCD"].map(units)
    il6 = np.exp(rng.normal(np.log(20), 1.1, n))
    baseline = pd.DataFrame(
        {
            "patient": np.arange(n),
            "week": 0.0,
            "PARAMCD": "IL6",
            "AVAL": [f"{v:.4g}" if v >= 1.5 else "" for v in il6],
            "AVALC": ["" if v >= 1.5 else "<1.5" for v in il6],
            "AVALU": "pg/mL",
        }
    )
    long = pd.concat([long.drop(columns="v"), baseline], ignore_index=True)
    measurements = pd.DataFrame(
        {
            "USUBJID": ids[long["patient"].to_numpy()],
            "PARAMCD": long["PARAMCD"],
            "AVAL": long["AVAL"],
            "AVALC": long["AVALC"],
            "AVALU": long["AVALU"],
            "AVISITN": long["week"].map(lambda w: f"{w:g}"),
        }
    )
    return subjects, measurements
