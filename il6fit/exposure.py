r"""Tocilizumab exposure from dosing: Frey 2010's population PK, typical or a patient's own.

Two compartments with linear and Michaelis-Menten elimination in parallel (Frey, Grange,
Woodworth, *J Clin Pharmacol* 2010;50:754; domain-facts §5c), intravenous doses as boluses into
the central compartment (an infusion lasts an hour, short against the days that matter here) and
subcutaneous doses into a depot absorbed at first order with bioavailability :math:`F`:

.. math::

    \frac{dA_0}{dt} &= -k_a A_0 \\
    \frac{dA_1}{dt} &= k_a A_0 - CL\,C - Q\,(C - A_2/V_2) - \frac{V_{max}\,C}{K_m + C},
        \qquad C = A_1 / V_1 \\
    \frac{dA_2}{dt} &= Q\,(C - A_2/V_2)

with amounts in mg, volumes in L and so :math:`C` in mg/L = µg/mL. Typical values: CL 0.3 L/d
(x (weight/70 kg)^0.7, Frey's (BSA/1.8)^0.7 with weight for body size, and x 0.84 in women),
V1 3.5 L, Q 0.2 L/d, V2 2.9 L, Vmax 7.5 mg/d, Km 2.7 µg/mL. Intravenous doses in mg/kg are
capped at 800 mg (label).

Subcutaneous absorption is calibrated, not published: :math:`k_a` 0.5 per day and :math:`F` 0.6
put a typical 70 kg woman's first peak at 2.9 days (tmax 2-3 days in RA, *IJCPT* 2013;51:620,
domain-facts §5a) and her steady-state AUC over a dosing interval at 4,660 µg·h/mL on 162 mg
weekly and 2,590 every two weeks, against that study's means of 5,505 and 2,332. The typical
value sits below the population mean on weekly dosing by about as much as it does on the IV
regimens (typical 11,420 and 29,830 against the label's means of 13,000 and 35,000 at 4 and
8 mg/kg). Healthy volunteers' absolute bioavailability of 162 mg, 48.8 % (*IJCPT* 2013;51:443),
is lower. That is a single dose at low concentrations, where the saturable elimination takes a
larger share.

Doses come from a regimen, every patient alike (:class:`Regimen`), or from each patient's dosing
record (:class:`Doses`: the day of each dose from the first, its amount in mg or mg/kg and its
route), so late, skipped or changed doses are given as they were.

A patient's own concentrations, given measured ones (:func:`individual_concentrations`): their
CL and Vmax have Frey's between-patient distribution as prior (CV 39 % and 54 %, correlation
-0.5) and each measurement his combined residual error, SD :math:`\sqrt{(0.22\,C)^2 + 2.4^2}`
µg/mL; the posterior on a grid gives the posterior mean course.

The ODEs are solved with scipy's ``solve_ivp`` (DOP853, relative tolerance 1e-9) between dosing
times, all patients at once; what the model fits takes these concentrations as data. This is the
pipeline's own solver of Frey's model, written apart from the simulator's fixed-step one
(:mod:`il6fit.simulate.pkpd`), so a fit is not checked against its own arithmetic.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp
from scipy.special import log_ndtr

#: Largest intravenous dose, mg (label).
MAX_IV_DOSE_MG = 800.0

ROUTES = ("iv", "sc")
UNITS = ("mg/kg", "mg")
#: A regimen in words, as :attr:`Regimen.label` writes it ("162 mg SC every 2 weeks").
_WORDS = re.compile(
    r"^\s*(?P<dose>\d+(?:\.\d+)?)\s*(?P<unit>mg/kg|mg)\s+(?P<route>iv|sc)\s+every\s+"
    r"(?:(?P<n>\d+(?:\.\d+)?)\s+)?(?P<period>weeks?|days?)\s*$",
    re.IGNORECASE,
)
#: The words of no active drug (a control arm's regimen).
PLACEBO = "placebo"


@dataclass(frozen=True)
class TypicalPK:
    """Typical-value population PK of tocilizumab (Frey 2010; subcutaneous absorption above)."""

    cl: float = 0.3  # L/d, 70 kg man
    cl_weight_power: float = 0.7
    cl_female: float = 0.84
    v1: float = 3.5  # L
    q: float = 0.2  # L/d
    v2: float = 2.9  # L
    vmax: float = 7.5  # mg/d
    km: float = 2.7  # µg/mL
    ka: float = 0.5  # 1/d, subcutaneous absorption (calibrated, see the module)
    f_sc: float = 0.6  # subcutaneous bioavailability (calibrated, see the module)


@dataclass(frozen=True)
class Regimen:
    """A dosing regimen: ``dose`` in ``unit`` by ``route`` every ``every_days`` from day 0.

    Examples
    --------
    >>> Regimen("iv", 8, "mg/kg", 28).label
    '8 mg/kg IV every 4 weeks'
    >>> Regimen("sc", 162, "mg", 7).label
    '162 mg SC every week'
    """

    route: str
    dose: float
    unit: str
    every_days: float

    def __post_init__(self):
        if self.route not in ROUTES:
            raise ValueError(f"route '{self.route}': choose one of {', '.join(ROUTES)}")
        if self.unit not in UNITS:
            raise ValueError(f"dose unit '{self.unit}': choose one of {', '.join(UNITS)}")
        if self.dose < 0 or self.every_days <= 0:
            raise ValueError("a regimen needs a dose >= 0 and an interval > 0 days")

    @classmethod
    def parse(cls, text: str) -> Regimen:
        """Read a regimen written in words, as :attr:`label` writes it, or ``placebo``.

        Parameters
        ----------
        text : str
            ``<dose> <mg/kg|mg> <IV|SC> every [<n>] <week(s)|day(s)>`` (any case), or
            ``placebo`` (no drug).

        Returns
        -------
        Regimen

        Raises
        ------
        ValueError
            If the text is not a regimen; the message shows the form expected.

        Examples
        --------
        >>> Regimen.parse("162 mg SC every 2 weeks")
        Regimen(route='sc', dose=162.0, unit='mg', every_days=14.0)
        >>> Regimen.parse("8 mg/kg iv every 4 weeks").label
        '8 mg/kg IV every 4 weeks'
        >>> Regimen.parse("Placebo").label
        'placebo'
        """
        if text.strip().lower() == PLACEBO:
            return cls("iv", 0.0, "mg/kg", 28.0)
        match = _WORDS.match(text)
        if match is None:
            raise ValueError(
                f"regimen '{text}': write it as '<dose> <mg/kg|mg> <IV|SC> every [<n>] "
                "<weeks|days>', e.g. '8 mg/kg IV every 4 weeks' or '162 mg SC every week', or "
                f"'{PLACEBO}'."
            )
        n = float(match["n"] or 1)
        days = n * (7.0 if match["period"].lower().startswith("week") else 1.0)
        return cls(match["route"].lower(), float(match["dose"]), match["unit"].lower(), days)

    @property
    def label(self) -> str:
        """The regimen in words, for tables and figures."""
        if self.dose == 0:
            return PLACEBO
        weeks = self.every_days / 7
        if weeks != round(weeks):
            every = f"every {self.every_days:g} days"
        else:
            every = "every week" if weeks == 1 else f"every {weeks:g} weeks"
        return f"{self.dose:g} {self.unit} {self.route.upper()} {every}"

    def doses_mg(self, weight_kg: np.ndarray) -> np.ndarray:
        """Each patient's dose, mg (intravenous mg/kg doses capped at 800 mg)."""
        weight_kg = np.asarray(weight_kg, dtype=float)
        if self.unit == "mg":
            return np.full(weight_kg.shape, float(self.dose))
        dose = self.dose * weight_kg
        return np.minimum(dose, MAX_IV_DOSE_MG) if self.route == "iv" else dose

    def times(self, until_day: float) -> np.ndarray:
        """Dosing days from 0 up to (not including) ``until_day``."""
        return np.arange(0.0, until_day, self.every_days)


