"""The exposure-response family's likelihood against brute-force integration, on data from the
simulator's trial (nothing sampled)."""

import numpy as np
import pytest
from scipy.stats import norm

from il6fit.data import as_read, prepare
from il6fit.models import exposure_response as er
from il6fit.models.turnover import course_fraction
from il6fit.simulate import scenario, simulate_cohort

THETA = {
    "mu_base": 6.8, "sigma_base": 0.6, "ec50": 3.7, "omega": 1.07, "imax": 0.73,
    "kout": 0.038, "dmard": 0.3, "sigma": 0.68,
}  # fmt: skip


@pytest.fixture(scope="module")
def design():
    subjects, measurements, _ = simulate_cohort(scenario("ra_tcz_trial", n_subjects=30), seed=5)
    data = prepare(
        as_read(subjects), as_read(measurements), subjects_file="s", measurements_file="m"
    )
    table = er.analysis_table(data.subjects, data.measurements, er.Options())
    return table, er.exposure_design(table)


def brute_force(design, i, theta):
    """log p(y_i | theta) by integrating BASE and ln EC50 on dense grids."""
    seen = design["seen"][i] > 0
    y = design["y"][i][seen]
    log_ec50 = np.log(theta["ec50"]) + theta["omega"] * np.linspace(-7, 7, 701)
    driven = (design["concentration"][i] + theta["dmard"]) ** er.HILL
    effect = theta["imax"] * driven / (np.exp(log_ec50)[:, None] ** er.HILL + driven)
    g = course_fraction(1 - effect, theta["kout"], design["edges"], design["visits"])[:, seen]
    base = theta["mu_base"] + theta["sigma_base"] * np.linspace(-8, 8, 401)
    visits = norm.pdf(y, base[None, :, None] * g[:, None, :], theta["sigma"]).prod(-1)
    given_ec50 = np.trapezoid(visits * norm.pdf(base, theta["mu_base"], theta["sigma_base"]), base)
    density = norm.pdf(log_ec50, np.log(theta["ec50"]), theta["omega"])
    return np.log(np.trapezoid(given_ec50 * density, log_ec50))


def test_subject_likelihood_integrates_baseline_exactly_and_ec50_by_quadrature(design):
    table, design = design
    got = er.subject_log_likelihood(design, **THETA)
    assert got.shape == (table["USUBJID"].nunique(),)
    for i in range(0, got.size, 10):
        assert got[i] == pytest.approx(brute_force(design, i, THETA), abs=5e-3)


def test_the_model_evaluates_the_same_likelihood(design):
    table, design = design
    model = er.build(table, dict(er.DEFAULT_PRIORS), er.Options())
    point = {
        "mu_base": 6.8, "sigma_base_log__": np.log(0.6), "log_ec50": np.log(3.7),
        "omega_ec50_log__": np.log(1.07), "imax_logodds__": np.log(0.73 / 0.27),
        "log_kout": np.log(0.038), "log_dmard": np.log(0.3), "sigma_log__": np.log(0.68),
    }  # fmt: skip
    (terms,) = model.replace_rvs_by_values([model.potentials[0]])
    potential = model.compile_fn(terms, inputs=model.value_vars, point_fn=False)(**point)
    np.testing.assert_allclose(potential, er.subject_log_likelihood(design, **THETA), rtol=1e-10)


def test_placebo_subjects_follow_the_background_effect_alone(design):
    _, design = design
    placebo = design["concentration"].max(axis=1) == 0
    assert placebo.any() and (~placebo).any()
    effect = 0.73 * 0.3**er.HILL / (3.7**er.HILL + 0.3**er.HILL)
    g = course_fraction(np.full((1, design["edges"].size - 1), 1 - effect), 0.038,
                        design["edges"], design["visits"])  # fmt: skip
    assert g[0, -1] == pytest.approx(1 - effect * (1 - np.exp(-0.038 * 168)), rel=1e-12)


def test_weight_comes_from_bmi_and_sex_or_70_kg():
    import pandas as pd

    subjects = pd.DataFrame(
        {"USUBJID": ["a", "b", "c"], "SEX": ["F", "M", "F"], "BMI": [25.0, 25.0, None]}
    )
    weights = er.subject_weights(subjects)
    assert weights["a"] == pytest.approx(25 * 1.63**2)
    assert weights["b"] == pytest.approx(25 * 1.76**2)
    assert weights["c"] == 70.0


def test_regimen_change_is_the_population_mean_of_simulated_patients():
    """Quadrature over EC50 against patients drawn at random, for a regimen not in the trial."""
    import xarray as xr

    from il6fit.exposure import Regimen, concentrations
    from il6fit.models.turnover import step_edges

    draw = {"mu_base": 6.6, "ec50": 3.7, "omega_ec50": 1.07, "imax": 0.7, "kout": 0.038,
            "dmard": 0.3}  # fmt: skip
    posterior = xr.Dataset({k: (("chain", "draw"), [[v]]) for k, v in draw.items()})
    regimen = Regimen("sc", 162, "mg", 7)
    weight, female = np.array([55.0, 70.0, 95.0]), np.array([True, True, False])
    weeks = np.array([0.0, 4.0, 24.0])
    got = er.regimen_change(posterior, regimen, weeks, weight, female)
    assert got.dims == ("chain", "draw", "week")
    assert float(got.sel(week=0).squeeze()) == pytest.approx(0.0, abs=1e-12)
    rng = np.random.default_rng(3)
    n = 4000
    who = rng.integers(0, 3, n)
    edges = np.union1d(step_edges(168.0, regimen.times(168.0), 0.25), weeks * 7)
    conc = concentrations(regimen, (edges[1:] + edges[:-1]) / 2, weight, female)[who]
    ec50 = draw["ec50"] * np.exp(rng.normal(0, draw["omega_ec50"], n))
    driven = (conc + draw["dmard"]) ** er.HILL
    effect = draw["imax"] * driven / (ec50[:, None] ** er.HILL + driven)
    g = course_fraction(1 - effect, draw["kout"], edges, weeks * 7)
    base = rng.normal(draw["mu_base"], 0.6, n)
    change = (base[:, None] * (g - 1)).mean(axis=0)
    sem = (base[:, None] * (g - 1)).std(axis=0) / np.sqrt(n)
    np.testing.assert_array_less(np.abs(got.values[0, 0] - change), 4 * sem + 1e-12)
