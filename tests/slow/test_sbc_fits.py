"""Simulation-based calibration with real fits: a check with teeth (slow; `make test-slow`).

The verdict from known ranks: tests/unit/test_sbc.py.
"""

import pandas as pd
import pytest

from il6fit.models.priors import Prior
from il6fit.ranks import summarise_ranks
from il6fit.sampling import SamplerSettings
from il6fit.sbc import Calibrator, design

pytestmark = pytest.mark.slow

SETTINGS = SamplerSettings(draws=300, tune=300)


@pytest.fixture(scope="module")
def small_design():
    return design("eular_response", {"scenario": "ra_tcz_trial", "n_subjects": 60}, seed=3)


def run(calibrator, replicates):
    return pd.concat([calibrator.replicate(r, seed=500 + r) for r in replicates])


# 60 small fits and two compilations
def test_a_prior_too_narrow_in_the_fit_fails_and_the_right_one_passes(small_design):
    right = run(Calibrator("eular_response", small_design, SETTINGS, n_ranks=49), range(30))
    # the data are drawn with beta ~ Normal(0, 2.5); this fit believes Normal(0, 0.1)
    wrong_prior = {"beta": Prior("Normal", {"mu": 0.0, "sigma": 0.1})}
    wrong = run(
        Calibrator("eular_response", small_design, SETTINGS, fit_priors=wrong_prior, n_ranks=49),
        range(30),
    )
    right_verdict = summarise_ranks(right).set_index("quantity")
    wrong_verdict = summarise_ranks(wrong).set_index("quantity")
    betas = [q for q in right_verdict.index if q.startswith("beta[")]
    assert len(betas) == 2
    assert right_verdict.loc[betas, "within_band"].all()
    assert not wrong_verdict.loc[betas, "within_band"].any()
    assert (wrong_verdict.loc[betas, "coverage_90"] < 0.5).all()
    # every replicate is kept and counted, whatever its diagnostics
    assert right["replicate"].nunique() == 30
    assert set(right["kind"]) == {"parameter", "estimand"}


def test_a_replicate_gives_the_same_ranks_alone_or_in_a_batch(small_design):
    batch = run(Calibrator("eular_response", small_design, SETTINGS, n_ranks=49), [0, 1, 2])
    alone = run(Calibrator("eular_response", small_design, SETTINGS, n_ranks=49), [2])
    columns = ["quantity", "truth", "rank", "in_90"]
    pd.testing.assert_frame_equal(
        batch[batch["replicate"] == 2][columns].reset_index(drop=True),
        alone[columns].reset_index(drop=True),
    )
