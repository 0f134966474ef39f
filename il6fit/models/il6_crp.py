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
        && \text{fixed (default)}, \sum_s \alpha^{site}_s = 0 \\
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

Covariates missing for some subjects (BMI, age; ``prepare.missing: model``, brms' ``mi()``
is the reference) are modelled, never imputed by a constant: the standardised covariate
:math:`z` gets a population model and the IL-6 population mean depends on it (obesity raises
IL-6: domain-facts.md §6),

.. math::

    z_i \sim \mathrm{Normal}(m_z, s_z), \qquad
    x_i \sim \mathrm{Normal}(\mu_x + \gamma_z z_i, \sigma_x),

observed where given (``bmi_value``, ``age_value``). Where :math:`z_i` is missing it is
integrated out in closed form (everything is Gaussian given the globals): :math:`x_i` has mean
:math:`\mu_x + \gamma_z m_z` and variance :math:`V_i = \sigma_x^2 + \gamma_z^2 s_z^2`, and ln
CRP given :math:`x_i` has mean :math:`\ldots + \beta_z (m_z + \gamma_z s_z^2 (x_i - E x_i) /
V_i)` and variance :math:`\sigma^2 + \beta_z^2 (s_z^2 - \gamma_z^2 s_z^4 / V_i)`, so the fitted
model has no latent value and its per-patient likelihood stays exact; the missing values are
drawn back from their exact conditional after sampling (:func:`conditional_il6`). Missing at
random (given sex, site, IL-6 and CRP) is assumed; the covariates' models are independent of
each other and of sex. A missing sex is not modelled (the fit stops with the fix).

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

import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

from il6fit.errors import SpecError
from il6fit.models.censored import (
    AGE_REFERENCE,
    AGE_SCALE,
    BMI_REFERENCE,
    BMI_SCALE,
    IL6_REFERENCE,
    latent_log_biomarker,
)
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
    option,
)
from il6fit.models.priors import Prior

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Covariates by config name: (analysis-table column, reference, scale); the coefficient of
#: ``name`` is ``beta_<name>``.
COVARIATES = {
    "bmi": ("BMI", BMI_REFERENCE, BMI_SCALE),
    "male": ("male", 0.0, 1.0),
    "age": ("AGE", AGE_REFERENCE, AGE_SCALE),
}

