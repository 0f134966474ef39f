"""A tocilizumab exposure-response trial generator independent of il6fit, with its population truth.

Written without il6fit's code (nothing here imports il6fit) to check ``exposure_response`` on data
it did not make. Where the model assumes something, the generator does otherwise:

- **PK**: one compartment with parallel linear and Michaelis-Menten elimination (the model drives
  its turnover through Frey 2010's two compartments), volume and clearance scaling with the
  patient's own weight (BMI x their own height squared: the model only sees BMI and assumes a
  typical height), clearance 16 % lower in women, intravenous doses as boluses, subcutaneous
  doses absorbed first-order (``ka`` 0.35/day, half of the dose bioavailable). Trough samples
  (``TCZ`` rows, just before each dose from week 4) carry a 20 % log-normal error and are
  reported below 0.1 µg/mL as ``<0.1``.
- **PD**: turnover of DAS28 with production inhibited by
  ``Imax_i (C + D_i) / (EC50_i + C + D_i)``: a Hill coefficient of 1 (the model fixes Levi's
  0.64), Imax varying between patients on the logit scale and higher in men (the model has one
  Imax), the background DMARD effect ``D_i`` varying between patients (one in the model), EC50
  lower with higher baseline IL-6 (Levi 2013's covariate, ``x L^-4.4``, ``L = ln(1000 IL-6) /
  9.9``; none in the model), baseline DAS28 normal but clipped to 3.2-9.0.
- **Score**: DAS28-ESR rows, the patient's course plus Student-t noise (5 degrees of freedom,
  scale 0.5: heavier tails than the model's normal residual), clipped to 0-10 and rounded to
  two decimals; visits after baseline missed at random with probability ``p_missed``.

The population truth (:func:`population_change`) is the mean change of DAS28 from baseline at a
week under a regimen, by Monte Carlo over patients drawn from the same population, their
courses solved without noise: never from a model's parameters. Every patient's PK and turnover
are solved together by ``scipy.integrate.solve_ivp`` (one system for all patients, integrated
from dose to dose).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.integrate import solve_ivp

#: Arms as il6fit's default arm-to-dose mapping reads them (mg/kg IV every 4 weeks).
ARMS = {"Placebo + MTX": 0.0, "TCZ 4 mg/kg + MTX": 4.0, "TCZ 8 mg/kg + MTX": 8.0}
WEEKS = (0, 2, 4, 8, 12, 16, 20, 24)


@dataclass(frozen=True)
class Regimen:
    """A dosing regimen: ``route`` ``iv`` (mg/kg) or ``sc`` (mg flat), every ``every`` days."""

    route: str
    dose: float
    every: float = 28.0

    def days(self, until: float) -> np.ndarray:
        """Dosing days before ``until`` (none for a dose of 0)."""
        return np.arange(0.0, until, self.every) if self.dose > 0 else np.array([])


#: The regimens il6fit predicts by default, by their labels there.
REGIMENS = {
    "placebo": Regimen("iv", 0.0),
    "4 mg/kg IV every 4 weeks": Regimen("iv", 4.0),
    "8 mg/kg IV every 4 weeks": Regimen("iv", 8.0),
    "162 mg SC every 2 weeks": Regimen("sc", 162.0, 14.0),
    "162 mg SC every week": Regimen("sc", 162.0, 7.0),
}


@dataclass(frozen=True)
class Truth:
    """The generator's population (fixed: it defines the truth)."""

    volume: float = 4.0  # L at 70 kg
    clearance: float = 0.28  # L/day at 70 kg, men
    vmax: float = 6.5  # mg/day
    km: float = 2.5  # µg/mL
    ka: float = 0.35  # 1/day, subcutaneous absorption
    bioavailability: float = 0.5
    pk_sd: tuple = (0.25, 0.35, 0.45)  # ln-scale SDs of volume, clearance, Vmax
    base: float = 6.6
    base_sd: float = 0.8
    ec50: float = 3.0  # µg/mL at L = 1 (IL-6 about 20 pg/mL)
    ec50_sd: float = 0.9
    il6_power: float = -4.4
    imax: float = 0.65  # women
    imax_male_logit: float = 0.4
    imax_sd: float = 0.5  # logit scale
    dmard: float = 0.3  # µg/mL
    dmard_sd: float = 0.8
    kout: float = 0.04  # 1/day
    kout_sd: float = 0.5
    noise: float = 0.5  # scale of the Student-t noise
    noise_df: float = 5.0


