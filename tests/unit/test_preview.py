"""The approximate preview (``sampler.method: advi``), a handful of optimisation steps: drawn in
one chain, marked as a preview, never escalated, and never passing the diagnostics
gate. That the preview finds the exact posterior where mean-field is exact (20,000 steps):
``tests/slow/test_preview_exact.py``."""

import numpy as np
import pandas as pd
import pymc as pm
import pytest

from il6fit.diagnostics import Thresholds, failed_checks, gate
from il6fit.errors import SpecError
from il6fit.escalation import Escalation
from il6fit.inference import fit_model
from il6fit.models import ModelFamily, ParameterInfo, Prior
from il6fit.models.family import NoOptions
from il6fit.sampling import SamplerSettings, is_preview, sample_posterior

#: A handful of steps: the optimisation's result is not under test, what is made of it is.
PREVIEW = SamplerSettings(method="advi", advi_iterations=8, chains=2, draws=50, prior_draws=0)


Y = np.random.default_rng(3).normal(1.5, 2.0, 40)


def build_normal_mean(table, priors, options):
    """Normal mean, known SD: the smallest model a fit can be made of."""
    with pm.Model(coords={"obs": np.arange(len(table))}) as model:
        mu = priors["mu"].create("mu")
        pm.Normal("y", mu, 2.0, observed=table["y"].to_numpy(), dims="obs")
    return model


NORMAL_MEAN = ModelFamily(
    name="normal_mean",
    title="normal mean",
    options=NoOptions,
    requires=lambda options: (),
    parameters={"mu": ParameterInfo("mean", "units")},
    default_priors={"mu": Prior("Normal", {"mu": 0.0, "sigma": 10.0})},
    analysis_table=lambda subjects, measurements, options: pd.DataFrame({"y": Y}),
    builder=build_normal_mean,
    equations="y_i ~ N(mu, 2)",
)


pytestmark = pytest.mark.usefixtures("fast_compile")  # the Python linker, not numba


def test_the_preview_is_drawn_in_one_chain_with_its_loss_per_step_and_marked():
    model = build_normal_mean(pd.DataFrame({"y": Y}), NORMAL_MEAN.default_priors, None)
    tree = sample_posterior(model, PREVIEW, seed=1)
    draws = tree["posterior"]["mu"].values
    assert draws.shape == (1, 100)  # chains x draws, in one chain
    assert np.isfinite(draws).all() and draws.std() > 0
    assert is_preview(tree)
    assert tree.attrs["il6fit_method"] == "advi"
    loss = tree["sample_stats"]["loss"]
    assert loss.dims == ("step",) and loss.size == PREVIEW.advi_iterations
    assert {"compile_time", "sampling_time", "optimisation_time"} <= set(tree["sample_stats"].attrs)
    # the same seed, the same preview
    again = sample_posterior(model, PREVIEW, seed=1)
    np.testing.assert_array_equal(again["posterior"]["mu"].values, draws)


def test_a_preview_fit_is_marked_and_never_passes_the_gate_whatever_the_policy(
    tmp_path, monkeypatch
):
    judged = []
    empty = pd.DataFrame({"PARAMCD": []})
    tree, _ = fit_model(
        NORMAL_MEAN,
        empty,
        empty,
        options={},
        settings=PREVIEW,
        seed=1,
        judge=lambda t: judged.append(t) or ["anything"],  # a preview is never escalated
        escalation=Escalation(),
    )
    assert judged == []
    assert is_preview(tree)
    assert {"posterior", "log_likelihood", "posterior_predictive"} <= set(tree.children)
    assert tree["posterior"].sizes["chain"] == 1
    summary, checks = gate(
        tree,
        NORMAL_MEAN,
        fit_name="normal_mean on preview",
        thresholds=Thresholds(),
        on_failure="stop",  # a preview is asked for: marked, not stopped
        ci_kind="eti",
        ci_prob=0.9,
    )
    assert list(summary["parameter"]) == ["mu"]
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