#: Covariates whose missing values are modelled: a normal population model of the
#: standardised value, on which the IL-6 population mean depends (obesity raises IL-6:
#: domain-facts.md §6, Mohamed-Ali 1997, Spearman r 0.48), integrated out of each row that
#: lacks it. Sex is not: a row without it stops the fit, or is dropped by ``prepare.missing``.
MODELLED = ("bmi", "age")

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
        "Subject covariates of ln CRP (subjects-table columns BMI, SEX, AGE, needed only when "
        "listed here). One empty for every subject is dropped with a note in the fit's log; "
        "BMI or AGE missing for some subjects is modelled (a normal population model of the "
        "covariate, on which the IL-6 population mean depends, integrated out of those rows) "
        "unless prepare.missing is drop; a missing SEX stops the fit with the fix.",
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
    "mu_bmi": ParameterInfo("population mean of BMI (modelled where missing)", "(BMI - 27)/5"),
    "sigma_bmi": ParameterInfo("population SD of BMI", "(BMI - 27)/5"),
    "gamma_bmi": ParameterInfo("ln IL-6 population mean per 5 kg/m² BMI", "ln(pg/mL)"),
    "mu_age": ParameterInfo("population mean of age (modelled where missing)", "(age - 50)/10"),
    "sigma_age": ParameterInfo("population SD of age", "(age - 50)/10"),
    "gamma_age": ParameterInfo("ln IL-6 population mean per 10 years of age", "ln(pg/mL)"),
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
    # only where a covariate is missing in some rows (its population model, standardised):
    # trial demographics, median age 52-54 (§6, Frey 2010), BMI about 27 +- 5; IL-6 rises with BMI
    # (Spearman r 0.48, Mohamed-Ali 1997, §6) and age (+0.05 pg/mL per year, Said 2021, §1a)
    "mu_bmi": Prior("Normal", {"mu": 0.0, "sigma": 1.0}),
    "sigma_bmi": Prior("HalfNormal", {"sigma": 1.0}),
    "gamma_bmi": Prior("Normal", {"mu": 0.0, "sigma": 0.5}),
    "mu_age": Prior("Normal", {"mu": 0.0, "sigma": 1.0}),
    "sigma_age": Prior("HalfNormal", {"sigma": 1.5}),
    "gamma_age": Prior("Normal", {"mu": 0.0, "sigma": 0.5}),
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
    sex = table["SEX"].fillna("")
    table["male"] = np.where(sex == "", np.nan, (sex == "M").astype(float))
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
            continue
        if missing.any() and name not in MODELLED:
            column = "SEX" if name == "male" else column
            raise SpecError(
                f"il6_crp: {column} is missing for {int(missing.sum())} of {len(table)} rows of "
                f"the analysis table, and a missing {column} is not modelled; supply it, set "
                f"prepare.missing: drop (complete cases), or remove '{name}' from covariates."
            )
        if missing.any() and table["USUBJID"].duplicated().any():
            raise SpecError(
                f"il6_crp: {column} is missing for {int(missing.sum())} of {len(table)} rows and "
                "the analysis takes several visits per subject; a missing covariate is modelled "
                "with one visit per subject. Fix: fit one visit (visits: [0]), or set "
                "prepare.missing: drop (complete cases)."
            )
        if missing.any():
            log.info(
                "il6_crp: %s missing for %d of %d rows: modelled (its population model, the "
                "missing values integrated out)",
                column, int(missing.sum()), len(table),
            )  # fmt: skip
        columns.append(column)
    return table[columns].reset_index(drop=True)


