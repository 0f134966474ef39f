"""Covariates missing in some rows of the IL-6 -> CRP model: modelled, integrated out exactly.

Checked against the generative form (latent missing values) by numerical integration, and the
values drawn back against their exact conditional distribution; no sampling.
"""

import logging
import math

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import integrate, stats
from scipy.special import log_ndtr

from il6fit.data import as_read, prepare
from il6fit.errors import DataError, SpecError
from il6fit.models import get_model
from il6fit.models.il6_crp import DEFAULT_PRIORS, conditional_il6

FAMILY = get_model("il6_crp")


def table():
    """Four subjects: complete; BMI missing (CRP below); both missing (IL-6 below); age missing
    (IL-6 and CRP above)."""
    return pd.DataFrame(
        {
            "USUBJID": ["S0", "S1", "S2", "S3"],
            "AVISITN": 0.0,
            "site": ["A", "A", "B", "B"],
            "il6": [20.0, 5.0, 1.5, 5000.0],
            "il6_cens": [0, 0, -1, 1],
            "crp": [15.0, 0.3, 4.0, 320.0],
            "crp_cens": [0, -1, 0, 1],
            "BMI": [27.0, np.nan, np.nan, 35.0],
            "AGE": [50.0, 60.0, np.nan, np.nan],
            "male": [0.0, 1.0, 0.0, 1.0],
        }
    )


def point(model, seed=3):
    """A point of the model (unconstrained values) and its constrained parameters."""
    rng = np.random.default_rng(seed)
    values = {k: v + rng.normal(0, 0.3, np.shape(v)) for k, v in model.initial_point().items()}
    outputs = model.unobserved_value_vars
    constrained = model.compile_fn(
        outputs, inputs=model.value_vars, point_fn=False, mode="FAST_COMPILE"
    )(**values)
    return values, {v.name: np.asarray(c) for v, c in zip(outputs, constrained, strict=True)}


def row_terms(model, values):
    """Each row's log-likelihood in the fitted (marginal) model: observed terms and potentials."""
    observed = [v.name for v in model.observed_RVs]
    potentials = [n for n in ("log_il6_below", "log_il6_above") if n in model.named_vars]
    terms = model.logp(vars=[model[n] for n in observed], sum=False)
    values_of = [model.replace_rvs_by_values([model[n]])[0] for n in potentials]
    out = model.compile_fn(
        [*terms, *values_of], inputs=model.value_vars, point_fn=False,
        on_unused_input="ignore", mode="FAST_COMPILE",
    )(**values)  # fmt: skip
    dims = model.named_vars_to_dims
    total = np.zeros(4)
    for name, value in zip([*observed, *potentials], out, strict=True):
        rows = np.asarray(model.coords[dims[name][0]], dtype=int)
        np.add.at(total, rows, np.asarray(value))
    return total


LOG_ROOT_2PI = 0.5 * math.log(2 * math.pi)


def norm_logpdf(x, mean, sd):
    """``scipy.stats.norm.logpdf``, without its per-call overhead (called ~10^5 times here)."""
    return -0.5 * ((x - mean) / sd) ** 2 - math.log(sd) - LOG_ROOT_2PI


def plain(theta):
    """Parameters as Python floats (scalars) or arrays, for fast scalar arithmetic."""
    return {k: float(v) if np.ndim(v) == 0 else np.asarray(v) for k, v in theta.items()}


def joint(theta, rows, row, z_bmi, z_age, x):
    """Log density of row's IL-6 x, CRP (its event where censored) and covariates z.

    ``rows``: the table's rows as dicts (``DataFrame.to_dict("records")``); ``theta``: from
    :func:`plain`.
    """
    r = rows[row]
    site = {"A": 0, "B": 1}[r["site"]]
    y, cens = math.log(r["crp"]), r["crp_cens"]
    mean = (theta["alpha"] + theta["alpha_site"][site] + theta["beta_il6"] * (x - math.log(20))
            + theta["beta_bmi"] * z_bmi + theta["beta_age"] * z_age
            + theta["beta_male"] * r["male"])  # fmt: skip
    crp = (norm_logpdf(y, mean, theta["sigma"]) if cens == 0
           else log_ndtr(-cens * (y - mean) / theta["sigma"]))  # fmt: skip
    modelled = [(n, z) for n, z in (("bmi", z_bmi), ("age", z_age)) if f"mu_{n}" in theta]
    mean_x = theta["mu_il6"] + sum(theta[f"gamma_{n}"] * z for n, z in modelled)
    il6 = norm_logpdf(x, mean_x, theta["sigma_il6"])
    covariates = sum(norm_logpdf(z, theta[f"mu_{n}"], theta[f"sigma_{n}"]) for n, z in modelled)
    return crp + il6 + covariates


