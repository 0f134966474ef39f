r"""Exposure-response: a turnover model of tocilizumab's effect on DAS28 (Levi 2013's structure).

For subject :math:`i` with tocilizumab concentration :math:`C_i(t)` (µg/mL; from their
regimen, weight and sex through Frey 2010's population PK, :mod:`il6fit.exposure`: their own
where the data hold measured concentrations, ``TCZ`` rows, else the typical one) and DAS28
:math:`y_{ij}` at visit day :math:`t_{ij}`:

.. math::

    \frac{dR_i}{dt} &= k_{out,i}\,BASE_i\,(1 - E_i(t)) - k_{out,i} R_i, \qquad R_i(0) = BASE_i \\
    E_i(t) &= \frac{I_{max} (C_i(t) + D)^h}{EC_{50,i}^h + (C_i(t) + D)^h}, \qquad h = 0.64 \\
    y_{ij} &\sim \mathrm{Normal}(R_i(t_{ij}), \sigma) && \text{DAS28 (score units)} \\
    BASE_i &\sim \mathrm{Normal}(\mu_B, \sigma_B) && \text{baseline activity} \\
    \ln EC_{50,i} &\sim \mathrm{Normal}(\ln EC_{50} + \beta \ln L_i, \omega)
        && \text{potency, µg/mL} \\
    \ln k_{out,i} &\sim \mathrm{Normal}(\ln k_{out}, \omega_k) && \text{turnover rate, 1/day}

:math:`L_i = \ln(1000\,IL6_i) / 9.9` is Levi 2013's baseline IL-6 covariate (pg/mL; 1 at
about 20 pg/mL), used with ``il6_on_ec50`` (:math:`\beta = 0` otherwise; Levi estimated
:math:`-4.4`: more potent in patients with more IL-6). :math:`D` is the background DMARD's
effect as a tocilizumab-equivalent concentration (the placebo arm's response, :math:`C = 0`),
:math:`k_{out}` the typical loss rate per day (half-life
:math:`\ln 2 / k_{out}`; Levi 2013 found it varies 60 % between patients, and a model without
that variability reads slow responders as weak ones: EC50 and Imax come out too high). The Hill
coefficient is fixed at Levi's 0.64: a trial's DAS28 at a handful of visits does not inform it
(a free :math:`h` trades off against :math:`EC_{50}` and :math:`I_{max}`). The turnover is solved
per step exactly (:mod:`il6fit.models.turnover`):
:math:`R_i = BASE_i\,g_i(t; EC_{50,i}, I_{max}, D, k_{out,i})`.

Subject effects are integrated out, so NUTS samples only the globals. Given :math:`EC_{50,i}` and
:math:`k_{out,i}` the visits are Gaussian in :math:`BASE_i`: with :math:`g_i` at the subject's
visits, :math:`r_i = y_i - \mu_B g_i`, :math:`a_i = g_i^\top g_i`, :math:`b_i = g_i^\top r_i` and
:math:`n_i` visits,

.. math::

    \log p(y_i \mid EC_{50,i}, k_{out,i}, \theta) = -\frac{1}{2} \left[ n_i \log(2\pi\sigma^2)
        + \log\left(1 + \sigma_B^2 a_i / \sigma^2\right)
        + \left(r_i^\top r_i - \sigma_B^2 b_i^2 / (\sigma^2 + \sigma_B^2 a_i)\right) / \sigma^2
        \right],

and the two rates on their log scales,
:math:`u_i = (\ln(EC_{50,i}/EC_{50}) - \beta \ln L_i)/\omega` and
:math:`v_i = \ln(k_{out,i}/k_{out})/\omega_k` (standard normal a priori), by quadrature in
stages. First a fixed product rule locates each subject: :math:`u` by Gauss-Hermite
quadrature (:data:`NODES` nodes :math:`x_k`, weights :math:`w_k`), :math:`v` by the
trapezoid rule (:data:`KOUT_NODES` even nodes :math:`z_m` on :math:`\pm` :data:`KOUT_SPAN`,
weights :math:`v_m \propto e^{-z_m^2/2}` summing to 1; :func:`kout_rule`), with terms

.. math::

    T_{ikm} = \frac{w_k}{\sqrt{\pi}}\,v_m
        \, p\left(y_i \mid u = \sqrt{2}\,x_k, v = z_m, \theta\right).

A patient's course can pin their rates down far more narrowly than their spread between
patients, anywhere in it (with a large :math:`\omega` the fixed nodes are a factor 2-4 of
EC50 apart), so each :data:`ADAPTIVE` stage then puts the subject on their own grid: the
mean :math:`\bar u_i, \bar v_i` and SDs :math:`s_{u,i}, s_{v,i}` of the previous stage's
normalised terms (each SD at least :data:`FLOOR` times that stage's spacing, since a peak
narrower than it sits on one node) give :math:`n` even nodes
:math:`u_{ia} = \bar u_i + s_{u,i} t_a`, :math:`v_{ib} = \bar v_i + s_{v,i} t_b`,
:math:`t` on :math:`\pm` :data:`ADAPTIVE_SPAN`, spacing :math:`h`, and the trapezoid rule

.. math::

    \log p(y_i \mid \theta) = \log \sum_{a,b} h^2 s_{u,i} s_{v,i}\,
        \phi(u_{ia})\,\phi(v_{ib})\, p\left(y_i \mid u_{ia}, v_{ib}, \theta\right)

of the last stage is the subject's log-likelihood (:func:`subject_log_likelihood`). The
grid's placement is a smooth function of the globals, so the log-likelihood is too; the
gradient treats the placement as given (it changes the estimate only by the rule's error,
and the sampler stays exact with any gradient, as the Hamiltonian it accepts by is the
log-likelihood itself). The stages before the last only place a grid, so they run on
coarser turnover steps (:data:`COARSE` merged). Against a finer rule the error of a patient's
log-likelihood is 0.001 at the median, 0.42 at most in 100 trials drawn from the priors (a
patient with two kout modes, whose grid spans both coarsely), 0.25 at most for a trial; the
fixed rule alone was off by up to 4.3 for a patient and 19 for a trial
(docs/exposure-response.md).

It is the model's log-likelihood, one term per subject (the unit of leave-one-out).

After sampling, the subject effects are drawn back, one per posterior draw
(:func:`conditional_effects`): :math:`u_i` from its conditional density, the standard normal
times :math:`p(y_i \mid u_i, \theta)` (kout integrated out on the last stage's nodes), which
is evaluated on a grid of :data:`GRID` points on the subject's own scale (the last stage's
mean and SD) and sampled exactly as the piecewise-linear density through them; then
:math:`v_i` given :math:`u_i` the same way on :data:`KOUT_GRID`; then :math:`BASE_i` given
both from its exact Gaussian conditional, precision :math:`\sigma_B^{-2} + a_i/\sigma^2`, mean
:math:`(\mu_B/\sigma_B^2 + g_i^\top y_i/\sigma^2)` over that precision.

Dosing comes from dosing records where the dataset has them (a third table, like SDTM EX:
:mod:`il6fit.data.dosing`): each subject in it is dosed as recorded, late, skipped or changed
doses included. Otherwise, and for a treated subject without records, from the arms: ``arms``
gives mg/kg IV every 4 weeks, as in the trials Levi 2013 analysed; ``arm_regimens`` gives any
other regimen in words (``162 mg SC every week``).

A subject's own exposure, as Levi 2013 drove the model with each patient's PK estimates, comes in
a first stage from their measured concentrations (sequential PK/PD with individual PK
parameters): their CL and Vmax have Frey's population distribution as prior and the samples his
combined residual error (:func:`il6fit.exposure.individual_concentrations`), and
:math:`C_i(t)` is the posterior mean course. Without it the model reads the PK variability
between patients (CL 39 %, Vmax 54 % CV) as variability of potency, and :math:`EC_{50}` becomes
the potency of the typical exposure: about twice the drug's on the simulator's trial.

The estimands, standardised over the subjects fitted (their weights and sexes, and with
measured concentrations Frey's PK variability, by Gauss-Hermite quadrature), are the mean change
of DAS28 at the landmark week under each regimen of ``regimens``, studied or not, its difference
from the first, and the turnover half-life :math:`\ln 2 / k_{out}` in days.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import xarray as xr
from pytensor.gradient import disconnected_grad
from scipy.special import logsumexp

from il6fit.errors import SpecError
from il6fit.exposure import (
    PLACEBO,
    Doses,
    Regimen,
    concentrations,
    individual_concentrations,
    pk_quadrature,
)
from il6fit.models.arms import ARMS_DOC, ARMS_SCHEMA, DEFAULT_ARMS
from il6fit.models.censored import exact_scores
from il6fit.models.family import (
    Answer,
    Calibration,
    FigureInput,
    FigureSpec,
    Headline,
    Marginal,
    ModelFamily,
    ObservedInfo,
    ParameterInfo,
    RecoveryStudy,
    option,
)
from il6fit.models.landmark import SCORE_NAMES
from il6fit.models.priors import Prior
from il6fit.models.turnover import (
    course_fraction,
    course_fractions,
    course_grid,
    step_edges,
    visit_segments,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)

#: Levi 2013's Hill coefficient of tocilizumab's effect on DAS28 (domain-facts §5c).
HILL = 0.64
#: Gauss-Hermite nodes over a subject's log EC50.
NODES = 15
#: Nodes over a subject's standardised ln kout: the trapezoid rule on [-KOUT_SPAN, KOUT_SPAN]
#: (:func:`kout_rule`).
KOUT_NODES = 11
KOUT_SPAN = 3.5
#: Nodes per axis of each adaptive stage after the fixed rule (:func:`subject_log_likelihood`).
ADAPTIVE = (15, 9)
#: Half-width of an adaptive stage's grid, in the subject's standard deviations.
ADAPTIVE_SPAN = 4.0
#: An adaptive stage's standard deviation is at least this fraction of the previous spacing.
FLOOR = 0.5
#: The stages that only locate a subject (the fixed rule and every adaptive stage but the last)
#: merge this many turnover steps into one (:func:`coarse_design`).
COARSE = 4
#: Grid over a subject's ln EC50 on which its conditional density is drawn from, in the
#: subject's SDs about their mean (:func:`conditional_effects`).
GRID = np.linspace(-5.0, 5.0, 21)
#: Grid over a subject's ln kout given their EC50 on which it is drawn from, likewise.
KOUT_GRID = np.linspace(-4.5, 4.5, 25)
#: Typical adult heights, m (women, men), for a weight from BMI when no weight is given;
#: the simulator's values (UNVERIFIED).
HEIGHT_M = {"F": 1.63, "M": 1.76}
#: Weight of a subject without BMI, kg (Frey 2010's trials: median 67-73 kg, domain-facts §6).
DEFAULT_WEIGHT_KG = 70.0
#: Turnover step, days, with intravenous dosing only; a quarter of it with any subcutaneous
#: dosing (error below 1e-4 of baseline, il6fit.models.turnover).
STEP_DAYS = 1.0
#: PARAMCD of measured tocilizumab concentrations (µg/mL).
DRUG_PARAMCD = "TCZ"
#: PARAMCD of IL-6 (pg/mL), whose baseline value is Levi 2013's covariate on EC50.
IL6_PARAMCD = "IL6"
#: Gauss-Hermite nodes per PK effect (CL, Vmax) over which the regimen predictions of a fit
#: driven by measured concentrations are averaged.
PK_NODES = 4
#: Posterior draws (at least) from which the regimen figure draws its bands.
FIGURE_DRAWS = 1000
#: Weight classes per sex over which regimen predictions are standardised.
WEIGHT_CLASSES = 8
#: Baseline IL-6 classes per weight class, with ``il6_on_ec50``.
IL6_CLASSES = 4
#: Regimens predicted by default: the trials' IV doses and the subcutaneous label doses.
DEFAULT_REGIMENS = (
    PLACEBO,
    "4 mg/kg IV every 4 weeks",
    "8 mg/kg IV every 4 weeks",
    "162 mg SC every 2 weeks",
    "162 mg SC every week",
)


@dataclass(frozen=True)
class Options:
    """Options of the exposure-response model (``model_options.exposure_response``)."""

    score: Literal["DAS28ESR", "DAS28CRP"] = option(
        "DAS28ESR",
        "Disease-activity score modelled (Levi 2013 modelled DAS28-ESR; DAS28-CRP falls "
        "mechanically with CRP on tocilizumab).",
    )
    arms: Mapping[str, float] | None = option(
        None, ARMS_DOC.replace("mg/kg", "mg/kg IV every 4 weeks", 1), **ARMS_SCHEMA
    )
    arm_regimens: Mapping[str, str] | None = option(
        None,
        "TRT01P label -> the arm's regimen in words, for arms not dosed in mg/kg IV every 4 "
        "weeks (e.g. '162 mg SC every week', 'placebo'); a label here overrides `arms`.",
    )
    regimens: tuple[str, ...] = option(
        DEFAULT_REGIMENS,
        "Regimens whose DAS28 course and landmark-week change are predicted, studied or not, "
        "in words ('8 mg/kg IV every 4 weeks', '162 mg SC every week', 'placebo'); effects are "
        "against the first.",
        minItems=1,
    )
    landmark_week: float = option(24, "Week at which the regimen predictions are read.")
    il6_on_ec50: bool = option(
        False,
        "Levi 2013's covariate: each patient's EC50 times L^il6_ec50, L = ln(1000 x baseline "
        "IL-6 in pg/mL) / 9.9 (1 at about 20 pg/mL; Levi's power -4.4). Needs IL6 at or before "
        "week 0 (a value below the assay's limit counts at the limit); patients without one "
        "are left out, with a note in the log.",
    )


PARAMETERS = {
    "mu_base": ParameterInfo("mean baseline DAS28", "score"),
    "sigma_base": ParameterInfo("between-subject SD of baseline DAS28", "score"),
    "ec50": ParameterInfo("typical concentration of half the maximal effect", "µg/mL"),
    "omega_ec50": ParameterInfo("between-subject SD of ln EC50", "ln(µg/mL)"),
    "imax": ParameterInfo("maximal fractional inhibition of DAS28 production", "fraction"),
    "kout": ParameterInfo("typical DAS28 turnover rate", "1/day"),
    "omega_kout": ParameterInfo("between-subject SD of ln kout", "ln(1/day)"),
    "dmard": ParameterInfo("background DMARD effect as tocilizumab-equivalent", "µg/mL"),
    "sigma": ParameterInfo("residual SD", "score"),
    "il6_ec50": ParameterInfo("power of Levi's baseline IL-6 ratio L on EC50", "-"),
}

#: Centred on Levi 2013 (domain-facts §5c): BASE 6.8 (IIV 9.4 %, SD about 0.6), EC50 3.7 µg/mL
#: (IIV 170 %, ln-scale SD 1.07), Emax 0.73, kout 0.038/day (IIV 60 %, ln-scale SD 0.55),
#: DMARD 0.30 µg/mL, residual 0.68; wide enough for a trial that differs. The two score SDs
#: are log-normal about Levi's values (95 % within a factor 2.7 of them): a half-normal put a
#: fifth of its mass on residual SDs below 0.25 DAS28 units, which no trial's visit-to-visit
#: scores have and under which each patient's course pins their rates down more sharply than
#: the quadrature here resolves (docs/exposure-response.md).
DEFAULT_PRIORS = {
    "mu_base": Prior("Normal", {"mu": 6.5, "sigma": 1.0}),
    "sigma_base": Prior("LogNormal", {"mu": float(np.log(0.7)), "sigma": 0.5}),
    "log_ec50": Prior("Normal", {"mu": float(np.log(3.7)), "sigma": 1.0}),
    "omega_ec50": Prior("HalfNormal", {"sigma": 1.0}),
    "imax": Prior("Beta", {"alpha": 7.3, "beta": 2.7}),
    "log_kout": Prior("Normal", {"mu": float(np.log(0.038)), "sigma": 0.5}),
    "omega_kout": Prior("HalfNormal", {"sigma": 0.5}),
    "log_dmard": Prior("Normal", {"mu": float(np.log(0.3)), "sigma": 1.5}),
    "sigma": Prior("LogNormal", {"mu": float(np.log(0.68)), "sigma": 0.5}),
    # with `il6_on_ec50`: about Levi's -4.4, zero within one SD (he judged the effect not
    # clinically significant)
    "il6_ec50": Prior("Normal", {"mu": -4.4, "sigma": 4.4}),
}


def subject_weights(subjects: pd.DataFrame) -> pd.Series:
    """Body weight, kg, by subject: BMI x typical height squared, or 70 kg without BMI.

    Rounded to the kilogram, well within what a typical height gets wrong (a height 5 cm off
    is 6 % of the weight): subjects of one regimen, sex and weight share an exposure profile,
    and the model's cost grows with the profiles, not the subjects.
    """
    height = subjects["SEX"].map(HEIGHT_M).fillna((HEIGHT_M["F"] + HEIGHT_M["M"]) / 2)
    weight = pd.to_numeric(subjects["BMI"], errors="coerce") * height**2
    return pd.Series(weight.fillna(DEFAULT_WEIGHT_KG).round().to_numpy(), index=subjects["USUBJID"])


def arm_regimens(options: Options) -> dict[str, Regimen]:
    """Each arm's regimen: ``arm_regimens`` in words, else ``arms``' mg/kg IV every 4 weeks.

    Raises
    ------
    SpecError
        If a regimen is not written as :meth:`il6fit.exposure.Regimen.parse` reads it.
    """
    arms = dict(DEFAULT_ARMS if options.arms is None else options.arms)
    out = {label: Regimen("iv", float(dose), "mg/kg", 28.0) for label, dose in arms.items()}
    for label, text in (options.arm_regimens or {}).items():
        out[label] = _parse(text, f"model_options.exposure_response.arm_regimens['{label}']")
    return out


def predicted_regimens(options: Options) -> list[Regimen]:
    """Parse ``regimens`` (the first is the comparator of the effects)."""
    return [
        _parse(text, f"model_options.exposure_response.regimens[{i}]")
        for i, text in enumerate(options.regimens)
    ]


def _parse(text: str, where: str) -> Regimen:
    try:
        return Regimen.parse(text)
    except ValueError as error:
        raise SpecError(f"{where}: {error}") from None


def analysis_table(
    subjects: pd.DataFrame,
    measurements: pd.DataFrame,
    options: Options,
    dosing: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per subject-visit: the score, the visit day and the subject's dosing covariates.

    Parameters
    ----------
    subjects, measurements : pandas.DataFrame
        A prepared dataset.
    options : Options
        ``score``, ``arms`` and ``arm_regimens`` (:func:`arm_regimens`); subjects in other
        arms are left out.
    dosing : pandas.DataFrame, optional
        Dosing records (:attr:`il6fit.data.Prepared.dosing`): a subject with records is dosed
        as recorded, one without as their arm's regimen (:func:`_with_doses`).

    Returns
    -------
    pandas.DataFrame
        Columns ``USUBJID``, ``week``, ``day``, ``y`` (empty at a visit with a drug sample
        only), ``arm``, ``regimen`` (the arm's regimen in words), ``dose`` (the regimen's
        dose, 0 for placebo; orders the arms), ``doses`` (the subject's recorded doses in
        words, :attr:`il6fit.exposure.Doses.text`, or empty: dosed as ``regimen``),
        ``female``, ``weight`` (kg), ``tcz`` and ``tcz_cens`` (a measured concentration,
        µg/mL, and its censoring: :func:`_with_drug_samples`); with ``il6_on_ec50``, ``il6``
        (baseline IL-6, pg/mL: :func:`_with_il6`).

    Raises
    ------
    SpecError
        If a regimen is malformed, a subject has two scores (or drug samples) in one week,
        no subject in the arms has a baseline score, or a baseline IL-6 is not positive.
    """
    regimens = arm_regimens(options)
    rows = exact_scores(
        measurements[measurements["PARAMCD"] == options.score], "exposure_response", options.score
    )
    by_subject = subjects.set_index("USUBJID")
    table = pd.DataFrame(
        {
            "USUBJID": rows["USUBJID"].to_numpy(),
            "week": rows["AVISITN"].to_numpy(float),
            "y": rows["AVAL"].to_numpy(float),
        }
    )
    table["day"] = table["week"] * 7.0
    table["arm"] = table["USUBJID"].map(by_subject["TRT01P"])
    table = table[table["arm"].isin(regimens)].copy()
    table["regimen"] = table["arm"].map({a: r.label for a, r in regimens.items()})
    table["dose"] = table["arm"].map({a: r.dose for a, r in regimens.items()}).astype(float)
    table["female"] = table["USUBJID"].map(by_subject["SEX"]).eq("F")
    table["weight"] = table["USUBJID"].map(subject_weights(subjects))
    with_baseline = set(table.loc[table["week"] == 0, "USUBJID"])
    table = table[table["USUBJID"].isin(with_baseline)]
    if table.empty:
        raise SpecError(
            f"exposure_response: no subject in arms {list(regimens)} has a baseline "
            f"{options.score}."
        )
    _one_per_visit(table, f"{options.score} scores")
    if options.il6_on_ec50:
        table = _with_il6(table, measurements)
    table = _with_doses(table, dosing)
    table = _with_drug_samples(table, measurements)
    return table.sort_values(["USUBJID", "day"]).reset_index(drop=True)


