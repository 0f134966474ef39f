"""Figure primitives. Each function returns a matplotlib figure with units on every axis.

The figures every fit gets (forest, ranks, trace, predictive checks), the model comparison and
calibration figures, and the helpers the families' own figures use; a family's own figures live
in its module (:mod:`il6fit.models`). Nothing here imports the models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr
from matplotlib import ticker
from scipy.stats import binom, rankdata

from il6fit.errors import SpecError
from il6fit.ranks import band_level, rank_ecdf

if TYPE_CHECKING:
    from il6fit.models.family import ObservedInfo

#: Formats every figure is saved in.
FORMATS = ("png", "svg")

#: What the model comparison figure shows, for the report's list of figures.
COMPARISON_CAPTION = "PSIS-LOO model comparison: ELPD, differences and stacking weights"


def save_figure(fig: plt.Figure, stem: str | Path) -> list[Path]:
    """Save a figure as PNG (150 dpi) and SVG next to each other, then close it.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    stem : str or Path
        Output path without extension.

    Returns
    -------
    list of Path
        The files written.
    """
    paths = [Path(f"{stem}.{ext}") for ext in FORMATS]
    for path in paths:
        fig.savefig(path, dpi=150, bbox_inches="tight", metadata=_metadata(path))
    plt.close(fig)
    return paths


def _metadata(path: Path) -> dict:
    # No creation dates, so the same figure gives the same bytes on every run.
    return {"Software": None} if path.suffix == ".png" else {"Date": None, "Creator": None}


def plain_log_ticks(*axes) -> None:
    """Label log axes 0.5, 1, 2, 5 ... rather than in powers of ten."""
    for axis in axes:
        axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(ticker.NullFormatter())


def forest(summary: pd.DataFrame) -> plt.Figure:
    """Posterior means and credible intervals, one row per parameter, with units.

    Parameters
    ----------
    summary : pandas.DataFrame
        From :func:`il6fit.diagnostics.summarise`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    rows = summary.iloc[::-1]
    fig, ax = plt.subplots(figsize=(7.5, 0.35 * len(rows) + 1.2))
    y = np.arange(len(rows))
    ax.hlines(y, rows["ci_lower"], rows["ci_upper"], color="C0")
    ax.plot(rows["mean"], y, "o", color="C0")
    ax.axvline(0, color="grey", lw=0.8, ls=":")
    ax.set_yticks(y, [f"{p}  [{u}]" for p, u in zip(rows["parameter"], rows["unit"], strict=True)])
    kind, prob = summary["ci_kind"].iloc[0], summary["ci_prob"].iloc[0]
    ax.set_xlabel(f"posterior mean and {prob:.0%} {kind.upper()} (unit in brackets per row)")
    ax.set_title("Parameter estimates")
    return fig


def element_draws(post: xr.DataTree, label: str) -> np.ndarray | None:
    """Draws (chain, draw) of a scalar parameter or one element, named as in a summary.

    Parameters
    ----------
    post : xarray.DataTree or xarray.Dataset
        A posterior.
    label : str
        ``"name"`` or ``"name[coord, coord]"`` (coordinates as a summary writes them).

    Returns
    -------
    numpy.ndarray or None
        None when the posterior has no such parameter.
    """
    name, _, inner = label.partition("[")
    if name not in post:
        return None
    values = post[name]
    if not inner:
        return values.values if values.ndim == 2 else None
    wanted = inner.rstrip("]").split(", ")
    dims = [d for d in values.dims if d not in ("chain", "draw")]
    if len(wanted) != len(dims):
        return None
    selection = {}
    for dim, text in zip(dims, wanted, strict=True):
        matches = [i for i, c in enumerate(values[dim].values) if str(c) == text]
        if not matches:
            return None
        selection[dim] = matches[0]
    return values.isel(selection).values


def rank_plot(tree: xr.DataTree, var_names: Sequence[str]) -> plt.Figure:
    """Rank histograms per chain: flat and overlapping when the chains agree.

    Parameters
    ----------
    tree : xarray.DataTree
        A fit.
    var_names : sequence of str
        Scalar parameters or elements (``"beta[A, 24.0]"``) to show.

    Returns
    -------
    matplotlib.figure.Figure
    """
    post = tree["posterior"]
    draws_of = {v: element_draws(post, v) for v in var_names}
    names = [v for v, d in draws_of.items() if d is not None]
    ncol = 3
    nrow = -(-len(names) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(9, 2.2 * nrow), squeeze=False)
    chains, draws = post.sizes["chain"], post.sizes["draw"]
    bins = np.linspace(0, chains * draws, 21)
    for ax, name in zip(axes.flat, names, strict=False):
        ranks = rankdata(draws_of[name].ravel()).reshape(chains, draws)
        for c in range(chains):
            ax.hist(ranks[c], bins=bins, histtype="step", label=f"chain {c}")
        ax.axhline(draws / (len(bins) - 1), color="grey", ls=":", lw=0.8)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("rank among all draws (draws)", fontsize=8)
        ax.set_ylabel("draws per bin (count)", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes.flat[len(names) :]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7)
    fig.suptitle("Rank plots (uniform when chains mix)")
    fig.tight_layout()
    return fig