def build(table: pd.DataFrame, priors: Mapping[str, Prior], options: Options) -> pm.Model:
    r"""Build the fitted IL-6 -> CRP model: censored IL-6 integrated out where it is exact.

    With normal residuals, a row whose IL-6 is censored contributes the exact probability of
    what was seen, its latent :math:`x_i` integrated out (:func:`censored_il6_logp`), as a
    ``pm.Potential`` per row (``log_il6_below``, ``log_il6_above``, dims ``il6_below``,
    ``il6_above``); rows with measured IL-6 are observed as in :func:`build_latent`
    (``log_il6`` and ``log_crp``, dims ``il6_measured``). A covariate missing in some rows is
    integrated out of them too (:func:`_with_covariates`). NUTS then samples no latent value.
    With Student-t residuals (no closed form) or nothing to integrate, it is
    :func:`build_latent`.

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
    normal = options.residual == "normal"
    integrate = normal and bool((table["il6_cens"] != 0).any())
    return _build(table, priors, options, integrate=integrate, marginal_covariates=normal)


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
    table: pd.DataFrame,
    priors: Mapping[str, Prior],
    options: Options,
    *,
    integrate: bool,
    marginal_covariates: bool = False,
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
    modelled = modelled_covariates(table)
    with pm.Model(coords=coords) as model:
        covariates = {
            name: pm.Data(
                name, np.nan_to_num((table[column].to_numpy(float) - ref) / scale), dims="obs"
            )
            for name, (column, ref, scale) in COVARIATES.items()
            if column in table
        }
        site = pm.Data("site_idx", site_idx, dims="obs")

        mu_x = priors["mu_il6"].create("mu_il6")
        sigma_x = priors["sigma_il6"].create("sigma_il6")
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
            if name not in modelled:
                intercept = intercept + betas[name] * value
        # a covariate missing in some rows: its population model, and the IL-6 population's
        # mean on it; where missing, integrated out (marginal) or a latent value (generative)
        regression = _with_covariates(
            [_covariate_model(name, covariates[name], table, priors, betas[name],
                              marginal=marginal_covariates) for name in modelled],
            _Regression(intercept, beta_il6, mu_x, sigma_x, sigma), n=model.dim_lengths["obs"],
        )  # fmt: skip
        reported = {}
        if modelled or integrate:  # what each row reports, to draw latent values back
            for name, value in (("log_il6", log_il6), ("log_crp", log_crp), ("crp_cens", crp_cens)):
                reported[name] = pm.Data(f"reported_{name}", value, dims="obs")

        if integrate:
            rows = {kind: np.flatnonzero(il6_cens == c) for kind, c in CENSORING.items()}
            # which rows are of which kind are data too (the IL-6 of censored ones drawn back
            # from them), so one compiled model serves every dataset with the same kinds
            at_rows = {}
            for kind, at in rows.items():
                model.add_coord(f"il6_{kind}", at)
                if at.size:
                    at_rows[kind] = pm.Data(f"il6_{kind}_rows", at, dims=f"il6_{kind}")
            measured = at_rows.get("measured", rows["measured"])
            values = pm.Data("log_il6_observed", log_il6[rows["measured"]], dims="il6_measured")
            pm.Normal(
                "log_il6",
                _at(regression.mu_x, measured),
                _at(regression.sigma_x, measured),
                observed=values,
                dims="il6_measured",
            )
            x = pt.set_subtensor(pt.zeros(model.dim_lengths["obs"])[measured], values)
        else:
            x = latent_log_biomarker(
                "log_il6", log_il6, il6_cens, regression.mu_x, regression.sigma_x, dim="il6"
            )
        mu = regression.intercept + beta_il6 * (x - np.log(IL6_REFERENCE))
        if regression.slope is not beta_il6:  # integrated covariates add slope on ln IL-6
            mu = mu + (regression.slope - beta_il6) * x
        kept, dim = (rows["measured"], "il6_measured") if integrate else (slice(None), "obs")
        kept_rows = measured if integrate else kept  # the same rows, as data in the graph
        if residual == "student_t":
            residual_dist = pm.StudentT.dist(
                nu=priors["nu"].create("nu"), mu=mu, sigma=regression.sigma
            )
        else:
            residual_dist = pm.Normal.dist(mu[kept_rows], _at(regression.sigma, kept_rows))
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
                if kind not in at_rows:
                    continue
                at = at_rows[kind]
                logp = censored_il6_logp(
                    CENSORING[kind], reported["log_il6"][at], reported["crp_cens"][at],
                    reported["log_crp"][at],
                    _at(regression.intercept, at) - beta_il6 * np.log(IL6_REFERENCE),
                    _at(regression.slope, at), _at(regression.mu_x, at),
                    _at(regression.sigma_x, at), _at(regression.sigma, at),
                )  # fmt: skip
                pm.Potential(f"log_il6_{kind}", logp, dims=f"il6_{kind}")
    return model


def modelled_covariates(table: pd.DataFrame) -> list[str]:
    """Covariates of :data:`MODELLED` in an analysis table with a missing value in some row."""
    return [
        name
        for name in MODELLED
        if COVARIATES[name][0] in table and table[COVARIATES[name][0]].isna().any()
    ]


@dataclass(frozen=True)
class _Regression:
    """Each row's ln CRP on ln IL-6 given what it reports, and its IL-6 population.

    ``intercept + slope * x`` (with ``-beta_il6 ln 20`` left out of ``intercept``) is the mean
    of ln CRP given the true ln IL-6 ``x``, ``sigma`` its SD; ``x`` is normal with mean
    ``mu_x`` and SD ``sigma_x``. Scalars, or one entry per row once a covariate is modelled.
    """

    intercept: Any
    slope: Any
    mu_x: Any
    sigma_x: Any
    sigma: Any


def _at(value, rows):
    """Rows of a per-row tensor; a scalar as it is."""
    value = pt.as_tensor(value)
    return value[rows] if value.ndim else value


def _covariate_model(name, value, table, priors, beta, *, marginal) -> _Modelled:
    """Add a covariate's population model; return its per-row value and what it adds."""
    column = COVARIATES[name][0]
    missing = table[column].isna().to_numpy()
    observed, absent = np.flatnonzero(~missing), np.flatnonzero(missing)
    model = pm.modelcontext(None)
    model.add_coord(f"{name}_observed", observed)
    model.add_coord(f"{name}_missing", absent)
    # which rows have it are data: one compiled model serves trials missing it in other rows
    gaps = pm.Data(f"{name}_missing_rows", absent, dims=f"{name}_missing")
    has = pm.Data(f"{name}_observed_rows", observed, dims=f"{name}_observed")
    m = priors[f"mu_{name}"].create(f"mu_{name}")
    s = priors[f"sigma_{name}"].create(f"sigma_{name}")
    gamma = priors[f"gamma_{name}"].create(f"gamma_{name}")
    pm.Normal(f"{name}_value", m, s, observed=value[has], dims=f"{name}_observed")
    if marginal:
        gone = pt.set_subtensor(pt.zeros(model.dim_lengths["obs"])[gaps], 1.0)
        return _Modelled(value * (1 - gone) + m * gone, gone, s, gamma, beta)
    latent = pm.Normal(f"{name}_imputed", m, s, dims=f"{name}_missing")
    return _Modelled(pt.set_subtensor(value[absent], latent), None, s, gamma, beta)


