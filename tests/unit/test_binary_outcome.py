"""The binary outcome model: table, structure, censoring, estimands from known draws, figures."""

import logging
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pymc as pm
import pytest
import xarray as xr
import yaml
from helpers import prior_posterior
from scipy.special import expit, logit
from scipy.stats import mannwhitneyu

from il6fit.data import as_read, prepare, read_table
from il6fit.data.prepare import read_prepared
from il6fit.errors import SpecError
from il6fit.models import get_model
from il6fit.models.binary_outcome import (
    IL6_GRID,
    MIN_LOO_DRAWS,
    loo_risk,
    risk_bins,
    weighted_auc,
)
from il6fit.models.family import FigureInput
from il6fit.sampling import SamplerSettings
from il6fit.sbc import design

FAMILY = get_model("binary_outcome")
ROOT = Path(__file__).resolve().parents[2]
WORKBOOK = ROOT.parent / "shared" / "data" / "tongji-covid19" / "time_series_375_prerpocess_en.xlsx"


def data():
    """Six subjects: IL-6 below and above its limits, one without IL-6, one without outcome."""
    subjects = pd.DataFrame(
        {
            "USUBJID": ["A", "B", "C", "D", "E", "F"],
            "STUDYID": "S",
            "SITEID": "1",
            "TRT01P": "Standard care",
            "AGE": [40.0, 55, 70, 62, 80, 35],
            "SEX": ["F", "M", "M", "F", "M", "F"],
            "DTHFL": ["N", "N", "Y", "Y", "", "N"],
        }
    )
    il6 = {"A": (1.5, -1), "B": (12.0, 0), "C": (5000.0, 1), "D": (80.0, 0), "E": (40.0, 0)}
    rows = [(s, "IL6", 0.0, v, c) for s, (v, c) in il6.items()]
    rows += [("B", "IL6", 1.0, 300.0, 0), ("F", "CRP", 0.0, 10.0, 0)]
    return subjects, pd.DataFrame(rows, columns=["USUBJID", "PARAMCD", "AVISITN", "AVAL", "CENS"])


def test_table_takes_the_outcome_flag_and_baseline_il6_and_leaves_out_the_incomplete(caplog):
    subjects, measurements = data()
    with caplog.at_level(logging.INFO, logger="il6fit.models.binary_outcome"):
        table = FAMILY.table(subjects, measurements, {})
    assert table["USUBJID"].tolist() == ["A", "B", "C", "D"]
    assert table["outcome"].tolist() == [0, 0, 1, 1]
    assert table["IL6"].tolist() == [1.5, 12.0, 5000.0, 80.0]
    assert table["IL6_cens"].tolist() == [-1, 0, 1, 0]
    assert table["male"].tolist() == [0.0, 1.0, 1.0, 0.0]
    assert {"AGE", "site"} <= set(table.columns)
    assert "1 subject(s) without DTHFL left out" in caplog.text
    assert "1 of 5 subject(s) with DTHFL have no IL6 at visit 0" in caplog.text


@pytest.mark.parametrize(
    ("change", "text"),
    [
        (lambda s: s.assign(DTHFL=["N", "maybe", "Y", "Y", "", "N"]), "found maybe"),
        (lambda s: s.drop(columns="DTHFL"), "has no column DTHFL"),
        (lambda s: s.assign(AGE=[40.0, np.nan, 70, 62, 80, 35]), "AGE is missing for 1 of 4"),
    ],
)
def test_bad_outcomes_and_partly_missing_covariates_stop_with_the_fix(change, text):
    subjects, measurements = data()
    with pytest.raises(SpecError, match=text):
        FAMILY.table(change(subjects), measurements, {})


def test_a_covariate_empty_for_everyone_is_dropped():
    subjects, measurements = data()
    table = FAMILY.table(subjects.assign(AGE=np.nan), measurements, {})
    assert "AGE" not in table
    assert "beta_age" not in {v.name for v in FAMILY.build(table).free_RVs}


