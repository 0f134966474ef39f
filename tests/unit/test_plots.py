"""Figures drawn from known inputs: what is plotted, and units on every axis."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from arviz_base import from_dict

from il6fit.errors import SpecError
from il6fit.models.eular_response import probabilities_by_arm
from il6fit.models.family import ObservedInfo
from il6fit.plots import predictive_check


def tree():
    rng = np.random.default_rng(0)
    observed = {"joints": np.array([[0, 28], [3, 3], [3, 5]]), "log_crp": np.log([1.0, 2, 4])}
    replicates = {
        "joints": rng.integers(0, 29, size=(1, 50, 3, 2)),
        "log_crp": rng.normal(0.5, 1, size=(1, 50, 3)),
    }
    return from_dict(
        {"observed_data": observed, "prior_predictive": replicates},
        dims={"joints": ["obs", "joint"], "log_crp": ["obs"]},
        coords={"joint": ["tender", "swollen"]},
    )


OBSERVED = {
    "joints": ObservedInfo("joints (count of 28)", kind="discrete"),
    "log_crp": ObservedInfo("CRP (mg/L)", log=True),
    "absent": ObservedInfo("not in this fit"),
}


def test_predictive_check_has_a_panel_per_outcome_element_with_units():
    fig = predictive_check(tree(), OBSERVED, group="prior_predictive")
    axes = [ax for ax in fig.axes if ax.get_visible()]
    labels = [ax.get_xlabel() for ax in axes]
    assert labels == ["joints (count of 28), tender", "joints (count of 28), swollen", "CRP (mg/L)"]
    assert all("(0-1)" in ax.get_ylabel() for ax in axes)
    # observed share of each tender count: 0 once, 3 twice out of three rows
    values = {round(p.get_x() + p.get_width() / 2): p.get_height() for p in axes[0].patches}
    assert values[0] == pytest.approx(1 / 3)
    assert values[3] == pytest.approx(2 / 3)
    # CRP shown back on its own scale (mg/L), on a log axis
    assert axes[2].get_xscale() == "log"
    observed_line = next(line for line in axes[2].lines if line.get_label() == "observed")
    assert observed_line.get_xdata()[0] == pytest.approx(1.0)
    assert "Prior predictive" in fig._suptitle.get_text()


def test_a_fit_without_the_group_is_refused():
    with pytest.raises(SpecError, match="no posterior_predictive group"):
        predictive_check(tree(), OBSERVED)


def test_eular_figure_shows_posterior_means_and_observed_shares():
    arms = ["Placebo", "TCZ 8"]
    p_good = np.array([[[0.1, 0.5], [0.3, 0.7]]])  # one chain, two draws
    draws = xr.Dataset(
        {
            "p_none": (("chain", "draw", "arm"), 1 - p_good - 0.2),
            "p_moderate_or_good": (("chain", "draw", "arm"), p_good + 0.2),
            "p_good": (("chain", "draw", "arm"), p_good),
        },
        coords={"arm": arms},
    )
    table = pd.DataFrame({"arm": ["Placebo", "Placebo", "TCZ 8"], "response": [0, 2, 2]})
    fig = probabilities_by_arm(draws, table, ci_prob=0.9)
    ax = fig.axes[0]
    heights = [p.get_height() for p in ax.patches]
    # bars in order none, moderate or good, good; each over the two arms
    assert heights == pytest.approx([0.6, 0.2, 0.4, 0.8, 0.2, 0.6])
    crosses = next(line for line in ax.lines if line.get_label() == "observed share")
    assert list(crosses.get_ydata()) == pytest.approx([0.5, 0.0])  # none: 1 of 2, 0 of 1
    assert "(0-1)" in ax.get_ylabel()


def test_rank_and_trace_plots_show_elements_when_a_model_has_no_scalar_parameter():
    from il6fit.plots import element_draws, rank_plot, trace_plot

    rng = np.random.default_rng(0)
    post = xr.Dataset(
        {"beta": (("chain", "draw", "arm", "visit"), rng.normal(size=(2, 50, 2, 3)))},
        coords={"arm": ["A", "B"], "visit": [4.0, 12.0, 24.0]},
    )
    tree = xr.DataTree.from_dict({"posterior": post})
    picked = element_draws(tree["posterior"], "beta[B, 12.0]")
    assert np.array_equal(picked, post["beta"].values[:, :, 1, 1])
    assert element_draws(tree["posterior"], "beta[C, 12.0]") is None
    figure = rank_plot(tree, ["beta[A, 4.0]", "beta[B, 24.0]"])
    assert [a.get_title() for a in figure.axes if a.get_visible()] == [
        "beta[A, 4.0]", "beta[B, 24.0]"
    ]  # fmt: skip
    assert len(trace_plot(tree, {"beta[A, 4.0]": "score"}).axes) == 1
