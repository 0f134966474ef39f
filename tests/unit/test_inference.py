"""Real (small) fits: parameters recovered from simulated truth, reproducibility, saving."""

import numpy as np
import pandas as pd
import pytest

from il6fit.data import as_read, prepare
from il6fit.diagnostics import summarise
from il6fit.errors import SpecError
from il6fit.inference import fit_model
from il6fit.models import get_model
from il6fit.sampling import SamplerSettings
from il6fit.simulate import scenario, simulate_cohort
from il6fit.storage import StorePolicy, annotate, fit_metadata, fitted_inputs, load, rows_used, save

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


def test_fit_has_the_groups_later_stages_need(fitted):
    tree, table = fitted
    assert {
        "posterior", "sample_stats", "log_likelihood", "posterior_predictive", "prior",
        "prior_predictive",
    } <= set(tree.children)  # fmt: skip
    # one term per patient: all of their outcomes (CRP and measured IL-6) together
    patients = tree["log_likelihood"]["per_patient"]
    assert list(patients["patient"].values) == sorted(table["USUBJID"].unique())
    assert rows_used(tree, get_model("il6_crp")) == len(table)
    # the prior predictive check: replicates of every row, from SETTINGS.prior_draws draws
    assert tree["prior_predictive"]["log_crp"].shape == (1, SETTINGS.prior_draws, len(table))
    # prior draws of the slope follow its default prior, Normal(0.7, 0.5)
    slope = tree["prior"]["beta_il6"].values
    assert abs(slope.mean() - 0.7) < 0.1
    assert abs(slope.std() - 0.5) < 0.08
    assert tree["posterior"].sizes["draw"] == SETTINGS.draws


def test_same_seed_gives_identical_posterior_and_other_seed_differs(fitted, prepared):
    data, _ = prepared
    tree, _ = fitted
    again, _ = fit(data, seed=1)
    np.testing.assert_array_equal(tree["posterior"]["alpha"], again["posterior"]["alpha"])
    other, _ = fit(data, seed=2)
    assert not np.array_equal(tree["posterior"]["alpha"], other["posterior"]["alpha"])


def test_save_and_load_keep_provenance_and_follow_the_store_policy(fitted, tmp_path):
    tree, fitted_table = fitted
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


def test_a_dataset_without_il6_is_refused_with_the_missing_code(prepared):
    data, _ = prepared
    no_il6 = data.measurements[data.measurements["PARAMCD"] != "IL6"]
    with pytest.raises(SpecError, match="the dataset has no IL6"):
        fit(data, seed=1, measurements=no_il6)


def test_unknown_backend_is_rejected():
    with pytest.raises(SpecError, match="unknown sampler backend 'stan'"):
        SamplerSettings(backend="stan")