def _with_il6(table: pd.DataFrame, measurements: pd.DataFrame) -> pd.DataFrame:
    """Add each subject's baseline IL-6 (pg/mL) as ``il6``; leave out subjects without one.

    The last ``IL6`` value at or before week 0; one below the assay's limit counts at the
    limit (an upper bound: on the log-log scale of Levi's covariate it moves ``L`` little).
    """
    rows = measurements[(measurements["PARAMCD"] == IL6_PARAMCD) & (measurements["AVISITN"] <= 0)]
    rows = rows.dropna(subset=["AVAL"]).sort_values(["USUBJID", "AVISITN"], kind="stable")
    last = rows.drop_duplicates("USUBJID", keep="last").set_index("USUBJID")["AVAL"]
    table = table.assign(il6=table["USUBJID"].map(last).astype(float))
    low = table["il6"] <= 0.001  # L = ln(1000 IL-6) / 9.9 must be positive
    if low.any():
        first = table[low].iloc[0]
        raise SpecError(
            f"exposure_response: subject {first['USUBJID']} has baseline {IL6_PARAMCD} "
            f"{first['il6']:g} pg/mL; il6_on_ec50 needs values above 0.001 pg/mL (is the unit "
            "pg/mL?)."
        )
    missing = table.loc[table["il6"].isna(), "USUBJID"].unique()
    if missing.size:
        log.warning(
            "exposure_response: %d subjects without a baseline %s (at or before week 0) are "
            "left out, as il6_on_ec50 needs it (e.g. %s)",
            missing.size,
            IL6_PARAMCD,
            missing[0],
        )
        table = table[table["il6"].notna()]
    if table.empty:
        raise SpecError(
            f"exposure_response: il6_on_ec50 needs a baseline {IL6_PARAMCD} (pg/mL, at or "
            "before week 0) and no subject in the arms has one."
        )
    return table


