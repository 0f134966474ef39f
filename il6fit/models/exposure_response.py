r"""Exposure-response: a turnover model of tocilizumab's effect on DAS28 (Levi 2013's structure).

For subject :math:`i` with typical-value tocilizumab concentration :math:`C_i(t)` (µg/mL; from
their regimen, weight and sex through Frey 2010's population PK, :mod:`il6fit.exposure`) and
DAS28 :math:`y_{ij}` at visit day :math:`t_{ij}`:

.. math::

    \frac{dR_i}{dt} &= k_{out}\,BASE_i\,(1 - E_i(t)) - k_{out} R_i, \qquad R_i(0) = BASE_i \\
    E_i(t) &= \frac{I_{max} (C_i(t) + D)^h}{EC_{50,i}^h + (C_i(t) + D)^h}, \qquad h = 0.64 \\
    y_{ij} &\sim \mathrm{Normal}(R_i(t_{ij}), \sigma) && \text{DAS28 (score units)} \\
    BASE_i &\sim \mathrm{Normal}(\mu_B, \sigma_B) && \text{baseline activity} \\
    \ln EC_{50,i} &\sim \mathrm{Normal}(\ln EC_{50}, \omega) && \text{potency, µg/mL}

:math:`D` is the background DMARD's effect as a tocilizumab-equivalent concentration (the
placebo arm's response, :math:`C = 0`), :math:`k_{out}` the loss rate per day (half-life
:math:`\ln 2 / k_{out}`). The Hill coefficient is fixed at Levi's 0.64: a trial's DAS28 at
a handful of visits does not inform it (a free :math:`h` trades off against :math:`EC_{50}`
and :math:`I_{max}`). The turnover is solved per step exactly
(:mod:`il6fit.models.turnover`): :math:`R_i = BASE_i\,g_i(t; EC_{50,i}, I_{max}, D, k_{out})`.

Subject effects are integrated out, so NUTS samples only the globals. Given
:math:`EC_{50,i}` the visits are Gaussian in :math:`BASE_i`: with :math:`g_i` at the subject's
visits, :math:`r_i = y_i - \mu_B g_i`, :math:`a_i = g_i^\top g_i`, :math:`b_i = g_i^\top r_i`
and :math:`n_i` visits,

.. math::

    \log p(y_i \mid EC_{50,i}, \theta) = -\tfrac12 \Big[ n_i \log(2\pi\sigma^2)
        + \log\big(1 + \sigma_B^2 a_i / \sigma^2\big)
        + \big(r_i^\top r_i - \sigma_B^2 b_i^2 / (\sigma^2 + \sigma_B^2 a_i)\big) / \sigma^2 \Big],

and :math:`EC_{50,i}` is integrated by Gauss-Hermite quadrature on its log scale (:data:`NODES`
nodes :math:`x_k`, weights :math:`w_k`):

.. math::

    \log p(y_i \mid \theta) = \log \sum_k \frac{w_k}{\sqrt\pi}
        \, p\big(y_i \mid EC_{50,i} = EC_{50}\,e^{\sqrt2\,\omega x_k}, \theta\big).

It is the model's log-likelihood, one term per subject.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
from scipy.special import logsumexp

from il6fit.errors import SpecError
from il6fit.exposure import Regimen, concentrations
from il6fit.models.arms import ARMS_DOC, ARMS_SCHEMA, DEFAULT_ARMS
from il6fit.models.censored import exact_scores
from il6fit.models.family import ParameterInfo, option
from il6fit.models.priors import Prior
from il6fit.models.turnover import course_fraction, step_edges

#: Levi 2013's Hill coefficient of tocilizumab's effect on DAS28 (domain-facts §5c).
HILL = 0.64
#: Gauss-Hermite nodes over a subject's log EC50.
NODES = 15
#: Typical adult heights, m (women, men), for a weight from BMI when no weight is given;
#: the simulator's values (UNVERIFIED).
HEIGHT_M = {"F": 1.63, "M": 1.76}
#: Weight of a subject without BMI, kg (Frey 2010's trials: median 67-73 kg, domain-facts §6).
DEFAULT_WEIGHT_KG = 70.0
#: Turnover step, days (intravenous q4w; error below 1e-4 of baseline, il6fit.models.turnover).
STEP_DAYS = 1.0


@dataclass(frozen=True)
class Options:
    """Options of the exposure-response model (``model_options.exposure_response``)."""

    score: str = option(
        "DAS28ESR",
        "Disease-activity score modelled (DAS28ESR or DAS28CRP; Levi 2013 modelled DAS28-ESR).",
        enum=["DAS28ESR", "DAS28CRP"],
    )
    arms: Mapping[str, float] | None = option(None, ARMS_DOC, **ARMS_SCHEMA)


PARAMETERS = {
    "mu_base": ParameterInfo("mean baseline DAS28", "score"),
    "sigma_base": ParameterInfo("between-subject SD of baseline DAS28", "score"),
    "ec50": ParameterInfo("typical concentration of half the maximal effect", "µg/mL"),
    "omega_ec50": ParameterInfo("between-subject SD of ln EC50", "ln(µg/mL)"),
    "imax": ParameterInfo("maximal fractional inhibition of DAS28 production", "fraction"),
    "kout": ParameterInfo("DAS28 turnover rate", "1/day"),
    "dmard": ParameterInfo("background DMARD effect as tocilizumab-equivalent", "µg/mL"),
    "sigma": ParameterInfo("residual SD", "score"),
}

#: Centred on Levi 2013 (domain-facts §5c): BASE 6.8 (IIV 9.4 %, SD about 0.6), EC50 3.7 µg/mL
#: (IIV 170 %, ln-scale SD 1.07), Emax 0.73, kout 0.038/day, DMARD 0.30 µg/mL, residual 0.68;
#: wide enough for a trial that differs.
DEFAULT_PRIORS = {
    "mu_base": Prior("Normal", {"mu": 6.5, "sigma": 1.0}),
    "sigma_base": Prior("HalfNormal", {"sigma": 1.0}),
    "log_ec50": Prior("Normal", {"mu": float(np.log(3.7)), "sigma": 1.0}),
    "omega_ec50": Prior("HalfNormal", {"sigma": 1.0}),
    "imax": Prior("Beta", {"alpha": 7.3, "beta": 2.7}),
    "log_kout": Prior("Normal", {"mu": float(np.log(0.038)), "sigma": 0.5}),
    "log_dmard": Prior("Normal", {"mu": float(np.log(0.3)), "sigma": 1.5}),
    "sigma": Prior("HalfNormal", {"sigma": 1.0}),
}


def subject_weights(subjects: pd.DataFrame) -> pd.Series:
    """Body weight, kg, by subject: BMI x typical height squared, or 70 kg without BMI."""
    height = subjects["SEX"].map(HEIGHT_M).fillna((HEIGHT_M["F"] + HEIGHT_M["M"]) / 2)
    weight = pd.to_numeric(subjects["BMI"], errors="coerce") * height**2
    return pd.Series(weight.fillna(DEFAULT_WEIGHT_KG).to_numpy(), index=subjects["USUBJID"])


def analysis_table(
    subjects: pd.DataFrame, measurements: pd.DataFrame, options: Options
) -> pd.DataFrame:
    """One row per subject-visit: the score, the visit day and the subject's dosing covariates.

    Parameters
    ----------
    subjects, measurements : pandas.DataFrame
        A prepared dataset.
    options : Options
        ``score`` and ``arms`` (``TRT01P`` label to mg/kg IV every 4 weeks).

    Returns
    -------
    pandas.DataFrame
        Columns ``USUBJID``, ``week``, ``day``, ``y``, ``arm``, ``dose`` (mg/kg), ``female``,
        ``weight`` (kg).

    Raises
    ------
    SpecError
        If no subject in the arms has a baseline score.
    """
    arms = dict(DEFAULT_ARMS if options.arms is None else options.arms)
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
    table = table[table["arm"].isin(arms)].copy()
    table["dose"] = table["arm"].map(arms).astype(float)
    table["female"] = table["USUBJID"].map(by_subject["SEX"]).eq("F")
    table["weight"] = table["USUBJID"].map(subject_weights(subjects))
    with_baseline = set(table.loc[table["week"] == 0, "USUBJID"])
    table = table[table["USUBJID"].isin(with_baseline)]
    if table.empty:
        raise SpecError(
            f"exposure_response: no subject in arms {list(arms)} has a baseline {options.score}."
        )
    return table.sort_values(["USUBJID", "day"]).reset_index(drop=True)


def exposure_design(table: pd.DataFrame, step: float = STEP_DAYS) -> dict[str, np.ndarray]:
    """Each subject's concentrations on the turnover steps and their visits on a shared grid.

    Returns
    -------
    dict
        ``edges`` (days), ``concentration`` (subjects x steps, µg/mL, at each step's middle),
        ``profiles`` (the distinct rows of ``concentration``: every placebo subject shares
        one) and ``profile`` (each subject's row of it), ``visits`` (days), ``y`` and ``seen``
        (subjects x visits; ``seen`` 1 where observed), ``subjects`` (their IDs, in row order
        of the arrays).
    """
    subjects = table.drop_duplicates("USUBJID").reset_index(drop=True)
    visits = np.unique(table["day"].to_numpy(float))
    until = float(visits.max())
    dosing = np.arange(0.0, until, 28.0)
    edges = step_edges(until, dosing, step)
    edges = np.union1d(edges, visits)
    middles = (edges[1:] + edges[:-1]) / 2
    conc = np.zeros((len(subjects), middles.size))
    for dose, group in subjects.groupby("dose"):
        if dose > 0:
            conc[group.index] = concentrations(
                Regimen("iv", dose, "mg/kg", 28),
                middles,
                group["weight"].to_numpy(float),
                group["female"].to_numpy(bool),
            )
    row = pd.Index(subjects["USUBJID"]).get_indexer(table["USUBJID"])
    col = np.searchsorted(visits, table["day"].to_numpy(float))
    y = np.zeros((len(subjects), visits.size))
    seen = np.zeros_like(y)
    y[row, col] = table["y"].to_numpy(float)
    seen[row, col] = 1.0
    profiles, profile = np.unique(conc, axis=0, return_inverse=True)
    return {
        "edges": edges,
        "concentration": conc,
        "profiles": profiles,
        "profile": profile.ravel(),
        "visits": visits,
        "y": y,
        "seen": seen,
        "subjects": subjects["USUBJID"].to_numpy(),
    }


def quadrature() -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Hermite nodes for a standard normal: ``(sqrt(2) x_k, w_k / sqrt(pi))``."""
    nodes, weights = np.polynomial.hermite.hermgauss(NODES)
    return np.sqrt(2.0) * nodes, weights / np.sqrt(np.pi)


def courses_by_node(profiles, edges, visits, ec50, omega, imax, kout, dmard):
    """:math:`g` at the visits for each exposure profile and each quadrature node of ln EC50.

    Parameters
    ----------
    profiles : numpy.ndarray
        Concentrations, µg/mL, (profiles, steps) at the middles of the steps ``edges`` bound.
    edges, visits : numpy.ndarray
        Step boundaries and visit days (:func:`il6fit.models.turnover.course_fraction`).
    ec50, omega, imax, kout, dmard : scalar or tensor
        Typical EC50, SD of ln EC50, Imax, kout, background DMARD (natural scales).

    Returns
    -------
    array or tensor, shape (profiles, nodes, visits)
    """
    tensor = any(isinstance(v, pt.TensorVariable) for v in (ec50, omega, imax, kout, dmard))
    xp = pt if tensor else np
    nodes, _ = quadrature()
    driven = (profiles + dmard) ** HILL  # (profiles, steps)
    potency = (ec50 * xp.exp(omega * nodes)) ** HILL  # (nodes,)
    effect = imax * driven[:, None, :] / (potency[None, :, None] + driven[:, None, :])
    return course_fraction(1.0 - effect, kout, edges, visits)


def subject_log_likelihood(design, mu_base, sigma_base, ec50, omega, imax, kout, dmard, sigma):
    """Each subject's log-likelihood with BASE and EC50 integrated out (numpy or PyTensor).

    Parameters
    ----------
    design : dict
        :func:`exposure_design`.
    mu_base, sigma_base, ec50, omega, imax, kout, dmard, sigma : scalar or tensor
        The global parameters (natural scales).

    Returns
    -------
    array or tensor, shape (subjects,)
    """
    tensor = any(
        isinstance(v, pt.TensorVariable)
        for v in (mu_base, sigma_base, ec50, omega, imax, kout, dmard, sigma)
    )
    xp = pt if tensor else np
    # the course depends on a subject only through their exposure profile
    g = courses_by_node(
        design["profiles"], design["edges"], design["visits"], ec50, omega, imax, kout, dmard
    )
    g = g[design["profile"]]  # (subjects, nodes, visits)
    seen, y = design["seen"][:, None, :], design["y"][:, None, :]
    g = g * seen
    resid = (y - mu_base * g) * seen
    a = (g * g).sum(axis=-1)
    b = (g * resid).sum(axis=-1)
    rr = (resid * resid).sum(axis=-1)
    n = design["seen"].sum(axis=-1)[:, None]
    s2, b2 = sigma**2, sigma_base**2
    log_n = -0.5 * (
        n * xp.log(2 * np.pi * s2) + xp.log1p(b2 * a / s2) + (rr - b2 * b * b / (s2 + b2 * a)) / s2
    )
    _, weights = quadrature()
    return (pt.logsumexp if tensor else logsumexp)(log_n + np.log(weights), axis=1)


def build(table: pd.DataFrame, priors: Mapping[str, Prior], options: Options) -> pm.Model:
    """Build the marginal exposure-response model: globals only, one potential per subject."""
    design = exposure_design(table)
    with pm.Model(coords={"subject": design["subjects"]}) as model:
        mu_base = priors["mu_base"].create("mu_base")
        sigma_base = priors["sigma_base"].create("sigma_base")
        ec50 = pm.Deterministic("ec50", pt.exp(priors["log_ec50"].create("log_ec50")))
        omega = priors["omega_ec50"].create("omega_ec50")
        imax = priors["imax"].create("imax")
        kout = pm.Deterministic("kout", pt.exp(priors["log_kout"].create("log_kout")))
        dmard = pm.Deterministic("dmard", pt.exp(priors["log_dmard"].create("log_dmard")))
        sigma = priors["sigma"].create("sigma")
        terms = subject_log_likelihood(
            design, mu_base, sigma_base, ec50, omega, imax, kout, dmard, sigma
        )
        pm.Potential("subject_ll", terms, dims="subject")
    return model


def regimen_change(
    posterior, regimen: Regimen, weeks: np.ndarray, weight_kg: np.ndarray, female: np.ndarray
):
    r"""Mean change of DAS28 from baseline under a regimen, for every posterior draw.

    The population mean of :math:`R_i(t) - BASE_i` over subjects like those given (their
    weights and sexes; each draws its own baseline and EC50 from the fitted population):
    :math:`\mu_B\,(\bar g(t) - 1)`, with :math:`\bar g` averaged over the subjects and over
    ln EC50 by the model's quadrature. Any regimen, studied or not (e.g. 162 mg SC weekly).

    Parameters
    ----------
    posterior : xarray.Dataset
        Draws of ``mu_base``, ``ec50``, ``omega_ec50``, ``imax``, ``kout``, ``dmard``.
    regimen : Regimen
        The dosing.
    weeks : numpy.ndarray
        Weeks at which to report (0 included or not).
    weight_kg, female : numpy.ndarray
        The subjects standardised over.

    Returns
    -------
    xarray.DataArray
        DAS28 change (score units), dims (chain, draw, week).
    """
    import xarray as xr

    weeks = np.asarray(weeks, dtype=float)
    until = float(weeks.max()) * 7.0
    step = STEP_DAYS if regimen.route == "iv" else STEP_DAYS / 4
    edges = np.union1d(step_edges(until, regimen.times(until), step), weeks * 7.0)
    middles = (edges[1:] + edges[:-1]) / 2
    profiles, counts = np.unique(
        concentrations(regimen, middles, weight_kg, female), axis=0, return_counts=True
    )
    share = counts / counts.sum()
    _, weights = quadrature()
    stacked = posterior[["mu_base", "ec50", "omega_ec50", "imax", "kout", "dmard"]].stack(
        sample=("chain", "draw")
    )
    v = {k: stacked[k].to_numpy() for k in stacked.data_vars}
    out = np.empty((v["kout"].size, weeks.size))
    for s in range(out.shape[0]):
        g = courses_by_node(profiles, edges, weeks * 7.0, v["ec50"][s], v["omega_ec50"][s],
                            v["imax"][s], v["kout"][s], v["dmard"][s])  # fmt: skip
        out[s] = v["mu_base"][s] * (np.einsum("p,k,pkv->v", share, weights, g) - 1.0)
    index = stacked.indexes["sample"]
    result = xr.DataArray(out, dims=("sample", "week"), coords={"sample": index, "week": weeks})
    return result.unstack("sample").transpose("chain", "draw", "week")
