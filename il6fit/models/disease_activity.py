r"""IL-6 and CRP -> disease activity: the DAS28 components, or DAS28-ESR, on the biomarkers.

DAS28-CRP contains :math:`0.36 \ln(CRP + 1)`, so regressing it on CRP partly regresses CRP on
itself. By default the model therefore takes the components of DAS28 that are not laboratory
values as outcomes. For row :math:`i` (a subject at a visit), with :math:`x_i` the true
ln IL-6 (pg/mL) and :math:`c_i` the true ln CRP (mg/L), centred at 20 pg/mL and 10 mg/L:

.. math::

    \eta^{j}_i &= a_j + b^{IL6}_j (x_i - \ln 20) + b^{CRP}_j (c_i - \ln 10) + u^j_{s[i]}
        && j \in \{\text{tender}, \text{swollen}\} \\
    \mathrm{TJC28}_i, \mathrm{SJC28}_i &\sim \mathrm{BetaBinomial}\bigl(28,\;
        \phi_j\, \mathrm{logit}^{-1}(\eta^j_i),\; \phi_j (1 - \mathrm{logit}^{-1}(\eta^j_i))\bigr)
        && \text{joints out of 28} \\
    \mathrm{PtGA}_i &\sim \mathrm{Normal}(g + b^{IL6}_g (x_i - \ln 20)
        + b^{CRP}_g (c_i - \ln 10) + u^g_{s[i]}, \sigma_g)
        \text{ censored to } [0, 100] && \text{mm}

The beta-binomial lets joint counts vary more than a binomial would (overdispersion falls as
:math:`\phi_j` grows); a patient global at 0 or 100 mm is censored at the end of the scale.
With ``outcome: das28esr`` the outcome is instead DAS28-ESR, which contains ESR, not CRP:

.. math::

    \mathrm{DAS28ESR}_i \sim \mathrm{Normal}(d + b^{IL6}_d (x_i - \ln 20)
        + b^{CRP}_d (c_i - \ln 10) + u^d_{s[i]}, \sigma_d)

ESR is itself an acute-phase measure (r = 0.80 with CRP, domain-facts §2d), so this outcome is
not free of the biomarkers either; the components are the cleaner question. An outcome known
only within bounds (a DAS28-ESR derived from a censored ESR, were ESR censorable) is never taken
as exact: its row is left out (counted in the log), a missing-not-at-random exclusion if many
are.

The biomarkers are censoring-aware predictors (:mod:`il6fit.models.censored`): IL-6 with a
normal population model on the log scale, CRP regressed on it, both latent where the assay gave
only a limit. :math:`b^{IL6}` and :math:`b^{CRP}` are partial effects (each with the other held
fixed); a ``predictors`` option fits one biomarker alone. When subjects have more than one
visit, each outcome gets a subject random intercept :math:`u_s = \tau z_s`,
:math:`z_s \sim N(0, 1)`; with one visit per subject there is none. Components are modelled as
conditionally independent given the biomarkers.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import pymc as pm

from il6fit.errors import SpecError
from il6fit.models.censored import (
    BIOMARKER_PARAMETERS,
    BIOMARKER_PRIORS,
    BIOMARKERS,
    biomarker_predictors,
    wide_results,
)
from il6fit.models.family import (
    Answer,
    Calibration,
    Headline,
    ModelFamily,
    ObservedInfo,
    ParameterInfo,
    RecoveryStudy,
    option,
)
from il6fit.models.priors import Prior

log = logging.getLogger(__name__)

OUTCOMES = ("components", "das28esr")
JOINTS = {"tender": "TJC28", "swollen": "SJC28"}
N_JOINTS = 28

PARAMETERS = {
    "a_joint": ParameterInfo("logit of the expected share of the 28 joints at reference", "logit"),
    "b_joint_il6": ParameterInfo("joint-count logit per ln IL-6", "logit per ln(pg/mL)"),
    "b_joint_crp": ParameterInfo("joint-count logit per ln CRP", "logit per ln(mg/L)"),
    "phi_joint": ParameterInfo("beta-binomial concentration of the joint counts", "-"),
    "tau_joint": ParameterInfo("between-subject SD of the joint-count logit", "logit"),
    "a_ptga": ParameterInfo("mean patient global at reference", "mm"),
    "b_ptga_il6": ParameterInfo("patient global per ln IL-6", "mm per ln(pg/mL)"),
    "b_ptga_crp": ParameterInfo("patient global per ln CRP", "mm per ln(mg/L)"),
    "sigma_ptga": ParameterInfo("residual SD of the patient global", "mm"),
    "tau_ptga": ParameterInfo("between-subject SD of the patient global", "mm"),
    "a_das28": ParameterInfo("mean DAS28-ESR at reference", "score"),
    "b_das28_il6": ParameterInfo("DAS28-ESR per ln IL-6", "score per ln(pg/mL)"),
    "b_das28_crp": ParameterInfo("DAS28-ESR per ln CRP", "score per ln(mg/L)"),
    "sigma_das28": ParameterInfo("residual SD of DAS28-ESR", "score"),
    "tau_das28": ParameterInfo("between-subject SD of DAS28-ESR", "score"),
    **BIOMARKER_PARAMETERS,
}

#: Defaults from domain-facts.md and the trials' entry criteria: active RA has about 16 of 28
#: tender and 11 swollen joints (logit 0.3 and -0.4), patient global about 60 mm and DAS28-ESR
#: 6.8 (§4); higher IL-6 goes with higher activity, weakly (§6, Wang 2013), so slopes are centred
#: at 0 with room for either sign. Joint counts in RA trials vary about 3x more than binomial,
#: a concentration near 2-4.
DEFAULT_PRIORS = {
    "a_joint": Prior("Normal", {"mu": 0.0, "sigma": 1.0}),
    "b_joint_il6": Prior("Normal", {"mu": 0.0, "sigma": 0.5}),
    "b_joint_crp": Prior("Normal", {"mu": 0.0, "sigma": 0.5}),
    "phi_joint": Prior("Gamma", {"alpha": 2.0, "beta": 0.5}),
    "tau_joint": Prior("HalfNormal", {"sigma": 1.0}),
    "a_ptga": Prior("Normal", {"mu": 55.0, "sigma": 20.0}),
    "b_ptga_il6": Prior("Normal", {"mu": 0.0, "sigma": 10.0}),
    "b_ptga_crp": Prior("Normal", {"mu": 0.0, "sigma": 10.0}),
    "sigma_ptga": Prior("HalfNormal", {"sigma": 30.0}),
    "tau_ptga": Prior("HalfNormal", {"sigma": 20.0}),
    "a_das28": Prior("Normal", {"mu": 5.5, "sigma": 2.0}),
    "b_das28_il6": Prior("Normal", {"mu": 0.0, "sigma": 0.5}),
    "b_das28_crp": Prior("Normal", {"mu": 0.0, "sigma": 0.5}),
    "sigma_das28": Prior("HalfNormal", {"sigma": 1.0}),
    "tau_das28": Prior("HalfNormal", {"sigma": 1.0}),
    **BIOMARKER_PRIORS,
}


@dataclass(frozen=True)
class Options:
    """Options of the disease-activity model (``model_options.disease_activity``)."""

    outcome: Literal["components", "das28esr"] = option(
        "components",
        "components - tender and swollen joints (beta-binomial out of 28) and patient global "
        "(mm, censored at 0 and 100); das28esr - DAS28-ESR. DAS28-CRP is not offered: it "
        "contains ln(CRP + 1).",
    )
    predictors: tuple[Literal["il6", "crp"], ...] = option(
        ("il6", "crp"),
        "Baseline biomarkers used as (censoring-aware) predictors.",
        uniqueItems=True,
        minItems=1,
    )
    visits: tuple[float, ...] = option(
        (0,),
        "Visits (AVISITN) used; with more than one per subject, each outcome gets a subject "
        "random intercept.",
        minItems=1,
    )


def outcome_codes(options: Options) -> list[str]:
    """PARAMCD codes of the outcome(s) the options choose.

    Parameters
    ----------
    options : Options
        The model's options.

    Returns
    -------
    list of str
    """
    return [*JOINTS.values(), "PTGA"] if options.outcome == "components" else ["DAS28ESR"]


def requires(options: Options) -> tuple[str, ...]:
    """PARAMCD codes a dataset needs: the outcome(s) and the biomarker predictors.

    Parameters
    ----------
    options : Options
        The model's options.

    Returns
    -------
    tuple of str
    """
    predictors = [BIOMARKERS[p][0] for p in BIOMARKERS if p in options.predictors]
    return (*predictors, *outcome_codes(options))


def analysis_table(
    subjects: pd.DataFrame, measurements: pd.DataFrame, options: Options
) -> pd.DataFrame:
    """One row per subject-visit with the outcome(s) and the biomarkers.

    Parameters
    ----------
    subjects, measurements : pandas.DataFrame
        A prepared dataset.
    options : Options
        ``outcome``: tender and swollen joint counts plus patient global, or DAS28-ESR;
        ``predictors``: the biomarkers used as predictors; ``visits`` (``AVISITN``) used,
        baseline by default: on tocilizumab IL-6 rises while activity falls, so on-treatment
        IL-6 describes the drug, not the disease.

    Returns
    -------
    pandas.DataFrame
        ``USUBJID``, ``AVISITN``, the outcome columns (``TJC28``, ``SJC28``, ``PTGA`` or
        ``DAS28ESR``) and for each predictor its value and ``<code>_cens``.

    Raises
    ------
    SpecError
        For an unknown outcome or predictor, or when no row has every value needed.
    """
    outcome, predictors, visits = options.outcome, options.predictors, options.visits
    if outcome not in OUTCOMES:
        raise SpecError(
            f"disease_activity: outcome must be one of {', '.join(OUTCOMES)}, not '{outcome}'."
        )
    unknown = sorted(set(predictors) - set(BIOMARKERS))
    if unknown or not predictors:
        raise SpecError(
            f"disease_activity: predictors must be a non-empty list of {', '.join(BIOMARKERS)}; "
            f"got {list(predictors)}."
        )
    outcomes = outcome_codes(options)
    codes = outcomes + [BIOMARKERS[p][0] for p in BIOMARKERS if p in predictors]
    table = wide_results(measurements, codes, visits)
    censored = (table[[f"{c}_cens" for c in outcomes]] != 0).any(axis=1)
    if censored.any():
        log.info(
            "disease_activity: %d row(s) with a censored outcome left out (a score derived from "
            "a component beyond its assay limit is known only within bounds)",
            int(censored.sum()),
        )
    table = table[~censored].reset_index(drop=True)
    if table.empty:
        raise SpecError(
            f"disease_activity: no subject has all of {', '.join(codes)} at visit(s) "
            f"{list(visits)}."
        )
    return table.drop(columns=[f"{c}_cens" for c in outcomes])


def build(table: pd.DataFrame, priors: Mapping[str, Prior], options: Options) -> pm.Model:
    """Build the disease-activity model for an analysis table.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`analysis_table`; its columns say which outcome and predictors are used.
    priors : mapping of str to Prior
        A prior for every key of :data:`DEFAULT_PRIORS` the model uses.
    options : Options
        Unused: the table's columns carry the choices.

    Returns
    -------
    pymc.Model
        Observed ``joints`` (dims ``obs``, ``joint``) and ``ptga``, or ``das28``.
    """
    predictors = [p for p, (code, _) in BIOMARKERS.items() if code in table]
    subjects, subject_idx = np.unique(table["USUBJID"], return_inverse=True)
    repeated = len(subjects) < len(table)
    coords = {"obs": np.arange(len(table)), "joint": list(JOINTS), "subject": subjects}
    with pm.Model(coords=coords) as model:
        x = biomarker_predictors(table, priors, predictors)

        def linear(prefix: str, dims: str | None = None):
            """Intercept, biomarker slopes and (with repeated visits) subject effects."""
            shape = {"dims": dims} if dims else {}
            eta = priors[f"a_{prefix}"].create(f"a_{prefix}", **shape)
            for p in predictors:
                eta = eta + priors[f"b_{prefix}_{p}"].create(f"b_{prefix}_{p}", **shape) * (
                    x[p][:, None] if dims else x[p]
                )
            if repeated:
                tau = priors[f"tau_{prefix}"].create(f"tau_{prefix}", **shape)
                z_dims = ("subject", dims) if dims else "subject"
                z = pm.Normal(f"z_{prefix}", 0.0, 1.0, dims=z_dims)
                eta = eta + (tau * z)[subject_idx]
            return eta

        if "DAS28ESR" in table:
            sigma = priors["sigma_das28"].create("sigma_das28")
            pm.Normal(
                "das28",
                linear("das28"),
                sigma,
                observed=pm.Data("das28_observed", table["DAS28ESR"].to_numpy(float), dims="obs"),
                dims="obs",
            )
        else:
            share = pm.math.invlogit(linear("joint", "joint"))
            phi = priors["phi_joint"].create("phi_joint", dims="joint")
            counts = table[list(JOINTS.values())].to_numpy(int)
            pm.BetaBinomial(
                "joints", n=N_JOINTS, alpha=share * phi, beta=(1 - share) * phi,
                observed=pm.Data("joints_observed", counts, dims=("obs", "joint")),
                dims=("obs", "joint"),
            )  # fmt: skip
            sigma = priors["sigma_ptga"].create("sigma_ptga")
            pm.Censored(
                "ptga", pm.Normal.dist(linear("ptga"), sigma), lower=0.0, upper=100.0,
                observed=pm.Data("ptga_observed", table["PTGA"].to_numpy(float), dims="obs"),
                dims="obs",
            )  # fmt: skip
    return model


def with_observed(table: pd.DataFrame, values: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Return the analysis table with its outcomes replaced by values drawn from the model.

    Parameters
    ----------
    table : pandas.DataFrame
        An analysis table.
    values : mapping of str to numpy.ndarray
        ``joints`` (rows x 2) and ``ptga``, or ``das28``.

    Returns
    -------
    pandas.DataFrame
    """
    out = table.copy()
    if "das28" in values:
        out["DAS28ESR"] = np.asarray(values["das28"], dtype=float)
    else:
        joints = np.asarray(values["joints"])
        for j, column in enumerate(JOINTS.values()):
            out[column] = joints[:, j].astype(int)
        out["PTGA"] = np.asarray(values["ptga"], dtype=float)
    return out


