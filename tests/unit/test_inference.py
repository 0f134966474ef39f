"""fit_model without MCMC: the groups a fit carries, seeding, compile flags, saving and loading.

Prior draws stand in for NUTS (``helpers.prior_posterior``); everything fit_model and
``il6fit.sampling.sample`` add to the draws (per-patient log-likelihood, log-prior, latent
values drawn back, posterior and prior predictive draws, the analysis table, options) is
computed for real, compiled with PyTensor's FAST_COMPILE. Real fits (parameters recovered,
bit-identical reruns of NUTS): ``tests/slow/test_real_fits.py``.
"""

import numpy as np
import pandas as pd
import pymc as pm
import pytensor
import pytest
from helpers import fast_fits

import il6fit.inference
import il6fit.sampling
from il6fit.data import as_read, prepare
from il6fit.errors import SpecError
from il6fit.inference import fit_model
from il6fit.models import get_model
from il6fit.sampling import SamplerSettings, sample_posterior
from il6fit.simulate import scenario, simulate_cohort
from il6fit.storage import StorePolicy, annotate, fit_metadata, fitted_inputs, load, rows_used, save

SETTINGS = SamplerSettings(chains=2, draws=30, tune=300, cores=2)
OPTIONS = {"visits": [0], "priors": {}}
#: What sample() adds to the draws, from seeds derived from the fit's.
DRAWN = ("posterior", "log_likelihood", "posterior_predictive", "prior", "prior_predictive")


@pytest.fixture(scope="module")
def prepared():
    spec = scenario("ra_tcz_trial", n_subjects=30)
    subjects, measurements, _ = simulate_cohort(spec, seed=5)
    data = prepare(
        as_read(subjects), as_read(measurements), subjects_file="s", measurements_file="m"
    )
    return data, spec


def stand_ins(monkeypatch) -> None:
    """Fit without MCMC."""
    fast_fits(monkeypatch)


def fit(data, seed: int, measurements=None):
    """Fit il6_crp to a prepared dataset (or to other measurements of its subjects)."""
    return fit_model(
        get_model("il6_crp"),
        data.subjects,
        data.measurements if measurements is None else measurements,
        options=OPTIONS,
        settings=SETTINGS,
        seed=seed,
    )


@pytest.fixture(scope="module")
def fitted(prepared):
    """A fit and its analysis table."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        stand_ins(monkeypatch)
        return fit(prepared[0], seed=1)


def test_models_are_compiled_without_fast_math_so_cached_code_gives_the_same_bits(monkeypatch):
    seen = []

    def record(model, settings, seed, reuse):
        seen.append(pytensor.config.numba__fastmath)
        raise RuntimeError("stop before sampling")

    monkeypatch.setattr(il6fit.sampling, "_sample_nutpie", record)
    with pm.Model() as model:
        pm.Normal("x")
    with pytest.raises(RuntimeError, match="stop before sampling"):
        sample_posterior(model, SETTINGS, seed=1)
    assert seen == [False]
    assert il6fit.sampling.COMPILE_FLAGS == {"numba__fastmath": False}


def test_fit_has_the_groups_later_stages_need(fitted):
    tree, table = fitted
    assert {
        "posterior", "sample_stats", "log_likelihood", "posterior_predictive", "prior",
        "prior_predictive",
    } <= set(tree.children)  # fmt: skip
    # one term per patient: all of their outcomes (CRP and measured IL-6) together
    patients = tree["log_likelihood"]["per_patient"]
    assert list(patients["patient"].values) == sorted(table["USUBJID"].unique())
    assert np.isfinite(patients.values).all()
    assert rows_used(tree, get_model("il6_crp")) == len(table)
    # posterior predictive: a replicate of every row at every draw
    assert tree["posterior_predictive"]["log_crp"].shape == (2, SETTINGS.draws, len(table))
    # the prior predictive check: replicates of every row, from SETTINGS.prior_draws draws
    assert tree["prior_predictive"]["log_crp"].shape == (1, SETTINGS.prior_draws, len(table))
    # prior draws of the slope follow its default prior, Normal(0.7, 0.5)
    slope = tree["prior"]["beta_il6"].values
    assert abs(slope.mean() - 0.7) < 0.1
    assert abs(slope.std() - 0.5) < 0.08
    assert tree["posterior"].sizes["draw"] == SETTINGS.draws


def test_same_seed_gives_identical_draws_and_other_seed_differs(fitted, prepared, monkeypatch):
    # NUTS itself is bit-identical under the same seed: tests/slow/test_real_fits.py; here,
    # everything drawn around it
    data, _ = prepared
    tree, _ = fitted
    stand_ins(monkeypatch)
    again, _ = fit(data, seed=1)
    other, _ = fit(data, seed=2)
    for group in DRAWN:
        assert again[group].to_dataset().equals(tree[group].to_dataset()), group
        assert not other[group].to_dataset().equals(tree[group].to_dataset()), group


def test_save_and_load_keep_provenance_and_follow_the_store_policy(fitted, tmp_path):
    tree, fitted_table = fitted
    tree = tree.copy()
    annotate(
        tree,
        model="il6_crp",
        family="il6_crp",
        dataset="trial",
        seed=1,
        settings=SETTINGS,
        config={"seed": 3},
        inputs={"a.csv": "00ff"},
    )
    path = tmp_path / "fit.nc"
    save(tree, path, StorePolicy(posterior_predictive=False))
    loaded = load(path, model="il6_crp", dataset="trial")
    assert "posterior_predictive" not in loaded.children
    np.testing.assert_array_equal(loaded["posterior"]["beta_il6"], tree["posterior"]["beta_il6"])
    meta = fit_metadata(loaded)
    assert meta["seed"] == 1
    assert meta["config"] == {"seed": 3}
    assert meta["input_hashes"] == {"a.csv": "00ff"}
    assert meta["sampler"]["backend"] == "nutpie"
    assert meta["versions"]["pymc"].startswith("6.")
    assert meta["options"]["options"]["visits"] == [0]
    family, options, table = fitted_inputs(loaded)
    assert family.name == "il6_crp" and options.visits == (0,)
    pd.testing.assert_frame_equal(table, fitted_table, check_dtype=False)
    with pytest.raises(SpecError, match="a fit of model 'il6_crp', not 'eular_response'"):
        load(path, model="eular_response")
    del tree.attrs["il6fit_options"]
    save(tree, path)
    with pytest.raises(SpecError, match=r"not a fit of this il6fit version .*no il6fit_options"):
        load(path)


def test_a_dataset_without_il6_is_refused_with_the_missing_code(prepared, monkeypatch):
    data, _ = prepared
    stand_ins(monkeypatch)
    no_il6 = data.measurements[data.measurements["PARAMCD"] != "IL6"]
    with pytest.raises(SpecError, match="the dataset has no IL6"):
        fit(data, seed=1, measurements=no_il6)


def test_unknown_backend_is_rejected():
    with pytest.raises(SpecError, match="unknown sampler backend 'stan'"):
        SamplerSettings(backend="stan")
