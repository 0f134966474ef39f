r"""IL-6 -> CRP: log CRP on log IL-6 with covariates and site effects, censoring-aware.

For row :math:`i` (a subject at a visit) at site :math:`s[i]`:

.. math::

    x_i &\sim \mathrm{Normal}(\mu_{x}, \sigma_{x})
        && \text{true } \ln \mathrm{IL6}_i \text{ [pg/mL]} \\
    \mu_i &= \alpha + \alpha^{site}_{s[i]} + \beta_{IL6}(x_i - \ln 20)
            + \beta_{BMI}\frac{BMI_i - 27}{5} + \beta_{male}\,male_i
            + \beta_{age}\frac{AGE_i - 50}{10} \\
    \ln \mathrm{CRP}_i &\sim \mathrm{Normal}(\mu_i, \sigma)
        \text{ or } \mathrm{StudentT}(\nu, \mu_i, \sigma) && \text{CRP in mg/L} \\
    \alpha^{site} &\sim \mathrm{ZeroSumNormal}(0.5)
        && \text{fixed (default)}, \textstyle\sum_s \alpha^{site}_s = 0 \\
    \alpha^{site}_s &= \tau_{site} z_s, \quad z \sim \mathrm{ZeroSumNormal}(1)
        && \text{hierarchical (option)}

Censoring (assay limits) on both biomarkers:

* CRP below its LLOQ :math:`L` (above its ULOQ :math:`U`) contributes
  :math:`\Phi((\ln L - \mu_i)/\sigma)` (:math:`1 - \Phi((\ln U - \mu_i)/\sigma)`) to the
  likelihood (``pm.Censored``);
* IL-6 below its LLOQ (above its ULOQ) is a *predictor*: :math:`x_i` is then unknown but
  constrained to :math:`x_i < \ln L` (:math:`x_i > \ln U`) with the population density above,
  so its value is informed by the IL-6 distribution and by the row's CRP; a measured IL-6 is
  taken as :math:`x_i` and also informs :math:`\mu_x, \sigma_x`. No limit is ever substituted.
  With normal residuals :math:`(x_i, \ln \mathrm{CRP}_i)` is bivariate normal given the
  globals, so the row's likelihood is exact in closed form with :math:`x_i` integrated out
  (:func:`censored_il6_logp`: a normal density times a normal CDF, or the bivariate normal
  probability when CRP is censored too); NUTS samples only the globals and :math:`x_i` is
  drawn afterwards from its exact conditional (:func:`conditional_il6`). With Student-t
  residuals :math:`x_i` is sampled as a latent parameter.

Site effects are fixed by default (``site_effects``): zero-sum deviations with a fixed prior
scale, 0.5 ln units (a factor of 1.65 between sites; the hierarchical prior's typical between-site
SD), as trials adjust for centre. With few sites a between-site SD is barely identified and
its posterior defeats the sampler: at the calibration design (4 sites of 25 subjects, 4 chains
x 1,000 draws, ``tools/quick_calibration.py``) hierarchical sites failed the gate in 16 of 100
replicate fits non-centred (R-hat and ESS of ``tau_site``, divergences), and centred in 15 of
40 (2 chains); fixed sites in 1 of 100. Hierarchical sites (non-centred,
:math:`\alpha^{site} = \tau_{site} z`) partially pool and are for many sites
(``tests/slow/test_recovery.py`` recovers ``tau_site`` from 8 sites).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

from il6fit.errors import SpecError
from il6fit.models.censored import IL6_REFERENCE, latent_log_biomarker
from il6fit.models.family import (
    Calibration,
    FigureInput,
    FigureSpec,
    Marginal,
    ModelFamily,
    ObservedInfo,
    ParameterInfo,
    option,
)
from il6fit.models.priors import Prior
from il6fit.plots import plain_log_ticks

BMI_REFERENCE, BMI_SCALE = 27.0, 5.0
AGE_REFERENCE, AGE_SCALE = 50.0, 10.0
#: Covariates by config name: (analysis-table column, reference, scale); the coefficient of
#: ``name`` is ``beta_<name>``.
COVARIATES = {
    "bmi": ("BMI", BMI_REFERENCE, BMI_SCALE),
    "male": ("male", 0.0, 1.0),
    "age": ("AGE", AGE_REFERENCE, AGE_SCALE),
}

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Options:
    """Options of the IL-6 -> CRP model (``model_options.il6_crp``)."""

    visits: tuple[float, ...] = option(
        (0,),
        "Visits (AVISITN) whose IL-6/CRP pairs are used. Baseline only by default: IL-6 rises "
        "on tocilizumab, so on-treatment pairs do not follow the untreated relation.",
        minItems=1,
    )
    residual: Literal["normal", "student_t"] = option(
        "normal",
        "Residual distribution of ln CRP: normal, or student_t (degrees of freedom nu "
        "estimated, prior Gamma(2, 0.1)), robust to outlying CRP values.",
    )
    covariates: tuple[Literal["bmi", "male", "age"], ...] = option(
        ("bmi", "male", "age"),
        "Subject covariates of ln CRP. One the data lack altogether (BMI empty for every "
        "subject) is dropped with a note in the fit's log; one missing for only some subjects "
        "stops the fit (supply it or remove it here).",
        uniqueItems=True,
    )
    site_effects: Literal["fixed", "hierarchical"] = option(
        "fixed",
        "Site deviations of ln CRP: hierarchical (partial pooling, between-site SD tau_site "
        "estimated; for many sites) or fixed (zero-sum deviations with a fixed prior scale, "
        "prior alpha_site; for few sites, where tau_site is barely identified).",
    )


PARAMETERS = {
    "alpha": ParameterInfo("ln CRP at IL-6 20 pg/mL (reference subject)", "ln(mg/L)"),
    "beta_il6": ParameterInfo("log-log slope of CRP on IL-6", "ln(mg/L) per ln(pg/mL)"),
    "beta_bmi": ParameterInfo("BMI effect on ln CRP", "ln(mg/L) per 5 kg/m²"),
    "beta_male": ParameterInfo("male vs female, ln CRP", "ln(mg/L)"),
    "beta_age": ParameterInfo("age effect on ln CRP", "ln(mg/L) per 10 years"),
    "sigma": ParameterInfo("residual SD (scale) of ln CRP", "ln(mg/L)"),
    "nu": ParameterInfo("degrees of freedom of Student-t residuals", "-"),
    "tau_site": ParameterInfo("between-site SD of ln CRP", "ln(mg/L)"),
    "mu_il6": ParameterInfo("population mean of ln IL-6", "ln(pg/mL)"),
    "sigma_il6": ParameterInfo("population SD of ln IL-6", "ln(pg/mL)"),
    "alpha_site": ParameterInfo("site deviation of ln CRP", "ln(mg/L)"),
}

#: Defaults, from domain-facts.md: RA CRP median ~16 mg/L at IL-6 ~20 pg/mL, healthy far lower
#: (§2a, §2c); log-log slope 0.6-0.9 (§2d); BMI 0.03-0.1 ln(mg/L) per kg/m² (§6, George 2017);
#: IL-6 medians 2-5 (healthy) to ~22 pg/mL (RA) with sd_ln ~1.1 (§1a).
DEFAULT_PRIORS = {
    "alpha": Prior("Normal", {"mu": 2.0, "sigma": 1.5}),
    "beta_il6": Prior("Normal", {"mu": 0.7, "sigma": 0.5}),
    "beta_bmi": Prior("Normal", {"mu": 0.2, "sigma": 0.3}),
    "beta_male": Prior("Normal", {"mu": 0.0, "sigma": 0.5}),
    "beta_age": Prior("Normal", {"mu": 0.0, "sigma": 0.3}),
    "sigma": Prior("HalfNormal", {"sigma": 1.0}),
    # only with `residual: student_t`; Gamma(2, 0.1), mean 20 (Juarez and Steel 2010)
    "nu": Prior("Gamma", {"alpha": 2.0, "beta": 0.1}),
    "tau_site": Prior("HalfNormal", {"sigma": 0.5}),
    # only with `site_effects: fixed`: the hierarchical prior's typical scale, fixed
    "alpha_site": Prior("ZeroSumNormal", {"sigma": 0.5}),
    "mu_il6": Prior("Normal", {"mu": 3.0, "sigma": 1.5}),
    "sigma_il6": Prior("HalfNormal", {"sigma": 1.5}),
}


def analysis_table(
    subjects: pd.DataFrame, measurements: pd.DataFrame, options: Options
) -> pd.DataFrame:
    """Pair IL-6 and CRP of the same subject and visit, with the subject's covariates.

    Parameters
    ----------
    subjects, measurements : pandas.DataFrame
        A prepared dataset (:class:`il6fit.data.Prepared`).
    options : Options
        ``visits`` (``AVISITN``) to use (baseline only by default keeps IL-6 free of
        treatment: on tocilizumab serum IL-6 rises while CRP falls) and ``covariates``, keys of
        :data:`COVARIATES` to adjust for (one the data lack for every row is dropped).

    Returns
    -------
    pandas.DataFrame
        One row per subject-visit with both results: ``il6``, ``il6_cens``, ``crp``,
        ``crp_cens`` (values in pg/mL and mg/L; censoring -1/0/+1 at the stored limit),
        ``site``, and the covariate columns kept (``BMI``, ``male``, ``AGE``).

    Raises
    ------
    SpecError
        For an unknown covariate, or one missing for some rows but not all.
    """
    visits, covariates = options.visits, options.covariates
    meas = measurements[
        measurements["PARAMCD"].isin(["IL6", "CRP"]) & measurements["AVISITN"].isin(visits)
    ]
    wide = meas.pivot_table(
        index=["USUBJID", "AVISITN"], columns="PARAMCD", values=["AVAL", "CENS"], aggfunc="first"
    ).dropna()
    table = pd.DataFrame(
        {
            "il6": wide[("AVAL", "IL6")],
            "il6_cens": wide[("CENS", "IL6")].astype(int),
            "crp": wide[("AVAL", "CRP")],
            "crp_cens": wide[("CENS", "CRP")].astype(int),
        }
    ).reset_index()
    table = table.merge(subjects, on="USUBJID", how="left", validate="many_to_one")
    table["site"] = table["STUDYID"].astype(str) + ":" + table["SITEID"].astype(str)
    table["male"] = (table["SEX"] == "M").astype(float)
    columns = ["USUBJID", "AVISITN", "site", "il6", "il6_cens", "crp", "crp_cens"]
    unknown = sorted(set(covariates) - set(COVARIATES))
    if unknown:
        raise SpecError(
            f"il6_crp: unknown covariate(s) {', '.join(unknown)}; choose from "
            f"{', '.join(COVARIATES)}."
        )
    for name in covariates:
        column = COVARIATES[name][0]
        missing = table[column].isna()
        if missing.all():
            log.info("il6_crp: the data have no %s; covariate %s dropped", column, name)
        elif missing.any():
            raise SpecError(
                f"il6_crp: {column} is missing for {int(missing.sum())} of {len(table)} rows of "
                f"the analysis table; supply it, or remove '{name}' from covariates."
            )
        else:
            columns.append(column)
    return table[columns].reset_index(drop=True)


def build(table: pd.DataFrame, priors: Mapping[str, Prior], options: Options) -> pm.Model:
    r"""Build the fitted IL-6 -> CRP model: censored IL-6 integrated out where it is exact.

    With normal residuals, a row whose IL-6 is censored contributes the exact probability of
    what was seen, its latent :math:`x_i` integrated out (:func:`censored_il6_logp`), as a
    ``pm.Potential`` per row (``log_il6_below``, ``log_il6_above``, dims ``il6_below``,
    ``il6_above``); rows with measured IL-6 are observed as in :func:`build_latent`
    (``log_il6`` and ``log_crp``, dims ``il6_measured``). NUTS then samples no latent value.
    With Student-t residuals (no closed form) or no censored IL-6, it is :func:`build_latent`.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`analysis_table`.
    priors : mapping of str to Prior
        A prior for every key of :data:`DEFAULT_PRIORS`.
    options : Options
        ``residual``: the distribution of ln CRP.

    Returns
    -------
    pymc.Model

    Raises
    ------
    SpecError
        If the table has no rows.
    """
    integrate = options.residual == "normal" and bool((table["il6_cens"] != 0).any())
    return _build(table, priors, options, integrate=integrate)


def build_latent(table: pd.DataFrame, priors: Mapping[str, Prior], options: Options) -> pm.Model:
    """Build the IL-6 -> CRP model with a latent ln IL-6 wherever the assay gave a limit.

    The model that draws data (predictive checks, simulation, calibration) and the reference
    the fitted form (:func:`build`) is checked against.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`analysis_table`.
    priors : mapping of str to Prior
        A prior for every key of :data:`DEFAULT_PRIORS`.
    options : Options
        ``residual``: the distribution of ln CRP; Student-t (with ``nu`` estimated) is robust
        to outlying CRP values, such as an intercurrent infection.

    Returns
    -------
    pymc.Model
        Observed variables ``log_crp`` (censored) and ``log_il6`` (measured IL-6).

    Raises
    ------
    SpecError
        If the table has no rows.
    """
    return _build(table, priors, options, integrate=False)


def _build(
    table: pd.DataFrame, priors: Mapping[str, Prior], options: Options, *, integrate: bool
) -> pm.Model:
    residual = options.residual
    if table.empty:
        raise SpecError("il6_crp: no subject-visit has both IL-6 and CRP at the chosen visits.")
    if residual not in ("normal", "student_t"):
        raise SpecError(f"il6_crp: residual must be 'normal' or 'student_t', not '{residual}'.")
    sites, site_idx = np.unique(table["site"], return_inverse=True)
    log_il6 = np.log(table["il6"].to_numpy(float))
    log_crp = np.log(table["crp"].to_numpy(float))
    il6_cens = table["il6_cens"].to_numpy()
    crp_cens = table["crp_cens"].to_numpy()
    coords = {"obs": np.arange(len(table)), "site": sites}
    with pm.Model(coords=coords) as model:
        covariates = {
            name: pm.Data(name, (table[column].to_numpy(float) - ref) / scale, dims="obs")
            for name, (column, ref, scale) in COVARIATES.items()
            if column in table
        }
        site = pm.Data("site_idx", site_idx, dims="obs")

        mu_x = priors["mu_il6"].create("mu_il6")
        sigma_x = priors["sigma_il6"].create("sigma_il6")
        if integrate:
            rows = {kind: np.flatnonzero(il6_cens == c) for kind, c in CENSORING.items()}
            for kind, at in rows.items():
                model.add_coord(f"il6_{kind}", at)
                if kind != "measured" and at.size:  # which rows, to draw their IL-6 back
                    pm.Data(f"il6_{kind}_rows", at, dims=f"il6_{kind}")
            values = pm.Data("log_il6_observed", log_il6[rows["measured"]], dims="il6_measured")
            pm.Normal("log_il6", mu_x, sigma_x, observed=values, dims="il6_measured")
            x = pt.set_subtensor(pt.zeros(len(table))[rows["measured"]], values)
            # what each row reports, for drawing its censored IL-6 back after sampling
            for name, value in (("log_il6", log_il6), ("log_crp", log_crp), ("crp_cens", crp_cens)):
                pm.Data(f"reported_{name}", value, dims="obs")
        else:
            x = latent_log_biomarker("log_il6", log_il6, il6_cens, mu_x, sigma_x, dim="il6")

        alpha = priors["alpha"].create("alpha")
        beta_il6 = priors["beta_il6"].create("beta_il6")
        betas = {name: priors[f"beta_{name}"].create(f"beta_{name}") for name in covariates}
        # zero-sum site deviations keep alpha the grand mean, uncorrelated with the sites
        if options.site_effects == "fixed":
            alpha_site = priors["alpha_site"].create("alpha_site", dims="site")
        else:
            tau_site = priors["tau_site"].create("tau_site")
            z_site = pm.ZeroSumNormal("z_site", sigma=1.0, dims="site")
            alpha_site = pm.Deterministic("alpha_site", tau_site * z_site, dims="site")
        sigma = priors["sigma"].create("sigma")

        # ln CRP without its IL-6 term: the intercept of the row's regression on ln IL-6
        intercept = alpha + alpha_site[site]
        for name, value in covariates.items():
            intercept = intercept + betas[name] * value
        mu = intercept + beta_il6 * (x - np.log(IL6_REFERENCE))
        kept, dim = (rows["measured"], "il6_measured") if integrate else (slice(None), "obs")
        if residual == "student_t":
            residual_dist = pm.StudentT.dist(nu=priors["nu"].create("nu"), mu=mu, sigma=sigma)
        else:
            residual_dist = pm.Normal.dist(mu[kept], sigma)
        # outcome and limits as data: new values of the same design reuse compiled code
        lower = np.where(crp_cens == -1, log_crp, -np.inf)[kept]
        upper = np.where(crp_cens == 1, log_crp, np.inf)[kept]
        pm.Censored(
            "log_crp",
            residual_dist,
            lower=pm.Data("log_crp_lower", lower, dims=dim),
            upper=pm.Data("log_crp_upper", upper, dims=dim),
            observed=pm.Data("log_crp_observed", log_crp[kept], dims=dim),
            dims=dim,
        )
        if integrate:
            for kind in ("below", "above"):
                at = rows[kind]
                if not at.size:
                    continue
                regression = intercept[at] - beta_il6 * np.log(IL6_REFERENCE), beta_il6
                logp = censored_il6_logp(
                    CENSORING[kind], log_il6[at], crp_cens[at], log_crp[at], *regression,
                    mu_x, sigma_x, sigma,
                )  # fmt: skip
                pm.Potential(f"log_il6_{kind}", logp, dims=f"il6_{kind}")
    return model


#: Censoring codes of a result: measured, below the LLOQ, above the ULOQ.
CENSORING = {"measured": 0, "below": -1, "above": 1}

#: Gauss-Legendre nodes and weights on (0, 1) for the bivariate normal probability.
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(32)
_NODES, _WEIGHTS = (_NODES + 1) / 2, _WEIGHTS / 2


def bivariate_normal_cdf(h, k, rho):
    r"""P(X < h, Y < k) for standard normals with correlation ``rho`` (PyTensor).

    Plackett's identity with Genz's substitution :math:`r = \sin\theta` (Genz 2004),

    .. math::

        \Phi_2(h, k; \rho) = \Phi(h)\Phi(k) + \frac{1}{2\pi}\int_0^{\arcsin\rho}
            \exp\Big(-\frac{h^2 - 2hk\sin\theta + k^2}{2\cos^2\theta}\Big) d\theta,

    by 32-point Gauss-Legendre quadrature, smooth in every argument, so NUTS can
    differentiate it. Against adaptive quadrature, for :math:`|\rho| \le 0.99` and
    probabilities above 1e-8 (tested): log-probability error below 1e-9 for
    :math:`\rho \ge 0`, below 1e-4 for :math:`\rho < 0`, where the two terms cancel in the
    far tail.

    Parameters
    ----------
    h, k, rho : TensorVariable
        Broadcastable; :math:`|\rho| < 1`.

    Returns
    -------
    TensorVariable
    """
    angle = pt.arcsin(rho)[..., None] * _NODES
    sine = pt.sin(angle)
    h, k = h[..., None], k[..., None]
    density = pt.exp(-(h**2 - 2 * h * k * sine + k**2) / (2 * (1 - sine**2))) / (2 * np.pi)
    corner = pt.exp(_log_ndtr(h[..., 0]) + _log_ndtr(k[..., 0]))
    return corner + pt.arcsin(rho) * pt.sum(_WEIGHTS * density, axis=-1)


def censored_il6_logp(
    il6_side: int, limit, crp_cens, log_crp, intercept, beta, mu_x, sigma_x, sigma
):
    r"""Exact log-likelihood of rows whose IL-6 is censored, its latent value integrated out.

    With :math:`x \sim N(\mu_x, \sigma_x)` and :math:`y \mid x \sim N(c + eta x, \sigma)`
    (``intercept`` :math:`c` includes :math:`-eta \ln 20`), :math:`(x, y)` is bivariate
    normal: :math:`y \sim N(m_y = c + eta\mu_x, s_y^2 = eta^2\sigma_x^2 + \sigma^2)` and
    :math:`x \mid y \sim N(\mu_x + eta\sigma_x^2 (y - m_y)/s_y^2, \sigma_x\sigma/s_y)`.
    IL-6 below its limit :math:`a` (``il6_side`` -1; above, +1) with

    * CRP measured: :math:`\log N(y; m_y, s_y) + \log \Phi(\mp(a - E[x \mid y]) /
      \mathrm{sd}(x \mid y))`;
    * CRP censored at :math:`b` too: :math:`\log P(\pm x < \pm a, \pm y < \pm b)`, the
      bivariate normal probability, as :math:`\Phi(lpha) \int_0^1
      \Phiig((b' - c' - eta' (\mu'_x + \sigma_x \Phi^{-1}(\Phi(lpha) s)))/\sigmaig)\,ds`
      in sign-flipped coordinates, by 32-point Gauss-Legendre quadrature (error below 1e-9
      against ``scipy``, tested).

    Parameters
    ----------
    il6_side : {-1, 1}
        Below the LLOQ or above the ULOQ (every row of the call).
    limit : array_like
        ln of each row's IL-6 limit.
    crp_cens : numpy.ndarray
        CRP censoring of each row (-1, 0, +1).
    log_crp : array_like
        ln CRP: the value where measured, its limit where censored.
    intercept, beta, mu_x, sigma_x, sigma
        The regression of ln CRP on ln IL-6 (``intercept`` per row) and the IL-6 population.

    Returns
    -------
    TensorVariable
        One log-likelihood term per row.
    """
    s1 = -float(il6_side)  # +1: the event is x < a; -1: x > a
    s2 = np.where(crp_cens == 1, -1.0, 1.0)  # +1: y < b; -1: y > b (any value where measured)
    m_y = intercept + beta * mu_x
    var_y = beta**2 * sigma_x**2 + sigma**2
    sd_y = pt.sqrt(var_y)
    # CRP measured
    cond_mean = mu_x + beta * sigma_x**2 * (log_crp - m_y) / var_y
    cond_sd = sigma_x * sigma / sd_y
    measured = pm.logp(pm.Normal.dist(m_y, sd_y), log_crp) + _log_ndtr(
        s1 * (limit - cond_mean) / cond_sd
    )
    # CRP censored: P(x' < a', y' < b') with x' = s1 x, y' = s2 y, standardised
    h = s1 * (limit - mu_x) / sigma_x
    k = s2 * (log_crp - m_y) / sd_y
    both = pt.log(pt.maximum(bivariate_normal_cdf(h, k, s1 * s2 * beta * sigma_x / sd_y), 1e-300))
    return pt.switch(pt.eq(crp_cens, 0), measured, both)


def _log_ndtr(z):
    """Log Phi(z), accurate in the lower tail."""
    return pm.logcdf(pm.Normal.dist(0.0, 1.0), z)


def conditional_il6(posterior: xr.Dataset, constant: xr.Dataset, rng: np.random.Generator):
    """Draw each censored ln IL-6 from its conditional given the globals and the row's CRP.

    Parameters
    ----------
    posterior : xarray.Dataset
        Draws of a fit of :func:`build`; returned unchanged in effect (nothing drawn) when the
        fit sampled the latent values itself (Student-t residuals).
    constant : xarray.Dataset
        Its ``constant_data``: what each row reports (``reported_log_il6``,
        ``reported_log_crp``, ``reported_crp_cens``), its site and covariates.
    rng : numpy.random.Generator
        Source of the draws.

    Returns
    -------
    xarray.Dataset
        ``log_il6_below`` (dims chain, draw, il6_below) and ``log_il6_above``, for the kinds
        present.
    """
    out = {}
    shape = (posterior.sizes["chain"], posterior.sizes["draw"])
    for kind in ("below", "above"):
        dim = f"il6_{kind}"
        if f"il6_{kind}_rows" not in constant or f"log_il6_{kind}" in posterior:
            continue
        rows = constant[f"il6_{kind}_rows"].values
        draws = _draw_censored_il6(posterior, constant, rows, CENSORING[kind], rng)
        out[f"log_il6_{kind}"] = (("chain", "draw", dim), draws.reshape(*shape, -1))
    return xr.Dataset(
        out,
        coords={"chain": posterior["chain"].values, "draw": posterior["draw"].values}
        | {d: constant[d].values for v in out.values() for d in v[0][2:]},
    )


def _draw_censored_il6(posterior, constant, rows, il6_side, rng) -> np.ndarray:
    """Exact draws of x | (theta, what the row shows) for censored-IL-6 rows, (draws, rows)."""
    from scipy.special import ndtr, ndtri

    def flat(name):
        return posterior[name].values.reshape(-1, *posterior[name].shape[2:])

    n = posterior.sizes["chain"] * posterior.sizes["draw"]
    intercept = flat("alpha")[:, None] + flat("alpha_site")[:, constant["site_idx"].values[rows]]
    for name in COVARIATES:
        if name in constant:
            intercept = intercept + flat(f"beta_{name}")[:, None] * constant[name].values[rows]
    beta = flat("beta_il6")[:, None]
    intercept = intercept - beta * np.log(IL6_REFERENCE)
    mu_x, sigma_x, sigma = (flat(p)[:, None] for p in ("mu_il6", "sigma_il6", "sigma"))
    limit = constant["reported_log_il6"].values[rows]
    log_crp = constant["reported_log_crp"].values[rows]
    crp_cens = constant["reported_crp_cens"].values[rows]
    s1 = -float(il6_side)
    var_y = beta**2 * sigma_x**2 + sigma**2
    # CRP measured: a normal truncated at the limit, by inversion
    mean = mu_x + beta * sigma_x**2 * (log_crp - intercept - beta * mu_x) / var_y
    sd = sigma_x * sigma / np.sqrt(var_y)
    top = ndtr(s1 * (limit - mean) / sd)
    out = mean + s1 * sd * ndtri(np.clip(rng.uniform(size=top.shape) * top, 1e-300, None))
    # CRP censored too: the IL-6 population truncated at the limit, accepted with the
    # probability of the CRP event given x (rejection: exact)
    both = crp_cens != 0
    if both.any():
        s2 = np.where(crp_cens[both] == 1, -1.0, 1.0)
        mx, sx, sg = (np.broadcast_to(v, (n, rows.size))[:, both] for v in (mu_x, sigma_x, sigma))
        c = intercept[:, both]
        b = np.broadcast_to(beta, (n, rows.size))[:, both]
        top = ndtr(s1 * (limit[both] - mx) / sx)
        todo = np.ones(c.shape, dtype=bool)
        drawn = np.empty(c.shape)
        for _ in range(10_000):
            x = mx + s1 * sx * ndtri(np.clip(rng.uniform(size=c.shape) * top, 1e-300, None))
            accept = rng.uniform(size=c.shape) < ndtr(s2 * (log_crp[both] - c - b * x) / sg)
            take = todo & accept
            drawn[take] = x[take]
            todo &= ~accept
            if not todo.any():
                break
        else:
            raise RuntimeError("censored IL-6: rejection sampling did not finish")
        out[:, both] = drawn
    return out


def with_observed(table: pd.DataFrame, values: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Return the table with IL-6 and CRP replaced by values drawn from the model, censored.

    The draws come from a model built on a table without censoring (every IL-6 measured);
    values beyond the limits in the table's ``il6_lloq``, ``il6_uloq``, ``crp_lloq`` and
    ``crp_uloq`` columns (if present) are reported at the limit and flagged, as a laboratory
    would report them.

    Parameters
    ----------
    table : pandas.DataFrame
        An analysis table, optionally with the limit columns.
    values : mapping of str to numpy.ndarray
        ``log_crp`` and, optionally, ``log_il6`` (every row; without it IL-6 is kept).

    Returns
    -------
    pandas.DataFrame
    """
    out = table.copy()
    for marker in ("il6", "crp"):
        if f"log_{marker}" not in values:
            continue
        value = np.exp(np.asarray(values[f"log_{marker}"], dtype=float))
        lower = out[f"{marker}_lloq"].to_numpy(float) if f"{marker}_lloq" in out else 0.0
        upper = out[f"{marker}_uloq"].to_numpy(float) if f"{marker}_uloq" in out else np.inf
        out[f"{marker}_cens"] = np.where(value < lower, -1, np.where(value > upper, 1, 0))
        out[marker] = np.clip(value, lower, upper)
    return out