def _per_doubling(answer: Answer, scale: float = 1.0) -> tuple[float, float, float]:
    """Mean and interval per doubling of IL-6 of a coefficient per ln IL-6, times ``scale``."""
    return tuple(scale * np.log(2) * v for v in (answer.mean, answer.lower, answer.upper))


def das28_sentence(answer: Answer) -> str:
    """Say DAS28's change per doubling of IL-6 in words."""
    mean, low, high = _per_doubling(answer)
    return (
        f"Each doubling of IL-6 goes with DAS28-ESR {mean:+.2f} ({answer.interval} {low:+.2f} "
        f"to {high:+.2f}), the other predictors held fixed."
    )


def joints_sentence(answer: Answer) -> str:
    """Say the odds ratio of an affected joint per doubling of IL-6 in words."""
    mean, low, high = np.exp(_per_doubling(answer))
    return (
        f"Each doubling of IL-6 multiplies the odds of a {answer.element} joint by {mean:.2f} "
        f"({answer.interval} {low:.2f} to {high:.2f}), the other predictors held fixed."
    )


def ptga_sentence(answer: Answer) -> str:
    """Say the patient global's change per doubling of IL-6 in words."""
    mean, low, high = _per_doubling(answer)
    return (
        f"Each doubling of IL-6 goes with a patient global {mean:+.1f} mm ({answer.interval} "
        f"{low:+.1f} to {high:+.1f}), the other predictors held fixed."
    )


