"""What a fit computes after sampling: vectorised over the draws, equal to PyMC's per-draw loop."""

import warnings

import numpy as np
import pymc as pm
import pytest
import xarray as xr
from helpers import prior_posterior

import il6fit.sampling
from il6fit.data import as_read, prepare
from il6fit.models import get_model
from il6fit.sampling import SamplerSettings, pointwise_log_density, potential_log_likelihood
from il6fit.simulate import scenario, simulate_cohort

FAMILIES = (
    "il6_crp",
    "treatment_response",
    "mmrm",
    "eular_response",
    "disease_activity",
    "exposure_response",
)


@pytest.fixture(scope="module")
def trial():
    subjects, measurements, _ = simulate_cohort(scenario("ra_tcz_trial", n_subjects=24), seed=2)
    return prepare(
        as_read(subjects), as_read(measurements), subjects_file="s", measurements_file="m"
    )


@pytest.mark.parametrize("name", FAMILIES)
def test_log_likelihood_and_log_prior_equal_pymcs_at_every_draw(trial, name, monkeypatch):
    family = get_model(name)
    options = family.make_options({})
    model = family.build(
        family.table(trial.subjects, trial.measurements, options), family.priors(None), options
    )
    tree = prior_posterior(model, SamplerSettings(chains=2, draws=4), seed=3)
    fast = {"compile_kwargs": {"mode": "FAST_COMPILE"}, "progressbar": False}
    kinds = [("prior", pm.stats.compute_log_prior)]
    if model.observed_RVs:
        kinds.append(("likelihood", pm.compute_log_likelihood))
    for kind, reference in kinds:
        ours = pointwise_log_density(tree, model, kind)
        theirs = reference(tree.copy(), model=model, extend_inferencedata=False, **fast)
        assert set(ours.data_vars) == set(theirs.data_vars), kind
        for var in ours.data_vars:
            assert ours[var].dims == theirs[var].dims, (kind, var)
            # rtol: summation order; atol: PyMC's float32 constants (Gamma's rate) upcast apart
            np.testing.assert_allclose(ours[var].values, theirs[var].values, rtol=1e-9, atol=1e-6)
    # in chunks of one draw: the same values up to rounding (the chunk size is fixed by the data)
    if family.marginal is not None:
        whole = potential_log_likelihood(tree, model, family.marginal.potentials)
        monkeypatch.setattr(il6fit.sampling, "CHUNK_VALUES", 1)
        chunked = potential_log_likelihood(tree, model, family.marginal.potentials)
        for var in whole.data_vars:
            np.testing.assert_allclose(whole[var].values, chunked[var].values, rtol=1e-12)
        # a family computing them itself gives the same terms
        if family.marginal.log_likelihood is not None:
            own = family.marginal.log_likelihood(
                tree["posterior"].to_dataset(), tree["constant_data"].to_dataset()
            )
            assert set(own.data_vars) == set(whole.data_vars)
            for var in whole.data_vars:
                assert own[var].dims == whole[var].dims
                np.testing.assert_allclose(own[var].values, whole[var].values, rtol=1e-10)
        # ... and one pass drawing the latent values too gives the same numbers as the two apart
        if family.marginal.joint is not None:
            posterior = tree["posterior"].to_dataset()
            constant = tree["constant_data"].to_dataset()
            drawn, terms = family.marginal.joint(posterior, constant, np.random.default_rng(4))
            alone = family.marginal.conditional(posterior, constant, np.random.default_rng(4))
            xr.testing.assert_identical(drawn, alone)
            xr.testing.assert_identical(terms, family.marginal.log_likelihood(posterior, constant))


def test_draws_are_evaluated_in_chunks_whose_intermediates_fit_the_memory_allowance(
    monkeypatch, caplog
):
    """A value per draw made from an 8 MB intermediate: a few draws at a time, not all 200."""
    import logging

    import pytensor.tensor as pt
    import xarray as xr

    from il6fit.sampling import over_draws

    x = pt.scalar("x")
    out = (pt.ones((1000, 1000)) * x).sum()
    post = xr.Dataset({"x": (("chain", "draw"), np.arange(200.0).reshape(2, 100))})
    monkeypatch.setattr(il6fit.sampling, "CHUNK_BYTES", 32 * 2**20)
    with caplog.at_level(logging.DEBUG, logger="il6fit.sampling"):
        (values,) = over_draws(post, [x], [out])
    np.testing.assert_allclose(values, 1e6 * np.arange(200.0))
    step = int(caplog.text.split("in chunks of ")[1].split()[0])
    assert step <= 4  # at least 8 MB a draw within 32 MB; unbounded, all 200 at once (1.6 GB)


@pytest.mark.parametrize("name", FAMILIES)
def test_predictive_draws_over_all_draws_at_once_are_pymcs_one_call_a_draw(
    trial, name, monkeypatch
):
    """Vectorised draws: PyMC's values with the same seed, however many draws a call takes."""
    from il6fit.sampling import predictive_draws

    family = get_model(name)
    options = family.make_options({})
    table = family.table(trial.subjects, trial.measurements, options)
    priors = family.priors(None)
    model = (family.generative if family.marginal else family.build)(table, priors, options)
    tree = prior_posterior(model, SamplerSettings(chains=2, draws=5), seed=3)
    names = [v.name for v in model.observed_RVs]
    ours = predictive_draws(tree["posterior"], model, names, seed=11)
    if ours is None:  # a distribution PyTensor cannot vectorise: PyMC's loop serves it
        assert name in {"mmrm", "disease_activity"}
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The effect of Potentials", UserWarning)
        theirs = pm.sample_posterior_predictive(
            tree, model=model, var_names=names, random_seed=11, progressbar=False,
            compile_kwargs={"mode": "FAST_COMPILE"},
        )["posterior_predictive"]  # fmt: skip
    monkeypatch.setattr(il6fit.sampling, "CHUNK_VALUES", 1)  # one draw a call
    one_by_one = predictive_draws(tree["posterior"], model, names, seed=11)
    for var in names:
        np.testing.assert_array_equal(ours[var], one_by_one[var])
        assert ours[var].shape == theirs[var].shape
        # a parameter computed over all draws at once may differ in its last bits
        np.testing.assert_allclose(ours[var], theirs[var].values, rtol=1e-12, atol=1e-12)
