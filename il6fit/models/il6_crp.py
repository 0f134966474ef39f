r"""IL-6 -> CRP: log CRP on log IL-6 with covariates and site random effects, censoring-aware.

For row :math:`i` (a subject at a visit) at site :math:`s[i]`:

.. math::

    x_i &\sim \mathrm{Normal}(\mu_{x}, \sigma_{x})
        && \text{true } \ln \mathrm{IL6}_i \text{ [pg/mL]} \\
    \mu_i &= \alpha + \alpha^{site}_{s[i]} + \beta_{IL6}(x_i - \ln 20)
            + \beta_{BMI}\frac{BMI_i - 27}{5} + \beta_{male}\,male_i
            + \beta_{age}\frac{AGE_i - 50}{10} \\
    \ln \mathrm{CRP}_i &\sim \mathrm{Normal}(\mu_i, \sigma)
        \text{ or } \mathrm{StudentT}(\nu, \mu_i, \sigma) && \text{CRP in mg/L} \\
    \alpha^{site}_s &= \tau_{site} z_s, \quad z \sim \mathrm{ZeroSumNormal}(1)
        && \textstyle\sum_s z_s = 0

Censoring (assay limits) on both biomarkers:

* CRP below its LLOQ :math:`L` (above its ULOQ :math:`U`) contributes
  :math:`\Phi((\ln L - \mu_i)/\sigma)` (:math:`1 - \Phi((\ln U - \mu_i)/\sigma)`) to the
  likelihood (``pm.Censored``);
* IL-6 below its LLOQ (above its ULOQ) is a *predictor*: :math:`x_i` is then a latent parameter
  constrained to :math:`x_i < \ln L` (:math:`x_i > \ln U`) with the population density above,
  so its value is informed by the IL-6 distribution and by the row's CRP; a measured IL-6 is
  taken as :math:`x_i` and also informs :math:`\mu_x, \sigma_x`. No limit is ever substituted.

Covariates are chosen in the config (``covariates``, default all three); a listed covariate
the data lack altogether (such as BMI in the Tongji COVID-19 cohort) is dropped with its term,
and the reference subject below is then read without it.

:math:`\alpha` is the expected ln CRP at IL-6 = 20 pg/mL for a 50-year-old woman with BMI 27;
:math:`\beta_{IL6}` is the log-log slope (a 1 % rise in IL-6 goes with a :math:`\beta_{IL6}` %
rise in CRP). Sites are keyed by ``STUDYID`` and ``SITEID`` together.
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

from il6fit.errors import SpecError
from il6fit.models.censored import IL6_REFERENCE, latent_log_biomarker
from il6fit.models.family import (
    Calibration,
    FigureInput,
    FigureSpec,
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
    """Build the IL-6 -> CRP model for an analysis table.

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
        x = latent_log_biomarker("log_il6", log_il6, il6_cens, mu_x, sigma_x, dim="il6")

        alpha = priors["alpha"].create("alpha")
        beta_il6 = priors["beta_il6"].create("beta_il6")
        betas = {name: priors[f"beta_{name}"].create(f"beta_{name}") for name in covariates}
        tau_site = priors["tau_site"].create("tau_site")
        # zero-sum site deviations keep alpha the grand mean, uncorrelated with the sites
        z_site = pm.ZeroSumNormal("z_site", sigma=1.0, dims="site")
        alpha_site = pm.Deterministic("alpha_site", tau_site * z_site, dims="site")
        sigma = priors["sigma"].create("sigma")

        mu = alpha + alpha_site[site] + beta_il6 * (x - np.log(IL6_REFERENCE))
        for name, value in covariates.items():
            mu = mu + betas[name] * value
        if residual == "student_t":
            residual_dist = pm.StudentT.dist(nu=priors["nu"].create("nu"), mu=mu, sigma=sigma)
        else:
            residual_dist = pm.Normal.dist(mu, sigma)
        # outcome and limits as data: new values of the same design reuse compiled code
        lower = pm.Data("log_crp_lower", np.where(crp_cens == -1, log_crp, -np.inf), dims="obs")
        upper = pm.Data("log_crp_upper", np.where(crp_cens == 1, log_crp, np.inf), dims="obs")
        pm.Censored(
            "log_crp",
            residual_dist,
            lower=lower,
            upper=upper,
            observed=pm.Data("log_crp_observed", log_crp, dims="obs"),
            dims="obs",
        )
    return model


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
    # IL-6 is the design's data: a drawn IL-6 would not be the one the drawn CRP came from
    calibration=Calibration(
        design={"scenario": "healthy", "n_subjects": 100, "n_sites": 4},
        design_data=("log_il6",),
        not_assessed=("mu_il6", "sigma_il6"),
        prepare_design=calibration_design,
    ),
)
