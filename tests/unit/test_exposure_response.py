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
    "kout": 0.038, "omega_kout": 0.55, "dmard": 0.3, "sigma": 0.68,
}  # fmt: skip


@pytest.fixture(scope="module")
def trial():
    """The simulator's trial of 30 patients, prepared."""
    subjects, measurements, _ = simulate_cohort(scenario("ra_tcz_trial", n_subjects=30), seed=5)
    return prepare(
        as_read(subjects), as_read(measurements), subjects_file="s", measurements_file="m"
    )


@pytest.fixture(scope="module")
def design(trial):
    table = er.analysis_table(trial.subjects, trial.measurements, er.Options())
    return table, er.exposure_design(table)


def subject_grid(design, i, theta, u, w, base):
    """Log-density of subject i's visits on a grid of (u, w, BASE): (u, w, BASE) array."""
    seen = design["seen"][i] > 0
    y = design["y"][i][seen]
    driven = (design["concentration"][i] + theta["dmard"]) ** er.HILL
    shift = theta["il6_ec50"] * design["covariate"][i] if "il6_ec50" in theta else 0.0
    ec50 = theta["ec50"] * np.exp(theta["omega"] * u + shift)
    effect = theta["imax"] * driven / (ec50[:, None] ** er.HILL + driven)
    out = np.empty((u.size, w.size, base.size))
    for j, kout in enumerate(theta["kout"] * np.exp(theta["omega_kout"] * w)):
        g = course_fraction(1 - effect, kout, design["edges"], design["visits"])[:, seen]
        out[:, j] = norm.logpdf(y, base[None, :, None] * g[:, None, :], theta["sigma"]).sum(-1)
    return out


def subject_log_joint(design, i, theta, u=None, w=None):
    """Log joint density of subject i's visits and effects on a dense grid of (u, w, BASE)."""
    u = np.linspace(-7, 7, 161) if u is None else u
    w = np.linspace(-6, 6, 73) if w is None else w
    base = theta["mu_base"] + theta["sigma_base"] * np.linspace(-8, 8, 161)
    log_joint = (
        subject_grid(design, i, theta, u, w, base)
        + norm.logpdf(u)[:, None, None]
        + norm.logpdf(w)[None, :, None]
        + norm.logpdf(base, theta["mu_base"], theta["sigma_base"])[None, None, :]
    )
    return log_joint, u, w, base


def brute_force(design, i, theta, **grids):
    """log p(y_i | theta) by integrating BASE, ln EC50 and ln kout on dense grids."""
    log_joint, u, w, base = subject_log_joint(design, i, theta, **grids)
    top = log_joint.max()
    inner = np.trapezoid(np.exp(log_joint - top), base, axis=2)
    return top + np.log(np.trapezoid(np.trapezoid(inner, w, axis=1), u))


def test_subject_likelihood_integrates_baseline_exactly_and_the_rates_by_quadrature(design):
    table, design = design
    got = er.subject_log_likelihood(design, **THETA)
    assert got.shape == (table["USUBJID"].nunique(),)
    for i in range(0, got.size, 10):
        assert got[i] == pytest.approx(brute_force(design, i, THETA), abs=5e-3)


def test_patients_whose_course_pins_their_rates_down_get_their_own_grid(design, monkeypatch):
    # residual SD 0.25 and wide spreads (EC50 10-fold per SD): each patient's rates are known
    # far more narrowly than their spread, where the fixed nodes are a factor 2-4 of EC50 apart
    _, design = design
    sharp = {**THETA, "sigma": 0.25, "sigma_base": 0.4, "omega": 2.3, "omega_kout": 1.3}
    dense = {"u": np.linspace(-7, 7, 281), "w": np.linspace(-6, 6, 161)}
    subjects = range(0, design["y"].shape[0], 8)
    expected = np.array([brute_force(design, i, sharp, **dense) for i in subjects])
    got = er.subject_log_likelihood(design, **sharp)[list(subjects)]
    np.testing.assert_allclose(got, expected, atol=0.05)
    monkeypatch.setattr(er, "ADAPTIVE", ())  # the fixed rule alone
    fixed = er.subject_log_likelihood(design, **sharp)[list(subjects)]
    assert np.abs(fixed - expected).max() > 1.0