def trace_plot(tree: xr.DataTree, units: Mapping[str, str]) -> plt.Figure:
    """Draws of each chain in order: overlapping, stationary bands when the chains mix.

    Parameters
    ----------
    tree : xarray.DataTree
        A fit.
    units : mapping of str to str
        Scalar parameters or elements (``"beta[A, 24.0]"``) to show, with their units.

    Returns
    -------
    matplotlib.figure.Figure
    """
    post = tree["posterior"]
    draws_of = {v: element_draws(post, v) for v in units}
    names = [v for v, d in draws_of.items() if d is not None]
    fig, axes = plt.subplots(len(names), 1, figsize=(9, 1.4 * len(names) + 0.8), squeeze=False)
    for ax, name in zip(axes[:, 0], names, strict=True):
        for c in range(post.sizes["chain"]):
            ax.plot(draws_of[name][c], lw=0.4, alpha=0.8, label=f"chain {c}")
        ax.set_ylabel(f"{name}\n({units[name]})", fontsize=7)
        ax.tick_params(labelsize=7)
    axes[-1, 0].set_xlabel("draw after tuning (iteration)")
    axes[0, 0].legend(fontsize=7, ncol=4, loc="upper right")
    fig.suptitle("Trace plots (stationary, overlapping chains when they mix)")
    fig.tight_layout()
    return fig


def loo_comparison(comparison: pd.DataFrame) -> plt.Figure:
    """ELPD of each compared model, and its difference from the best, with standard errors.

    Parameters
    ----------
    comparison : pandas.DataFrame
        From :func:`il6fit.comparison.compare_fits` (``model``, ``elpd``, ``se``,
        ``elpd_diff``, ``dse``, ``weight``), best first.

    Returns
    -------
    matplotlib.figure.Figure
    """
    rows = comparison.iloc[::-1]
    y = np.arange(len(rows))
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(9, 0.5 * len(rows) + 1.8), sharey=True, width_ratios=(1, 1)
    )
    left.errorbar(rows["elpd"], y, xerr=rows["se"], fmt="o", color="k", capsize=3)
    left.set_xlabel("ELPD ± SE (log score, nats)")
    left.set_yticks(
        y, [f"{m}\n(stacking weight {w:.2f})" for m, w in zip(rows["model"], rows["weight"],
                                                               strict=True)]
    )  # fmt: skip
    right.errorbar(rows["elpd_diff"], y, xerr=rows["dse"], fmt="o", color="C1", capsize=3)
    right.axvline(0, color="grey", ls=":", lw=0.8)
    right.set_xlabel("ELPD difference from the best ± SE (nats)")
    for ax in (left, right):
        ax.set_ylim(-0.6, len(rows) - 0.4)
    fig.suptitle("PSIS-LOO model comparison (higher predicts held-out observations better)")
    fig.tight_layout()
    return fig


def predictive_check(
    tree: xr.DataTree,
    observed: Mapping[str, ObservedInfo],
    *,
    group: str = "posterior_predictive",
    ci_prob: float = 0.9,
    n_draws: int = 100,
    seed: int = 0,
) -> plt.Figure:
    """Observed data against replicates from the posterior (or prior) predictive distribution.

    A continuous variable is shown as ECDFs (observed and ``n_draws`` replicates); a discrete
    one as the observed share of each value against the replicates' median share and interval.
    Replicates of a censored variable come from the censored likelihood, so they pile up at the
    assay limits exactly as the data do and both are compared on the same censored scale. A
    variable with a second dimension (tender and swollen joints) gets a panel per element.

    Parameters
    ----------
    tree : xarray.DataTree
        A fit with ``observed_data`` and the predictive ``group``.
    observed : mapping of str to ObservedInfo
        The model family's outcome variables; those absent from the fit are skipped.
    group : {"posterior_predictive", "prior_predictive"}
        Which replicates.
    ci_prob : float
        Interval probability for discrete variables.
    n_draws : int
        Number of replicates drawn for ECDFs.
    seed : int
        Seed for choosing the replicates.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    SpecError
        If the fit has no such group.
    """
    if group not in tree.children:
        raise SpecError(f"the fit has no {group} group; refit with it kept (config `store`).")
    panels = []
    for name, info in observed.items():
        if name not in tree[group].data_vars:
            continue
        pred = tree[group][name]
        extra = [d for d in pred.dims[3:]]
        for element in pred[extra[0]].values if extra else [None]:
            sel = {extra[0]: element} if extra else {}
            label = f"{info.label}, {element}" if extra else info.label
            panels.append((info, label, tree["observed_data"][name].sel(sel), pred.sel(sel)))
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4.2), squeeze=False)
    rng = np.random.default_rng(seed)
    tail = (1 - ci_prob) / 2
    for ax, (info, label, obs, pred) in zip(axes.flat, panels, strict=True):
        y = obs.values.astype(float)
        reps = pred.stack(sample=("chain", "draw")).transpose("sample", ...).values.astype(float)
        if info.log:
            y, reps = np.exp(y), np.exp(reps)
        if info.kind == "discrete":
            values = np.arange(len(info.categories)) if info.categories else np.unique(
                np.concatenate([y, reps.ravel()])
            )  # fmt: skip
            shares = (reps[:, :, None] == values).mean(axis=1)
            low, mid, high = np.quantile(shares, [tail, 0.5, 1 - tail], axis=0)
            ax.bar(values, (y[:, None] == values).mean(axis=0), color="0.75", label="observed")
            ax.errorbar(
                values, mid, yerr=[mid - low, high - mid], fmt="o", ms=3, color="C0",
                label=f"replicates: median, {ci_prob:.0%} interval",
            )  # fmt: skip
            if info.categories:
                ax.set_xticks(values, info.categories)
            ax.set(xlabel=label, ylabel="share of rows (0-1)")
        else:
            levels = np.arange(1, y.size + 1) / y.size
            chosen = rng.choice(len(reps), size=min(n_draws, len(reps)), replace=False)
            for i in chosen:
                ax.step(np.sort(reps[i]), levels, color="C0", alpha=0.08, where="post")
            ax.step(np.sort(y), levels, color="k", where="post", label="observed")
            ax.plot([], [], color="C0", alpha=0.5, label=f"{chosen.size} replicates")
            ax.set(xlabel=label, ylabel="cumulative share of rows (0-1)")
            if info.log:
                ax.set_xscale("log")
                plain_log_ticks(ax.xaxis)
        ax.legend(fontsize=7)
    kind = "Prior" if group == "prior_predictive" else "Posterior"
    fig.suptitle(f"{kind} predictive check (censoring-aware)")
    fig.tight_layout()
    return fig


