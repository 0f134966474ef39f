r"""Biomarkers as censored predictors: a latent true value wherever the assay gave only a limit.

A result reported below its LLOQ :math:`L` (above its ULOQ :math:`U`) is not a number to plug
in: the true log concentration :math:`x_i` is a parameter constrained to :math:`x_i < \ln L`
(:math:`x_i > \ln U`), drawn from the same population model as the measured values, so the
outcome the biomarker predicts also informs it. Measured values are observed under that
population model and inform its parameters.

A disease-activity score derived from a censored component is censored too (``CENS`` -1 / +1,
:mod:`il6fit.data.derivation`); models that take scores as exact values leave such results out
(:func:`exact_scores`) rather than use the bound as if it were the score.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from il6fit.models.family import ParameterInfo
from il6fit.models.priors import Prior

log = logging.getLogger(__name__)


def latent_log_biomarker(
    name: str,
    log_values: np.ndarray,
    cens: np.ndarray,
    mu,
    sigma,
    *,
    dim: str,
) -> pt.TensorVariable:
    """Add a censoring-aware log biomarker to the current model and return its true values.

    Parameters
    ----------
    name : str
        Name of the observed variable of measured values (``log_il6``, say). Latent values are
        ``<name>_below`` and ``<name>_above``.
    log_values : numpy.ndarray
        Log of the reported values; at a censored row, the log of the limit.
    cens : numpy.ndarray
        -1 below the LLOQ, 0 measured, +1 above the ULOQ.
    mu, sigma : scalar or tensor
        Population mean and SD of the log values; ``mu`` may be a vector with one entry per row.
    dim : str
        Prefix of the dims: ``<dim>_measured``, ``<dim>_below`` and ``<dim>_above`` hold the row
        positions of each kind.

    Returns
    -------
    pytensor.tensor.TensorVariable
        One true log value per row: the reported one where measured, the latent one elsewhere.
    """
    model = pm.modelcontext(None)
    log_values = np.asarray(log_values, dtype=float)
    cens = np.asarray(cens)
    measured, left, right = (np.flatnonzero(cens == c) for c in (0, -1, 1))
    for kind, rows in (("measured", measured), ("below", left), ("above", right)):
        model.add_coord(f"{dim}_{kind}", rows)
    mu = pt.as_tensor(mu)

    def at(rows):
        return mu[rows] if mu.ndim else mu

    # measured values as data: a refit on new values with the same censoring reuses compiled code
    values = pm.Data(f"{name}_observed", log_values[measured], dims=f"{dim}_measured")
    pm.Normal(name, at(measured), sigma, observed=values, dims=f"{dim}_measured")
    x = pt.set_subtensor(pt.zeros(log_values.size)[measured], values)
    if left.size:
        # TruncatedNormal keeps draws and the initial point inside the bound; the potential adds
        # back its normalising constant, so the joint density is the untruncated one.
        below = pm.TruncatedNormal(
            f"{name}_below", at(left), sigma, upper=log_values[left], dims=f"{dim}_below"
        )
        mass = pm.logcdf(pm.Normal.dist(at(left), sigma), log_values[left])
        pm.Potential(f"{name}_below_mass", mass.sum())
        x = pt.set_subtensor(x[left], below)
    if right.size:
        above = pm.TruncatedNormal(
            f"{name}_above", at(right), sigma, lower=log_values[right], dims=f"{dim}_above"
        )
        mass = pt.log1mexp(pm.logcdf(pm.Normal.dist(at(right), sigma), log_values[right]))
        pm.Potential(f"{name}_above_mass", mass.sum())
        x = pt.set_subtensor(x[right], above)
    return x


#: References at which the biomarker predictors are centred: IL-6 20 pg/mL (RA trial median,
#: domain-facts §1a) and CRP 10 mg/L (RA trial baselines 8-16 mg/L, §2a).
IL6_REFERENCE, CRP_REFERENCE = 20.0, 10.0

#: Reference and scale of the subject covariates families adjust for: a coefficient is per
#: scale unit (5 kg/m² of BMI, 10 years of age) from the reference patient.
BMI_REFERENCE, BMI_SCALE = 27.0, 5.0
AGE_REFERENCE, AGE_SCALE = 50.0, 10.0

#: Predictor names, their table columns and reference values.
BIOMARKERS = {"il6": ("IL6", IL6_REFERENCE), "crp": ("CRP", CRP_REFERENCE)}


def biomarker_predictors(
    table: pd.DataFrame, priors: Mapping[str, Prior], predictors: Sequence[str]
) -> dict[str, pt.TensorVariable]:
    r"""Centred true log IL-6 and log CRP of each row, censoring-aware, in the current model.

    IL-6 has a normal population model on the log scale; CRP, given IL-6, a normal regression
    on it (the two are strongly correlated, domain-facts §2d), or a normal population of its
    own when IL-6 is not a predictor:

    .. math::

        x_i \sim N(\mu_{x}, \sigma_{x}), \qquad
        c_i \mid x_i \sim N(\kappa_0 + \kappa_1 (x_i - \ln 20), \sigma_c)

    Either is latent where its assay gave only a limit (:func:`latent_log_biomarker`).

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``IL6``, ``IL6_cens``, ``CRP``, ``CRP_cens`` for the predictors used.
    priors : mapping of str to Prior
        Priors ``mu_il6``, ``sigma_il6``, ``crp_intercept``, ``crp_slope``, ``crp_sigma``.
    predictors : sequence of {"il6", "crp"}
        The biomarkers used.

    Returns
    -------
    dict of str to TensorVariable
        ``il6``: :math:`x_i - \ln 20`; ``crp``: :math:`c_i - \ln 10`.
    """
    out = {}
    x = None
    if "il6" in predictors:
        mu_x = priors["mu_il6"].create("mu_il6")
        sigma_x = priors["sigma_il6"].create("sigma_il6")
        x = latent_log_biomarker(
            "log_il6", np.log(table["IL6"].to_numpy(float)), table["IL6_cens"].to_numpy(),
            mu_x, sigma_x, dim="il6",
        )  # fmt: skip
        out["il6"] = x - np.log(IL6_REFERENCE)
    if "crp" in predictors:
        mu_c = priors["crp_intercept"].create("crp_intercept")
        if x is not None:
            mu_c = mu_c + priors["crp_slope"].create("crp_slope") * out["il6"]
        sigma_c = priors["crp_sigma"].create("crp_sigma")
        c = latent_log_biomarker(
            "log_crp", np.log(table["CRP"].to_numpy(float)), table["CRP_cens"].to_numpy(),
            mu_c, sigma_c, dim="crp",
        )  # fmt: skip
        out["crp"] = c - np.log(CRP_REFERENCE)
    return out


#: Priors of the biomarker population models, from domain-facts.md: RA IL-6 median ~22 pg/mL,
#: sd_ln ~1.1 (§1a); CRP ~10-16 mg/L at IL-6 ~20 pg/mL with log-log slope 0.6-0.9 (§2a, §2d).
BIOMARKER_PRIORS = {
    "mu_il6": Prior("Normal", {"mu": 3.0, "sigma": 1.5}),
    "sigma_il6": Prior("HalfNormal", {"sigma": 1.5}),
    "crp_intercept": Prior("Normal", {"mu": 2.3, "sigma": 1.5}),
    "crp_slope": Prior("Normal", {"mu": 0.7, "sigma": 0.5}),
    "crp_sigma": Prior("HalfNormal", {"sigma": 1.5}),
}

#: The biomarker population parameters, as shown in tables.
BIOMARKER_PARAMETERS = {
    "mu_il6": ParameterInfo("population mean of ln IL-6", "ln(pg/mL)"),
    "sigma_il6": ParameterInfo("population SD of ln IL-6", "ln(pg/mL)"),
    "crp_intercept": ParameterInfo("mean ln CRP at IL-6 20 pg/mL", "ln(mg/L)"),
    "crp_slope": ParameterInfo("ln CRP per ln IL-6 (population model)", "ln(mg/L) per ln(pg/mL)"),
    "crp_sigma": ParameterInfo("SD of ln CRP given IL-6", "ln(mg/L)"),
}


def wide_results(
    measurements: pd.DataFrame, codes: Sequence[str], visits: Sequence[float]
) -> pd.DataFrame:
    """One row per subject and visit with the results of the given codes side by side.

    Parameters
    ----------
    measurements : pandas.DataFrame
        Prepared measurements.
    codes : sequence of str
        ``PARAMCD`` values; each gives a column of values and a ``<code>_cens`` column.
    visits : sequence of float
        ``AVISITN`` values kept.

    Returns
    -------
    pandas.DataFrame
        Columns ``USUBJID``, ``AVISITN``, then the codes; rows lacking any code are left out.
    """
    meas = measurements[measurements["PARAMCD"].isin(codes) & measurements["AVISITN"].isin(visits)]
    wide = meas.pivot_table(
        index=["USUBJID", "AVISITN"], columns="PARAMCD", values=["AVAL", "CENS"], aggfunc="first"
    )
    out = pd.DataFrame(index=wide.index)
    for code in codes:
        present = ("AVAL", code) in wide.columns
        out[code] = wide[("AVAL", code)] if present else np.nan
        out[f"{code}_cens"] = wide[("CENS", code)] if present else np.nan
    out = out.dropna()
    for code in codes:
        out[f"{code}_cens"] = out[f"{code}_cens"].astype(int)
    return out.reset_index()


def biomarker_estimates(table: pd.DataFrame) -> dict[str, float]:
    """Plain estimates of the biomarker population model from a table's measured values.

    Used to fix the population model when outcomes are drawn for a design (recovery and
    calibration studies), so latent values below a limit are drawn like the measured ones.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``IL6``, ``IL6_cens`` and, optionally, ``CRP``, ``CRP_cens``.

    Returns
    -------
    dict of str to float
        ``mu_il6``, ``sigma_il6`` and, with CRP, ``crp_intercept``, ``crp_slope``,
        ``crp_sigma`` (least squares of ln CRP on centred ln IL-6, measured pairs).

    Examples
    --------
    >>> t = pd.DataFrame({"IL6": [10.0, 20, 40], "IL6_cens": 0, "CRP": [5.0, 10, 20],
    ...                   "CRP_cens": 0})
    >>> estimates = biomarker_estimates(t)
    >>> [round(estimates[k], 3) for k in ("mu_il6", "sigma_il6", "crp_intercept", "crp_slope")]
    [2.996, 0.693, 2.303, 1.0]
    """
    measured = table["IL6_cens"] == 0
    x = np.log(table.loc[measured, "IL6"].to_numpy(float))
    out = {"mu_il6": float(x.mean()), "sigma_il6": float(x.std(ddof=1))}
    if "CRP" in table:
        both = measured & (table["CRP_cens"] == 0)
        x = np.log(table.loc[both, "IL6"].to_numpy(float)) - np.log(IL6_REFERENCE)
        y = np.log(table.loc[both, "CRP"].to_numpy(float))
        slope, intercept = np.polyfit(x, y, 1)
        residual = y - intercept - slope * x
        out |= {
            "crp_intercept": float(intercept),
            "crp_slope": float(slope),
            "crp_sigma": float(residual.std(ddof=2)),
        }
    return out


def exact_scores(rows: pd.DataFrame, model: str, code: str) -> pd.DataFrame:
    """Leave out censored results of a score, with a note of how many in the log.

    A score derived from a component beyond its assay limit (CRP below its LLOQ, say) is known
    only to lie below (or above) the value stored; taking it as exact would substitute the
    limit. Leaving it out is unbiased only if censoring is unrelated to the outcome; censored
    CRP goes with low disease activity, so with many censored scores it is a
    missing-not-at-random exclusion (interval censoring of the score would avoid it).

    Parameters
    ----------
    rows : pandas.DataFrame
        Prepared measurements of one score (a ``CENS`` column; without one every row is exact).
    model : str
        The model's name, for the log.
    code : str
        The score's PARAMCD, for the log.

    Returns
    -------
    pandas.DataFrame
        The rows whose ``CENS`` is 0.
    """
    if "CENS" not in rows:
        return rows
    censored = rows["CENS"].fillna(0) != 0
    if censored.any():
        log.info(
            "%s: %d censored %s result(s) of %d subject(s) left out (derived from a component "
            "beyond its assay limit, so known only within bounds); a censored baseline leaves its "
            "subject out",
            model,
            int(censored.sum()),
            code,
            rows.loc[censored, "USUBJID"].nunique(),
        )
    return rows[~censored]
