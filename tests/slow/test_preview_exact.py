"""The approximate preview finds the exact posterior where mean-field is exact (slow; 20,000
ADVI steps). How a preview is marked and gated: tests/unit/test_preview.py."""

import numpy as np
import pymc as pm
import pytest

from il6fit.sampling import SamplerSettings, is_preview, sample_posterior

pytestmark = pytest.mark.slow

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
