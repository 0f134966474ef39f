"""Report figures. Each function returns a matplotlib figure with units on every axis."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr
from matplotlib import ticker
from scipy.stats import binom, rankdata

from il6fit.errors import SpecError
from il6fit.models import ModelFamily
from il6fit.models.family import ObservedInfo
from il6fit.models.il6_crp import IL6_REFERENCE
from il6fit.sbc import band_level, rank_ecdf

#: Formats every figure is saved in.
FORMATS = ("png", "svg")

#: What each figure shows, for the report's list of figures.
CAPTIONS = {
    "relation": "CRP against IL-6 with the posterior relation; censored points marked",
    "forest": "posterior means and credible intervals of the parameters, with units",
    "ranks": "rank plots per chain (uniform when the chains mix)",
    "trace": "trace plots per chain",
    "ppc": "censoring-aware posterior predictive check of CRP (ECDFs)",
    "course": "DAS28 time course per arm: credible bands over observed means",
    "effect": "treatment effect against baseline IL-6 at the landmark week",
    "comparison": "PSIS-LOO model comparison: ELPD, differences and stacking weights",
}


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


def _plain_log_ticks(*axes) -> None:
    """Label log axes 0.5, 1, 2, 5 ... rather than in powers of ten."""
    for axis in axes:
        axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(ticker.NullFormatter())


def il6_crp_relation(table: pd.DataFrame, tree: xr.DataTree, *, ci_prob: float) -> plt.Figure:
    """Observed IL-6 and CRP with the posterior relation for the reference subject.

    Parameters
    ----------
    table : pandas.DataFrame
        The model's analysis table (``il6``, ``crp``, ``il6_cens``, ``crp_cens``).
    tree : xarray.DataTree
        The ``il6_crp`` fit.
    ci_prob : float
        Probability of the credible band.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = plt.subplots(figsize=(6.5, 5))
    exact = (table["il6_cens"] == 0) & (table["crp_cens"] == 0)
    ax.scatter(table.loc[exact, "il6"], table.loc[exact, "crp"], s=12, alpha=0.5, label="measured")
    censored = ~exact
    if censored.any():
        ax.scatter(
            table.loc[censored, "il6"],
            table.loc[censored, "crp"],
            s=28,
            marker="^",
            facecolors="none",
            edgecolors="C3",
            label="at an assay limit (censored)",
        )
    post = tree["posterior"]
    grid = np.geomspace(table["il6"].min() * 0.8, table["il6"].max() * 1.2, 100)
    alpha = post["alpha"].values.reshape(-1, 1)
    beta = post["beta_il6"].values.reshape(-1, 1)
    curves = np.exp(alpha + beta * (np.log(grid) - np.log(IL6_REFERENCE)))
    tail = (1 - ci_prob) / 2
    low, mid, high = np.quantile(curves, [tail, 0.5, 1 - tail], axis=0)
    ax.plot(grid, mid, color="k", label="posterior median (reference subject)")
    ax.fill_between(grid, low, high, color="k", alpha=0.15, label=f"{ci_prob:.0%} credible band")
    ax.set(xscale="log", yscale="log", xlabel="IL-6 (pg/mL)", ylabel="CRP (mg/L)")
    _plain_log_ticks(ax.xaxis, ax.yaxis)
    ax.set_title("CRP against IL-6")
    ax.legend(fontsize=8, loc="upper left")
    return fig


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


def rank_plot(tree: xr.DataTree, var_names: Sequence[str]) -> plt.Figure:
    """Rank histograms per chain: flat and overlapping when the chains agree.

    Parameters
    ----------
    tree : xarray.DataTree
        A fit.
    var_names : sequence of str
        Scalar parameters to show.

    Returns
    -------
    matplotlib.figure.Figure
    """
    post = tree["posterior"]
    names = [v for v in var_names if v in post and post[v].ndim == 2]
    ncol = 3
    nrow = -(-len(names) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(9, 2.2 * nrow), squeeze=False)
    chains, draws = post.sizes["chain"], post.sizes["draw"]
    bins = np.linspace(0, chains * draws, 21)
    for ax, name in zip(axes.flat, names, strict=False):
        ranks = rankdata(post[name].values.ravel()).reshape(chains, draws)
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