def patients(n: int, rng: np.random.Generator, truth: Truth = Truth()) -> pd.DataFrame:
    """Draw ``n`` patients: covariates, PK and PD parameters (one row each)."""
    female = rng.random(n) < 0.8
    height = np.where(female, rng.normal(1.62, 0.065, n), rng.normal(1.76, 0.07, n))
    bmi = np.exp(rng.normal(np.log(27.0), 0.17, n))
    weight = bmi * height**2
    il6 = np.exp(rng.normal(np.log(22.0), 1.0, n))  # pg/mL
    level = np.log(1000.0 * il6) / 9.9
    scale = (weight / 70.0) ** 0.75
    pk = np.exp(rng.normal(0.0, 1.0, (n, 3)) * np.asarray(truth.pk_sd))
    logit = np.log(truth.imax / (1 - truth.imax)) + truth.imax_male_logit * ~female
    return pd.DataFrame(
        {
            "female": female,
            "bmi": bmi,
            "weight": weight,
            "il6": il6,
            "volume": truth.volume * scale * pk[:, 0],
            "clearance": truth.clearance * scale * np.where(female, 0.84, 1.0) * pk[:, 1],
            "vmax": truth.vmax * pk[:, 2],
            "base": np.clip(rng.normal(truth.base, truth.base_sd, n), 3.2, 9.0),
            "ec50": truth.ec50 * level**truth.il6_power * np.exp(rng.normal(0, truth.ec50_sd, n)),
            "imax": 1 / (1 + np.exp(-(logit + rng.normal(0, truth.imax_sd, n)))),
            "dmard": truth.dmard * np.exp(rng.normal(0, truth.dmard_sd, n)),
            "kout": truth.kout * np.exp(rng.normal(0, truth.kout_sd, n)),
        }
    )


def courses(
    people: pd.DataFrame, regimen: Regimen, days: np.ndarray, truth: Truth = Truth()
) -> tuple[np.ndarray, np.ndarray]:
    """Concentration (µg/mL, just before any dose that day) and DAS28 of each patient at ``days``.

    Returns
    -------
    concentration, score : numpy.ndarray
        (patients, days).
    """
    n = len(people)
    v, cl, vmax = (people[k].to_numpy() for k in ("volume", "clearance", "vmax"))
    base, ec50, imax, dmard, kout = (
        people[k].to_numpy() for k in ("base", "ec50", "imax", "dmard", "kout")
    )

    def rhs(_, state):
        amount, depot, score = state[:n], state[n : 2 * n], state[2 * n :]
        c = np.maximum(amount, 0.0) / v
        driven = c + dmard
        effect = imax * driven / (ec50 + driven)
        absorbed = truth.ka * depot
        return np.concatenate(
            [
                absorbed - cl * c - vmax * c / (truth.km + c),
                -absorbed,
                kout * (base * (1 - effect) - score),
            ]
        )

    until = float(days.max())
    doses = regimen.days(until)
    bounds = np.union1d(np.r_[0.0, until], doses)
    state = np.concatenate([np.zeros(2 * n), base])
    out = np.empty((3 * n, days.size))
    out[:, days == 0] = state[:, None]
    for start, end in itertools.pairwise(bounds):
        if start in doses:
            if regimen.route == "iv":
                state[:n] += regimen.dose * people["weight"].to_numpy()
            else:
                state[n : 2 * n] += truth.bioavailability * regimen.dose
        inside = (days > start) & (days <= end)
        times = np.union1d(days[inside], [end])
        solution = solve_ivp(rhs, (start, end), state, t_eval=times, rtol=1e-7, atol=1e-9)
        out[:, inside] = solution.y[:, np.searchsorted(times, days[inside])]
        state = solution.y[:, -1].copy()
    return np.maximum(out[:n], 0.0) / v[:, None], out[2 * n :]