def test_model_has_latent_censored_il6_and_optional_terms():
    subjects, measurements = data()
    table = FAMILY.table(subjects, measurements, {})
    model = FAMILY.build(table)
    free = {v.name for v in model.free_RVs}
    assert {"alpha", "beta_il6", "beta_age", "beta_male"} <= free
    assert {"log_il6_below", "log_il6_above"} <= free
    assert not {"alpha_site", "beta_arm", "beta_crp"} & free  # one site, no arm, no CRP
    assert {v.name for v in model.observed_RVs} == {"outcome", "log_il6"}
    assert model.named_vars_to_dims["outcome"] == ("subject",)
    assert list(model.coords["subject"]) == ["A", "B", "C", "D"]
    two_sites = FAMILY.build(table.assign(site=["S:1", "S:1", "S:2", "S:2"]))
    assert "alpha_site" in {v.name for v in two_sites.free_RVs}
    arms = {"Standard care": 0.0, "Drug": 1.0}
    armed = subjects.assign(
        TRT01P=["Standard care", "Drug", "Drug", "Standard care", "Drug", "Drug"]
    )
    options = {"covariates": ["arm"], "arms": arms}
    model = FAMILY.build(FAMILY.table(armed, measurements, options), None, options)
    assert "beta_arm" in {v.name for v in model.free_RVs}
    assert list(model.coords["active_arm"]) == ["Drug"]


def test_censored_il6_is_drawn_beyond_its_limits_and_enters_the_log_odds():
    subjects, measurements = data()
    model = FAMILY.build(FAMILY.table(subjects, measurements, {}))
    with model, pytest.warns(UserWarning, match="Potentials"):
        prior = pm.sample_prior_predictive(
            draws=200, random_seed=1, compile_kwargs={"mode": "FAST_COMPILE"}
        )["prior"]
    assert (prior["log_il6_below"].values < np.log(1.5)).all()
    assert (prior["log_il6_above"].values > np.log(5000)).all()
    # subject A (censored below): eta uses the latent value, not the limit
    expected = (
        prior["alpha"]
        + prior["beta_il6"] * (prior["log_il6_below"].isel(il6_below=0) - np.log(20))
        + prior["beta_age"] * (40 - 50) / 10
    )
    np.testing.assert_allclose(prior["eta"].sel(subject="A"), expected, rtol=1e-6)


def known_posterior(eta, alpha=-1.0, beta=0.7, chains=2):
    """A posterior whose draws are given: alpha, beta_il6 constant, eta as given."""
    eta = np.asarray(eta)
    draws = eta.shape[0] // chains
    return xr.DataTree.from_dict(
        {
            "posterior": xr.Dataset(
                {
                    "alpha": (("chain", "draw"), np.full((chains, draws), alpha)),
                    "beta_il6": (("chain", "draw"), np.full((chains, draws), beta)),
                    "eta": (("chain", "draw", "subject"), eta.reshape(chains, draws, -1)),
                },
                coords={"chain": np.arange(chains), "draw": np.arange(draws)},
            )
        }
    )


def test_odds_ratios_and_reference_risk_from_known_draws():
    tree = known_posterior(np.zeros((4, 3)))
    table = pd.DataFrame({"outcome": [0, 1, 0]})
    draws = FAMILY.estimand_draws(tree, table, {})
    np.testing.assert_allclose(draws["or_il6_doubling"], 2**0.7)
    np.testing.assert_allclose(draws["or_il6_per_ln"], np.exp(0.7))
    risk = draws["risk_reference"].isel(chain=0, draw=0)
    np.testing.assert_allclose(risk, expit(-1.0 + 0.7 * (np.log(IL6_GRID) - np.log(20))))
    assert risk.sel(il6_pgml=20.0) == pytest.approx(expit(-1.0))
    # too few draws for PSIS (a calibration replicate's truth is one draw): no LOO estimands
    assert "auc_loo" not in draws