def il6_ratio(il6: np.ndarray) -> np.ndarray:
    """Levi 2013's covariate on the log scale: ln L, L = ln(1000 IL-6 / (pg/mL)) / 9.9.

    Examples
    --------
    >>> round(float(il6_ratio(np.array([20.0]))[0]), 3)
    0.0
    """
    return np.log(np.log(1000.0 * np.asarray(il6, dtype=float)) / 9.9)


def _with_doses(table: pd.DataFrame, dosing: pd.DataFrame | None) -> pd.DataFrame:
    """Add each subject's recorded doses in words as ``doses`` (empty: dosed as their arm).

    With dosing records, a treated subject without any is dosed to their arm's schedule and
    a placebo subject with some is dosed as recorded, each noted in the log.
    """
    table = table.assign(doses="")
    if dosing is None or dosing.empty:
        return table
    records = dosing[dosing["USUBJID"].isin(table["USUBJID"])]
    text = {
        subject: Doses(
            tuple(group["DAY"].astype(float)),
            tuple(group["DOSE"].astype(float)),
            tuple(group["DOSEU"]),
            tuple(group["ROUTE"]),
        ).text
        for subject, group in records.groupby("USUBJID", sort=False)
    }
    table["doses"] = table["USUBJID"].map(text).fillna("")
    per_subject = table.drop_duplicates("USUBJID")
    recorded = per_subject["doses"] != ""
    log.info(
        "exposure_response: %d subjects dosed as recorded (%d dosing records)",
        int(recorded.sum()),
        len(records),
    )
    notes = (
        (log.warning, ~recorded & (per_subject["dose"] > 0),
         "of treated arms have no dosing records and are dosed to their arm's schedule"),
        (log.info, recorded & (per_subject["dose"] == 0),
         "of placebo arms have tocilizumab dosing records and are dosed as recorded"),
    )  # fmt: skip
    for say, which, what in notes:
        if which.any():
            first = per_subject.loc[which, "USUBJID"].iloc[0]
            say("exposure_response: %d subjects %s (e.g. %s)", int(which.sum()), what, first)
    return table


def _one_per_visit(rows: pd.DataFrame, what: str) -> None:
    twice = rows.duplicated(["USUBJID", "week"])
    if twice.any():
        first = rows[twice].iloc[0]
        raise SpecError(
            f"exposure_response: subject {first['USUBJID']} has two {what} at week "
            f"{first['week']:g}; prepare the data with visit windows (prepare.visit_weeks) so "
            "that each subject has one per visit."
        )


def _with_drug_samples(table: pd.DataFrame, measurements: pd.DataFrame) -> pd.DataFrame:
    """Add measured concentrations (``TCZ`` rows) of the treated subjects as ``tcz``.

    ``tcz`` (µg/mL) and ``tcz_cens`` (-1 below the assay's limit, 1 above it, ``tcz`` the
    limit) on each subject-visit with a sample; a visit with a sample but no score gets a row
    with ``y`` empty. Samples of untreated subjects are left out, with a note in the log.
    """
    rows = measurements[measurements["PARAMCD"] == DRUG_PARAMCD]
    table = table.assign(tcz=np.nan, tcz_cens=0)
    if rows.empty:
        log.warning(
            "exposure_response: no measured concentrations (%s rows), so every subject gets "
            "the typical exposure of their dose, weight and sex; EC50 is then the potency of "
            "the typical exposure, not of the drug in a patient (on the simulator's trial about "
            "twice the drug's: docs/exposure-response.md)",
            DRUG_PARAMCD,
        )
        return table
    cens = rows["CENS"].fillna(0) if "CENS" in rows else pd.Series(0, index=rows.index)
    samples = pd.DataFrame(
        {
            "USUBJID": rows["USUBJID"].to_numpy(),
            "week": rows["AVISITN"].to_numpy(float),
            "tcz": rows["AVAL"].to_numpy(float),
            "tcz_cens": cens.to_numpy(int),
        }
    )
    per_subject = table.drop_duplicates("USUBJID").set_index("USUBJID")
    samples = samples[samples["USUBJID"].isin(per_subject.index)]
    treated = (samples["USUBJID"].map(per_subject["dose"]) > 0) | (
        samples["USUBJID"].map(per_subject["doses"]) != ""
    )
    if (~treated).any():
        log.info(
            "exposure_response: %d %s sample(s) of %d untreated subject(s) left out (their "
            "regimen gives no drug)",
            int((~treated).sum()),
            DRUG_PARAMCD,
            samples.loc[~treated, "USUBJID"].nunique(),
        )
    samples = samples[treated]
    _one_per_visit(samples, f"{DRUG_PARAMCD} samples")
    merged = table.drop(columns=["tcz", "tcz_cens"]).merge(
        samples, on=["USUBJID", "week"], how="outer"
    )
    for column in ("arm", "regimen", "dose", "doses", "female", "weight", "il6"):
        if column in per_subject:
            merged[column] = merged["USUBJID"].map(per_subject[column])
    merged["day"] = merged["week"] * 7.0
    merged["tcz_cens"] = merged["tcz_cens"].fillna(0).astype(int)
    log.info(
        "exposure_response: %d measured concentrations of %d subjects drive their own exposure",
        int(merged["tcz"].notna().sum()),
        merged.loc[merged["tcz"].notna(), "USUBJID"].nunique(),
    )
    return merged


def _edges(
    regimens: list[Regimen], until: float, extra: np.ndarray, records: Sequence[Doses] = ()
) -> np.ndarray:
    """Turnover steps for regimens and records up to ``until`` days, ``extra`` days as bounds.

    Every dosing day is a bound. Intravenous dosing only: steps of :data:`STEP_DAYS`, none
    finer after a dose. The concentration falls smoothly from its peak at the dose, a step
    boundary, so finer steps there change nothing (against ``solve_ivp``, 4.2e-5 of baseline
    with them and 4.3e-5 without, at 4 and 8 mg/kg and Levi's kout) and cost a sixth more. Any
    subcutaneous dosing: a quarter of it, finer after each dose while the drug is absorbed.
    """
    given = [r for r in records if any(a > 0 for a in r.amounts)]
    iv = all(r.route == "iv" or r.dose == 0 for r in regimens) and all(
        route == "iv" for r in given for route, a in zip(r.routes, r.amounts, strict=True) if a > 0
    )
    doses = [r.times(until) for r in regimens if r.dose > 0] + [
        np.array([d for d, a in zip(r.days, r.amounts, strict=True) if a > 0 and d < until])
        for r in given
    ]
    dosing = np.unique(np.concatenate(doses)) if doses else np.array([])
    steps = (
        step_edges(until, dosing, STEP_DAYS, 0) if iv else step_edges(until, dosing, STEP_DAYS / 4)
    )
    return np.union1d(np.union1d(steps, extra), dosing)


