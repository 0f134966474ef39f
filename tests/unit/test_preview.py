"""The approximate preview (``sampler.method: advi``): right where mean-field is exact, marked
as a preview, and never passing the diagnostics gate."""

import numpy as np
import pandas as pd
import pymc as pm
import pytest

from il6fit.data import as_read, prepare
from il6fit.diagnostics import Thresholds, failed_checks, gate
from il6fit.errors import SpecError
from il6fit.escalation import Escalation
from il6fit.inference import fit_model
from il6fit.models import get_model
from il6fit.sampling import SamplerSettings, is_preview, sample_posterior
from il6fit.simulate import scenario, simulate_cohort

PREVIEW = SamplerSettings(method="advi", advi_iterations=20000, chains=2, draws=1000, prior_draws=0)


def test_the_preview_finds_the_exact_posterior_where_mean_field_is_exact():
    # normal mean, known SD, normal prior: the posterior is normal, so mean-field ADVI is exact
    y = np.random.default_rng(3).normal(1.5, 2.0, 40)
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 10.0)
        pm.Normal("y", mu, 2.0, observed=y)
    tree = sample_posterior(model, PREVIEW, seed=1)
    precision = 1 / 10.0**2 + len(y) / 2.0**2
    exact_mean, exact_sd = y.sum() / 2.0**2 / precision, precision**-0.5
    draws = tree["posterior"]["mu"].values
    assert draws.shape == (1, 2000)  # chains x draws, in one chain
    assert abs(draws.mean() - exact_mean) < 0.15 * exact_sd
    assert draws.std() == pytest.approx(exact_sd, rel=0.15)
    assert is_preview(tree)
    assert tree["sample_stats"]["loss"].size == PREVIEW.advi_iterations


def test_a_preview_fit_is_marked_and_never_passes_the_gate_whatever_the_policy(tmp_path):
    spec = scenario("ra_tcz_trial", n_subjects=60)
    subjects, measurements, _ = simulate_cohort(spec, seed=5)
    data = prepare(
        as_read(subjects), as_read(measurements), subjects_file="s", measurements_file="m"
    )
    family = get_model("il6_crp")
    judged = []
    tree, _ = fit_model(
        family,
        data.subjects,
        data.measurements,
        options={"visits": [0], "priors": {}},
        settings=SamplerSettings(method="advi", advi_iterations=3000, draws=200, prior_draws=0),
        seed=1,
        judge=lambda t: judged.append(t) or ["anything"],  # a preview is never escalated
        escalation=Escalation(),
    )
    assert judged == []
    assert is_preview(tree)
    assert {"posterior", "log_likelihood", "posterior_predictive"} <= set(tree.children)
    summary, checks = gate(
        tree,
        family,
        fit_name="il6_crp on preview",
        thresholds=Thresholds(),
        on_failure="stop",  # a preview is asked for: marked, not stopped
        ci_kind="eti",
        ci_prob=0.9,
    )
    assert "beta_il6" in set(summary["parameter"])
    assert len(checks) == 1 and not checks["passed"].any()
    message = ["approximate preview (ADVI): not for inference: refit with sampler.method nuts"]
    assert failed_checks(checks) == message
    # as the report reads it back from results/diagnostics/*.csv
    path = tmp_path / "checks.csv"
    checks.to_csv(path, index=False)
    assert failed_checks(pd.read_csv(path)) == message


def test_an_unknown_method_is_rejected():
    with pytest.raises(SpecError, match="unknown sampler method 'pathfinder'; choose one of nuts"):
        SamplerSettings(method="pathfinder")