def test_loo_risk_is_the_exact_leave_one_out_predictive_of_a_beta_binomial():
    # y_1..n ~ Bernoulli(theta), theta ~ Beta(a, b): leaving out a case gives
    # P(y_i = 1 | y_-i) = (a + k - 1) / (a + b + n - 1), a non-case (a + k) / (a + b + n - 1)
    a, b, outcome = 2.0, 3.0, np.array([1, 1, 1, 0, 0, 0, 0, 0, 1, 0])
    n, k = outcome.size, outcome.sum()
    theta = np.random.default_rng(3).beta(a + k, b + n - k, 40_000)
    eta = np.broadcast_to(logit(theta)[:, None], (theta.size, n)).reshape(2, -1, n)
    risk, pareto_k = loo_risk(eta, outcome)
    expected = np.where(outcome == 1, a + k - 1, a + k) / (a + b + n - 1)
    np.testing.assert_allclose(risk, expected, atol=0.005)
    assert (pareto_k < 0.5).all()
    # in-sample risk would be (a + k) / (a + b + n) for everyone: LOO is less flattering
    assert risk[outcome == 1].max() < (a + k) / (a + b + n) < risk[outcome == 0].min()


def test_weighted_auc_is_the_mann_whitney_auc_with_equal_weights_and_follows_the_weights():
    rng = np.random.default_rng(0)
    risk = rng.uniform(size=40).round(1)  # ties count one half
    outcome = (rng.uniform(size=40) < risk).astype(int)
    u = mannwhitneyu(risk[outcome == 1], risk[outcome == 0]).statistic
    expected = u / (outcome.sum() * (outcome == 0).sum())
    assert weighted_auc(risk, outcome, np.ones((1, 40)))[0] == pytest.approx(expected)
    doubled = np.tile(np.r_[risk, risk], 1)
    weights = np.r_[np.ones(40), np.zeros(40)][None]
    auc = weighted_auc(doubled, np.r_[outcome, 1 - outcome], weights)
    assert auc[0] == pytest.approx(expected)


def test_risk_bins_split_at_quantiles_and_are_labelled_by_their_range():
    which, labels = risk_bins(np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]), 3)
    assert which.tolist() == [0, 0, 1, 1, 2, 2]
    assert labels == ["0.10-0.20", "0.30-0.40", "0.50-0.60"]


def test_loo_auc_and_calibration_from_known_draws():
    rng = np.random.default_rng(1)
    n = 200
    true_eta = rng.normal(-0.5, 1.5, n)
    outcome = (rng.uniform(size=n) < expit(true_eta)).astype(int)
    eta = true_eta + rng.normal(0, 0.05, (2 * MIN_LOO_DRAWS, n))
    draws = FAMILY.estimand_draws(known_posterior(eta), pd.DataFrame({"outcome": outcome}), {})
    u = mannwhitneyu(true_eta[outcome == 1], true_eta[outcome == 0]).statistic
    auc = u / (outcome.sum() * (n - outcome.sum()))
    # a near-certain posterior: LOO changes little; the Bayesian bootstrap centres on the AUC
    assert float(draws["auc_loo"].mean()) == pytest.approx(auc, abs=0.01)
    assert 0.01 < float(draws["auc_loo"].std()) < 0.06
    assert draws.sizes["risk_bin"] == 5
    observed = draws["calibration_observed"].mean(("chain", "draw")).values
    predicted = draws["calibration_predicted"].mean(("chain", "draw")).values
    assert (np.diff(predicted) > 0).all()
    np.testing.assert_allclose(observed, predicted, atol=0.15)
    # each bin's observed share is its outcomes' mean under the weights
    which, _ = risk_bins(loo_risk(eta.reshape(2, -1, n), outcome)[0], 5)
    plain = [outcome[which == j].mean() for j in range(5)]
    np.testing.assert_allclose(observed, plain, atol=0.03)


def fitted_standin(table, seed=2):
    """A fit's stand-in: prior draws shaped as 2 chains of 100, with the posterior's groups."""
    return prior_posterior(FAMILY.build(table), SamplerSettings(chains=2, draws=100), seed)


def test_figures_draw_from_a_fit_with_censored_il6():
    subjects, measurements = data()
    table = FAMILY.table(subjects, measurements, {})
    tree = fitted_standin(table)
    fig = FigureInput(tree, pd.DataFrame(), table, FAMILY.make_options({}), 0.9, FAMILY)
    for name in ("risk", "calibration"):
        figure = FAMILY.draw(name, fig)
        ax = figure.axes[0]
        assert ax.get_xlabel() and ax.get_ylabel()
        if name == "risk":
            assert ax.get_xscale() == "log"
            assert "IL-6 at an assay limit (censored)" in ax.get_legend_handles_labels()[1]
        plt.close(figure)