def test_the_locating_stages_merge_steps_between_visits_only(design):
    _, design = design
    coarse = er.coarse_design(design, every=4)
    fine, merged = design["edges"], coarse["edges"]
    assert np.isin(design["visits"], merged).all() and np.isin(merged, fine).all()
    # no merged step spans a visit, and runs of 4 restart at each visit
    inside = np.searchsorted(design["visits"], merged[1:] - 1e-9)
    starts = np.searchsorted(design["visits"], merged[:-1] + 1e-9)
    assert (inside == starts).all()
    assert np.diff(merged).max() <= 4 * np.diff(fine).max()
    # each merged step's concentration is its steps' length-weighted mean
    area = np.cumsum(np.r_[0.0, design["profiles"][0] * np.diff(fine)])
    at = np.searchsorted(fine, merged)
    np.testing.assert_allclose(coarse["profiles"][0] * np.diff(merged), np.diff(area[at]))


def test_the_model_evaluates_the_same_likelihood(design, fast_compile):
    table, design = design
    model = er.build(table, dict(er.DEFAULT_PRIORS), er.Options())
    point = {
        "mu_base": 6.8, "sigma_base_log__": np.log(0.6), "log_ec50": np.log(3.7),
        "omega_ec50_log__": np.log(1.07), "imax_logodds__": np.log(0.73 / 0.27),
        "log_kout": np.log(0.038), "omega_kout_log__": np.log(0.55), "log_dmard": np.log(0.3),
        "sigma_log__": np.log(0.68),
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
    assert weights["a"] == round(25 * 1.63**2)  # to the kilogram
    assert weights["b"] == round(25 * 1.76**2)
    assert weights["c"] == 70.0


def test_regimen_change_is_the_population_mean_of_simulated_patients():
    """Quadrature over EC50 and kout against patients drawn at random, for a regimen not in the
    trial."""
    import xarray as xr

    from il6fit.exposure import Regimen, concentrations
    from il6fit.models.turnover import step_edges

    draw = {"mu_base": 6.6, "ec50": 3.7, "omega_ec50": 1.07, "imax": 0.7, "kout": 0.038,
            "omega_kout": 0.55, "dmard": 0.3}  # fmt: skip
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
    kout = draw["kout"] * np.exp(rng.normal(0, draw["omega_kout"], n))
    g = course_fraction(1 - effect, kout[:, None], edges, weeks * 7)
    base = rng.normal(draw["mu_base"], 0.6, n)
    change = (base[:, None] * (g - 1)).mean(axis=0)
    sem = (base[:, None] * (g - 1)).std(axis=0) / np.sqrt(n)
    np.testing.assert_array_less(np.abs(got.values[0, 0] - change), 4 * sem + 1e-12)


def test_the_generative_model_draws_each_row_around_its_subjects_course(design, fast_compile):
    """The latent model's log-likelihood at given subject effects, against numpy."""
    table, design = design
    model = er.build_latent(table, dict(er.DEFAULT_PRIORS), er.Options())
    n = design["subjects"].size
    rng = np.random.default_rng(4)
    z_base, z_ec50, z_kout = rng.normal(size=(3, n))
    point = {
        "mu_base": 6.8, "sigma_base_log__": np.log(0.6), "log_ec50": np.log(3.7),
        "omega_ec50_log__": np.log(1.07), "imax_logodds__": np.log(0.73 / 0.27),
        "log_kout": np.log(0.038), "omega_kout_log__": np.log(0.55), "log_dmard": np.log(0.3),
        "sigma_log__": np.log(0.68), "z_base": z_base, "z_ec50": z_ec50, "z_kout": z_kout,
    }  # fmt: skip
    got = model.compile_fn(
        model.logp(vars=model.observed_RVs, sum=False)[0], inputs=model.value_vars, point_fn=False
    )
    base = 6.8 + 0.6 * z_base
    ec50 = 3.7 * np.exp(1.07 * z_ec50)
    driven = (design["concentration"] + 0.3) ** er.HILL
    effect = 0.73 * driven / (ec50[:, None] ** er.HILL + driven)
    kout = 0.038 * np.exp(0.55 * z_kout)
    g = course_fraction(1 - effect, kout[:, None], design["edges"], design["visits"])
    mean = base[design["subject_idx"]] * g[design["subject_idx"], design["visit_idx"]]
    expected = norm.logpdf(table["y"].to_numpy(), mean, 0.68)
    np.testing.assert_allclose(got(**point), expected, rtol=1e-9)


def brute_force_conditional(design, i, theta):
    """Means and SDs of (u, w, BASE) of subject i given their visits, on a dense 3-D grid."""
    log_joint, u, w, base = subject_log_joint(design, i, theta)
    joint = np.exp(log_joint - log_joint.max())
    joint /= joint.sum()
    out = []
    for axes, grid in (((1, 2), u), ((0, 2), w), ((0, 1), base)):
        mass = joint.sum(axis=axes)
        mean = (mass * grid).sum()
        out.append((mean, np.sqrt((mass * (grid - mean) ** 2).sum())))
    return out


def test_subject_effects_drawn_back_follow_their_conditional(design):
    import xarray as xr

    _, design = design
    draws = 1000
    values = {**THETA, "omega_ec50": THETA["omega"]}
    posterior = xr.Dataset(
        {k: (("chain", "draw"), np.full((1, draws), v)) for k, v in values.items()},
        coords={"chain": [0], "draw": np.arange(draws)},
    )
    picked = [0, 7, 15, 29]  # the subjects checked: draws for them and their profiles alone
    data = {k: (dims, v[picked] if dims[0] == "subject" else v)
            for k, (v, dims) in er._data(design).items()}  # fmt: skip
    used, profile = np.unique(data["subject_profile"][1], return_inverse=True)
    data["profiles"] = (("profile", "step"), design["profiles"][used])
    data["subject_profile"] = ("subject", profile)
    constant = xr.Dataset(data, coords={"subject": design["subjects"][picked]})
    drawn = er.conditional_effects(posterior, constant, np.random.default_rng(8))
    assert drawn["ec50_subject"].dims == ("chain", "draw", "subject")
    np.testing.assert_allclose(
        drawn["ec50_subject"], 3.7 * np.exp(1.07 * drawn["z_ec50"]), rtol=1e-12
    )
    np.testing.assert_allclose(
        drawn["kout_subject"], 0.038 * np.exp(0.55 * drawn["z_kout"]), rtol=1e-12
    )
    for j, i in enumerate(picked):
        moments = brute_force_conditional(design, i, THETA)
        for name, (mean, sd) in zip(("z_ec50", "z_kout", "base"), moments, strict=True):
            x = drawn[name].values[0, :, j]
            # 4.5 standard errors of the mean; the SD within 10 % (its SE is about 2.2 %)
            assert abs(x.mean() - mean) < 4.5 * sd / np.sqrt(draws), (i, name)
            assert x.std() == pytest.approx(sd, rel=0.1), (i, name)


def known_posterior(draws=3, **theta):
    import xarray as xr

    values = {"mu_base": 6.8, "sigma_base": 0.6, "ec50": 3.7, "omega_ec50": 1.07,
              "imax": 0.73, "kout": 0.038, "omega_kout": 0.55, "dmard": 0.3, "sigma": 0.68,
              **theta}  # fmt: skip
    posterior = xr.Dataset(
        {k: (("chain", "draw"), np.full((1, draws), v)) for k, v in values.items()},
        coords={"chain": [0], "draw": np.arange(draws)},
    )
    return xr.DataTree.from_dict({"posterior": posterior})


def test_estimands_are_the_regimens_changes_their_differences_and_the_half_life(design):
    from il6fit.exposure import Regimen

    table, _ = design
    options = er.Options(regimens=("placebo", "162 mg SC every week"), landmark_week=12)
    draws = er.estimands(known_posterior(), table, options, seed=0)
    assert list(draws["change"]["regimen"].values) == ["placebo", "162 mg SC every week"]
    subjects = table.drop_duplicates("USUBJID")
    every = er.regimen_change(
        known_posterior()["posterior"].to_dataset(), Regimen("sc", 162, "mg", 7), np.array([12.0]),
        subjects["weight"].to_numpy(), subjects["female"].to_numpy(), pk_variability=True,
    )  # fmt: skip
    # the trial measured concentrations, so predictions average over the PK variability too;
    # standardised over weight classes: within 0.01 of every subject's own exposure
    change = draws["change"].sel(regimen="162 mg SC every week").values
    np.testing.assert_allclose(change, every.values[..., 0], atol=0.01)
    np.testing.assert_allclose(
        draws["effect"].sel(active_regimen="162 mg SC every week").values,
        change - draws["change"].sel(regimen="placebo").values,
    )
    assert float(draws["half_life"].mean()) == pytest.approx(np.log(2) / 0.038)
    # placebo: the background effect alone, averaged over EC50, reached as each patient's
    # turnover allows (averaged over kout)
    u = np.linspace(-8, 8, 4001)
    effect = 0.73 * 0.3**er.HILL / ((3.7 * np.exp(1.07 * u)) ** er.HILL + 0.3**er.HILL)
    mean_effect = np.trapezoid(effect * norm.pdf(u), u)
    reached = np.trapezoid((1 - np.exp(-0.038 * np.exp(0.55 * u) * 84)) * norm.pdf(u), u)
    expected = -6.8 * mean_effect * reached
    assert float(draws["change"].sel(regimen="placebo").mean()) == pytest.approx(expected, abs=1e-4)


def test_arms_take_regimens_in_words_and_bad_ones_are_named():
    import pandas as pd

    from il6fit.errors import SpecError

    subjects = pd.DataFrame(
        {"USUBJID": ["a", "b"], "SEX": ["F", "M"], "BMI": [25.0, 30.0],
         "TRT01P": ["SC weekly", "Placebo"]}
    )  # fmt: skip
    measurements = pd.DataFrame(
        {"USUBJID": ["a", "a", "b"], "PARAMCD": "DAS28ESR", "AVISITN": [0, 4, 0],
         "AVAL": [6.0, 4.0, 5.5]}
    )  # fmt: skip
    options = er.Options(arms={"Placebo": 0.0}, arm_regimens={"SC weekly": "162 mg sc every week"})
    table = er.analysis_table(subjects, measurements, options)
    assert table.groupby("USUBJID")["regimen"].first().to_dict() == {
        "a": "162 mg SC every week", "b": "placebo"}  # fmt: skip
    design = er.exposure_design(table)
    assert np.diff(design["edges"]).min() < 0.25  # finer steps with subcutaneous dosing
    iv_only = er.exposure_design(table.assign(regimen="8 mg/kg IV every 4 weeks"))
    assert np.diff(iv_only["edges"]).min() == 1.0  # one-day steps, none finer after a dose
    bad = er.Options(arm_regimens={"SC weekly": "162 mg weekly"})
    with pytest.raises(SpecError, match=r"arm_regimens\['SC weekly'\].*every \[<n>\]"):
        er.analysis_table(subjects, measurements, bad)
    twice = pd.concat([measurements, measurements.iloc[[1]]])
    with pytest.raises(SpecError, match="subject a has two DAS28ESR scores at week 4"):
        er.analysis_table(subjects, twice, options)


def test_a_fit_draws_back_subject_effects_predicts_and_draws_its_figures(design, monkeypatch):
    """The whole fit path without MCMC (prior draws stand in), then estimands and figures."""
    import json

    import matplotlib.pyplot as plt
    from helpers import fast_fits

    from il6fit.inference import fit_model
    from il6fit.models import get_model
    from il6fit.models.family import FigureInput
    from il6fit.sampling import SamplerSettings

    fast_fits(monkeypatch)
    subjects, measurements, _ = simulate_cohort(scenario("ra_tcz_trial", n_subjects=30), seed=5)
    data = prepare(
        as_read(subjects), as_read(measurements), subjects_file="s", measurements_file="m"
    )
    family = get_model("exposure_response")
    settings = SamplerSettings(chains=2, draws=5, tune=10, cores=1, prior_draws=5)
    tree, table = fit_model(family, data.subjects, data.measurements, options={},
                            settings=settings, seed=3)  # fmt: skip
    post = tree["posterior"]
    assert post["base"].dims == ("chain", "draw", "subject")
    assert tree["log_likelihood"]["per_patient"].shape == (2, 5, post.sizes["subject"])
    assert tree["posterior_predictive"]["y"].shape == (2, 5, len(table))
    # only the priors the model has are kept (and reported): not il6_ec50's, off by default
    assert "il6_ec50" not in json.loads(tree.attrs["il6fit_options"])["priors"]
    options = family.make_options({})
    summary = family.estimand_draws(tree, table, options)
    assert set(summary.data_vars) == {"change", "effect", "half_life"}
    for name, spec in family.figures.items():
        figure = spec.draw(FigureInput(tree, None, table, options, 0.9, family))
        axes = figure.axes[0]
        assert "(" in axes.get_xlabel() and "(" in axes.get_ylabel(), name  # units
        plt.close(figure)


def test_drug_samples_join_the_table_and_drive_their_subjects_own_exposure(fast_compile):
    import pandas as pd

    from il6fit.errors import SpecError

    subjects, measurements, _ = simulate_cohort(scenario("ra_tcz_trial", n_subjects=30), seed=5)
    data = prepare(
        as_read(subjects), as_read(measurements), subjects_file="s", measurements_file="m"
    )
    meas = data.measurements
    drug = meas[meas["PARAMCD"] == "TCZ"]
    first = drug.iloc[0]
    # that visit's score is missing: the sample still counts
    same_visit = (meas["USUBJID"] == first["USUBJID"]) & (meas["AVISITN"] == first["AVISITN"])
    placebo = data.subjects.loc[data.subjects["TRT01P"].str.startswith("Placebo"), "USUBJID"]
    stray = drug.iloc[[0]].assign(USUBJID=placebo.iloc[0])
    kept = pd.concat([meas[~(same_visit & (meas["PARAMCD"] == "DAS28ESR"))], stray])
    table = er.analysis_table(data.subjects, kept, er.Options())
    row = table[(table["USUBJID"] == first["USUBJID"]) & (table["week"] == first["AVISITN"])]
    assert row["y"].isna().all() and row["tcz"].notna().all()
    assert table.loc[table["USUBJID"] == placebo.iloc[0], "tcz"].isna().all()
    assert table["regimen"].notna().all() and table["weight"].notna().all()
    design = er.exposure_design(table)
    assert design["seen"].sum() == table["y"].notna().sum()
    # sampled subjects have profiles of their own; unsampled treated ones share typical ones
    sampled = np.isin(design["subjects"], drug["USUBJID"].unique())
    assert np.unique(design["profile"][sampled]).size == sampled.sum()
    # the latent model observes only the scores, and drawn scores go back to those rows
    model = er.build_latent(table, dict(er.DEFAULT_PRIORS), er.Options())
    assert model["y"].eval().size == table["y"].notna().sum()
    drawn = er.FAMILY.with_observed(table, {"y": np.zeros(int(table["y"].notna().sum()))})
    assert drawn["y"].isna().equals(table["y"].isna()) and (drawn["y"].dropna() == 0).all()
    twice = pd.concat([kept, drug.iloc[[1]]])
    with pytest.raises(SpecError, match="two TCZ samples at week"):
        er.analysis_table(data.subjects, twice, er.Options())


def test_regimen_predictions_average_pk_variability_as_monte_carlo_does(monkeypatch):
    from il6fit.exposure import PKVariability, Regimen

    posterior = known_posterior(draws=1)["posterior"].to_dataset()
    weight, female = np.array([60.0, 80.0]), np.array([True, False])
    regimen, weeks = Regimen("iv", 4, "mg/kg", 28), np.array([24.0])
    nodes = er.regimen_change(posterior, regimen, weeks, weight, female, pk_variability=True)
    eta = np.random.default_rng(0).multivariate_normal([0, 0], PKVariability().covariance(), 3000)
    monkeypatch.setattr(er, "pk_quadrature", lambda _: (np.exp(eta), np.full(3000, 1 / 3000)))
    sampled = er.regimen_change(posterior, regimen, weeks, weight, female, pk_variability=True)
    typical = er.regimen_change(posterior, regimen, weeks, weight, female)
    # Monte Carlo's standard error is about 0.005; the PK variability itself moves it more
    assert float(nodes[0, 0, 0]) == pytest.approx(float(sampled[0, 0, 0]), abs=0.015)
    assert abs(float(typical[0, 0, 0] - sampled[0, 0, 0])) > 0.03


@pytest.fixture(scope="module")
def with_il6(trial):
    """The trial of ``design`` with Levi's IL-6 covariate on EC50."""
    table = er.analysis_table(trial.subjects, trial.measurements, er.Options(il6_on_ec50=True))
    return trial, table, er.exposure_design(table)


def test_baseline_il6_sets_each_subjects_ec50_and_the_likelihood_integrates_the_rest(with_il6):
    data, table, design = with_il6
    il6 = data.measurements.query("PARAMCD == 'IL6' and AVISITN == 0").set_index("USUBJID")
    assert table.groupby("USUBJID")["il6"].first().equals(il6["AVAL"].loc[design["subjects"]])
    np.testing.assert_allclose(
        design["covariate"], np.log(np.log(1000 * table.groupby("USUBJID")["il6"].first()) / 9.9)
    )
    assert np.ptp(design["covariate"]) > 0.2  # IL-6 spreads over more than a factor 10
    theta = {**THETA, "il6_ec50": -4.4}
    got = er.subject_log_likelihood(design, **theta)
    without = er.subject_log_likelihood(design, **THETA)
    assert np.abs(got - without).max() > 0.01  # the covariate matters
    for i in range(0, got.size, 10):
        assert got[i] == pytest.approx(brute_force(design, i, theta), abs=5e-3)
    # a subject at the reference IL-6 (L = 1) has the likelihood of the model without it
    at_reference = {**design, "covariate": np.zeros_like(design["covariate"])}
    np.testing.assert_allclose(er.subject_log_likelihood(at_reference, **theta), without)


def test_the_model_with_il6_evaluates_the_same_likelihood(with_il6, fast_compile):
    _, table, design = with_il6
    model = er.build(table, dict(er.DEFAULT_PRIORS), er.Options(il6_on_ec50=True))
    point = {
        "mu_base": 6.8, "sigma_base_log__": np.log(0.6), "log_ec50": np.log(3.7),
        "omega_ec50_log__": np.log(1.07), "imax_logodds__": np.log(0.73 / 0.27),
        "log_kout": np.log(0.038), "omega_kout_log__": np.log(0.55), "log_dmard": np.log(0.3),
        "sigma_log__": np.log(0.68), "il6_ec50": -4.4,
    }  # fmt: skip
    (terms,) = model.replace_rvs_by_values([model.potentials[0]])
    potential = model.compile_fn(terms, inputs=model.value_vars, point_fn=False)(**point)
    expected = er.subject_log_likelihood(design, **THETA, il6_ec50=-4.4)
    np.testing.assert_allclose(potential, expected, rtol=1e-10)
    latent = er.build_latent(table, dict(er.DEFAULT_PRIORS), er.Options(il6_on_ec50=True))
    (ec50_subject,) = latent.replace_rvs_by_values([latent["ec50_subject"]])
    used = ("log_ec50", "omega_ec50_log__", "il6_ec50", "z_ec50")
    inputs = [v for v in latent.value_vars if v.name in used]
    z = np.random.default_rng(1).normal(size=design["subjects"].size)
    values = {**point, "z_ec50": z}
    ec50 = latent.compile_fn(ec50_subject, inputs=inputs, point_fn=False)(
        **{name: values[name] for name in used}
    )
    np.testing.assert_allclose(ec50, 3.7 * np.exp(1.07 * z - 4.4 * design["covariate"]))


def test_subjects_without_baseline_il6_are_left_out_and_bad_values_named(with_il6, caplog):
    from il6fit.errors import SpecError

    data, table, _ = with_il6
    meas = data.measurements
    first = table["USUBJID"].iloc[0]
    baseline_il6 = (meas["PARAMCD"] == "IL6") & (meas["AVISITN"] == 0)
    options = er.Options(il6_on_ec50=True)
    kept = er.analysis_table(data.subjects, meas[~(baseline_il6 & (meas["USUBJID"] == first))],
                             options)  # fmt: skip
    assert first not in set(kept["USUBJID"])
    assert kept["USUBJID"].nunique() == table["USUBJID"].nunique() - 1
    assert "1 subjects without a baseline IL6" in caplog.text
    zero = meas.copy()
    zero.loc[baseline_il6 & (zero["USUBJID"] == first), "AVAL"] = 0.0
    with pytest.raises(SpecError, match=f"subject {first} has baseline IL6 0 pg/mL"):
        er.analysis_table(data.subjects, zero, options)
    # without the option, IL-6 is not read
    assert "il6" not in er.analysis_table(data.subjects, meas, er.Options())


def test_regimen_change_with_il6_is_the_population_mean_of_simulated_patients():
    import xarray as xr

    from il6fit.exposure import Regimen, concentrations
    from il6fit.models.turnover import step_edges

    draw = {"mu_base": 6.6, "ec50": 3.7, "omega_ec50": 1.07, "imax": 0.7, "kout": 0.038,
            "omega_kout": 0.55, "dmard": 0.3, "il6_ec50": -4.4}  # fmt: skip
    posterior = xr.Dataset({k: (("chain", "draw"), [[v]]) for k, v in draw.items()})
    regimen = Regimen("iv", 4, "mg/kg", 28)
    weight, female = np.array([60.0, 60.0, 90.0]), np.array([True, True, False])
    covariate = er.il6_ratio(np.array([3.0, 150.0, 20.0]))  # pg/mL
    weeks = np.array([0.0, 24.0])
    got = er.regimen_change(posterior, regimen, weeks, weight, female, covariate=covariate)
    without = er.regimen_change(posterior, regimen, weeks, weight, female)
    rng = np.random.default_rng(5)
    n = 6000
    who = rng.integers(0, 3, n)
    edges = np.union1d(step_edges(168.0, regimen.times(168.0), 1.0), weeks * 7)
    conc = concentrations(regimen, (edges[1:] + edges[:-1]) / 2, weight, female)[who]
    ec50 = 3.7 * np.exp(rng.normal(0, 1.07, n) - 4.4 * covariate[who])
    driven = (conc + 0.3) ** er.HILL
    effect = 0.7 * driven / (ec50[:, None] ** er.HILL + driven)
    kout = 0.038 * np.exp(rng.normal(0, 0.55, n))
    g = course_fraction(1 - effect, kout[:, None], edges, weeks * 7)
    change = 6.6 * (g[:, -1] - 1)
    assert float(got[0, 0, -1]) == pytest.approx(change.mean(), abs=4 * change.std() / np.sqrt(n))
    assert abs(float(got[0, 0, -1] - without[0, 0, -1])) > 0.02  # the covariate matters here


def test_the_standard_population_splits_weight_classes_by_il6():
    rng = np.random.default_rng(2)
    weight, female = rng.normal(75, 12, 300).round(), rng.random(300) < 0.8
    covariate = er.il6_ratio(np.exp(rng.normal(np.log(20), 1.2, 300)))
    plain = er.standard_population(weight, female)
    split = er.standard_population(weight, female, covariate)
    assert len(plain) == 16 and len(split) == 64
    assert split["share"].sum() == pytest.approx(1.0)
    # each weight class keeps its share, split four ways
    by_class = split.groupby(["female", "weight"])["share"].sum().reset_index()
    merged = plain.merge(by_class, on=["female", "weight"], suffixes=("", "_split"))
    np.testing.assert_allclose(merged["share"], merged["share_split"])
    assert split["covariate"].between(covariate.min(), covariate.max()).all()


def test_subject_effects_drawn_back_with_il6_follow_their_conditional(with_il6):
    import xarray as xr

    _, _, design = with_il6
    draws, picked = 400, [3, 20]
    values = {**THETA, "omega_ec50": THETA["omega"], "il6_ec50": -4.4}
    posterior = xr.Dataset(
        {k: (("chain", "draw"), np.full((1, draws), v)) for k, v in values.items()},
        coords={"chain": [0], "draw": np.arange(draws)},
    )
    data = {k: (dims, v[picked] if dims[0] == "subject" else v)
            for k, (v, dims) in er._data(design).items()}  # fmt: skip
    constant = xr.Dataset(data, coords={"subject": design["subjects"][picked]})
    drawn = er.conditional_effects(posterior, constant, np.random.default_rng(9))
    shift = -4.4 * design["covariate"][picked]
    np.testing.assert_allclose(
        drawn["ec50_subject"], 3.7 * np.exp(1.07 * drawn["z_ec50"] + shift), rtol=1e-12
    )
    for j, i in enumerate(picked):
        (mean, sd), *_ = brute_force_conditional(design, i, {**THETA, "il6_ec50": -4.4})
        x = drawn["z_ec50"].values[0, :, j]
        assert abs(x.mean() - mean) < 4.5 * sd / np.sqrt(draws), i