def crp_predictive_check(tree: xr.DataTree, *, n_draws: int = 100, seed: int = 0) -> plt.Figure:
    """ECDF of observed CRP against ECDFs of posterior predictive replicates.

    Replicates come from the censored likelihood, so they pile up at the assay limits exactly as
    the observed data do, and both are compared on the same censored scale.

    Parameters
    ----------
    tree : xarray.DataTree
        A fit with ``observed_data`` and ``posterior_predictive`` ``log_crp``.
    n_draws : int
        Number of replicates drawn.
    seed : int
        Seed for choosing the replicates.

    Returns
    -------
    matplotlib.figure.Figure
    """
    observed = np.exp(tree["observed_data"]["log_crp"].values)
    replicates = np.exp(
        tree["posterior_predictive"]["log_crp"].stack(sample=("chain", "draw")).values.T
    )
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(replicates), size=min(n_draws, len(replicates)), replace=False)
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    levels = np.arange(1, observed.size + 1) / observed.size
    for i in chosen:
        ax.step(np.sort(replicates[i]), levels, color="C0", alpha=0.08, where="post")
    ax.step(np.sort(observed), levels, color="k", where="post", label="observed")
    ax.plot([], [], color="C0", alpha=0.5, label=f"{chosen.size} posterior predictive replicates")
    ax.set(xscale="log", xlabel="CRP (mg/L)", ylabel="cumulative proportion of rows (0-1)")
    _plain_log_ticks(ax.xaxis)
    ax.set_title("Posterior predictive check, CRP (censoring-aware)")
    ax.legend(fontsize=8)
    return fig


def treatment_course(tree: xr.DataTree, table: pd.DataFrame, *, ci_prob: float) -> plt.Figure:
    """Observed mean DAS28 by arm and week with the fitted mean course and its credible band.

    Parameters
    ----------
    tree : xarray.DataTree
        A ``treatment_response`` fit.
    table : pandas.DataFrame
        Its analysis table (``USUBJID``, ``week``, ``y``, ``arm``, ``dose``).
    ci_prob : float
        Probability of the band.

    Returns
    -------
    matplotlib.figure.Figure
    """
    post = tree["posterior"]
    subjects = [str(s) for s in post["subject"].values]
    x = tree["constant_data"]["log_il6_centred"].values
    base = post["base"].stack(sample=("chain", "draw")).values  # (subject, S)
    k = post["k"].stack(sample=("chain", "draw")).values
    eta = _eta_draws(post)
    arm_of = table.groupby("USUBJID")[["arm", "dose"]].first().loc[subjects]
    weeks = np.linspace(0, table["week"].max(), 60)
    tail = (1 - ci_prob) / 2
    fig, ax = plt.subplots(figsize=(7, 4.8))
    for colour, arm in enumerate(post["arm"].values):
        members = (arm_of["arm"] == arm).to_numpy()
        active = float(arm_of.loc[members, "dose"].iloc[0] > 0)
        delta = post["delta"].sel(arm=arm).stack(sample=("chain", "draw")).values
        plateau = delta + eta * active * x[members].mean()
        curves = base[members].mean(axis=0) + plateau * (1 - np.exp(-np.outer(weeks, k)))
        low, mid, high = np.quantile(curves, [tail, 0.5, 1 - tail], axis=1)
        ax.plot(weeks, mid, color=f"C{colour}", label=f"{arm} (model)")
        ax.fill_between(weeks, low, high, color=f"C{colour}", alpha=0.2)
        observed = table[table["arm"] == arm].groupby("week")["y"].agg(["mean", "sem"])
        ax.errorbar(
            observed.index, observed["mean"], yerr=observed["sem"], fmt="o", ms=4,
            color=f"C{colour}", label=f"{arm} (observed mean ± SE)",
        )  # fmt: skip
    ax.axhline(2.6, color="grey", ls=":", lw=0.8)
    ax.text(0, 2.65, "remission (DAS28 < 2.6)", fontsize=7, color="grey")
    ax.set(xlabel="week since randomisation (weeks)", ylabel="DAS28 (score, 0-10)")
    ax.set_title(f"DAS28 over time by arm, {ci_prob:.0%} credible bands")
    ax.legend(fontsize=7, ncol=2)
    return fig


def _effect_options(options: Mapping) -> dict:
    keys = ("landmark_week", "clinically_important_difference")
    return {k: options[k] for k in keys if k in options}