#: One dose as :attr:`Doses.text` writes it ("day 29: 8 mg/kg IV").
_DOSE = re.compile(
    r"^\s*day\s+(?P<day>\d+(?:\.\d+)?)\s*:\s*(?P<dose>\d+(?:\.\d+)?)\s*(?P<unit>mg/kg|mg)"
    r"\s+(?P<route>iv|sc)\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Doses:
    """One patient's doses as given (a dosing record): day, amount, unit and route of each.

    Days count from the first dose (day 0; SDTM's study day 1). A dose of 0 is a dose
    recorded as not given.

    Examples
    --------
    >>> d = Doses((0.0, 31.0), (8.0, 560.0), ("mg/kg", "mg"), ("iv", "iv"))
    >>> d.text
    'day 0: 8 mg/kg IV; day 31: 560 mg IV'
    >>> Doses.parse(d.text) == d
    True
    >>> d.mg(np.array([110.0])).tolist()
    [[800.0, 560.0]]
    """

    days: tuple[float, ...]
    amounts: tuple[float, ...]
    units: tuple[str, ...]
    routes: tuple[str, ...]

    def __post_init__(self):
        n = len(self.days)
        if not len(self.amounts) == len(self.units) == len(self.routes) == n:
            raise ValueError("doses need a day, an amount, a unit and a route each")
        for unit, route in zip(self.units, self.routes, strict=True):
            Regimen(route, 0.0, unit, 1.0)  # checks route and unit
        if any(a < 0 for a in self.amounts) or any(d < 0 for d in self.days):
            raise ValueError("a dose needs an amount >= 0 and a day >= 0 (the first dose)")
        if list(self.days) != sorted(self.days):
            raise ValueError("doses must be in the order given")

    @classmethod
    def parse(cls, text: str) -> Doses:
        """Read doses as :attr:`text` writes them (``day <d>: <dose> <mg|mg/kg> <IV|SC>; ...``).

        Raises
        ------
        ValueError
            If a dose is not written in that form.
        """
        parts = [p for p in text.split(";") if p.strip()]
        matches = [_DOSE.match(p) for p in parts]
        if not parts or any(m is None for m in matches):
            raise ValueError(
                f"doses '{text}': write each as 'day <d>: <dose> <mg|mg/kg> <IV|SC>', separated "
                "by ';', e.g. 'day 0: 8 mg/kg IV; day 28: 8 mg/kg IV'."
            )
        return cls(
            tuple(float(m["day"]) for m in matches),
            tuple(float(m["dose"]) for m in matches),
            tuple(m["unit"].lower() for m in matches),
            tuple(m["route"].lower() for m in matches),
        )

    @property
    def text(self) -> str:
        """The doses in words, for tables (and stored with a fit's analysis table)."""
        return "; ".join(
            f"day {d:g}: {a:g} {u} {r.upper()}"
            for d, a, u, r in zip(self.days, self.amounts, self.units, self.routes, strict=True)
        )

    def mg(self, weight_kg: np.ndarray) -> np.ndarray:
        """Each dose in mg for patients of these weights (:meth:`Regimen.doses_mg`), (n, doses)."""
        weight_kg = np.atleast_1d(np.asarray(weight_kg, dtype=float))
        out = np.zeros((weight_kg.size, len(self.days)))
        for k, (amount, unit, route) in enumerate(
            zip(self.amounts, self.units, self.routes, strict=True)
        ):
            out[:, k] = Regimen(route, amount, unit, 1.0).doses_mg(weight_kg)
        return out


def regimen_schedule(regimen: Regimen, weight_kg: np.ndarray, until_day: float, f_sc: float):
    """Dosing events of patients dosed to a regimen up to (not including) ``until_day``.

    Returns
    -------
    tuple of numpy.ndarray
        The event days, and each patient's mg into the central compartment and into the
        subcutaneous depot (its bioavailable part, ``f_sc`` of the dose), (patients, events)
        each: what :func:`_solve` integrates.
    """
    weight_kg = np.atleast_1d(np.asarray(weight_kg, dtype=float))
    events = regimen.times(until_day) if regimen.dose > 0 else np.array([])
    mg = regimen.doses_mg(weight_kg)[:, None] * np.ones(events.size)
    zeros = np.zeros_like(mg)
    return (events, zeros, f_sc * mg) if regimen.route == "sc" else (events, mg, zeros)


def _doses_schedule(doses: list[Doses], weight_kg: np.ndarray, f_sc: float):
    """Dosing events of patients each dosed as recorded, as :func:`regimen_schedule` gives them."""
    events = np.unique(np.concatenate([np.asarray(d.days, float) for d in doses] + [np.array([])]))
    central = np.zeros((len(doses), events.size))
    depot = np.zeros_like(central)
    for i, (record, weight) in enumerate(zip(doses, np.atleast_1d(weight_kg), strict=True)):
        k = np.searchsorted(events, np.asarray(record.days, float))
        mg = record.mg(weight)[0]
        sc = np.asarray(record.routes) == "sc"
        np.add.at(central[i], k[~sc], mg[~sc])
        np.add.at(depot[i], k[sc], f_sc * mg[sc])
    return events, central, depot


def concentrations(
    dosing: Regimen | Sequence[Doses],
    days: np.ndarray,
    weight_kg: np.ndarray,
    female: np.ndarray,
    pk: TypicalPK = TypicalPK(),
    scale: np.ndarray | None = None,
) -> np.ndarray:
    """Typical-value tocilizumab concentrations of each patient under a regimen or as dosed.

    Parameters
    ----------
    dosing : Regimen or sequence of Doses
        Doses from day 0: a regimen for every patient, or each patient's own record.
    days : numpy.ndarray
        Days at which to report, ascending, >= 0. At a dosing day the value is just after the
        dose (intravenous: the peak).
    weight_kg : numpy.ndarray
        Body weight of each patient, kg.
    female : numpy.ndarray of bool
        Sex of each patient.
    pk : TypicalPK
        PK parameters.
    scale : numpy.ndarray, optional
        Each patient's CL and Vmax as multiples of their typical values, (patients, 2).

    Returns
    -------
    numpy.ndarray
        µg/mL, shape (patients, days).

    Examples
    --------
    >>> c = concentrations(Regimen("iv", 8, "mg/kg", 28), np.array([0.0, 28.0]), [70.0], [False])
    >>> float(c[0, 0])  # 560 mg into 3.5 L
    160.0
    >>> late = Doses((0.0, 35.0), (8.0, 8.0), ("mg/kg", "mg/kg"), ("iv", "iv"))
    >>> bool(concentrations([late], np.array([28.0]), [70.0], [False])[0, 0] < c[0, 1])
    True
    """
    weight_kg = np.atleast_1d(np.asarray(weight_kg, dtype=float))
    female = np.atleast_1d(np.asarray(female, dtype=bool))
    days = np.asarray(days, float)
    schedule = _dosing_schedule(dosing, weight_kg, float(np.max(days)) + 1e-9, pk)
    return _solve(schedule, days, weight_kg, female, pk, scale=scale)


def _dosing_schedule(dosing, weight_kg, until_day, pk):
    """Return the dosing events (:func:`regimen_schedule`) of a regimen or of each record."""
    if isinstance(dosing, Regimen):
        return regimen_schedule(dosing, weight_kg, until_day, pk.f_sc)
    if len(dosing) != weight_kg.size:
        raise ValueError("one dosing record per patient")
    return _doses_schedule(list(dosing), weight_kg, pk.f_sc)


@dataclass(frozen=True)
class PKVariability:
    r"""Frey 2010's between-patient variability of CL and Vmax and its residual error.

    Log-normal SDs from the CVs (39 % and 54 %: :math:`\sqrt{\ln(1 + CV^2)}`), their
    correlation (-0.5), and the combined residual error of a measured concentration, SD
    :math:`\sqrt{(0.22\,C)^2 + 2.4^2}` µg/mL (domain-facts §5c; nlmixr2lib
    ``Frey_2010_tocilizumab``).
    """

    cl_sd: float = 0.3762
    vmax_sd: float = 0.5062
    correlation: float = -0.5
    proportional: float = 0.22
    additive: float = 2.4  # µg/mL

    def covariance(self) -> np.ndarray:
        """Covariance of (ln CL, ln Vmax) between patients."""
        off = self.correlation * self.cl_sd * self.vmax_sd
        return np.array([[self.cl_sd**2, off], [off, self.vmax_sd**2]])

    def residual_sd(self, concentration: np.ndarray) -> np.ndarray:
        """SD of a measured concentration around the model's, µg/mL."""
        return np.hypot(self.proportional * concentration, self.additive)


def pk_quadrature(
    nodes: int, variability: PKVariability = PKVariability()
) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Hermite nodes of Frey's (CL, Vmax) population distribution, ``nodes`` per effect.

    Returns
    -------
    scale : numpy.ndarray
        CL and Vmax as multiples of their typical values, (nodes**2, 2).
    weight : numpy.ndarray
        Probability of each node, summing to 1.
    """
    x, w = np.polynomial.hermite.hermgauss(nodes)
    _, eta = _effects(np.sqrt(2.0) * x, variability)
    return np.exp(eta), (np.outer(w, w) / np.pi).ravel()


def _effects(axis: np.ndarray, variability: PKVariability) -> tuple[np.ndarray, np.ndarray]:
    """Product grid of ``axis`` for both standardised effects, and its (ln CL, ln Vmax) effects."""
    z = np.stack(np.meshgrid(axis, axis, indexing="ij"), -1).reshape(-1, 2)
    return z, z @ np.linalg.cholesky(variability.covariance()).T


#: Grid over each standardised PK effect (ln CL, ln Vmax) of a patient's posterior.
PK_GRID = np.linspace(-3.5, 3.5, 21)
#: Patients whose grids are solved together (bounds the memory: rows x reporting days).
PK_BATCH = 40


@dataclass(frozen=True)
class IndividualPK:
    """Patients' concentrations given their measured ones (posterior means over a PK grid).

    Attributes
    ----------
    concentration : numpy.ndarray
        Posterior mean concentration at the days asked, µg/mL, (patients, days).
    log_scale : numpy.ndarray
        Posterior mean of ln(CL / typical CL) and ln(Vmax / typical Vmax), (patients, 2).
    """

    concentration: np.ndarray
    log_scale: np.ndarray


def individual_concentrations(
    dosing: Regimen | Sequence[Doses],
    days: np.ndarray,
    weight_kg: np.ndarray,
    female: np.ndarray,
    samples: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    pk: TypicalPK = TypicalPK(),
    variability: PKVariability = PKVariability(),
) -> IndividualPK:
    """Each patient's concentrations given their measured concentrations and Frey's variability.

    The patient's CL and Vmax (each x its typical value) have Frey's log-normal population
    distribution as prior; measured concentrations have his combined residual error, and one
    beyond the assay's limit contributes the probability of lying beyond it. The posterior is
    evaluated on a 21 x 21 grid of the standardised effects (+-3.5 SD), and the patient's
    concentration course is its posterior mean there; V1 and V2 stay at their typical values
    (troughs say little about them). A patient without samples gets their prior mean course.

    Parameters
    ----------
    dosing : Regimen or sequence of Doses
        Doses from day 0: a regimen for every patient, or each patient's own record.
    days : numpy.ndarray
        Days at which to report, ascending; at a dosing day, just before the dose.
    weight_kg : numpy.ndarray
        Body weight of each patient, kg.
    female : numpy.ndarray of bool
        Sex of each patient.
    samples : list of (days, value, censored)
        Each patient's measured concentrations: days from the first dose (a sample on a
        dosing day is taken before the dose), values in µg/mL, and their censoring: -1 below
        the assay's limit, 1 above it (``value`` then is the limit), 0 measured.
    pk : TypicalPK
        Typical values.
    variability : PKVariability
        Between-patient variability and residual error.

    Returns
    -------
    IndividualPK

    Examples
    --------
    A patient whose troughs are twice the typical ones is estimated to clear the drug
    more slowly:

    >>> r = Regimen("iv", 8, "mg/kg", 28)
    >>> typical = concentrations(r, np.array([27.99, 55.99]), [70.0], [True])[0]
    >>> fit = individual_concentrations(
    ...     r, np.array([10.0]), [70.0], [True],
    ...     [(np.array([28.0, 56.0]), 2 * typical, np.array([0, 0]))])
    >>> bool(fit.log_scale[0, 0] < 0)
    True
    """
    weight_kg = np.atleast_1d(np.asarray(weight_kg, dtype=float))
    female = np.atleast_1d(np.asarray(female, dtype=bool))
    days = np.asarray(days, dtype=float)
    z, eta = _effects(PK_GRID, variability)  # (grid, 2) each
    log_prior = -0.5 * (z**2).sum(axis=1)
    until = float(max(days.max(), *(d.max() for d, _, _ in samples if d.size))) + 1e-9
    events, central, depot = _dosing_schedule(dosing, weight_kg, until, pk)
    out = np.zeros((weight_kg.size, days.size))
    log_scale = np.zeros((weight_kg.size, 2))
    for start in range(0, weight_kg.size, PK_BATCH):
        batch = np.arange(start, min(start + PK_BATCH, weight_kg.size))
        when = np.unique(np.concatenate([samples[i][0] for i in batch] + [days]))
        rows = np.repeat(batch, len(eta))
        grid = _solve(
            (events, central[rows], depot[rows]), when, weight_kg[rows], female[rows], pk,
            scale=np.exp(np.tile(eta, (batch.size, 1))), pre_dose=True,
        ).reshape(batch.size, len(eta), when.size)  # fmt: skip
        at_days = np.searchsorted(when, days)
        for j, i in enumerate(batch):
            sampled, value, censored = samples[i]
            predicted = grid[j][:, np.searchsorted(when, sampled)]  # (grid, samples)
            sd = variability.residual_sd(predicted)
            resid = (value - predicted) / sd
            exact = -0.5 * resid**2 - np.log(sd)
            loglik = np.where(censored == 0, exact, log_ndtr(-np.sign(censored) * resid))
            loglik = loglik.sum(axis=1)
            weight = np.exp(log_prior + loglik - (log_prior + loglik).max())
            weight /= weight.sum()
            out[i] = weight @ grid[j][:, at_days]
            log_scale[i] = weight @ eta
    return IndividualPK(out, log_scale)


def _solve(schedule, days, weight_kg, female, pk, scale=None, pre_dose=False):
    """Integrate every row's compartments from dose to dose; report at ``days``.

    ``schedule`` is (event days, mg into the central compartment, mg into the depot), the
    last two (rows, events) (:func:`regimen_schedule`). ``scale`` (rows, 2), if given,
    multiplies each row's CL and Vmax. With ``pre_dose`` a day that is a dosing day reports
    the value just before the dose (a trough), else just after.
    """
    events, central, depot = schedule
    last = float(days.max())
    given = events <= last
    events, central, depot = events[given], central[:, given], depot[:, given]
    n = weight_kg.size
    out = np.zeros((n, days.size))
    if events.size == 0:
        return out
    cl = pk.cl * (weight_kg / 70.0) ** pk.cl_weight_power * np.where(female, pk.cl_female, 1.0)
    vmax = np.full(n, pk.vmax)
    if scale is not None:
        cl, vmax = cl * scale[:, 0], vmax * scale[:, 1]
    ka = pk.ka if depot.any() else 0.0

    def rates(_t, y):
        store, a1, a2 = y[:n], y[n : 2 * n], y[2 * n :]
        c = a1 / pk.v1
        exchange = pk.q * (c - a2 / pk.v2)
        absorbed = ka * store
        return np.concatenate(
            [-absorbed, absorbed - cl * c - exchange - vmax * c / (pk.km + c), exchange]
        )

    state = np.zeros(3 * n)
    for k, begin in enumerate(events):
        state[n : 2 * n] += central[:, k]
        state[:n] += depot[:, k]
        final = k + 1 == events.size
        end = last if final else events[k + 1]
        if pre_dose:
            here = (days > begin) & (days <= end)
        else:
            here = (days >= begin) & ((days <= end) if final else (days < end))
        if end <= begin:  # the last day is a dosing day
            out[:, here] = state[n : 2 * n, None] / pk.v1
            continue
        t_eval = np.union1d(days[here], [end])
        solution = solve_ivp(
            rates, (begin, end), state, method="DOP853", t_eval=t_eval, rtol=1e-9, atol=1e-12
        )
        out[:, here] = solution.y[n : 2 * n, np.isin(t_eval, days[here])] / pk.v1
        state = solution.y[:, -1]
    return np.maximum(out, 0.0)