@dataclass(frozen=True)
class _Modelled:
    """A modelled covariate's terms in each row's regression.

    Its value per row (its population mean where integrated out), which rows lack it (1, 0;
    None when the missing values are latent), its population SD and its coefficients on the
    IL-6 population mean (``gamma``) and on ln CRP (``beta``).
    """

    value: Any
    missing: Any
    sd: Any
    gamma: Any
    beta: Any


def _with_covariates(modelled: list[_Modelled], r: _Regression, *, n) -> _Regression:
    r"""Each row's regression with its modelled covariates, missing ones integrated out.

    With :math:`\hat z_c` the covariate where given and its population mean :math:`m_c` where
    not, and :math:`M` the covariates a row lacks (independent normals, SD :math:`s_c`):

    .. math::

        x &\sim N\big(\mu_x + \textstyle\sum_c \gamma_c \hat z_c,\;
            V = \sigma_x^2 + \sum_{c \in M} \gamma_c^2 s_c^2\big) \\
        E[\ln CRP \mid x] &= \ldots + \textstyle\sum_c \beta_c \hat z_c
            + \frac{C}{V}(x - E[x]), \quad C = \sum_{c \in M} \beta_c \gamma_c s_c^2 \\
        Var[\ln CRP \mid x] &= \sigma^2 + \textstyle\sum_{c \in M} \beta_c^2 s_c^2
            - C^2 / V
    """
    if not modelled:
        return r
    mu_x = r.mu_x + sum(c.gamma * c.value for c in modelled)
    intercept = r.intercept + sum(c.beta * c.value for c in modelled)
    modelled = [c for c in modelled if c.missing is not None]  # those integrated out
    if not modelled:
        return _Regression(intercept, r.slope, mu_x, r.sigma_x, r.sigma)
    var_x = pt.broadcast_to(pt.as_tensor(r.sigma_x) ** 2, (n,)) + sum(
        c.missing * c.gamma**2 * c.sd**2 for c in modelled
    )
    cov = sum(c.missing * c.beta * c.gamma * c.sd**2 for c in modelled)
    var_y = (
        pt.broadcast_to(pt.as_tensor(r.sigma) ** 2, (n,))
        + sum(c.missing * c.beta**2 * c.sd**2 for c in modelled)
        - cov**2 / var_x
    )
    return _Regression(
        intercept - cov / var_x * mu_x,
        r.slope + cov / var_x,
        mu_x,
        pt.sqrt(var_x),
        pt.sqrt(var_y),
    )


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

    With :math:`x \sim N(\mu_x, \sigma_x)` and :math:`y \mid x \sim N(c + \beta x, \sigma)`
    (``intercept`` :math:`c` includes :math:`-\beta \ln 20`), :math:`(x, y)` is bivariate
    normal: :math:`y \sim N(m_y = c + \beta\mu_x, s_y^2 = \beta^2\sigma_x^2 + \sigma^2)` and
    :math:`x \mid y \sim N(\mu_x + \beta\sigma_x^2 (y - m_y)/s_y^2, \sigma_x\sigma/s_y)`.
    IL-6 below its limit :math:`a` (``il6_side`` -1; above, +1) with

    * CRP measured: :math:`\log N(y; m_y, s_y) + \log \Phi(\mp(a - E[x \mid y]) /
      \mathrm{sd}(x \mid y))`;
    * CRP censored at :math:`b` too: :math:`\log P(\pm x < \pm a, \pm y < \pm b)`, the
      bivariate normal probability, as :math:`\Phi(\alpha) \int_0^1
      \Phi\big((b' - c' - \beta' (\mu'_x + \sigma_x \Phi^{-1}(\Phi(\alpha) s)))/\sigma\big)\,ds`
      in sign-flipped coordinates, by 32-point Gauss-Legendre quadrature (error below 1e-9
      against ``scipy``, tested).

    Parameters
    ----------
    il6_side : {-1, 1}
        Below the LLOQ or above the ULOQ (every row of the call).
    limit : array_like
        ln of each row's IL-6 limit.
    crp_cens : array_like
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
    s2 = pt.where(pt.eq(crp_cens, 1), -1.0, 1.0)  # +1: y < b; -1: y > b (any where measured)
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
    """Draw each integrated-out latent value from its conditional given the globals and data.

    Censored ln IL-6 given the row's CRP (and its covariates, a missing one integrated out),
    then each missing covariate given the row's IL-6 (measured, or the value just drawn) and
    CRP: for every posterior draw, one draw from the exact conditional distribution.

    Parameters
    ----------
    posterior : xarray.Dataset
        Draws of a fit of :func:`build`; nothing is drawn for latent values the fit sampled
        itself (Student-t residuals).
    constant : xarray.Dataset
        Its ``constant_data``: what each row reports (``reported_log_il6``,
        ``reported_log_crp``, ``reported_crp_cens``), its site and covariates, and the rows
        lacking a covariate (``<name>_missing_rows``).
    rng : numpy.random.Generator
        Source of the draws.

    Returns
    -------
    xarray.Dataset
        ``log_il6_below`` (dims chain, draw, il6_below) and ``log_il6_above``, and
        ``<name>_imputed`` (dims chain, draw, ``<name>_missing``) for each missing covariate,
        for those present.
    """
    out = {}
    shape = (posterior.sizes["chain"], posterior.sizes["draw"])
    if "reported_log_il6" in constant:
        x = np.broadcast_to(
            constant["reported_log_il6"].values, (shape[0] * shape[1], constant.sizes["obs"])
        ).copy()
    for kind in ("below", "above"):
        dim = f"il6_{kind}"
        if f"il6_{kind}_rows" not in constant or f"log_il6_{kind}" in posterior:
            continue
        rows = constant[f"il6_{kind}_rows"].values
        draws = _draw_censored_il6(posterior, constant, rows, CENSORING[kind], rng)
        x[:, rows] = draws
        out[f"log_il6_{kind}"] = (("chain", "draw", dim), draws.reshape(*shape, -1))
    missing = [n for n in MODELLED if f"{n}_missing_rows" in constant]
    if missing and f"{missing[0]}_imputed" not in posterior:
        for name, draws in _draw_missing_covariates(posterior, constant, missing, x, rng).items():
            out[f"{name}_imputed"] = (
                ("chain", "draw", f"{name}_missing"),
                draws.reshape(*shape, -1),
            )
    return xr.Dataset(
        out,
        coords={"chain": posterior["chain"].values, "draw": posterior["draw"].values}
        | {d: constant[d].values for v in out.values() for d in v[0][2:]},
    )


