import dataclasses

import numpy as np
import pandas as pd
import pytest
from arviz_base import from_dict

from il6fit.diagnostics import (
    Thresholds,
    check,
    failed_checks,
    gate,
    loo_warning,
    prior_sensitivity,
    summarise,
)
from il6fit.errors import FitFailedError, SpecError
from il6fit.models import ParameterInfo, Prior, get_model

PARAMS = {"mu": ParameterInfo("a mean", "mg/L"), "theta": ParameterInfo("effects", "mg/L")}


def tree(*, shift=0.0, divergent=0, energy_sd=1.0, seed=0, draws=1000):
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=(2, draws))
    mu[1] += shift
    diverging = np.zeros((2, draws), dtype=bool)
    diverging[0, :divergent] = True
    energy = np.cumsum(rng.normal(scale=energy_sd, size=(2, draws)), axis=1)
    return from_dict(
        {
            "posterior": {"mu": mu, "theta": rng.normal(size=(2, draws, 3))},
            "sample_stats": {
                "diverging": diverging,
                "maxdepth_reached": np.zeros((2, draws), dtype=bool),
                "energy": energy if energy_sd != 1.0 else rng.normal(size=(2, draws)),
            },
        },
        dims={"theta": ["school"]},
        coords={"school": ["a", "b", "c"]},
    )


def test_summary_has_the_documented_columns_and_explicit_interval():
    summary = summarise(tree(), PARAMS, ci_kind="eti", ci_prob=0.9)
    assert summary["parameter"].tolist() == ["mu", "theta[a]", "theta[b]", "theta[c]"]
    row = summary.iloc[0]
    assert row["ci_lower"] == pytest.approx(-1.645, abs=0.15)
    assert row["ci_upper"] == pytest.approx(1.645, abs=0.15)
    assert (row["ci_kind"], row["ci_prob"], row["unit"]) == ("eti", 0.9, "mg/L")
    assert summary["r_hat"].max() < 1.01


def test_a_healthy_fit_passes_every_check():
    t = tree()
    checks = check(t, summarise(t, PARAMS, ci_kind="eti", ci_prob=0.9), Thresholds())
    assert checks["passed"].all(), checks
    assert failed_checks(checks) == []


def test_chains_that_disagree_fail_r_hat_and_ess():
    t = tree(shift=3.0)
    checks = check(t, summarise(t, PARAMS, ci_kind="eti", ci_prob=0.9), Thresholds())
    failed = checks.loc[~checks["passed"], "check"].tolist()
    assert failed == ["max R-hat", "min bulk ESS", "min tail ESS"]
    assert checks.set_index("check").loc["max R-hat", "worst"] == "mu"


def test_divergences_and_low_ebfmi_fail():
    t = tree(divergent=3, energy_sd=0.05)
    checks = check(t, summarise(t, PARAMS, ci_kind="eti", ci_prob=0.9), Thresholds())
    by = checks.set_index("check")
    assert by.loc["divergences", "value"] == 3
    assert not by.loc["divergences", "passed"]
    assert by.loc["min E-BFMI", "value"] < 0.3
    assert not by.loc["min E-BFMI", "passed"]


def test_failures_are_described_with_value_limit_and_culprit():
    checks = pd.DataFrame(
        [{"check": "max R-hat", "value": 1.05, "threshold": 1.01, "rule": "<=",
          "passed": False, "worst": "beta_il6"}]
    )  # fmt: skip
    assert failed_checks(checks) == ["max R-hat 1.05 (limit <= 1.01; beta_il6)"]


def test_gate_stops_a_failing_fit_naming_it_and_its_checks():
    bad = tree(shift=3.0)
    family = get_model("il6_crp")
    renamed = bad.copy()
    renamed["posterior"] = bad["posterior"].to_dataset().rename({"mu": "alpha"})
    with pytest.raises(FitFailedError, match=r"il6_crp on trial failed .*max R-hat"):
        gate(renamed, family, fit_name="il6_crp on trial", thresholds=Thresholds(),
             on_failure="stop", ci_kind="eti", ci_prob=0.9)  # fmt: skip
    summary, checks = gate(renamed, family, fit_name="il6_crp on trial",
                           thresholds=Thresholds(), on_failure="mark", ci_kind="hdi",
                           ci_prob=0.8)  # fmt: skip
    assert not checks["passed"].all()
    assert summary["ci_kind"].unique().tolist() == ["hdi"]