def _panel_grid(n: int, *, height: float) -> tuple[plt.Figure, np.ndarray]:
    """Up to four panels a row for ``n`` quantities; panels beyond ``n`` are hidden."""
    columns = min(4, n)
    rows = -(-n // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, height * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes


def sbc_ecdf(replicates: pd.DataFrame, *, band_prob: float = 0.95) -> plt.Figure:
    """Calibration: rank ECDF minus the uniform CDF per quantity, with its simultaneous band.

    Parameters
    ----------
    replicates : pandas.DataFrame
        Replicate ranks of one model (:data:`il6fit.sbc.REPLICATE_COLUMNS`).
    band_prob : float
        Probability that all bands of a calibrated model hold together.

    Returns
    -------
    matplotlib.figure.Figure
    """
    groups = list(replicates.groupby(["quantity", "kind"], sort=False))
    level = band_level(band_prob, len(groups))
    fig, axes = _panel_grid(len(groups), height=2.5)
    for ax, ((quantity, kind), group) in zip(axes.flat, groups, strict=False):
        x, ecdf, lower, upper = rank_ecdf(group, level)
        outside = ((ecdf < lower) | (ecdf > upper)).any()
        ax.fill_between(x, lower - x, upper - x, color="0.85")
        ax.plot(x, ecdf - x, color="C3" if outside else "C0", lw=0.9)
        ax.axhline(0, color="0.5", lw=0.6)
        ax.set_title(quantity + (" (estimand)" if kind == "estimand" else ""), fontsize=7)
        ax.tick_params(labelsize=6)
        ax.set_xlabel("rank / (draws + 1) (0-1)", fontsize=6)
        ax.set_ylabel("ECDF - uniform (0-1)", fontsize=6)
    n = replicates["replicate"].nunique()
    fig.suptitle(
        f"Calibration of {replicates['model'].iloc[0]}: {n} replicates; grey, the band that all "
        f"curves stay in together with probability {band_prob:.0%}; red, a curve outside it",
        fontsize=8,
    )
    fig.tight_layout()
    return fig


def sbc_rank_histograms(replicates: pd.DataFrame, *, bins: int = 10) -> plt.Figure:
    """Calibration: histogram of the true values' ranks per quantity (flat when calibrated).

    Parameters
    ----------
    replicates : pandas.DataFrame
        Replicate ranks of one model.
    bins : int
        Number of bins.

    Returns
    -------
    matplotlib.figure.Figure
    """
    groups = list(replicates.groupby(["quantity", "kind"], sort=False))
    fig, axes = _panel_grid(len(groups), height=2.3)
    for ax, ((quantity, _), group) in zip(axes.flat, groups, strict=False):
        n_ranks = int(group["n_ranks"].iloc[0])
        ax.hist(group["rank"], bins=np.linspace(0, n_ranks + 1, bins + 1), color="C0")
        expected = len(group) / bins
        low, high = binom.ppf([0.005, 0.995], len(group), 1 / bins)
        ax.axhspan(low, high, color="0.85", zorder=0)
        ax.axhline(expected, color="0.4", lw=0.6)
        ax.set_title(quantity, fontsize=7)
        ax.tick_params(labelsize=6)
        ax.set_xlabel(f"rank of the truth (0-{n_ranks})", fontsize=6)
        ax.set_ylabel("replicates (count)", fontsize=6)
    fig.suptitle(
        "Rank histograms; grey, the 99 % range of a bin's count when calibrated", fontsize=8
    )
    fig.tight_layout()
    return fig