def _flat(posterior: xr.Dataset, name: str) -> np.ndarray:
    """Draws of a variable with chains and draws flattened into one axis."""
    return posterior[name].values.reshape(-1, *posterior[name].shape[2:])


def _row_regression(posterior, constant, rows):
    """Each row's regression (:class:`_Regression`) at every draw, arrays (draws, rows).

    The numpy twin of the model's (:func:`_with_covariates`), missing covariates integrated
    out; ``intercept`` includes ``-beta_il6 ln 20``. Also returns, per modelled covariate, its
    name, which rows lack it (1/0) and its ``mu``, ``sigma``, ``gamma`` and ``beta`` draws.
    """
    flat = functools.partial(_flat, posterior)
    modelled = [n for n in MODELLED if f"{n}_missing_rows" in constant]
    n = posterior.sizes["chain"] * posterior.sizes["draw"]
    intercept = flat("alpha")[:, None] + flat("alpha_site")[:, constant["site_idx"].values[rows]]
    for name in COVARIATES:
        if name in constant and name not in modelled:
            intercept = intercept + flat(f"beta_{name}")[:, None] * constant[name].values[rows]
    beta = flat("beta_il6")[:, None]
    mu_x = np.broadcast_to(flat("mu_il6")[:, None], (n, rows.size))
    var_x = np.broadcast_to(flat("sigma_il6")[:, None] ** 2, (n, rows.size))
    var_y = np.broadcast_to(flat("sigma")[:, None] ** 2, (n, rows.size))
    cov = np.zeros((n, rows.size))
    terms = []
    for name in modelled:
        gone = np.isin(rows, constant[f"{name}_missing_rows"].values).astype(float)
        m, s, g, b = (flat(f"{p}_{name}")[:, None] for p in ("mu", "sigma", "gamma", "beta"))
        value = np.where(gone, m, constant[name].values[rows])
        mu_x = mu_x + g * value
        intercept = intercept + b * value
        var_x = var_x + gone * g**2 * s**2
        cov = cov + gone * b * g * s**2
        var_y = var_y + gone * b**2 * s**2
        terms.append((name, gone, m, s, g, b))
    var_y = var_y - cov**2 / var_x
    regression = _Regression(
        intercept - cov / var_x * mu_x - beta * np.log(IL6_REFERENCE),
        beta + cov / var_x,
        mu_x,
        np.sqrt(var_x),
        np.sqrt(var_y),
    )
    return regression, terms