def _eta_draws(post: xr.DataTree) -> np.ndarray:
    """Draws of the effect modification, zero for a variant fitted without it."""
    if "eta" in post:
        return post["eta"].stack(sample=("chain", "draw")).values
    return np.zeros(post.sizes["chain"] * post.sizes["draw"])


def treatment_effect_by_il6(
    tree: xr.DataTree,
    table: pd.DataFrame,
    *,
    ci_prob: float,
    landmark_week: float = 24,
    clinically_important_difference: float = 1.2,
) -> plt.Figure:
    r"""Effect of each active arm against control at the landmark week, by baseline IL-6.

    The mean plateau change of an active arm minus control's, reached to the landmark week:
    :math:`(\delta_a - \delta_0 + \eta (x - \ln 20))(1 - e^{-kL})`, with its credible band.
    A flat band means no effect modification by baseline IL-6. The rug shows the subjects'
    baseline IL-6 (values at the assay limit included at the limit).

    Parameters
    ----------
    tree : xarray.DataTree
        A ``treatment_response`` fit.
    table : pandas.DataFrame
        Its analysis table (``USUBJID``, ``arm``, ``dose``, ``log_il6``).
    ci_prob : float
        Probability of the band.
    landmark_week : float
        Week of the effect.
    clinically_important_difference : float
        DAS28 units; drawn as a reference line.

    Returns
    -------
    matplotlib.figure.Figure
    """
    post = tree["posterior"]
    arms = [str(a) for a in post["arm"].values]
    doses = table.groupby("arm")["dose"].first()
    delta = post["delta"].stack(sample=("chain", "draw")).values  # (arm, S)
    eta = _eta_draws(post)
    reached = 1 - np.exp(-post["k"].stack(sample=("chain", "draw")).values * landmark_week)
    baseline = table.groupby("USUBJID")["log_il6"].first()
    grid = np.geomspace(np.exp(baseline.min()), np.exp(baseline.max()), 60)
    x = np.log(grid) - np.log(IL6_REFERENCE)
    tail = (1 - ci_prob) / 2
    fig, ax = plt.subplots(figsize=(7, 4.8))
    for j, arm in enumerate(arms):
        if doses[arm] == 0:
            continue
        curves = (delta[j] - delta[0] + np.outer(x, eta)) * reached  # (grid, S)
        low, mid, high = np.quantile(curves, [tail, 0.5, 1 - tail], axis=1)
        ax.plot(grid, mid, color=f"C{j}", label=f"{arm} vs {arms[0]}")
        ax.fill_between(grid, low, high, color=f"C{j}", alpha=0.2)
    ax.axhline(0, color="grey", lw=0.8)
    ax.axhline(-clinically_important_difference, color="grey", ls=":", lw=0.8)
    ax.text(grid[0], -clinically_important_difference + 0.05, "clinically important difference",
            fontsize=7, color="grey")  # fmt: skip
    ax.plot(np.exp(baseline), np.full(len(baseline), 0), "|", color="k", alpha=0.3, ms=8,
            transform=ax.get_xaxis_transform(), label="subjects' baseline IL-6")  # fmt: skip
    ax.set(xscale="log", xlabel="baseline IL-6 (pg/mL)",
           ylabel=f"effect on DAS28 at week {landmark_week:g} (score)")  # fmt: skip
    _plain_log_ticks(ax.xaxis)
    ax.set_title(f"Treatment effect against baseline IL-6, {ci_prob:.0%} credible bands")
    ax.legend(fontsize=7)
    return fig


def trace_plot(tree: xr.DataTree, units: Mapping[str, str]) -> plt.Figure:
    """Draws of each chain in order: overlapping, stationary bands when the chains mix.

    Parameters
    ----------
    tree : xarray.DataTree
        A fit.
    units : mapping of str to str
        Scalar parameters to show, with their units.

    Returns
    -------
    matplotlib.figure.Figure
    """
    post = tree["posterior"]
    names = [v for v in units if v in post and post[v].ndim == 2]
    fig, axes = plt.subplots(len(names), 1, figsize=(9, 1.4 * len(names) + 0.8), squeeze=False)
    for ax, name in zip(axes[:, 0], names, strict=True):
        for c in range(post.sizes["chain"]):
            ax.plot(post[name].values[c], lw=0.4, alpha=0.8, label=f"chain {c}")
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
                _plain_log_ticks(ax.xaxis)
        ax.legend(fontsize=7)
    kind = "Prior" if group == "prior_predictive" else "Posterior"
    fig.suptitle(f"{kind} predictive check (censoring-aware)")
    fig.tight_layout()
    return fig