def population_change(
    week: float = 24, *, n: int = 20_000, seed: int = 0, truth: Truth = Truth()
) -> pd.Series:
    """Population mean change of DAS28 from baseline at ``week`` under each regimen, by Monte Carlo.

    The same ``n`` patients under every regimen (their differences are then paired); the
    Monte Carlo standard error of a change is about 1.2 / sqrt(n) (0.008 at the default).

    Returns
    -------
    pandas.Series
        Indexed by the labels of :data:`REGIMENS`.
    """
    people = patients(n, np.random.default_rng(seed), truth)
    days = np.array([0.0, 7.0 * week])
    out = {}
    for label, regimen in REGIMENS.items():
        _, score = courses(people, regimen, days, truth)
        out[label] = float(np.mean(score[:, 1] - score[:, 0]))
    return pd.Series(out)


def trial(
    n_per_arm: int, seed: int, *, p_missed: float = 0.08, truth: Truth = Truth()
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One trial in il6fit's data contract (text cells, as read from files).

    Three arms (placebo, 4 and 8 mg/kg IV every 4 weeks, all with MTX), DAS28-ESR at
    :data:`WEEKS`, baseline IL-6 (pg/mL, ``<1.5`` below the assay's limit) and tocilizumab
    troughs of the treated arms just before each dose from week 4 and at week 24.

    Returns
    -------
    subjects, measurements : pandas.DataFrame
        ``USUBJID, STUDYID, SITEID, TRT01P, AGE, SEX, BMI`` and
        ``USUBJID, PARAMCD, AVAL, AVALC, AVALU, AVISITN``.
    """
    rng = np.random.default_rng(seed)
    n = n_per_arm * len(ARMS)
    people = patients(n, rng, truth)
    arm = np.repeat(list(ARMS), n_per_arm)
    ids = np.array([f"IER-{i:04d}" for i in range(n)])
    weeks = np.asarray(WEEKS, float)
    conc, score = np.zeros((n, weeks.size)), np.zeros((n, weeks.size))
    for label, dose in ARMS.items():
        kept = arm == label
        conc[kept], score[kept] = courses(
            people[kept].reset_index(drop=True), Regimen("iv", dose), 7 * weeks, truth
        )
    # a score is within 0-10 (il6fit rejects others): the rare noisy values beyond are clipped
    noisy = np.clip(score + truth.noise * rng.standard_t(truth.noise_df, score.shape), 0, 10)
    seen = rng.random(score.shape) >= p_missed
    seen[:, 0] = True
    treated = np.array([ARMS[a] > 0 for a in arm])
    sampled = treated[:, None] & (weeks[None, :] >= 4) & seen
    measured = conc[sampled] * np.exp(rng.normal(0, 0.2, int(sampled.sum())))
    baseline = np.zeros_like(seen)
    baseline[:, 0] = True
    rows = [
        _rows(seen, weeks, "DAS28ESR", noisy[seen], "", 0.0),
        _rows(sampled, weeks, "TCZ", measured, "ug/mL", 0.1),
        _rows(baseline, weeks, "IL6", people["il6"].to_numpy(), "pg/mL", 1.5),
    ]
    long = pd.concat(rows, ignore_index=True)
    measurements = pd.DataFrame(
        {
            "USUBJID": ids[long["i"].to_numpy()],
            "PARAMCD": long["PARAMCD"],
            "AVAL": long["AVAL"],
            "AVALC": long["AVALC"],
            "AVALU": long["AVALU"],
            "AVISITN": long["week"].map(lambda w: f"{w:g}"),
        }
    )
    subjects = pd.DataFrame(
        {
            "USUBJID": ids,
            "STUDYID": "IER",
            "SITEID": rng.integers(1, 9, n).astype(str),
            "TRT01P": arm,
            "AGE": rng.integers(25, 80, n).astype(str),
            "SEX": np.where(people["female"], "F", "M"),
            "BMI": [f"{v:.1f}" for v in people["bmi"]],
        }
    )
    return subjects, measurements


def _rows(which, weeks, paramcd, values, unit, limit):
    """Long rows of ``values`` at the (patient, visit) cells ``which``; ``<limit`` below it."""
    patient, visit = np.nonzero(which)
    below = values < limit
    return pd.DataFrame(
        {
            "i": patient,
            "week": weeks[visit],
            "PARAMCD": paramcd,
            "AVAL": np.where(below, "", [f"{v:.4g}" for v in values]),
            "AVALC": np.where(below, f"<{limit:g}", ""),
            "AVALU": unit,
        }
    )