def _draw_missing_covariates(posterior, constant, names, x, rng) -> dict[str, np.ndarray]:
    r"""Exact draws of each row's missing covariates given its ln IL-6 ``x`` and CRP.

    Given the globals and :math:`x`, the missing standardised covariates are jointly normal
    (:func:`_with_covariates`); ln CRP adds one normal observation of
    :math:`\sum_c \beta_c z_c` (a Gaussian update), or, where CRP is censored, the
    probability of its event (rejection, exact).
    """
    from scipy.special import ndtr

    rows = np.unique(np.concatenate([constant[f"{n}_missing_rows"].values for n in names]))
    reg, terms = _row_regression(posterior, constant, rows)
    x_rows = x[:, rows]
    log_crp = constant["reported_log_crp"].values[rows]
    crp_cens = constant["reported_crp_cens"].values[rows]
    # z | x: mean m + s^2 g (x - E x) / V, covariance diag(s^2) - (s^2 g)(s^2 g)' / V
    v = reg.sigma_x**2
    mean = np.stack(
        [m + gone * s**2 * g * (x_rows - reg.mu_x) / v for _, gone, m, s, g, _ in terms], -1
    )
    lean = np.stack([gone * s**2 * g for _, gone, _, s, g, _ in terms], -1)
    eye = np.stack([gone * s**2 for _, gone, _, s, _, _ in terms], -1)
    cov = (
        eye[..., None] * np.eye(len(terms))
        - lean[..., :, None] * lean[..., None, :] / v[..., None, None]
    )
    b = np.stack([gone * b for _, gone, _, _, _, b in terms], -1)
    # ln CRP given x and z: E[y | x] + b'(z - E[z | x]), residual SD sigma
    resid = _flat(posterior, "sigma")[:, None]
    expected = reg.intercept + reg.slope * x_rows
    cov_b = np.einsum("...ij,...j->...i", cov, b)
    var_y = reg.sigma**2
    measured = crp_cens == 0
    post_mean = mean + cov_b * ((log_crp - expected) / var_y)[..., None]
    post_cov = cov - cov_b[..., :, None] * cov_b[..., None, :] / var_y[..., None, None]
    mean = np.where(measured[:, None], post_mean, mean)
    cov = np.where(measured[:, None, None], post_cov, cov)
    # absent covariates have zero variance: a unit diagonal keeps the factor defined
    absent = np.stack([gone == 0 for _, gone, *_ in terms], -1)
    chol = np.linalg.cholesky(cov + absent[..., None] * np.eye(len(terms)))
    drawn = np.empty(mean.shape)
    todo = np.ones(mean.shape[:-1], dtype=bool)
    side = np.where(crp_cens == 1, -1.0, 1.0)
    for _ in range(10_000):
        z = mean + np.einsum("...ij,...j->...i", chol, rng.standard_normal(mean.shape))
        shift = np.einsum("...i,...i->...", b, z - mean)
        accept = measured | (
            rng.uniform(size=todo.shape) < ndtr(side * (log_crp - expected - shift) / resid)
        )
        take = todo & accept
        drawn[take] = z[take]
        todo &= ~accept
        if not todo.any():
            break
    else:
        raise RuntimeError("missing covariates: rejection sampling did not finish")
    out = {}
    for j, name in enumerate(names):
        at = np.searchsorted(rows, constant[f"{name}_missing_rows"].values)
        out[name] = drawn[:, at, j]
    return out