def eular_probabilities(draws: xr.Dataset, table: pd.DataFrame, *, ci_prob: float) -> plt.Figure:
    """EULAR response probabilities per arm: posterior means and intervals over observed shares.

    Parameters
    ----------
    draws : xarray.Dataset
        ``eular_response`` estimand draws (``p_none``, ``p_moderate_or_good``, ``p_good``, dims
        chain, draw, arm).
    table : pandas.DataFrame
        Its analysis table (``arm``, ``response`` codes 0 none, 1 moderate, 2 good).
    ci_prob : float
        Interval probability.

    Returns
    -------
    matplotlib.figure.Figure
    """
    arms = [str(a) for a in draws["arm"].values]
    levels = {
        "p_none": ("none", lambda r: (r == 0).mean()),
        "p_moderate_or_good": ("moderate or good", lambda r: (r >= 1).mean()),
        "p_good": ("good", lambda r: (r == 2).mean()),
    }
    tail = (1 - ci_prob) / 2
    fig, ax = plt.subplots(figsize=(7, 4.5))
    width = 0.8 / len(levels)
    for k, (name, (label, share)) in enumerate(levels.items()):
        at = np.arange(len(arms)) + (k - (len(levels) - 1) / 2) * width
        values = draws[name].stack(sample=("chain", "draw")).transpose("arm", "sample").values
        mean = values.mean(axis=1)
        low, high = np.quantile(values, [tail, 1 - tail], axis=1)
        ax.bar(at, mean, width, color=f"C{k}", alpha=0.6, label=f"{label} (model)")
        ax.errorbar(at, mean, yerr=[mean - low, high - mean], fmt="none", color="k", lw=1)
        observed = [share(table.loc[table["arm"] == a, "response"]) for a in arms]
        ax.plot(at, observed, "kx", ms=6, label="observed share" if k == 0 else None)
    ax.set_xticks(np.arange(len(arms)), arms, fontsize=8)
    ax.set(ylim=(0, 1), xlabel="arm", ylabel="probability at the landmark week (0-1)")
    ax.set_title(f"EULAR response by arm, posterior mean and {ci_prob:.0%} interval")
    ax.legend(fontsize=7)
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


def draw(
    figure: str,
    *,
    tree: xr.DataTree,
    summary: pd.DataFrame,
    table: pd.DataFrame,
    ci_prob: float,
    family: ModelFamily,
    options: Mapping | None = None,
) -> plt.Figure:
    """Draw one report figure by name.

    Parameters
    ----------
    figure : {"relation", "forest", "ranks", "trace", "prior_ppc", "ppc", "course", "effect", \
"eular"}
        Which figure.
    tree : xarray.DataTree
        The fit.
    summary : pandas.DataFrame
        Its summary table.
    table : pandas.DataFrame
        The analysis table it was fitted to.
    ci_prob : float
        Credible band probability.
    family : ModelFamily
        The fitted model family (its outcomes and estimands).
    options : mapping, optional
        The model's config options (landmark week and the like).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    SpecError
        For an unknown figure name.
    """
    scalars = [p for p in summary["parameter"] if "[" not in p]
    makers = {
        "relation": lambda: il6_crp_relation(table, tree, ci_prob=ci_prob),
        "forest": lambda: forest(summary),
        "ranks": lambda: rank_plot(tree, scalars),
        "ppc": lambda: predictive_check(tree, family.observed, ci_prob=ci_prob),
        "prior_ppc": lambda: predictive_check(
            tree, family.observed, group="prior_predictive", ci_prob=ci_prob
        ),
        "course": lambda: treatment_course(tree, table, ci_prob=ci_prob),
        "eular": lambda: eular_probabilities(family.estimands(tree, table), table, ci_prob=ci_prob),
        "trace": lambda: trace_plot(
            tree, dict(zip(summary["parameter"], summary["unit"], strict=True))
        ),
        "effect": lambda: treatment_effect_by_il6(
            tree, table, ci_prob=ci_prob, **_effect_options(options or {})
        ),
    }
    if figure not in makers:
        raise SpecError(f"unknown figure '{figure}'; choose one of {', '.join(makers)}.")
    return makers[figure]()
