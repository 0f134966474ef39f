import numpy as np
import pytest
from arviz_base import from_dict

from il6fit.comparison import COMPARISON_COLUMNS, compare_fits
from il6fit.errors import SpecError

Y = np.random.default_rng(0).normal(1.0, 1.0, size=80)


def fit(mean_shift: float, *, y=Y, seed=0):
    """A fit of y ~ Normal(m, 1) whose posterior of m sits at mean(y) + mean_shift."""
    rng = np.random.default_rng(seed)
    m = rng.normal(y.mean() + mean_shift, 1 / np.sqrt(y.size), size=(2, 500))
    loglik = -0.5 * (y - m[..., None]) ** 2 - 0.5 * np.log(2 * np.pi)
    groups = {
        "posterior": {"m": m},
        "log_likelihood": {"per_patient": loglik},
        "observed_data": {"y": y},
    }
    return from_dict(groups, dims={"y": ["obs"], "per_patient": ["patient"]})


def test_the_model_that_predicts_better_ranks_first_with_most_weight():
    table = compare_fits({"biased": fit(1.5), "centred": fit(0.0, seed=1)})
    assert list(table.columns) == list(COMPARISON_COLUMNS)
    assert table["model"].tolist() == ["centred", "biased"]
    assert table["elpd_diff"].iloc[0] == 0
    assert table["elpd_diff"].iloc[1] < -2 * table["dse"].iloc[1]
    assert table["weight"].iloc[0] > 0.9
    assert table["weight"].sum() == pytest.approx(1)
    assert (table["n_observations"] == 80).all() and table["elpd_reliable"].all()


def test_an_influential_patient_makes_that_models_elpd_unreliable():
    y = Y.copy()
    y[3] = 20.0
    table = compare_fits({"a": fit(0.0, y=y), "b": fit(0.5, y=y, seed=2)}).set_index("model")
    assert table.loc["a", "high_pareto_k"] >= 1 and not table.loc["a", "elpd_reliable"]
    assert (table["elpd_reliable"] == (table["high_pareto_k"] == 0)).all()


def test_fits_of_different_observations_are_not_compared():
    with pytest.raises(SpecError, match="different observations"):
        compare_fits({"a": fit(0.0), "b": fit(0.0, y=Y[:60])})


def test_a_fit_without_a_log_likelihood_per_patient_says_how_to_get_one():
    bare = fit(0.0)
    bare["log_likelihood"] = bare["log_likelihood"].to_dataset().rename({"per_patient": "y"})
    with pytest.raises(SpecError, match=r"store\.log_likelihood: true"):
        compare_fits({"a": bare, "b": fit(0.5)})


def test_one_fit_is_not_a_comparison():
    with pytest.raises(SpecError, match="at least two"):
        compare_fits({"a": fit(0.0)})