def exposure_design(table: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each subject's concentrations on the turnover steps and their visits on a shared grid.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`analysis_table` (``regimen`` in words, ``weight``, ``female``, ``day``,
        ``y``).

    Returns
    -------
    dict
        ``edges`` (days), ``concentration`` (subjects x steps, µg/mL, at each step's middle),
        ``profiles`` (the distinct rows of ``concentration``: every placebo subject shares
        one) and ``profile`` (each subject's row of it), ``visits`` (days), ``y`` and ``seen``
        (subjects x visits; ``seen`` 1 where observed), ``subjects`` (their IDs, in row order
        of the arrays), ``subject_idx`` and ``visit_idx`` (of each table row with a score);
        with an ``il6`` column, ``covariate`` (each subject's ln L, :func:`il6_ratio`).
    """
    subjects = table.drop_duplicates("USUBJID").reset_index(drop=True)
    if "doses" not in subjects:  # a table from before dosing records
        subjects["doses"] = ""
    visits = np.unique(table["day"].to_numpy(float))
    until = float(visits.max())
    scheduled = subjects["doses"] == ""
    regimens = {text: Regimen.parse(text) for text in subjects.loc[scheduled, "regimen"].unique()}
    records = {text: Doses.parse(text) for text in subjects.loc[~scheduled, "doses"].unique()}
    edges = _edges(list(regimens.values()), until, visits, list(records.values()))
    middles = (edges[1:] + edges[:-1]) / 2
    conc = _exposure(table, subjects, regimens, records, middles)
    scored = table[table["y"].notna()]
    row = pd.Index(subjects["USUBJID"]).get_indexer(scored["USUBJID"])
    col = np.searchsorted(visits, scored["day"].to_numpy(float))
    y = np.zeros((len(subjects), visits.size))
    seen = np.zeros_like(y)
    y[row, col] = scored["y"].to_numpy(float)
    seen[row, col] = 1.0
    profiles, profile = np.unique(conc, axis=0, return_inverse=True)
    covariate = (
        {"covariate": il6_ratio(subjects["il6"].to_numpy(float))} if "il6" in subjects else {}
    )
    return {
        **covariate,
        "edges": edges,
        "concentration": conc,
        "profiles": profiles,
        "profile": profile.ravel(),
        "visits": visits,
        "y": y,
        "seen": seen,
        "subjects": subjects["USUBJID"].to_numpy(),
        "subject_idx": row,
        "visit_idx": col,
    }


#: Exposures computed in this process, by what they depend on (the individual ones take
#: seconds: a fit job builds the model more than once).
_EXPOSURES: dict[str, np.ndarray] = {}


def _exposure(table, subjects, regimens, records, middles) -> np.ndarray:
    """Each subject's concentrations at ``middles``: their own where sampled, else typical.

    Dosed as recorded (``records``, by ``doses``), or else to their ``regimen``.
    """
    columns = [c for c in ("USUBJID", "day", "regimen", "doses", "weight", "female", "tcz",
                           "tcz_cens") if c in table]  # fmt: skip
    digest = hashlib.sha256(pd.util.hash_pandas_object(table[columns], index=False).to_numpy())
    digest.update(np.ascontiguousarray(middles).tobytes())
    key = digest.hexdigest()
    if key in _EXPOSURES:
        return _EXPOSURES[key]
    conc = np.zeros((len(subjects), middles.size))
    samples = _drug_samples(table)
    scheduled = subjects["doses"] == ""
    groups = [(regimens[text], group) for text, group in
              subjects[scheduled].groupby("regimen") if regimens[text].dose > 0]  # fmt: skip
    if not scheduled.all():
        recorded = subjects[~scheduled]
        groups.append(([records[text] for text in recorded["doses"]], recorded))
    for dosing, group in groups:
        weight, female = group["weight"].to_numpy(float), group["female"].to_numpy(bool)
        measured = group["USUBJID"].isin(samples).to_numpy()
        if (~measured).any():
            conc[group.index[~measured]] = concentrations(
                _some(dosing, ~measured), middles, weight[~measured], female[~measured]
            )
        if measured.any():
            conc[group.index[measured]] = individual_concentrations(
                _some(dosing, measured),
                middles,
                weight[measured],
                female[measured],
                [samples[u] for u in group.loc[measured, "USUBJID"]],
            ).concentration
    if len(_EXPOSURES) >= 4:
        _EXPOSURES.clear()
    conc.flags.writeable = False
    _EXPOSURES[key] = conc
    return conc


def _some(dosing, which: np.ndarray):
    """Return a regimen as it is, or the records of the subjects ``which`` selects."""
    if isinstance(dosing, Regimen):
        return dosing
    return [d for d, w in zip(dosing, which, strict=True) if w]


def _drug_samples(table: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Each sampled subject's measured concentrations: (days, µg/mL, censoring -1/0/1)."""
    if "tcz" not in table:
        return {}
    rows = table[table["tcz"].notna()]
    return {
        subject: (
            group["day"].to_numpy(float),
            group["tcz"].to_numpy(float),
            group["tcz_cens"].to_numpy(int),
        )
        for subject, group in rows.groupby("USUBJID", sort=False)
    }


def quadrature(nodes: int = NODES) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Hermite nodes for a standard normal: ``(sqrt(2) x_k, w_k / sqrt(pi))``."""
    x, weights = np.polynomial.hermite.hermgauss(nodes)
    return np.sqrt(2.0) * x, weights / np.sqrt(np.pi)


def kout_rule() -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights over a standard normal for a subject's ln kout: the trapezoid rule.

    A subject's DAS28 course can pin their kout down to a fraction of its spread between
    subjects, anywhere in it; evenly spaced nodes integrate that better than Gauss-Hermite's,
    which thin out away from 0: on the simulator's trial of 300 patients at Levi's spread
    (ln-scale SD 0.55) the largest error of a subject's log-likelihood is 0.002 with 11 such
    nodes against 0.03 with 11 Gauss-Hermite nodes (0.12 with 7), against 161 nodes.
    """
    x = np.linspace(-KOUT_SPAN, KOUT_SPAN, KOUT_NODES)
    weights = np.exp(-0.5 * x**2)
    return x, weights / weights.sum()


def courses(profiles, edges, visits, ec50s, imax, kouts, dmard):
    """:math:`g` at the visits for each exposure profile, each EC50 and each kout given.

    Parameters
    ----------
    profiles : array or tensor
        Concentrations, µg/mL, (profiles, steps) at the middles of the steps ``edges`` bound.
    edges, visits : numpy.ndarray
        Step boundaries and visit days (:func:`il6fit.models.turnover.course_fraction`).
    ec50s : array or tensor, shape (k,)
        Potencies, µg/mL.
    imax, dmard : scalar or tensor
        Imax, background DMARD (µg/mL).
    kouts : array or tensor, shape (m,)
        Loss rates, 1/day.

    Returns
    -------
    array or tensor, shape (profiles, k, m, visits)
    """
    return course_fractions(_remaining(profiles, ec50s, imax, dmard), kouts, edges, visits)


def _remaining(profiles, ec50s, imax, dmard):
    """Production left, :math:`1 - E`, for each profile and EC50: (profiles, k, steps).

    ``ec50s`` is (k,), shared by the profiles, or (profiles, k).
    """
    driven = (profiles + dmard) ** HILL  # (profiles, steps)
    potency = ec50s**HILL
    potency = potency[None, :, None] if potency.ndim == 1 else potency[:, :, None]
    return 1.0 - imax * driven[:, None, :] / (potency + driven[:, None, :])


def courses_by_node(profiles, edges, visits, ec50, omega, imax, kout, omega_kout, dmard):
    """:func:`courses` at the quadrature nodes of ln EC50 and ln kout.

    Returns
    -------
    array or tensor, shape (profiles, :data:`NODES`, :data:`KOUT_NODES`, visits)
    """
    tensor = any(
        isinstance(v, pt.TensorVariable) for v in (ec50, omega, imax, kout, omega_kout, dmard)
    )
    xp = pt if tensor else np
    ec50s = ec50 * xp.exp(omega * quadrature()[0])
    kouts = kout * xp.exp(omega_kout * kout_rule()[0])
    return courses(profiles, edges, visits, ec50s, imax, kouts, dmard)


def _given_effects(g, y, seen, mu_base, sigma_base, sigma, xp):
    """Compute log p(y_i | EC50_i, kout_i) with BASE integrated out.

    ``g`` is (subjects, ..., visits), one course per value of the subject effects; the result
    drops its last axis.
    """
    extra = (slice(None),) + (None,) * (g.ndim - 2)
    # y is 0 where not seen: the sums over visits need seen only once
    a = _visit_sum(g * g, seen)
    c = _visit_sum(g, y)
    yy = (y * y).sum(axis=-1)[extra]
    n = seen.sum(axis=-1)[extra]
    b = c - mu_base * a  # g'r with r = y - mu_base g
    rr = yy - 2 * mu_base * c + mu_base**2 * a  # r'r
    s2, b2 = sigma**2, sigma_base**2
    return -0.5 * (
        n * xp.log(2 * np.pi * s2) + xp.log1p(b2 * a / s2) + (rr - b2 * b * b / (s2 + b2 * a)) / s2
    )


def _visit_sum(x, weights):
    """Sum ``x`` (subjects, ..., visits) over visits weighted by ``weights`` (subjects, visits)."""
    if isinstance(x, pt.TensorVariable) or isinstance(weights, pt.TensorVariable):
        extra = (slice(None),) + (None,) * (x.ndim - 2) + (slice(None),)
        return (x * weights[extra]).sum(axis=-1)
    # one matrix-vector product per subject: much faster than numpy's sum over a short axis
    flat = x.reshape(x.shape[0], -1, x.shape[-1])
    return np.matmul(flat, weights[:, :, None]).reshape(x.shape[:-1])


def _log_node_weights() -> np.ndarray:
    """Log weights of the product rule over (ln EC50, ln kout): (NODES, KOUT_NODES)."""
    return np.log(quadrature()[1])[:, None] + np.log(kout_rule()[1])[None, :]


def coarse_design(design: Mapping, every: int = COARSE) -> dict:
    """Put the design on coarser turnover steps, for the stages that only locate a subject.

    Each run of ``every`` steps between two visits becomes one, its concentration the
    steps' length-weighted mean (an averaging matrix applied to ``profiles``, array or
    tensor). Every visit stays a boundary.

    Parameters
    ----------
    design : mapping
        As for :func:`subject_log_likelihood`.
    every : int
        Steps merged.

    Returns
    -------
    dict
        ``design`` with ``profiles`` and ``edges`` replaced.
    """
    edges, visits = np.asarray(design["edges"]), np.asarray(design["visits"])
    nxt = np.searchsorted(visits, edges[1:] - 1e-9)  # each step's next visit
    first = np.r_[0, np.flatnonzero(np.diff(nxt)) + 1]  # each run of steps to one visit
    position = np.arange(nxt.size) - np.repeat(first, np.diff(np.r_[first, nxt.size]))
    start = np.r_[True, (position[1:] % every == 0) | (nxt[1:] != nxt[:-1])]
    merged = np.cumsum(start) - 1  # each step's coarse step
    length = np.diff(edges)
    average = np.zeros((length.size, merged[-1] + 1))
    average[np.arange(length.size), merged] = length
    average /= average.sum(axis=0, keepdims=True)
    return {**design, "profiles": design["profiles"] @ average,
            "edges": np.r_[edges[:-1][start], edges[-1]]}  # fmt: skip


def _fixed_terms(design, theta, xp):
    """Log terms of the fixed product rule, (subjects, NODES, KOUT_NODES), and its nodes.

    Subjects of one exposure share their courses, unless a covariate sets each one's EC50.
    """
    if "il6_ec50" in theta:
        n = design["seen"].shape[0]  # symbolic in a model
        u = xp.broadcast_to(quadrature()[0], (n, NODES))
        v = xp.broadcast_to(kout_rule()[0], (n, KOUT_NODES))
        g = _courses_on(design, theta, u, v, xp)
        log_n = _given_effects(g, design["y"], design["seen"], theta["mu_base"],
                               theta["sigma_base"], theta["sigma"], xp)  # fmt: skip
        return log_n + _log_node_weights(), quadrature()[0][None, :], kout_rule()[0][None, :]
    g = courses_by_node(design["profiles"], design["edges"], design["visits"], theta["ec50"],
                        theta["omega"], theta["imax"], theta["kout"], theta["omega_kout"],
                        theta["dmard"])  # fmt: skip
    g = g[design["profile"]]  # (subjects, nodes, kout nodes, visits)
    log_n = _given_effects(g, design["y"], design["seen"], theta["mu_base"],
                           theta["sigma_base"], theta["sigma"], xp)  # fmt: skip
    return log_n + _log_node_weights(), quadrature()[0][None, :], kout_rule()[0][None, :]


def _moments(log_n, u, v, xp):
    """Mean and variance of each subject's u and v under the normalised terms ``log_n``.

    ``log_n`` is (subjects, k, m) on the product of ``u`` (subjects or 1, k) and ``v``
    (subjects or 1, m).
    """
    top = log_n.max(axis=(1, 2), keepdims=True)
    w = xp.exp(log_n - top)
    w = w / w.sum(axis=(1, 2), keepdims=True)
    wu, wv = w.sum(axis=2), w.sum(axis=1)
    mean_u, mean_v = (wu * u).sum(axis=1), (wv * v).sum(axis=1)
    var_u = (wu * (u - mean_u[:, None]) ** 2).sum(axis=1)
    var_v = (wv * (v - mean_v[:, None]) ** 2).sum(axis=1)
    return mean_u, var_u, mean_v, var_v


def _courses_on(design, theta, u, v, xp):
    """:math:`g` of each subject on their own product grid: u (subjects, k), v (subjects, m).

    Returns
    -------
    array or tensor, shape (subjects, k, m, visits)
    """
    segments = visit_segments(design["edges"], design["visits"])
    # each subject's concentrations on the steps before each visit: (subjects, visits, longest)
    profiles = design["profiles"][design["profile"]][:, segments.slot]
    driven = ((profiles + theta["dmard"]) ** HILL)[:, :, None, :]
    potency = theta["ec50"] ** HILL * xp.exp(HILL * theta["omega"] * u)  # (subjects, k)
    if "il6_ec50" in theta:  # Levi's covariate: EC50_i x L_i^beta
        potency = potency * xp.exp(HILL * theta["il6_ec50"] * design["covariate"])[:, None]
    remaining = 1.0 - theta["imax"] * driven / (potency[:, None, :, None] + driven)
    return course_grid(remaining, theta["kout"] * xp.exp(theta["omega_kout"] * v), segments)


def _adaptive_terms(design, theta, centre, scale, nodes, span, xp):
    """Log terms of the trapezoid rule on a subject's own grid, (subjects, nodes, nodes).

    ``centre`` and ``scale`` are (u, v) pairs of (subjects,) arrays: the grid runs over
    ``centre`` +- ``span`` ``scale`` on each axis. Returns the terms and the grid's u and v,
    each (subjects, nodes).
    """
    t = np.linspace(-span, span, nodes)
    u = centre[0][:, None] + scale[0][:, None] * t
    v = centre[1][:, None] + scale[1][:, None] * t
    g = _courses_on(design, theta, u, v, xp)
    log_n = _given_effects(g, design["y"], design["seen"], theta["mu_base"],
                           theta["sigma_base"], theta["sigma"], xp)  # fmt: skip
    # the standard normal densities of u and v, and the rule's weight h^2 |scale|
    log_weight = 2 * np.log(t[1] - t[0]) - np.log(2 * np.pi) + xp.log(scale[0] * scale[1])
    return (
        log_n - 0.5 * u[:, :, None] ** 2 - 0.5 * v[:, None, :] ** 2 + log_weight[:, None, None],
        u,
        v,
    )


def _staged(design, theta, xp):
    """Run the stages; return the last one's log terms (subjects, n, n), u, v and spacings.

    All but the last stage only place the next one's grid, on coarser steps
    (:func:`coarse_design`); the last integrates on the design's own.
    """
    coarse = coarse_design(design)
    log_n, u, v = _fixed_terms(coarse if ADAPTIVE else design, theta, xp)
    spacing = (np.diff(quadrature()[0]).min(), np.diff(kout_rule()[0]).min())
    for stage, nodes in enumerate(ADAPTIVE):
        mean_u, var_u, mean_v, var_v = _moments(log_n, u, v, xp)
        # at least half the previous spacing: a peak narrower than it sits on one node
        scale = (
            xp.sqrt(var_u + (FLOOR * spacing[0]) ** 2),
            xp.sqrt(var_v + (FLOOR * spacing[1]) ** 2),
        )
        centre = (mean_u, mean_v)
        if xp is pt:  # the grid is placed, not differentiated (module docstring)
            centre, scale = [tuple(disconnected_grad(x) for x in pair) for pair in (centre, scale)]
        on = design if stage == len(ADAPTIVE) - 1 else coarse
        log_n, u, v = _adaptive_terms(on, theta, centre, scale, nodes, ADAPTIVE_SPAN, xp)
        step = 2 * ADAPTIVE_SPAN / (nodes - 1)
        spacing = (scale[0] * step, scale[1] * step)
    return log_n, u, v, spacing


def subject_log_likelihood(
    design, mu_base, sigma_base, ec50, omega, imax, kout, omega_kout, dmard, sigma, il6_ec50=None
):
    """Each subject's log-likelihood with BASE, EC50 and kout integrated out (numpy or PyTensor).

    The fixed product rule locates each subject's effects; :data:`ADAPTIVE` stages then
    integrate on the subject's own grid, centred on the mean of the previous stage and
    :data:`ADAPTIVE_SPAN` standard deviations wide (module docstring).

    Parameters
    ----------
    design : mapping
        ``profiles``, ``profile``, ``y``, ``seen`` (arrays or tensors) and ``edges``,
        ``visits`` (arrays) of :func:`exposure_design`; with ``il6_ec50``, ``covariate``.
    mu_base, sigma_base, ec50, omega, imax, kout, omega_kout, dmard, sigma : scalar or tensor
        The global parameters (natural scales; ``omega`` is EC50's).
    il6_ec50 : scalar or tensor, optional
        Power of Levi's IL-6 ratio on EC50 (``il6_on_ec50``); none without the covariate.

    Returns
    -------
    array or tensor, shape (subjects,)
    """
    theta = {"mu_base": mu_base, "sigma_base": sigma_base, "ec50": ec50, "omega": omega,
             "imax": imax, "kout": kout, "omega_kout": omega_kout, "dmard": dmard,
             "sigma": sigma}  # fmt: skip
    if il6_ec50 is not None:
        theta["il6_ec50"] = il6_ec50
    tensor = any(isinstance(v, pt.TensorVariable) for v in (*theta.values(), design["y"]))
    xp = pt if tensor else np
    log_n = _staged(design, theta, xp)[0]
    flat = log_n.reshape((log_n.shape[0], -1))
    return (pt.logsumexp if tensor else logsumexp)(flat, axis=1)


def _data(design: Mapping) -> dict:
    """Return the design as the model's ``pm.Data`` (its constant data) with their dims."""
    covariate = (
        {"il6_covariate": (design["covariate"], ("subject",))} if "covariate" in design else {}
    )
    return {
        **covariate,
        "profiles": (design["profiles"], ("profile", "step")),
        "subject_profile": (design["profile"], ("subject",)),
        "y_grid": (design["y"], ("subject", "visit")),
        "seen": (design["seen"], ("subject", "visit")),
        "edges": (design["edges"], ("edge",)),
        "visit_days": (design["visits"], ("visit",)),
    }


def _coords(design: Mapping) -> dict:
    return {
        "subject": design["subjects"],
        "profile": np.arange(len(design["profiles"])),
        "step": np.arange(design["edges"].size - 1),
        "edge": np.arange(design["edges"].size),
        "visit": design["visits"] / 7.0,
    }


def _globals(priors: Mapping[str, Prior], covariate: bool = False) -> dict:
    """Create the global parameters, on their natural scales (inside a model context).

    With ``covariate``, also ``il6_ec50``, the power of Levi's IL-6 ratio on EC50.
    """
    out = {
        "mu_base": priors["mu_base"].create("mu_base"),
        "sigma_base": priors["sigma_base"].create("sigma_base"),
        "ec50": pm.Deterministic("ec50", pt.exp(priors["log_ec50"].create("log_ec50"))),
        "omega": priors["omega_ec50"].create("omega_ec50"),
        "imax": priors["imax"].create("imax"),
        "kout": pm.Deterministic("kout", pt.exp(priors["log_kout"].create("log_kout"))),
        "omega_kout": priors["omega_kout"].create("omega_kout"),
        "dmard": pm.Deterministic("dmard", pt.exp(priors["log_dmard"].create("log_dmard"))),
        "sigma": priors["sigma"].create("sigma"),
    }
    if covariate:
        out["il6_ec50"] = priors["il6_ec50"].create("il6_ec50")
    return out


def build(table: pd.DataFrame, priors: Mapping[str, Prior], options: Options) -> pm.Model:
    """Build the marginal exposure-response model: globals only, one potential per subject.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`analysis_table`.
    priors : mapping of str to Prior
        A prior for every key of :data:`DEFAULT_PRIORS`.
    options : Options
        Unused by the model (dosing, and with ``il6_on_ec50`` baseline IL-6, are in the
        table).

    Returns
    -------
    pymc.Model
        Free globals only; ``ec50``, ``kout``, ``dmard`` deterministic; the potential ``y``
        (dims ``subject``), the exact marginal log-likelihood of each subject. The design is
        ``pm.Data``; the step and visit days fix the model's structure. With baseline IL-6
        in the table, also ``il6_ec50``.
    """
    design = exposure_design(table)
    with pm.Model(coords=_coords(design)) as model:
        data = {k: pm.Data(k, v, dims=d) for k, (v, d) in _data(design).items()}
        theta = _globals(priors, "covariate" in design)
        covariate = {"covariate": data["il6_covariate"]} if "covariate" in design else {}
        inputs = {
            **covariate,
            "profiles": data["profiles"],
            "profile": data["subject_profile"],
            "y": data["y_grid"],
            "seen": data["seen"],
            "edges": design["edges"],
            "visits": design["visits"],
        }
        pm.Potential("y", subject_log_likelihood(inputs, **theta), dims="subject")
    return model


def build_latent(table: pd.DataFrame, priors: Mapping[str, Prior], options: Options) -> pm.Model:
    """Build the model with its subject effects as parameters: the one that draws data.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`analysis_table`.
    priors : mapping of str to Prior
        A prior for every key of :data:`DEFAULT_PRIORS`.
    options : Options
        Unused by the model.

    Returns
    -------
    pymc.Model
        Observed ``y`` (dims ``obs``, the table's rows with a score); ``z_base``, ``z_ec50``,
        ``z_kout`` (dims ``subject``) free, ``base``, ``ec50_subject`` and ``kout_subject``
        deterministic; with baseline IL-6 in the table, also ``il6_ec50``.
    """
    design = exposure_design(table)
    scored = table["y"].notna().to_numpy()
    coords = {**_coords(design), "obs": np.arange(int(scored.sum()))}
    with pm.Model(coords=coords) as model:
        data = {k: pm.Data(k, v, dims=d) for k, (v, d) in _data(design).items()}
        theta = _globals(priors, "covariate" in design)
        z_base = pm.Normal("z_base", 0.0, 1.0, dims="subject")
        base = pm.Deterministic(
            "base", theta["mu_base"] + theta["sigma_base"] * z_base, dims="subject"
        )
        z_ec50 = pm.Normal("z_ec50", 0.0, 1.0, dims="subject")
        log_shift = theta["omega"] * z_ec50
        if "il6_ec50" in theta:
            log_shift = log_shift + theta["il6_ec50"] * data["il6_covariate"]
        ec50_i = pm.Deterministic("ec50_subject", theta["ec50"] * pt.exp(log_shift), dims="subject")
        z_kout = pm.Normal("z_kout", 0.0, 1.0, dims="subject")
        kout_i = pm.Deterministic(
            "kout_subject", theta["kout"] * pt.exp(theta["omega_kout"] * z_kout), dims="subject"
        )
        driven = (data["profiles"][data["subject_profile"]] + theta["dmard"]) ** HILL
        effect = theta["imax"] * driven / (ec50_i[:, None] ** HILL + driven)
        g = course_fraction(1.0 - effect, kout_i[:, None], design["edges"], design["visits"])
        cell = design["subject_idx"] * design["visits"].size + design["visit_idx"]
        cell = pm.Data("cell_idx", cell, dims="obs")
        y = pm.Data("y_observed", table["y"].to_numpy(float)[scored], dims="obs")
        mean = (base[:, None] * g).ravel()[cell]
        pm.Normal("y", mean, theta["sigma"], observed=y, dims="obs")
    return model


def _with_scores(table: pd.DataFrame, values: Mapping) -> pd.DataFrame:
    """Put drawn scores in place of the observed ones (the rows with a score)."""
    out = table.copy()
    out.loc[out["y"].notna(), "y"] = np.asarray(values["y"], dtype=float)
    return out


def _flat(posterior: xr.Dataset, name: str) -> np.ndarray:
    return posterior[name].values.reshape(-1)


def _sample_piecewise_linear(grid, density, rng):
    """One draw per row from the piecewise-linear density through ``density`` on ``grid``."""
    left, right = density[:, :-1], density[:, 1:]
    mass = (left + right) / 2 * np.diff(grid)
    cumulative = np.cumsum(mass, axis=1)
    u = rng.random(len(density)) * cumulative[:, -1]
    cell = np.minimum((cumulative < u[:, None]).sum(axis=1), mass.shape[1] - 1)
    rows = np.arange(len(density))
    fa, fb = left[rows, cell], right[rows, cell]
    start = cumulative[rows, cell] - mass[rows, cell]
    share = np.clip((u - start) / np.maximum(mass[rows, cell], 1e-300), 0.0, 1.0)
    slope = fb - fa
    # inverse of the linear density's CDF on the cell, (fa t + slope t^2 / 2) / ((fa + fb) / 2)
    flat = np.abs(slope) < 1e-12 * np.maximum(fa + fb, 1e-300)
    root = np.sqrt(np.maximum(fa**2 + share * slope * (fa + fb), 0.0))
    t = np.where(flat, share, (root - fa) / np.where(flat, 1.0, slope))
    return grid[cell] + np.clip(t, 0.0, 1.0) * (grid[cell + 1] - grid[cell])


def effects_and_log_likelihood(
    posterior: xr.Dataset, constant: xr.Dataset, rng: np.random.Generator
) -> tuple[xr.Dataset, xr.Dataset]:
    r"""Draw the subject effects from their conditional, and give their log-likelihood, per draw.

    In turn, each from the piecewise-linear density through its conditional density on the
    subject's own grid, placed by the likelihood's adaptive stages (mean +- 5 and +- 4.5 of
    the last stage's SDs): :math:`u_i` (standardised ln EC50) with ln kout integrated out on the
    last stage's nodes, then :math:`v_i` (standardised ln kout) given :math:`u_i`; then
    :math:`BASE_i` from its exact Gaussian conditional given both (module docstring).

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
    effects : xarray.Dataset
        ``z_base``, ``z_ec50``, ``z_kout``, ``base`` (score), ``ec50_subject`` (µg/mL),
        ``kout_subject`` (1/day), dims (chain, draw, subject).
    log_likelihood : xarray.Dataset
        ``y``: each subject's log-likelihood at every draw (:func:`draw_log_likelihood`, the
        same numbers), from the last stage's terms the draws are placed by: computing both in
        one pass runs the staged quadrature once per draw, not twice.
    """
    design = _constant_design(constant)
    y, seen = design["y"], design["seen"]
    covariate = design.get("covariate")
    values = {k: _flat(posterior, k) for k in _global_names(design)}
    n_draws, n = values["kout"].size, y.shape[0]
    drawn = ("z_base", "z_ec50", "z_kout", "base", "ec50_subject", "kout_subject")
    out = {k: np.empty((n_draws, n)) for k in (*drawn, "y")}
    for s in range(n_draws):
        v = {k: x[s] for k, x in values.items()}
        theta = {**v, "omega": v["omega_ec50"]}
        given = (y, seen, v["mu_base"], v["sigma_base"], v["sigma"], np)
        log_n, u_nodes, v_nodes, spacing = _staged(design, theta, np)
        out["y"][s] = logsumexp(log_n.reshape((n, -1)), axis=1)
        mean_u, var_u, mean_v, var_v = _moments(log_n, u_nodes, v_nodes, np)
        scale_u = np.sqrt(var_u + (FLOOR * spacing[0]) ** 2)
        scale_v = np.sqrt(var_v + (FLOOR * spacing[1]) ** 2)
        # u on its grid, v integrated on the last stage's (evenly spaced) nodes
        u_grid = mean_u[:, None] + scale_u[:, None] * GRID
        g = _courses_on(design, theta, u_grid, v_nodes, np)  # (subjects, grid, nodes, visits)
        log_u = logsumexp(_given_effects(g, *given) - 0.5 * v_nodes[:, None, :] ** 2, axis=2)
        u = mean_u + scale_u * _draw_on_grid(GRID, log_u - 0.5 * u_grid**2, rng)
        w_grid = mean_v[:, None] + scale_v[:, None] * KOUT_GRID
        g = _courses_on(design, theta, u[:, None], w_grid, np)[:, 0]  # (subjects, grid, visits)
        w = mean_v + scale_v * _draw_on_grid(
            KOUT_GRID, _given_effects(g, *given) - 0.5 * w_grid**2, rng
        )
        g_i = _courses_on(design, theta, u[:, None], w[:, None], np)[:, 0, 0] * seen
        precision = 1 / v["sigma_base"] ** 2 + (g_i * g_i).sum(axis=1) / v["sigma"] ** 2
        mean = v["mu_base"] / v["sigma_base"] ** 2 + (g_i * y).sum(axis=1) / v["sigma"] ** 2
        base = mean / precision + rng.standard_normal(n) / np.sqrt(precision)
        shift = v["il6_ec50"] * covariate if covariate is not None else 0.0
        out["z_ec50"][s] = u
        out["ec50_subject"][s] = v["ec50"] * np.exp(v["omega_ec50"] * u + shift)
        out["z_kout"][s], out["kout_subject"][s] = w, v["kout"] * np.exp(v["omega_kout"] * w)
        out["base"][s] = base
        out["z_base"][s] = (base - v["mu_base"]) / v["sigma_base"]
    terms = _per_draw({"y": out.pop("y")}, posterior, constant)
    return _per_draw(out, posterior, constant), terms


def conditional_effects(
    posterior: xr.Dataset, constant: xr.Dataset, rng: np.random.Generator
) -> xr.Dataset:
    """Draw the subject effects from their conditional given the data, one per posterior draw.

    The effects of :func:`effects_and_log_likelihood` (which see), without the log-likelihood.
    """
    return effects_and_log_likelihood(posterior, constant, rng)[0]


def _per_draw(arrays: Mapping, posterior: xr.Dataset, constant: xr.Dataset) -> xr.Dataset:
    """(draws, subjects) arrays as a dataset of dims (chain, draw, subject)."""
    shape = (posterior.sizes["chain"], posterior.sizes["draw"], constant.sizes["subject"])
    return xr.Dataset(
        {k: (("chain", "draw", "subject"), x.reshape(shape)) for k, x in arrays.items()},
        coords={
            "chain": posterior["chain"].values,
            "draw": posterior["draw"].values,
            "subject": constant["subject"].values,
        },
    )


def _constant_design(constant: xr.Dataset) -> dict:
    """Rebuild the design (:func:`exposure_design`'s arrays) from a fit's ``constant_data``."""
    design = {
        "profiles": constant["profiles"].values,
        "profile": constant["subject_profile"].values,
        "y": constant["y_grid"].values,
        "seen": constant["seen"].values,
        "edges": constant["edges"].values,
        "visits": constant["visit_days"].values,
    }
    if "il6_covariate" in constant:
        design["covariate"] = constant["il6_covariate"].values
    return design


def _global_names(design: Mapping) -> tuple[str, ...]:
    names = ("mu_base", "sigma_base", "ec50", "omega_ec50", "imax", "kout", "omega_kout",
             "dmard", "sigma")  # fmt: skip
    return names + (("il6_ec50",) if "covariate" in design else ())


def draw_log_likelihood(posterior: xr.Dataset, constant: xr.Dataset) -> xr.Dataset:
    """Each subject's log-likelihood (the potential ``y``) at every posterior draw, in NumPy.

    The same function as the model's potential (:func:`subject_log_likelihood`), equal to
    rounding; a draw at a time in NumPy is about 3 times cheaper than evaluating the
    potential's graph over the draws uncompiled (benchmarks/RESULTS.md).

    Returns
    -------
    xarray.Dataset
        ``y``, dims (chain, draw, subject).
    """
    design = _constant_design(constant)
    names = _global_names(design)
    values = {k: _flat(posterior, k) for k in names}
    out = np.empty((values["kout"].size, design["y"].shape[0]))
    for s in range(out.shape[0]):
        v = {k: float(x[s]) for k, x in values.items()}
        v["omega"] = v.pop("omega_ec50")
        out[s] = subject_log_likelihood(design, **v)
    return _per_draw({"y": out}, posterior, constant)


def _draw_on_grid(grid: np.ndarray, log_density: np.ndarray, rng) -> np.ndarray:
    """One draw per row of ``grid`` positions given the log-density there (rows: subjects)."""
    density = np.exp(log_density - log_density.max(axis=1, keepdims=True))
    return _sample_piecewise_linear(grid, density, rng)


def standard_population(
    weight_kg: np.ndarray, female: np.ndarray, covariate: np.ndarray | None = None
) -> pd.DataFrame:
    """Weight classes by sex (:data:`WEIGHT_CLASSES` quantile classes each) and their shares.

    Regimen predictions are standardised over these classes (each at its median weight)
    rather than over every subject: the concentration changes smoothly with weight. With a
    ``covariate`` (ln L, :func:`il6_ratio`), each weight class is split into
    :data:`IL6_CLASSES` quantile classes of it, each at its median.

    Returns
    -------
    pandas.DataFrame
        ``weight`` (kg), ``female``, ``share`` (summing to 1); with a covariate, ``covariate``.
    """
    frame = pd.DataFrame({"weight": np.asarray(weight_kg, float), "female": female})
    if covariate is not None:
        frame["covariate"] = np.asarray(covariate, float)
    rows = []
    for sex, group in frame.groupby("female"):
        for _, members in _quantile_classes(group, "weight", WEIGHT_CLASSES):
            row = {"weight": float(members["weight"].median()), "female": bool(sex)}
            if covariate is None:
                rows.append({**row, "share": len(members)})
                continue
            for _, alike in _quantile_classes(members, "covariate", IL6_CLASSES):
                rows.append({**row, "covariate": float(alike["covariate"].median()),
                             "share": len(alike)})  # fmt: skip
    out = pd.DataFrame(rows)
    out["share"] = out["share"] / out["share"].sum()
    return out


def _quantile_classes(frame: pd.DataFrame, column: str, classes: int):
    """Split ``frame`` into at most ``classes`` equal-count classes of ``column``."""
    classes = min(classes, len(frame))
    rank = frame[column].rank(method="first") - 1
    return frame.groupby((rank * classes // len(frame)).astype(int))


def regimen_change(
    posterior,
    regimen: Regimen,
    weeks: np.ndarray,
    weight_kg: np.ndarray,
    female: np.ndarray,
    share: np.ndarray | None = None,
    pk_variability: bool = False,
    covariate: np.ndarray | None = None,
) -> xr.DataArray:
    r"""Mean change of DAS28 from baseline under a regimen, for every posterior draw.

    The population mean of :math:`R_i(t) - BASE_i` over subjects like those given (their
    weights and sexes; each draws their own baseline, EC50 and kout from the fitted
    population): :math:`\mu_B\,(\bar g(t) - 1)`, with :math:`\bar g` averaged over the subjects
    and over ln EC50 and ln kout by the model's quadrature. Any regimen, studied or not (e.g.
    162 mg SC weekly).

    Parameters
    ----------
    posterior : xarray.Dataset
        Draws of ``mu_base``, ``ec50``, ``omega_ec50``, ``imax``, ``kout``, ``omega_kout``,
        ``dmard``.
    regimen : Regimen
        The dosing.
    weeks : numpy.ndarray
        Weeks at which to report (0 included or not).
    weight_kg, female : numpy.ndarray
        The subjects standardised over.
    share : numpy.ndarray, optional
        Each one's share of the population (e.g. a weight class's); equal if not given.
    pk_variability : bool
        Average over Frey's between-patient variability of CL and Vmax too (:data:`PK_NODES`
        Gauss-Hermite nodes per effect), as a fit that drove its patients with their own
        exposure (measured concentrations) must: its EC50 is the potency in a patient, not
        that of the typical exposure.
    covariate : numpy.ndarray, optional
        Each one's ln L (:func:`il6_ratio`), for a fit with ``il6_ec50``.

    Returns
    -------
    xarray.DataArray
        DAS28 change (score units), dims (chain, draw, week).
    """
    weeks = np.asarray(weeks, dtype=float)
    until = float(weeks.max()) * 7.0
    edges = _edges([regimen], until, weeks * 7.0)
    middles = (edges[1:] + edges[:-1]) / 2
    given = np.ones(np.size(weight_kg)) if share is None else np.asarray(share, dtype=float)
    weight_kg, female = np.atleast_1d(weight_kg), np.atleast_1d(female)
    shift = None if covariate is None else np.atleast_1d(np.asarray(covariate, dtype=float))
    scale = None
    if pk_variability:
        nodes, node_weight = pk_quadrature(PK_NODES)
        k = len(nodes)
        weight_kg, female = np.repeat(weight_kg, k), np.repeat(female, k)
        shift = None if shift is None else np.repeat(shift, k)
        given = np.repeat(given, k) * np.tile(node_weight, given.size)
        scale = np.tile(nodes, (given.size // k, 1))
    conc = concentrations(regimen, middles, weight_kg, female, scale=scale)
    if shift is not None:  # one row per exposure and covariate
        conc = np.column_stack([conc, shift])
    profiles, which = np.unique(conc, axis=0, return_inverse=True)
    if shift is not None:
        profiles, shift = profiles[:, :-1], profiles[:, -1]
    share = np.bincount(which.ravel(), given, minlength=len(profiles)) / given.sum()
    names = ["mu_base", "ec50", "omega_ec50", "imax", "kout", "omega_kout", "dmard"]
    names += ["il6_ec50"] if shift is not None else []
    stacked = posterior[names].stack(sample=("chain", "draw"))
    v = {k: stacked[k].to_numpy() for k in names}
    ec50_nodes, ec50_weights = quadrature()
    kout_nodes, kout_weights = kout_rule()
    mixing = np.outer(share, ec50_weights).ravel()  # (profiles x EC50 nodes,)
    out = np.empty((v["kout"].size, weeks.size))
    for s in range(out.shape[0]):
        # g is affine in the production left (turnover module) and the weights sum to 1, so
        # the mean course is the course of the mean production left, per kout
        ec50s = v["ec50"][s] * np.exp(v["omega_ec50"][s] * ec50_nodes)
        if shift is not None:  # each row's own EC50 nodes: (profiles, nodes)
            ec50s = ec50s[None, :] * np.exp(v["il6_ec50"][s] * shift)[:, None]
        each = _remaining(profiles, ec50s, v["imax"][s], v["dmard"][s])
        remaining = mixing @ each.reshape(mixing.size, -1)
        kouts = v["kout"][s] * np.exp(v["omega_kout"][s] * kout_nodes)
        g = kout_weights @ course_fractions(remaining, kouts, edges, weeks * 7.0)
        out[s] = v["mu_base"][s] * (g - 1.0)
    index = stacked.indexes["sample"]
    result = xr.DataArray(out, dims=("sample", "week"), coords={"sample": index, "week": weeks})
    return result.unstack("sample").transpose("chain", "draw", "week")


def _population(table: pd.DataFrame) -> pd.DataFrame:
    per_subject = table.drop_duplicates("USUBJID")
    covariate = il6_ratio(per_subject["il6"].to_numpy()) if "il6" in per_subject else None
    return standard_population(
        per_subject["weight"].to_numpy(), per_subject["female"].to_numpy(), covariate
    )


def regimen_courses(
    posterior: xr.Dataset, table: pd.DataFrame, options: Options, weeks: np.ndarray
) -> xr.DataArray:
    """Mean DAS28 change under each regimen of ``options.regimens``, standardised over the table.

    Returns
    -------
    xarray.DataArray
        Dims (chain, draw, regimen, week); the regimens by their labels.
    """
    population = _population(table)
    classes = [population[k].to_numpy() for k in ("weight", "female", "share")]
    covariate = population["covariate"].to_numpy() if "covariate" in population else None
    regimens = predicted_regimens(options)
    measured = bool(_drug_samples(table))
    changes = [
        regimen_change(posterior, r, weeks, *classes, pk_variability=measured,
                       covariate=covariate)
        for r in regimens
    ]  # fmt: skip
    return xr.concat(changes, dim=pd.Index([r.label for r in regimens], name="regimen")).transpose(
        "chain", "draw", "regimen", "week"
    )


def estimands(tree: xr.DataTree, table: pd.DataFrame, options: Options, seed: int) -> xr.Dataset:
    """Posterior draws of the regimen predictions at the landmark week and the half-life.

    Parameters
    ----------
    tree : xarray.DataTree
        A fit of :func:`build`.
    table : pandas.DataFrame
        Its analysis table (the subjects standardised over).
    options : Options
        ``regimens`` and ``landmark_week``.
    seed : int
        Unused (the predictions are population means, not simulations).

    Returns
    -------
    xarray.Dataset
        ``change`` (chain, draw, regimen): mean DAS28 change from baseline at the landmark
        week; ``effect`` (chain, draw, active_regimen): change minus the first regimen's;
        ``half_life`` (chain, draw): ln 2 / kout, days.
    """
    post = tree["posterior"].to_dataset()
    week = float(options.landmark_week)
    change = regimen_courses(post, table, options, np.array([0.0, week])).sel(week=week)
    labels = [str(r) for r in change["regimen"].values]
    effect = change.isel(regimen=slice(1, None)) - change.isel(regimen=0)
    effect = effect.rename(regimen="active_regimen")
    return xr.Dataset(
        {
            "change": change.drop_vars("week"),
            "effect": effect.drop_vars("week").assign_coords(active_regimen=labels[1:]),
            "half_life": np.log(2) / post["kout"],
        }
    )


ESTIMANDS = {
    "change": ParameterInfo("mean change in DAS28 at the landmark week under the regimen", "score"),
    "effect": ParameterInfo("mean change minus the first regimen's", "score"),
    "half_life": ParameterInfo("DAS28 turnover half-life, ln 2 / kout", "days"),
}


def _score(options: Options) -> str:
    return SCORE_NAMES.get(options.score, options.score)


def effect_sentence(answer: Answer) -> str:
    """Say a regimen's predicted effect against the first regimen in words.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> options = SimpleNamespace(score="DAS28ESR", landmark_week=24, regimens=("placebo",))
    >>> effect_sentence(Answer("162 mg SC every week", -2.6, -2.9, -2.3, 0.9, options))
    '162 mg SC every week would lower DAS28-ESR by 2.60 more than placebo at week 24 (90 % \
interval 2.30 to 2.90).'
    """
    verb, sign = ("lower", -1) if answer.mean <= 0 else ("raise", 1)
    low, high = sorted((sign * answer.lower, sign * answer.upper))
    return (
        f"{answer.element} would {verb} {_score(answer.options)} by {abs(answer.mean):.2f} more "
        f"than {Regimen.parse(answer.options.regimens[0]).label} at week "
        f"{answer.options.landmark_week:g} ({answer.interval} {low:.2f} to {high:.2f})."
    )


def _potency_sentence(answer: Answer) -> str:
    return (
        f"Half the maximal effect at a tocilizumab concentration of {answer.mean:.2g} µg/mL in "
        f"a typical patient{_at_reference(answer.options)} ({answer.interval} "
        f"{answer.lower:.2g} to {answer.upper:.2g})."
    )


def _at_reference(options) -> str:
    """Where the typical EC50 is read with Levi's covariate (L = 1), in words."""
    return " with baseline IL-6 at 20 pg/mL" if getattr(options, "il6_on_ec50", False) else ""


def _imax_sentence(answer: Answer) -> str:
    return (
        f"At most {answer.mean:.0%} of DAS28 production is inhibited ({answer.interval} "
        f"{answer.lower:.0%} to {answer.upper:.0%})."
    ).replace("%", " %")


def _half_life_sentence(answer: Answer) -> str:
    return (
        f"DAS28 responds with a half-life of {answer.mean:.0f} days ({answer.interval} "
        f"{answer.lower:.0f} to {answer.upper:.0f})."
    )


HEADLINES = (
    Headline("effect", "predicted effect of each regimen at the landmark week", effect_sentence),
    Headline("ec50", "potency (EC50)", _potency_sentence),
    Headline("imax", "maximal inhibition", _imax_sentence),
    Headline("half_life", "how fast DAS28 responds", _half_life_sentence),
)


def _band(ax, x, draws, colour, label, ci_prob):
    tail = (1 - ci_prob) / 2
    low, mid, high = np.quantile(draws, [tail, 0.5, 1 - tail], axis=0)
    ax.plot(x, mid, color=colour, label=label)
    ax.fill_between(x, low, high, color=colour, alpha=0.2)


def exposure_response_figure(fig: FigureInput) -> Figure:
    """Inhibition of DAS28 production against tocilizumab concentration, typical patient.

    :math:`E(C) = I_{max} (C + D)^h / (EC_{50}^h + (C + D)^h)` with its credible band; below
    it, the range of concentrations (5th to 95th percentile over the dosing intervals) of the
    subjects of each studied regimen.

    Parameters
    ----------
    fig : FigureInput
        An ``exposure_response`` fit and its analysis table.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    from il6fit.plots import plain_log_ticks

    post = fig.tree["posterior"]
    draw = {k: post[k].values.reshape(-1, 1) for k in ("ec50", "imax", "dmard")}
    grid = np.geomspace(0.1, 300.0, 120)
    driven = (grid[None, :] + draw["dmard"]) ** HILL
    effect = draw["imax"] * driven / (draw["ec50"] ** HILL + driven)
    figure, ax = plt.subplots(figsize=(7, 4.8))
    label = f"typical patient{_at_reference(fig.options)} (model)"
    _band(ax, grid, 100 * effect, "C0", label, fig.ci_prob)
    design = exposure_design(fig.table)
    subjects = fig.table.drop_duplicates("USUBJID").reset_index(drop=True)
    for j, (text, members) in enumerate(subjects.groupby("regimen", sort=False)):
        conc = design["concentration"][members.index]
        if conc.max() == 0:
            continue
        low, high = np.quantile(conc[conc > 0], [0.05, 0.95])
        ax.plot([max(low, grid[0]), high], [2 + 4 * j] * 2, lw=5, alpha=0.6, color=f"C{j + 1}",
                label=f"{text}: concentrations, 5th-95th percentile")  # fmt: skip
    ax.set(xscale="log", xlabel="tocilizumab concentration (µg/mL)", ylim=(0, 100),
           ylabel="inhibition of DAS28 production (%)")  # fmt: skip
    plain_log_ticks(ax.xaxis)
    ax.set_title(f"Exposure-response, {fig.ci_prob:.0%} credible band".replace("%", " %"))
    ax.legend(fontsize=7, loc="upper left")
    return figure


def regimens_figure(fig: FigureInput) -> Figure:
    """Mean DAS28 change under each configured regimen, with the observed change per arm.

    Parameters
    ----------
    fig : FigureInput
        An ``exposure_response`` fit, its analysis table and options (``regimens``,
        ``landmark_week``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    table, options = fig.table, fig.options
    until = max(float(options.landmark_week), float(table["week"].max()))
    weeks = np.arange(0.0, until + 0.5, 1.0)
    post = fig.tree["posterior"].to_dataset()
    # bands from every k-th draw, at least FIGURE_DRAWS of them: each draw's courses take
    # about 10 ms per regimen
    every = max(1, (post.sizes["chain"] * post.sizes["draw"]) // FIGURE_DRAWS)
    predicted = regimen_courses(post.isel(draw=slice(None, None, every)), table, options, weeks)
    figure, ax = plt.subplots(figsize=(7, 4.8))
    colour = {}
    for j, label in enumerate(predicted["regimen"].values):
        colour[str(label)] = f"C{j}"
        draws = predicted.sel(regimen=label).stack(sample=("chain", "draw")).values.T
        _band(ax, weeks, draws, f"C{j}", f"{label} (model)", fig.ci_prob)
    baseline = table[table["week"] == 0].set_index("USUBJID")["y"]
    change = table.assign(change=table["y"] - table["USUBJID"].map(baseline))
    for k, (arm, rows) in enumerate(change.groupby("arm", sort=False)):
        observed = rows.groupby("week")["change"].agg(["mean", "sem"])
        regimen = rows["regimen"].iloc[0]
        ax.errorbar(observed.index, observed["mean"], yerr=observed["sem"], fmt="o", ms=4,
                    color=colour.get(regimen, f"C{len(colour) + k}"),
                    label=f"{arm} (observed mean ± SE)")  # fmt: skip
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(xlabel="week since first dose (weeks)",
           ylabel=f"change in {_score(options)} from baseline (score)")  # fmt: skip
    ax.set_title(f"DAS28 under each regimen, {fig.ci_prob:.0%} credible bands".replace("%", " %"))
    ax.legend(fontsize=7, ncol=2)
    return figure


FAMILY = ModelFamily(
    name="exposure_response",
    title="Turnover model of DAS28 driven by tocilizumab concentration (exposure-response)",
    equations=__doc__,
    options=Options,
    requires=lambda options: (options.score,) + ((IL6_PARAMCD,) if options.il6_on_ec50 else ()),
    parameters=PARAMETERS,
    default_priors=DEFAULT_PRIORS,
    analysis_table=analysis_table,
    builder=build,
    estimands=estimands,
    estimand_parameters=ESTIMANDS,
    figures={
        "exposure": FigureSpec(
            exposure_response_figure,
            "inhibition of DAS28 production against tocilizumab concentration",
        ),
        "regimens": FigureSpec(
            regimens_figure, "predicted DAS28 change under each regimen, studied or not"
        ),
    },
    observed={"y": ObservedInfo("DAS28 at every visit (score)")},
    with_observed=_with_scores,
    marginal=Marginal(
        generative=build_latent,
        conditional=conditional_effects,
        log_likelihood=draw_log_likelihood,
        joint=effects_and_log_likelihood,
    ),
    headlines=HEADLINES,
    reads_dosing=True,
    # Levi 2013's estimates (domain-facts §5c), on a trial of the simulator's design
    recovery=RecoveryStudy(
        truth={
            "mu_base": 6.8,
            "sigma_base": 0.6,
            "log_ec50": float(np.log(3.7)),
            "omega_ec50": 1.07,
            "imax": 0.73,
            "log_kout": float(np.log(0.038)),
            "omega_kout": 0.55,
            "log_dmard": float(np.log(0.3)),
            "sigma": 0.68,
        },
        n_subjects=300,
    ),
    # 60 patients of the simulator's trial, their measured concentrations driving their own
    # exposure (a replicate keeps them and draws the scores)
    calibration=Calibration(design={"scenario": "ra_tcz_trial", "n_subjects": 60}),
    compile_seconds=40.0,
)