def with_log_likelihood(t, *, outlier: bool, seed: int = 1):
    """Add a pointwise log-likelihood of 50 observations; one far-off observation if asked."""
    rng = np.random.default_rng(seed)
    chains, draws = t["posterior"].sizes["chain"], t["posterior"].sizes["draw"]
    mu = t["posterior"]["mu"].values[..., None]
    y = rng.normal(size=50)
    if outlier:
        y[7] = 12.0
    loglik = -0.5 * (y - 0.3 * mu) ** 2 - 0.5 * np.log(2 * np.pi)
    out = t.copy()
    out["log_likelihood"] = from_dict(
        {"log_likelihood": {"per_patient": loglik.reshape(chains, draws, 50)}},
        dims={"per_patient": ["patient"]},
        coords={"patient": [f"P{i:02d}" for i in range(50)]},
    )["log_likelihood"]
    return out


def test_an_influential_patient_makes_loo_unreliable_naming_them_without_failing_the_gate():
    t = with_log_likelihood(tree(), outlier=True)
    checks = check(t, summarise(t, PARAMS, ci_kind="eti", ci_prob=0.9), Thresholds())
    row = checks.set_index("check").loc["max Pareto k"]
    assert row["value"] > 0.7 and not row["passed"] and not row["gates"]
    assert row["worst"] == "1 of 50 patients above the limit; psis"  # no identifier
    # the posterior is sound: LOO's reliability is reported beside the gate, not in it
    assert not failed_checks(checks)
    assert loo_warning(checks).startswith("LOO unreliable: max Pareto k")


def test_pareto_k_passes_when_every_observation_is_predicted_and_is_skipped_without_loglik():
    t = with_log_likelihood(tree(), outlier=False)
    checks = check(t, summarise(t, PARAMS, ci_kind="eti", ci_prob=0.9), Thresholds())
    assert checks.set_index("check").loc["max Pareto k", "passed"]
    bare = check(tree(), summarise(tree(), PARAMS, ci_kind="eti", ci_prob=0.9), Thresholds())
    row = bare.set_index("check").loc["max Pareto k"]
    assert np.isnan(row["value"]) and row["passed"]
    assert row["worst"] == "not computed: no log-likelihood per patient"
    assert loo_warning(bare) == "" and loo_warning(checks) == ""


def test_an_unknown_policy_is_a_clear_error():
    with pytest.raises(SpecError, match="choose one of mark, stop, escalate"):
        gate(tree(), get_model("il6_crp"), fit_name="x", thresholds=Thresholds(),
             on_failure="retry", ci_kind="eti", ci_prob=0.9)  # fmt: skip


def test_prior_sensitivity_needs_the_log_prior_and_says_how_to_get_it():
    with pytest.raises(SpecError, match="log_prior, log_likelihood"):
        prior_sensitivity(tree(), get_model("il6_crp"))


def conjugate_fit(prior_mu: float, prior_sd: float, seed: int = 0):
    """Exact posterior draws of a normal mean (known sd 1) with their log prior and likelihood."""
    rng = np.random.default_rng(seed)
    y = rng.normal(8.0, 1.0, size=20)
    precision = 1 / prior_sd**2 + y.size
    mean = (prior_mu / prior_sd**2 + y.sum()) / precision
    mu = rng.normal(mean, precision**-0.5, size=(2, 1000))
    log_prior = -0.5 * ((mu - prior_mu) / prior_sd) ** 2
    loglik = -0.5 * (y - mu[..., None]) ** 2
    return from_dict(
        {"posterior": {"mu": mu}, "log_prior": {"mu": log_prior},
         "log_likelihood": {"y": loglik}},
        dims={"y": ["obs"]},
    )  # fmt: skip


def test_a_strong_prior_against_the_data_is_flagged_by_power_scaling():
    family = dataclasses.replace(
        get_model("il6_crp"),
        parameters={"mu": ParameterInfo("a mean", "mg/L")},
        default_priors={"mu": Prior("Normal", {"mu": 0.0, "sigma": 1.0})},
    )
    conflict = prior_sensitivity(conjugate_fit(-30.0, 0.5), family).set_index("parameter")
    assert conflict.loc["mu", "flagged"]
    assert conflict.loc["mu", "diagnosis"] == "prior-data conflict"
    vague = prior_sensitivity(conjugate_fit(0.0, 100.0), family).set_index("parameter")
    assert not vague.loc["mu", "flagged"] and vague.loc["mu", "diagnosis"] == "-"
    assert vague.loc["mu", "prior"] < 0.05 < conflict.loc["mu", "prior"]