def test_the_covid_scenario_is_a_calibration_design_with_death_drawn_on_measured_il6(
    fast_compile,
):
    table = design("binary_outcome", FAMILY.calibration.design, seed=1)
    assert len(table) == FAMILY.calibration.design["n_subjects"]
    assert (table["IL6_cens"] == 0).all()
    drawn = FAMILY.simulate(table, FAMILY.default_priors, {"beta_il6": 0.8}, seed=2)
    assert drawn["IL6"].equals(table["IL6"])
    assert set(drawn["outcome"]) <= {0, 1}


@pytest.mark.skipif(not WORKBOOK.is_file(), reason=f"{WORKBOOK} not present")
def test_the_tongji_import_carries_death_through_preparation_to_the_table(tmp_path):
    from il6fit.data.tongji import import_tongji

    imported = import_tongji(WORKBOOK)
    imported.subjects.to_csv(tmp_path / "subjects.csv", index=False)
    imported.measurements.to_csv(tmp_path / "measurements.csv", index=False)
    config = yaml.safe_load((ROOT / "config" / "tongji.yaml").read_text())
    prepared = prepare(
        read_table(tmp_path / "subjects.csv"),
        read_table(tmp_path / "measurements.csv"),
        subjects_file="subjects.csv",
        measurements_file="measurements.csv",
        subject_columns={"DTHFL": "model_options.binary_outcome.outcome: DTHFL"},
        **config["prepare"],
    )
    # as the workflow passes it on: written, then read back
    prepared.subjects.to_csv(tmp_path / "prepared_subjects.csv", index=False)
    prepared.measurements.to_csv(tmp_path / "prepared_measurements.csv", index=False)
    subjects, measurements = read_prepared(
        tmp_path / "prepared_subjects.csv", tmp_path / "prepared_measurements.csv"
    )
    assert (subjects["DTHFL"] == "Y").sum() == 174
    assert "binary_outcome" in config["models"]
    table = FAMILY.table(subjects, measurements, config["model_options"]["binary_outcome"])
    # admission IL-6 (days 1-3) for 165 patients, 68 of whom died; 9 below 1.5 pg/mL
    assert len(table) == 165
    assert table["outcome"].sum() == 68
    assert (table["IL6_cens"] == -1).sum() == 9
    assert {"AGE", "male"} <= set(table.columns)


def test_the_simulated_covid_cohort_prepares_with_its_death_flag():
    from il6fit.simulate import scenario, simulate_cohort

    subjects, measurements, _ = simulate_cohort(scenario("covid", n_subjects=60), seed=4)
    prepared = prepare(
        as_read(subjects), as_read(measurements), subjects_file="s", measurements_file="m"
    )
    table = FAMILY.table(prepared.subjects, prepared.measurements, {})
    assert len(table) == 60
    assert table["outcome"].sum() == (subjects["DTHFL"] == "Y").sum()


def test_a_eular_good_response_of_the_simulated_trial_is_an_outcome_on_arm_and_il6():
    from il6fit.simulate import scenario, simulate_cohort

    subjects, measurements, _ = simulate_cohort(scenario("ra_tcz_trial", n_subjects=90), seed=5)
    prepared = prepare(
        as_read(subjects), as_read(measurements), subjects_file="s", measurements_file="m"
    )
    options = {"outcome": "EULAR_GOOD", "covariates": ["arm"]}
    assert FAMILY.required(options) == ("IL6", "DAS28ESR")
    table = FAMILY.table(prepared.subjects, prepared.measurements, options)
    response = prepared.response.query("PARAMCD == 'DAS28ESR' and EULAR != ''")
    good = response.set_index("USUBJID")["EULAR"].eq("good").astype(int)
    assert table.set_index("USUBJID")["outcome"].equals(good.loc[table["USUBJID"]])
    assert table["arm"].nunique() == 3
    model = FAMILY.build(table, None, options)
    assert list(model.coords["active_arm"]) == ["TCZ 4 mg/kg + MTX", "TCZ 8 mg/kg + MTX"]