def _draw_censored_il6(posterior, constant, rows, il6_side, rng) -> np.ndarray:
    """Exact draws of x | (theta, what the row shows) for censored-IL-6 rows, (draws, rows)."""
    from scipy.special import ndtr, ndtri

    n = posterior.sizes["chain"] * posterior.sizes["draw"]
    reg, _ = _row_regression(posterior, constant, rows)
    intercept, beta, mu_x, sigma_x, sigma = (
        reg.intercept, reg.slope, reg.mu_x, reg.sigma_x, reg.sigma
    )  # fmt: skip
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


def relation(fig: FigureInput) -> Figure:
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
    import matplotlib.pyplot as plt

    from il6fit.plots import plain_log_ticks

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


def slope_sentence(answer: Answer) -> str:
    """Say the IL-6 -> CRP slope as the fold change of CRP per doubling of IL-6.

    Parameters
    ----------
    answer : Answer
        ``beta_il6``, the log-log slope.

    Returns
    -------
    str

    Examples
    --------
    >>> slope_sentence(Answer(None, 0.75, 0.7, 0.8, 0.9, None))[:49]
    'Each doubling of IL-6 goes with 1.68-fold CRP (90'
    """
    return (
        f"Each doubling of IL-6 goes with {2**answer.mean:.2f}-fold CRP ({answer.interval} "
        f"{2**answer.lower:.2f} to {2**answer.upper:.2f}; log-log slope {answer.mean:.2f})."
    )


FAMILY = ModelFamily(
    name="il6_crp",
    title="IL-6 -> CRP, log-log, hierarchical by site, censoring-aware",
    equations=__doc__,
    options=Options,
    requires=lambda options: ("IL6", "CRP"),
    subject_columns={"covariates": {"bmi": "BMI", "male": "SEX", "age": "AGE"}},
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
    headlines=(Headline("beta_il6", "IL-6 -> CRP slope", slope_sentence),),
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
    # cold compile on one core, default design (benchmarks/RESULTS.md, issue 20)
    compile_seconds=30.0,
)
