r"""Tocilizumab exposure and its effects on CRP and disease activity, integrated on a time grid.

Pharmacokinetics (Frey, Grange, Woodworth, *J Clin Pharmacol* 2010;50:754; domain-facts §5c): two
compartments with linear and Michaelis-Menten elimination in parallel, IV doses (boluses into
the central compartment) every 4 weeks, or subcutaneous doses into a depot absorbed at first order
with bioavailability :math:`F`,

.. math::

    \frac{dA_0}{dt} &= -k_a A_0 \\
    \frac{dA_1}{dt} &= k_a A_0 - CL\,C - Q\,(C - A_2/V_2) - \frac{V_{max} C}{K_m + C},
        \qquad C = A_1/V_1 \\
    \frac{dA_2}{dt} &= Q\,(C - A_2/V_2)

with CL 0.3 L/d (IIV 39 %, x0.84 in women, x(weight/70)^0.7), V1 3.5 L (37 %), Q 0.2 L/d, V2 2.9 L
(66 %), Vmax 7.5 mg/d (54 %), Km 2.7 µg/mL; doses capped at 800 mg (label). A typical 70 kg
patient without IIV reaches a steady-state AUC of about 11,400 and 29,900 µg·h/mL at 4 and
8 mg/kg; the label's means, 13,000 and 35,000, are population means, raised by the IIV.

Subcutaneous absorption (162 mg every week or every 2 weeks) has no published population model
in domain-facts; :math:`k_a` and :math:`F` are calibrated to the RA SC study's steady-state means
(*IJCPT* 2013;51:620, domain-facts §5a; ``docs/simulator-calibration.md``): over this
simulator's patients (their IIV and weights), the mean AUC over a dosing interval and the mean
trough on weekly and two-weekly dosing, with tmax 2-3 days. No (ka, F) meets both AUCs with
this elimination (the study's weekly AUC is 2.4 times the two-weekly one, the model's at most
about 1.6 times); ka 0.6/day and F 0.62 minimise the four log ratios' squares.

Disease activity (Levi, Grange, Frey, *J Clin Pharmacol* 2013;53:151; domain-facts §5c), an
indirect-response model on the DAS28 scale with background DMARD as a TCZ-equivalent
concentration:

.. math::

    \frac{dD}{dt} = k_{out}\,BASE\,(1 - E) - k_{out} D, \quad D(0) = BASE, \quad
    E = \frac{E_{max} (C + DMARD)^{\gamma}}{EC_{50}^{\gamma} + (C + DMARD)^{\gamma}}

CRP synthesis is inhibited by exposure, :math:`CRP_t = CRP_0 (1 - I_{max} C/(IC_{50} + C))`;
CRP's half-life (19-29 h, domain-facts §2a) is short against the 4-week dosing interval, so the
quasi-steady state is used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Integration step, days. Explicit Euler is stable at this step: the fastest rate,
#: (CL + Q + Vmax/Km) / V1, is about 1 per day.
STEP_DAYS = 0.05
DOSING_INTERVAL_DAYS = 28
MAX_DOSE_MG = 800.0


@dataclass(frozen=True)
class PKParameters:
    """Population PK of IV tocilizumab (Frey 2010). IIV as log-normal SDs (~CV)."""

    cl: float = 0.3  # L/d
    cl_iiv: float = 0.37  # 39 % CV
    cl_female: float = 0.84  # -16 % in women
    cl_weight_power: float = 0.7  # (BSA/1.8)^0.7, approximated by weight/70
    v1: float = 3.5  # L
    v1_iiv: float = 0.35  # 37 % CV
    q: float = 0.2  # L/d
    v2: float = 2.9  # L
    v2_iiv: float = 0.58  # 66 % CV
    vmax: float = 7.5  # mg/d
    vmax_iiv: float = 0.49  # 54 % CV
    km: float = 2.7  # µg/mL
    residual_proportional: float = 0.22  # of a measured concentration
    residual_additive: float = 2.4  # µg/mL
    # subcutaneous absorption, calibrated (module docstring)
    ka: float = 0.6  # 1/d
    f_sc: float = 0.62  # bioavailability


@dataclass(frozen=True)
class PDParameters:
    """Indirect-response DAS28 model (Levi 2013) and CRP inhibition. IIV as log-normal SDs."""

    ec50: float = 3.7  # µg/mL
    ec50_iiv: float = 1.10  # 170 % CV
    emax: float = 0.73
    emax_iiv: float = 0.11
    emax_male: float = 1.11  # +11 % in men
    kout: float = 0.038  # 1/d, half-life ~18 d
    kout_iiv: float = 0.55  # 60 % CV
    gamma: float = 0.64
    dmard: float = 0.30  # µg/mL TCZ-equivalent background (MTX)
    dmard_iiv: float = 1.25  # 193 % CV
    # Baseline IL-6 effect modification, L = ln(IL-6 [pg/mL] x 1000) / 9.9 (Levi 2013):
    # EC50 x L^-4.4, DMARD x L^-6.4. Set both to 0 to switch the modification off.
    ec50_il6_power: float = -4.4
    dmard_il6_power: float = -6.4
    # CRP inhibition: Imax 90 % (Li 2018 report 97 % for another anti-IL-6 antibody) and IC50
    # 0.5 µg/mL, chosen so that CRP falls ~75-90 % within 4 weeks (Shafran 2020: -74 % on average)
    # and to the normal range by week 2 on 8 mg/kg (label); calibrated, not published.
    crp_imax: float = 0.90
    crp_ic50: float = 0.5  # µg/mL


def levi_il6_covariate(il6: np.ndarray) -> np.ndarray:
    r"""Levi 2013's baseline IL-6 covariate, 1 at about 20 pg/mL.

    Parameters
    ----------
    il6 : numpy.ndarray
        Baseline IL-6, pg/mL.

    Returns
    -------
    numpy.ndarray
        :math:`\ln(IL6 \times 1000) / 9.9`.
    """
    return np.log(np.maximum(il6, 0.01) * 1000) / 9.9


@dataclass(frozen=True)
class Course:
    """Exposure and latent activity of each subject, sampled at the visits.

    Attributes
    ----------
    concentration : numpy.ndarray
        Tocilizumab, µg/mL, shape (visits, subjects); at a dosing day, the pre-dose trough.
    activity : numpy.ndarray
        Latent DAS28, shape (visits, subjects).
    average_concentration : numpy.ndarray
        Mean concentration over the last complete dosing interval, µg/mL, shape (subjects,).
    """

    concentration: np.ndarray
    activity: np.ndarray
    average_concentration: np.ndarray


def simulate_course(
    dose_mg: np.ndarray,
    visit_days: np.ndarray,
    *,
    cl: np.ndarray,
    v1: np.ndarray,
    v2: np.ndarray,
    vmax: np.ndarray,
    base: np.ndarray,
    ec50: np.ndarray,
    emax: np.ndarray,
    kout: np.ndarray,
    dmard: np.ndarray,
    pk: PKParameters,
    gamma: float,
    sc: np.ndarray | None = None,
    every_days: np.ndarray | None = None,
) -> Course:
    """Integrate exposure (doses from day 0, every 4 weeks by default) and latent activity together.

    Only the visits are kept, so memory does not grow with the number of integration steps.

    Parameters
    ----------
    dose_mg : numpy.ndarray
        Dose per administration of each subject, mg (0 for no drug); of a subcutaneous dose,
        what is injected (:attr:`PKParameters.f_sc` of it is absorbed).
    visit_days : numpy.ndarray
        Days at which to sample, ascending, starting at 0.
    cl, v1, v2, vmax : numpy.ndarray
        Each subject's PK parameters (L/d, L, L, mg/d).
    base, ec50, emax, kout, dmard : numpy.ndarray
        Each subject's PD parameters (DAS28, µg/mL, -, 1/d, µg/mL).
    pk : PKParameters
        Fixed PK parameters (Q, Km).
    gamma : float
        Hill coefficient of the drug effect.
    sc : numpy.ndarray, optional
        Whether each subject's doses are subcutaneous (default: all intravenous).
    every_days : numpy.ndarray, optional
        Each subject's dosing interval, days, a multiple of the 0.05-day step (default 28).

    Returns
    -------
    Course
        Its ``average_concentration`` is over the last complete 4 weeks whatever the interval.
    """
    steps = round(float(visit_days.max()) / STEP_DAYS)
    visit_steps = np.round(visit_days / STEP_DAYS).astype(int)
    dose_every = round(DOSING_INTERVAL_DAYS / STEP_DAYS)
    last_interval = max(0, (steps // dose_every - 1) * dose_every)
    n = dose_mg.size
    sc = np.zeros(n, dtype=bool) if sc is None else np.asarray(sc, dtype=bool)
    every = (
        np.full(n, dose_every)
        if every_days is None
        else np.rint(np.asarray(every_days, dtype=float) / STEP_DAYS).astype(int)
    )
    # every subject dosed intravenously every 4 weeks: the arithmetic of the plain model, step
    # for step (subcutaneous subjects beside them do not change an intravenous subject's bits)
    plain = not sc.any() and bool((every == dose_every).all())
    iv_dose, sc_dose = np.where(sc, 0.0, dose_mg), np.where(sc, pk.f_sc * dose_mg, 0.0)
    a0, a1, a2 = np.zeros(n), np.zeros(n), np.zeros(n)
    activity = base.astype(float).copy()
    conc_at = np.zeros((visit_steps.size, n))
    activity_at = np.zeros((visit_steps.size, n))
    area = np.zeros(n)
    for s in range(steps + 1):
        c = a1 / v1
        for v in np.flatnonzero(visit_steps == s):
            conc_at[v], activity_at[v] = c, activity
        if plain and s % dose_every == 0:
            a1 = a1 + dose_mg
            c = a1 / v1
        elif not plain and (given := s % every == 0).any():
            a1 = a1 + np.where(given, iv_dose, 0.0)
            a0 = a0 + np.where(given, sc_dose, 0.0)
            c = a1 / v1
        if last_interval <= s < last_interval + dose_every:
            area += c
        exchange = pk.q * (c - a2 / v2)
        absorbed = 0.0 if plain else pk.ka * a0
        a1 = np.maximum(
            a1 - STEP_DAYS * (cl * c + exchange + vmax * c / (pk.km + c) - absorbed), 0.0
        )
        a0 = a0 - STEP_DAYS * absorbed
        a2 = a2 + STEP_DAYS * exchange
        driver = (c + dmard) ** gamma
        effect = emax * driver / (ec50**gamma + driver)
        activity = activity + STEP_DAYS * kout * (base * (1 - effect) - activity)
    return Course(conc_at, activity_at, area / dose_every)


def receptor_occupancy(concentration: np.ndarray, pd: PDParameters) -> np.ndarray:
    """Fraction of IL-6 signalling blocked at a tocilizumab concentration.

    Parameters
    ----------
    concentration : numpy.ndarray
        µg/mL.
    pd : PDParameters
        ``crp_ic50``, the half-blocking concentration.

    Returns
    -------
    numpy.ndarray
        Between 0 and 1.
    """
    return concentration / (pd.crp_ic50 + concentration)


def crp_inhibition(concentration: np.ndarray, pd: PDParameters) -> np.ndarray:
    """Fraction of baseline CRP synthesis that remains at a tocilizumab concentration.

    Parameters
    ----------
    concentration : numpy.ndarray
        µg/mL.
    pd : PDParameters
        ``crp_imax`` and ``crp_ic50``.

    Returns
    -------
    numpy.ndarray
        Between ``1 - crp_imax`` and 1.
    """
    return 1 - pd.crp_imax * receptor_occupancy(concentration, pd)
