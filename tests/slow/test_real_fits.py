"""Real (small) fits of il6_crp: parameters recovered from simulated truth, bit-identical reruns
(slow; `make test-slow`). What fit_model adds to the draws: tests/unit/test_inference.py."""

import numpy as np
import pytest

from il6fit.data import as_read, prepare
from il6fit.diagnostics import summarise
from il6fit.inference import fit_model
from il6fit.models import get_model
from il6fit.sampling import SamplerSettings
from il6fit.simulate import scenario, simulate_cohort

pytestmark = pytest.mark.slow

SETTINGS = SamplerSettings(chains=2, draws=300, tune=300, cores=2)
OPTIONS = {"visits": [0], "priors": {}}


@pytest.fixture(scope="module")
def prepared():
    spec = scenario("ra_tcz_trial", n_subjects=250)
    subjects, measurements, _ = simulate_cohort(spec, seed=5)
    data = prepare(
        as_read(subjects), as_read(measurements), subjects_file="s", measurements_file="m"
    )
    return data, spec


def fit(data, seed: int):
    """Fit il6_crp to a prepared dataset, as fit jobs do."""
    return fit_model(
        get_model("il6_crp"),
        data.subjects,
        data.measurements,
        options=OPTIONS,
        settings=SETTINGS,
        seed=seed,
    )


@pytest.fixture(scope="module")
def fitted(prepared):
    return fit(prepared[0], seed=1)


def test_slope_and_bmi_effect_are_recovered(fitted, prepared):
    _, spec = prepared
    tree, _ = fitted
    summary = summarise(
        tree, get_model("il6_crp").parameters, ci_kind="eti", ci_prob=0.99
    ).set_index("parameter")
    truth = {
        "beta_il6": spec.crp_il6_slope,
        "beta_bmi": spec.crp_bmi * 5,  # per 5 kg/m²
        # CRP residual plus both assays' noise (IL-6's through the slope)
        "sigma": np.sqrt(
            spec.crp_sd_log**2
            + spec.crp_assay_cv**2
            + (spec.crp_il6_slope * spec.il6_assay_cv) ** 2
        ),
        "sigma_il6": spec.il6_sd_log,
    }
    for name, value in truth.items():
        row = summary.loc[name]
        assert row["ci_lower"] < value < row["ci_upper"], (name, value, row)


def test_same_seed_gives_identical_posterior_and_other_seed_differs(fitted, prepared):
    data, _ = prepared
    tree, _ = fitted
    assert tree["posterior"].sizes["draw"] == SETTINGS.draws
    again, _ = fit(data, seed=1)
    np.testing.assert_array_equal(tree["posterior"]["alpha"], again["posterior"]["alpha"])
    other, _ = fit(data, seed=2)
    assert not np.array_equal(tree["posterior"]["alpha"], other["posterior"]["alpha"])