def test_missing_covariates_are_integrated_out_exactly():
    t = table()
    model = FAMILY.build(t, DEFAULT_PRIORS)
    free = {v.name for v in model.free_RVs}
    assert not {"bmi_imputed", "age_imputed", "log_il6_below", "log_il6_above"} & free
    assert {"mu_bmi", "sigma_bmi", "gamma_bmi", "mu_age", "sigma_age", "gamma_age"} <= free
    values, theta = point(model)
    got = row_terms(model, values)
    theta, rows = plain(theta), t.to_dict("records")
    z = {
        "bmi": ((t["BMI"] - 27) / 5).to_numpy(),
        "age": ((t["AGE"] - 50) / 10).to_numpy(),
    }
    log_il6 = np.log(t["il6"].to_numpy())
    nodes, weights = np.polynomial.hermite_e.hermegauss(40)  # for N(0, 1) integrals
    weights = weights / weights.sum()

    def covariate_nodes(name, row):  # quadrature over a missing covariate's population
        if np.isnan(z[name][row]):
            mean, sd = theta[f"mu_{name}"], theta[f"sigma_{name}"]
            return mean + sd * nodes, weights, stats.norm.logpdf(mean + sd * nodes, mean, sd)
        return np.array([z[name][row]]), np.array([1.0]), np.zeros(1)

    for row in range(4):
        zb, wb, pb = covariate_nodes("bmi", row)
        za, wa, pa = covariate_nodes("age", row)
        total = 0.0
        for b, w1, lb in zip(zb, wb, pb, strict=True):
            for a, w2, la in zip(za, wa, pa, strict=True):
                # the quadrature weights carry the missing covariates' own density
                density = lambda x, b=b, a=a, r=row, lb=lb, la=la: np.exp(  # noqa: E731
                    joint(theta, rows, r, b, a, x) - lb - la
                )
                if t["il6_cens"][row] == 0:
                    value = density(log_il6[row])
                else:
                    lo, hi = ((-np.inf, log_il6[row]) if t["il6_cens"][row] < 0
                              else (log_il6[row], np.inf))  # fmt: skip
                    value = integrate.quad(density, lo, hi, epsabs=1e-15, epsrel=1e-10)[0]
                total += w1 * w2 * value
        assert got[row] == pytest.approx(np.log(total), rel=1e-6, abs=1e-8), row


def test_the_generative_form_has_the_missing_values_as_latent_parameters():
    model = FAMILY.generative(table(), DEFAULT_PRIORS)
    assert model.named_vars_to_dims["bmi_imputed"] == ("bmi_missing",)
    assert list(model.coords["bmi_missing"]) == [1, 2]
    assert list(model.coords["age_missing"]) == [2, 3]
    assert list(model.coords["bmi_observed"]) == [0, 3]


def test_missing_covariates_drawn_back_follow_their_exact_conditional():
    t = table().iloc[:2].assign(site=["A", "B"])  # row 1: BMI missing, CRP below its limit
    t = pd.concat([t, t.iloc[[1]].assign(USUBJID="S2", crp=2.0, crp_cens=0)], ignore_index=True)
    model = FAMILY.build(t, DEFAULT_PRIORS)
    _, theta = point(model)
    n = 5_000  # the SD to 5 %: about five standard errors
    dims = model.named_vars_to_dims
    posterior = xr.Dataset(
        {
            name: (
                ("chain", "draw", *dims.get(name, ())),
                np.broadcast_to(value, (1, n, *np.shape(value))),
            )
            for name, value in theta.items()
            if not name.endswith("__")
        },
        coords={"chain": [0], "draw": np.arange(n), "site": ["A", "B"]},
    )
    constant = xr.Dataset(
        {v.name: (dims.get(v.name, ()), v.get_value()) for v in model.data_vars},
        coords={d: np.asarray(model.coords[d]) for d in ("obs", "bmi_missing")},
    )
    drawn = conditional_il6(posterior, constant, np.random.default_rng(7))["bmi_imputed"]
    age = (t["AGE"].to_numpy() - 50) / 10
    scalars, rows = plain(theta), t.to_dict("records")
    for j, row in enumerate((1, 2)):

        def weight(b, row=row):
            return np.exp(joint(scalars, rows, row, b, age[row], np.log(t["il6"][row])))

        mass = integrate.quad(weight, -np.inf, np.inf)[0]
        mean = integrate.quad(lambda b: b * weight(b), -np.inf, np.inf)[0] / mass
        sd = np.sqrt(
            integrate.quad(lambda b: b**2 * weight(b), -np.inf, np.inf)[0] / mass - mean**2
        )
        values = drawn.values[0, :, j]
        assert abs(values.mean() - mean) < 4.5 * sd / np.sqrt(n)
        assert values.std() == pytest.approx(sd, rel=0.05)