def relation(fig: FigureInput) -> plt.Figure:
    """Observed IL-6 and CRP with the posterior relation for the reference subject.

    Parameters
    ----------
    fig : FigureInput
        An ``il6_crp`` fit and its analysis table (``il6``, ``crp``, ``il6_cens``,
        ``crp_cens``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    table, ci_prob = fig.table, fig.ci_prob
    figure, ax = plt.subplots(figsize=(6.5, 5))
    exact = (table["il6_cens"] == 0) & (table["crp_cens"] == 0)
    ax.scatter(table.loc[exact, "il6"], table.loc[exact, "crp"], s=12, alpha=0.5, label="measured")
    censored = ~exact
    if censored.any():
        ax.scatter(
            table.loc[censored, "il6"],
            table.loc[censored, "crp"],
            s=28,
            marker="^",
            facecolors="none",
            edgecolors="C3",
            label="at an assay limit (censored)",
        )
    post = fig.tree["posterior"]
    grid = np.geomspace(table["il6"].min() * 0.8, table["il6"].max() * 1.2, 100)
    alpha = post["alpha"].values.reshape(-1, 1)
    beta = post["beta_il6"].values.reshape(-1, 1)
    curves = np.exp(alpha + beta * (np.log(grid) - np.log(IL6_REFERENCE)))
    tail = (1 - ci_prob) / 2
    low, mid, high = np.quantile(curves, [tail, 0.5, 1 - tail], axis=0)
    ax.plot(grid, mid, color="k", label="posterior median (reference subject)")
    ax.fill_between(grid, low, high, color="k", alpha=0.15, label=f"{ci_prob:.0%} credible band")
    ax.set(xscale="log", yscale="log", xlabel="IL-6 (pg/mL)", ylabel="CRP (mg/L)")
    plain_log_ticks(ax.xaxis, ax.yaxis)
    ax.set_title("CRP against IL-6")
    ax.legend(fontsize=8, loc="upper left")
    return figure


def calibration_design(table: pd.DataFrame, scenario) -> pd.DataFrame:
    """Add the scenario's assay limits: drawn CRP is censored there, IL-6 is not.

    Parameters
    ----------
    table : pandas.DataFrame
        The design's analysis table.
    scenario : il6fit.simulate.Scenario
        Its scenario.

    Returns
    -------
    pandas.DataFrame
    """
    return table.assign(
        il6_lloq=0.0, il6_uloq=np.inf, crp_lloq=scenario.crp_lloq, crp_uloq=scenario.crp_uloq
    )


FAMILY = ModelFamily(
    name="il6_crp",
    title="IL-6 -> CRP, log-log, hierarchical by site, censoring-aware",
    equations=__doc__,
    options=Options,
    requires=lambda options: ("IL6", "CRP"),
    parameters=PARAMETERS,
    default_priors=DEFAULT_PRIORS,
    analysis_table=analysis_table,
    builder=build,
    figures={
        "relation": FigureSpec(
            relation, "CRP against IL-6 with the posterior relation; censored points marked"
        )
    },
    observed={
        "log_crp": ObservedInfo("CRP (mg/L)", log=True),
        "log_il6": ObservedInfo("IL-6, measured values (pg/mL)", log=True),
    },
    with_observed=with_observed,
    marginal=Marginal(
        generative=build_latent,
        conditional=conditional_il6,
        potentials=("log_il6_below", "log_il6_above"),
    ),
    # IL-6 is the design's data: a drawn IL-6 would not be the one the drawn CRP came from
    calibration=Calibration(
        design={"scenario": "healthy", "n_subjects": 100, "n_sites": 4},
        design_data=("log_il6",),
        not_assessed=("mu_il6", "sigma_il6"),
        prepare_design=calibration_design,
    ),
)