FAMILY = ModelFamily(
    name="disease_activity",
    title="Disease activity (DAS28 components or DAS28-ESR) on IL-6 and CRP, censoring-aware",
    equations=__doc__,
    options=Options,
    requires=requires,
    parameters=PARAMETERS,
    default_priors=DEFAULT_PRIORS,
    analysis_table=analysis_table,
    builder=build,
    observed={
        "joints": ObservedInfo("joints (count of 28)", kind="discrete"),
        "ptga": ObservedInfo("patient global (mm, 0-100)"),
        "das28": ObservedInfo("DAS28-ESR (score)"),
    },
    with_observed=with_observed,
    headlines=(
        Headline("b_das28_il6", "DAS28 per doubling of IL-6", das28_sentence),
        Headline("b_joint_il6", "joint involvement per doubling of IL-6", joints_sentence),
        Headline("b_ptga_il6", "patient global per doubling of IL-6", ptga_sentence),
    ),
    calibration=Calibration(design={"scenario": "ra_tcz_trial", "n_subjects": 100}),
    # values of the size the trials report (domain-facts.md §4-§6)
    recovery=RecoveryStudy(
        truth={
            "a_joint": [0.3, -0.4],
            "b_joint_il6": [0.25, 0.15],
            "b_joint_crp": [0.1, 0.2],
            "phi_joint": [3.0, 2.5],
            "a_ptga": 60.0,
            "b_ptga_il6": 4.0,
            "b_ptga_crp": 2.0,
            "sigma_ptga": 20.0,
        },
    ),
    # cold compile on one core, default design (benchmarks/RESULTS.md, issue 20)
    compile_seconds=45.0,
)
