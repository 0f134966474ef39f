"""Figures drawn from known inputs: what is plotted, and units on every axis."""

import hashlib

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from arviz_base import from_dict
from PIL import Image

from il6fit.errors import SpecError
from il6fit.models.eular_response import probabilities_by_arm
from il6fit.models.family import ObservedInfo
from il6fit.plots import (
    element_draws,
    figure_style,
    forest,
    loo_comparison,
    pareto_k,
    power_scaling,
    predictive_check,
    rank_plot,
    save_figure,
    sbc_ecdf,
    trace_plot,
)


def tree():
    rng = np.random.default_rng(0)
    observed = {"joints": np.array([[0, 28], [3, 3], [3, 5]]), "log_crp": np.log([0.3, 2, 4])}
    replicates = {
        "joints": rng.integers(0, 29, size=(1, 50, 3, 2)),
        "log_crp": np.maximum(rng.normal(0.5, 1, size=(1, 50, 3)), np.log(0.3)),
    }
    return from_dict(
        {
            "observed_data": observed,
            "prior_predictive": replicates,
            "constant_data": {"log_crp_lower": np.log([0.3, 0.3, 0.3])},
        },
        dims={"joints": ["obs", "joint"], "log_crp": ["obs"], "log_crp_lower": ["obs"]},
        coords={"joint": ["tender", "swollen"]},
    )


OBSERVED = {
    "joints": ObservedInfo("joints (count of 28)", kind="discrete"),
    "log_crp": ObservedInfo("CRP (mg/L)", log=True),
    "absent": ObservedInfo("not in this fit"),
}


def fit(chains=2, draws=100):
    """A fit-like tree: posterior, log-likelihood per patient, log-prior."""
    rng = np.random.default_rng(1)
    arms = ["A", "TCZ 8 mg/kg + MTX"]
    terms = rng.normal(-1, 0.1, (chains, draws, 5))
    prior = rng.normal(size=(chains, draws))
    return xr.DataTree.from_dict(
        {
            "posterior": xr.Dataset(
                {
                    "alpha": (("chain", "draw"), rng.normal(size=(chains, draws))),
                    "beta": (("chain", "draw", "arm"), rng.normal(size=(chains, draws, 2))),
                },
                coords={"chain": np.arange(chains), "draw": np.arange(draws), "arm": arms},
            ),
            "log_likelihood": xr.Dataset(
                {"per_patient": (("chain", "draw", "patient"), terms)},
                coords={"patient": [f"SUBJ-{i}" for i in range(5)]},
            ),
            "log_prior": xr.Dataset({"alpha": (("chain", "draw"), prior)}),
        }
    )


def texts(fig):
    return " ".join(t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text")))


def test_predictive_check_has_a_panel_per_outcome_element_with_units():
    fig = predictive_check(tree(), OBSERVED, group="prior_predictive")
    axes = [ax for ax in fig.axes if ax.get_visible() and ax.get_xlabel()]
    labels = [ax.get_xlabel() for ax in axes]
    assert labels == ["joints (count of 28), tender", "joints (count of 28), swollen", "CRP (mg/L)"]
    assert [ax.get_ylabel() for ax in axes] == [
        "rows (count, square-root scale)", "rows (count, square-root scale)",
        "cumulative share of rows (0-1)",
    ]  # fmt: skip
    # CRP shown back on its own scale (mg/L), on a log axis, its assay limit marked
    assert axes[2].get_xscale() == "log"
    assert axes[2].get_yscale() == "linear"
    assert any(np.allclose(line.get_xdata(), 0.3) for line in axes[2].lines)
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


def test_elements_are_picked_by_their_summary_label():
    post = fit()["posterior"]
    picked = element_draws(post, "beta[TCZ 8 mg/kg + MTX]")
    assert np.array_equal(picked.values, post["beta"].values[:, :, 1])
    assert element_draws(post, "beta[C]") is None
    assert element_draws(post, "beta") is None


def test_rank_and_trace_plots_show_elements_with_units():
    labels = ["alpha", "beta[TCZ 8 mg/kg + MTX]"]
    ranks = rank_plot(fit(), labels)
    assert [a.get_title() for a in ranks.axes] == labels
    assert {a.get_xlabel() for a in ranks.axes} == {"fractional rank among all draws (0-1)"}
    trace = trace_plot(fit(), {"alpha": "score", "beta[TCZ 8 mg/kg + MTX]": "log OR"})
    assert [a.get_ylabel() for a in trace.axes] == ["score", "log OR"]


def test_forest_rows_carry_their_units_and_the_summary_interval():
    summary = pd.DataFrame(
        {"parameter": ["alpha", "beta[A]"], "unit": ["score", "log OR"],
         "ci_kind": "eti", "ci_prob": 0.9}
    )  # fmt: skip
    fig = forest(fit(), summary)
    assert "alpha (score)" in texts(fig)
    assert "beta[A] (log OR)" in texts(fig)
    assert "90% ETI" in fig.axes[-1].get_xlabel()


def test_pareto_k_shows_patients_by_position_never_by_identifier():
    fig = pareto_k(fit())
    assert "SUBJ-" not in texts(fig)
    assert "dimensionless" in fig.axes[0].get_ylabel()


def test_power_scaling_needs_the_log_prior():
    bare = fit()
    del bare["log_prior"]
    with pytest.raises(SpecError, match="log_prior"):
        power_scaling(bare, {"alpha": "score"}, ["alpha"])


def test_comparison_names_models_with_their_weights():
    table = pd.DataFrame(
        {"model": ["a", "b"], "elpd_diff": [0.0, -3.0], "dse": [0.0, 1.0], "weight": [0.9, 0.1]}
    )
    fig = loo_comparison(table)
    assert "a\n(weight 0.90)" in [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert "nats" in fig.axes[0].get_xlabel()


def test_calibration_ecdf_draws_the_verdicts_band_per_quantity():
    rng = np.random.default_rng(0)
    replicates = pd.DataFrame(
        {
            "model": "m",
            "replicate": np.tile(np.arange(40), 2),
            "quantity": np.repeat(["mu", "beta[TCZ 8 mg/kg + MTX]"], 40),
            "kind": "parameter",
            "rank": rng.integers(0, 20, size=80),
            "n_ranks": 19,
        }
    )
    fig = sbc_ecdf(replicates)
    assert [a.get_title() for a in fig.axes] == ["mu", "beta[TCZ 8 mg/kg + MTX]"]
    assert all(a.collections for a in fig.axes)  # the grey band


def test_saved_figures_are_small_palette_pngs_with_the_same_bytes_every_time(tmp_path):
    digests = []
    for run in ("first", "second"):
        with figure_style():
            paths = save_figure(pareto_k(fit()), tmp_path / run)
        digests.append([hashlib.sha256(p.read_bytes()).hexdigest() for p in paths])
    assert digests[0] == digests[1]
    with Image.open(tmp_path / "first.png") as png:
        assert png.mode == "P"
    assert (tmp_path / "first.svg").exists()