def subjects_and_measurements(bmi, sex=("F", "M", "F")):
    subjects = pd.DataFrame(
        {"USUBJID": ["A", "B", "C"], "STUDYID": "S", "SITEID": "1", "AGE": [50.0, 60.0, 40.0],
         "SEX": list(sex), "BMI": bmi}
    )  # fmt: skip
    measurements = pd.DataFrame(
        {
            "USUBJID": np.repeat(["A", "B", "C"], 2),
            "PARAMCD": ["IL6", "CRP"] * 3,
            "AVISITN": 0.0,
            "AVAL": [20.0, 10.0, 5.0, 2.0, 3.0, 1.0],
            "CENS": 0,
        }
    )
    return subjects, measurements


def test_a_covariate_missing_for_some_rows_is_kept_and_modelled(caplog):
    subjects, measurements = subjects_and_measurements([27.0, np.nan, 31.0])
    with caplog.at_level(logging.INFO, logger="il6fit.models.il6_crp"):
        t = FAMILY.table(subjects, measurements, {})
    assert t["BMI"].isna().tolist() == [False, True, False]
    assert "BMI missing for 1 of 3 rows: modelled" in caplog.text


def test_missing_sex_and_missing_values_over_several_visits_stop_with_the_fix():
    subjects, measurements = subjects_and_measurements([27.0, 30.0, 31.0], sex=("F", "", "M"))
    with pytest.raises(SpecError, match=r"SEX is missing for 1 of 3 rows.*prepare\.missing: drop"):
        FAMILY.table(subjects, measurements, {})
    subjects, measurements = subjects_and_measurements([27.0, np.nan, 31.0])
    later = measurements.assign(AVISITN=4.0)
    with pytest.raises(SpecError, match="several visits per subject"):
        FAMILY.table(subjects, pd.concat([measurements, later]), {"visits": [0, 4]})


def raw_tables(bmi=("27", "", "30"), age=None):
    subjects = {"USUBJID": ["A", "B", "C"], "STUDYID": "S", "SITEID": "1", "TRT01P": "X",
                "BMI": list(bmi)}  # fmt: skip
    if age is not None:
        subjects["AGE"] = list(age)
    measurements = pd.DataFrame(
        {
            "USUBJID": np.repeat(["A", "B", "C"], 2),
            "PARAMCD": ["IL6", "CRP"] * 3,
            "AVAL": ["20", "10", "5", "2", "3", "1"],
            "AVALC": "",
            "AVALU": ["pg/mL", "mg/L"] * 3,
            "AVISITN": "0",
        }
    )
    return as_read(pd.DataFrame(subjects)), as_read(measurements)


USES = {"BMI": "model_options.il6_crp.covariates: bmi"}


def test_age_and_sex_columns_are_needed_only_when_a_model_uses_them():
    subjects, measurements = raw_tables()
    data = prepare(subjects, measurements, subjects_file="s.csv", measurements_file="m.csv")
    assert data.subjects["AGE"].isna().all()
    assert (data.ledger["status"] == "used").all()
    uses_age = {"AGE": "model_options.il6_crp.covariates: age"}
    with pytest.raises(DataError) as info:
        prepare(subjects, measurements, subjects_file="s.csv", measurements_file="m.csv",
                subject_columns=uses_age)  # fmt: skip
    assert (info.value.column, info.value.row) == ("AGE", None)
    assert "model_options.il6_crp.covariates: age uses it" in str(info.value)
    assert "remove 'age' from model_options.il6_crp.covariates" in info.value.fix


def test_a_missing_covariate_is_kept_for_the_model_or_its_subject_dropped_and_ledgered():
    subjects, measurements = raw_tables()
    kept = prepare(subjects, measurements, subjects_file="s.csv", measurements_file="m.csv",
                   subject_columns=USES)  # fmt: skip
    assert kept.subjects["USUBJID"].tolist() == ["A", "B", "C"]
    assert (kept.ledger["status"] == "used").all()
    dropped = prepare(subjects, measurements, subjects_file="s.csv", measurements_file="m.csv",
                      subject_columns=USES, missing="drop")  # fmt: skip
    assert dropped.subjects["USUBJID"].tolist() == ["A", "C"]
    assert set(dropped.measurements["USUBJID"]) == {"A", "C"}
    ledger = dropped.ledger.set_index(["table", "row"])
    assert len(ledger) == 3 + 6  # every input row accounted for
    for where in [("subjects", 3), ("measurements", 4), ("measurements", 5)]:
        assert ledger.loc[where, "status"] == "excluded"
        assert ledger.loc[where, "reason"].startswith("missing covariate: BMI is empty")
    assert (ledger["status"] == "excluded").sum() == 3
    with pytest.raises(SpecError, match=r"prepare\.missing must be 'model' or 'drop'"):
        prepare(subjects, measurements, subjects_file="s.csv", measurements_file="m.csv",
                missing="impute")  # fmt: skip
