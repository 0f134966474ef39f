"""The marginal models against their latent forms on the default trial (slow; `make test-slow`).

Integrating latent values out changes how the posterior is computed, not what it is: the
posterior of every global parameter must agree with the latent form's, within 0.1 posterior
sd (both fits have Monte Carlo error: about 0.02 sd each with 4 x 2,000 draws).
"""

import numpy as np
import pytest

from il6fit.data import as_read, prepare
from il6fit.models import get_model
from il6fit.sampling import SamplerSettings, sample_posterior
from il6fit.simulate import scenario, simulate_cohort

pytestmark = pytest.mark.slow

SETTINGS = SamplerSettings(chains=4, draws=2000, tune=1000, cores=2)


def default_trial():
    subjects, measurements, _ = simulate_cohort(scenario("ra_tcz_trial"), seed=2026)
    return prepare(
        as_read(subjects), as_read(measurements), subjects_file="s", measurements_file="m"
    )


@pytest.mark.parametrize("model", ["treatment_response", "il6_crp"])
def test_marginal_and_latent_posteriors_of_the_globals_agree(model):
    data = default_trial()
    family = get_model(model)
    table = family.table(data.subjects, data.measurements)
    if model == "il6_crp":
        assert (table["il6_cens"] != 0).any(), "the trial has no censored IL-6 to integrate"
    marginal = sample_posterior(family.build(table), SETTINGS, seed=5)["posterior"]
    latent = sample_posterior(family.generative(table), SETTINGS, seed=6)["posterior"]
    compared = [p for p in family.parameters if p in marginal and p in latent]
    assert len(compared) >= 6
    for name in compared:
        a = marginal[name].stack(s=("chain", "draw")).values
        b = latent[name].stack(s=("chain", "draw")).values
        sd = np.sqrt((a.var(axis=-1) + b.var(axis=-1)) / 2)
        gap = np.abs(a.mean(axis=-1) - b.mean(axis=-1)) / sd
        assert np.all(gap < 0.1), (name, gap)
        assert np.all(np.abs(a.std(axis=-1) / b.std(axis=-1) - 1) < 0.1), name
