"""Figure primitives: the diagnostic figures every fit gets, drawn by arviz-plots, and helpers.

Forest, rank, trace, predictive-check, Pareto k, power-scaling, model comparison and
calibration figures are arviz-plots' own (matplotlib backend); this module chooses what they
show, adds units to every axis and returns the matplotlib figure. A family's own figures live
in its module (:mod:`il6fit.models`) and use :func:`plain_log_ticks`; every figure is drawn and
saved inside :func:`figure_style` and saved by :func:`save_figure`. Nothing here imports the
models.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")

import arviz_plots as azp
import arviz_stats as azs
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr
from arviz_base.labels import MapLabeller
from matplotlib import ticker
from PIL import Image
from scipy.stats import binom

from il6fit.errors import SpecError
from il6fit.loo import UNIT, VARIABLE, k_limit
from il6fit.ranks import band_level, rank_ecdf

if TYPE_CHECKING:
    from il6fit.models.family import ObservedInfo

#: Formats every figure is saved in.
FORMATS = ("png", "svg")

#: Resolution and palette size of the PNGs the report embeds: with :data:`STYLE`'s panel
#: size, a typical figure stays well under 100 kB.
PNG_DPI, PNG_COLOURS = 100, 256

#: What the model comparison figure shows, for the report's list of figures.
COMPARISON_CAPTION = "PSIS-LOO model comparison: ELPD differences from the best model, with SE"

#: il6fit's look, over arviz-plots' ``arviz-variat`` style: report-sized panels and type.
#: arviz-plots sizes a figure from ``figure.figsize``, per panel.
STYLE = {
    "figure.figsize": (3.6, 2.9),
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "figure.titlesize": 10,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "lines.linewidth": 0.9,
    "svg.hashsalt": "il6fit",
}


@contextmanager
def figure_style() -> Iterator[None]:
    """Draw and save figures in il6fit's style (:data:`STYLE`), whoever draws them.

    Matplotlib reads its settings when a figure is drawn and again when it is saved, so both
    happen inside.

    Examples
    --------
    >>> with figure_style():
    ...     fig, ax = plt.subplots()
    >>> fig.get_size_inches().tolist()
    [3.6, 2.9]
    >>> plt.close(fig)
    """
    with plt.style.context(["arviz-variat", STYLE]):
        yield


def save_figure(fig: plt.Figure, stem: str | Path) -> list[Path]:
    """Save a figure as PNG (:data:`PNG_DPI`, :data:`PNG_COLOURS`) and SVG, then close it.

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
    png, svg = Path(f"{stem}.png"), Path(f"{stem}.svg")
    # lay the figure out and find its extent once: with bbox_inches="tight" every savefig
    # would draw it once more for that
    fig.draw_without_rendering()
    extent = fig.get_tightbbox().padded(matplotlib.rcParams["savefig.pad_inches"])
    fig.set_layout_engine("none")
    rendered = io.BytesIO()
    fig.savefig(rendered, format="png", dpi=PNG_DPI, bbox_inches=extent)
    # a palette of 256 colours is lossless to the eye for line art and a third of the size;
    # Pillow writes no date, so the same figure gives the same bytes on every run
    with Image.open(rendered) as image:
        image = image.convert("RGB")
    image.quantize(PNG_COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        png, optimize=True
    )
    fig.savefig(svg, bbox_inches=extent, metadata={"Date": None, "Creator": None})
    plt.close(fig)
    return [png, svg]


def plain_log_ticks(*axes) -> None:
    """Label log axes 0.5, 1, 2, 5 ... rather than in powers of ten."""
    for axis in axes:
        axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(ticker.NullFormatter())


def _figure(pc: azp.PlotCollection, title: str) -> plt.Figure:
    """Return the matplotlib figure of a plot collection, titled."""
    fig = pc.viz["figure"].item()
    fig.suptitle(title)
    return fig


def _axes(pc: azp.PlotCollection, var_name: str, **sel):
    """Return the panel of one variable (of a plot collection with a panel per variable)."""
    return pc.get_viz("plot", var_name, sel)


def _keyed(values: Mapping[str, xr.DataArray]) -> tuple[xr.Dataset, dict[str, str]]:
    """Return the variables under plain keys, and each key's label (what panels show).

    Labels such as ``beta[TCZ 8 mg/kg + MTX]`` are no variable names for a DataTree (``/``),
    and arviz-plots takes some names (``alpha``, the power of power-scaling) for itself.
    """
    labels = {f"v{i}": label for i, label in enumerate(values)}
    return xr.Dataset({key: values[label] for key, label in labels.items()}), labels


def forest(tree: xr.DataTree, summary: pd.DataFrame) -> plt.Figure:
    """Posterior means and credible intervals of the summary's parameters, with units.

    Parameters
    ----------
    tree : xarray.DataTree
        A fit.
    summary : pandas.DataFrame
        Its summary (:func:`il6fit.diagnostics.summarise`): which parameters, their units,
        and the interval kind and probability.

    Returns
    -------
    matplotlib.figure.Figure
    """
    units = dict(zip(summary["parameter"], summary["unit"], strict=True))
    kind, prob = summary["ci_kind"].iloc[0], float(summary["ci_prob"].iloc[0])
    data, labels = _elements(tree, units)
    pc = azp.plot_forest(
        data,
        combined=True,
        ci_kind=kind,
        ci_probs=[0.5, prob],
        labeller=MapLabeller(var_name_map={k: f"{v} ({units[v]})" for k, v in labels.items()}),
        figure_kwargs={"figsize": (7.5, 0.25 * len(labels) + 1.2)},
    )
    fig = _figure(pc, "Parameter estimates")
    fig.axes[-1].set_xlabel(
        f"posterior mean, 50 % and {prob:.0%} {kind.upper()} (unit of each row in brackets)"
    )
    return fig


def element_draws(post: xr.DataTree, label: str) -> xr.DataArray | None:
    """Draws (chain, draw) of a scalar parameter or one element, named as in a summary.

    Parameters
    ----------
    post : xarray.DataTree or xarray.Dataset
        A posterior.
    label : str
        ``"name"`` or ``"name[coord, coord]"`` (coordinates as a summary writes them).

    Returns
    -------
    xarray.DataArray or None
        None when the posterior has no such parameter.
    """
    name, _, inner = label.partition("[")
    if name not in post:
        return None
    values = post[name]
    dims = [d for d in values.dims if d not in ("chain", "draw")]
    wanted = inner.rstrip("]").split(", ") if inner else []
    if len(wanted) != len(dims):
        return None
    selection = {}
    for dim, text in zip(dims, wanted, strict=True):
        matches = [i for i, c in enumerate(values[dim].values) if str(c) == text]
        if not matches:
            return None
        selection[dim] = matches[0]
    return values.isel(selection).drop_vars(dims)


def _elements(tree: xr.DataTree, labels: Sequence[str]) -> tuple[xr.DataTree, dict[str, str]]:
    """Return the fit with a posterior of the labelled elements only, one scalar each.

    Also returns each variable's label (:func:`_keyed`); labels the fit lacks are left out.
    """
    draws = {label: element_draws(tree["posterior"], label) for label in labels}
    posterior, keys = _keyed({k: v for k, v in draws.items() if v is not None})
    groups = {g: tree[g].to_dataset() for g in ("log_prior", "log_likelihood") if g in tree}
    return xr.DataTree.from_dict({"posterior": posterior, **groups}), keys


def rank_plot(tree: xr.DataTree, var_names: Sequence[str]) -> plt.Figure:
    """Rank ECDF of each chain minus the uniform CDF: near 0 when the chains agree.

    Each panel gives the p-value of the test that all chains' ranks are uniform.

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
    data, labels = _elements(tree, var_names)
    pc = azp.plot_rank(
        data, col_wrap=3, labeller=MapLabeller(var_name_map=labels),
        visuals={"remove_axis": False},
        figure_kwargs={"figsize": _panels_size(len(labels), 3, height=1.9)},
    )  # fmt: skip
    for key in labels:
        ax = _axes(pc, key)
        ax.set_xlabel("fractional rank among all draws (0-1)")
        ax.set_ylabel("ECDF - uniform (0-1)")
    return _figure(pc, "Rank ECDFs by chain minus uniform (near 0 when the chains mix)")


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
    data, labels = _elements(tree, list(units))
    pc = azp.plot_trace(
        data, col_wrap=2, labeller=MapLabeller(var_name_map=labels),
        figure_kwargs={"figsize": _panels_size(len(labels), 2, height=1.5)},
    )  # fmt: skip
    for key, label in labels.items():
        ax = _axes(pc, key)
        ax.set_xlabel("draw after tuning (iteration)")
        ax.set_ylabel(units[label])
    return _figure(pc, "Trace plots by chain (stationary and overlapping when they mix)")


def _predictive_data(
    tree: xr.DataTree, observed: Mapping[str, ObservedInfo], group: str
) -> tuple[xr.DataTree, dict[str, tuple[str, ObservedInfo, list[float]]]]:
    """Observed and predictive values by panel, on their own scale.

    A variable with a second dimension (tender and swollen joints) gives a panel per element
    (``"joints, tender"``); log variables are back-transformed. Also returns each panel's
    label, variable and the finite censoring limits its rows have (``<name>_lower`` and
    ``<name>_upper`` in constant data).
    """
    obs, pred, panels = {}, {}, {}
    constant = tree["constant_data"] if "constant_data" in tree.children else {}
    for name, info in observed.items():
        if name not in tree[group].data_vars:
            continue
        replicates = tree[group][name]
        extra = replicates.dims[3:]
        bounds = [
            constant[f"{name}_{side}"].values for side in ("lower", "upper")
            if f"{name}_{side}" in constant
        ]  # fmt: skip
        limits = np.unique(np.concatenate([b[np.isfinite(b)] for b in bounds] or [[]]))
        if info.log:
            limits = np.exp(limits)
        for element in replicates[extra[0]].values if extra else [None]:
            sel = {extra[0]: element} if extra else {}
            panel = f"{name}, {element}" if extra else name
            rows = f"rows of {panel}"  # each panel its own rows: outcomes differ in length
            o, r = tree["observed_data"][name].sel(sel), replicates.sel(sel)
            o = o.drop_vars([*o.coords]).rename({o.dims[0]: rows})
            r = r.drop_vars([c for c in r.coords if c not in ("chain", "draw")])
            r = r.rename({r.dims[2]: rows})
            obs[panel], pred[panel] = (np.exp(o), np.exp(r)) if info.log else (o, r)
            label = f"{info.label}, {element}" if extra else info.label
            panels[panel] = (label, info, limits.tolist())
    data = xr.DataTree.from_dict({"observed_data": xr.Dataset(obs), group: xr.Dataset(pred)})
    return data, panels


def predictive_check(
    tree: xr.DataTree,
    observed: Mapping[str, ObservedInfo],
    *,
    group: str = "posterior_predictive",
    ci_prob: float = 0.9,
    n_draws: int = 50,
) -> plt.Figure:
    """Observed data against replicates from the posterior (or prior) predictive distribution.

    Continuous variables are compared as ECDFs of the observed values and of ``n_draws``
    replicates (``arviz_plots.plot_ppc_dist``); discrete ones (counts, categories) in a
    rootogram, the observed count of each value against the replicates' mean and interval
    (``plot_ppc_rootogram``). A censored variable is compared on its censored scale: the
    likelihood is ``pm.Censored``, so replicates pile up at each row's assay limit exactly as
    the data do, and the ECDFs' jumps at the limits (dotted lines) compare the censored
    shares. (``plot_ppc_censored`` draws Kaplan-Meier curves of right-censored event times;
    it counts replicates as uncensored and handles neither left censoring nor limits that
    differ by row.)

    Parameters
    ----------
    tree : xarray.DataTree
        A fit with ``observed_data`` and the predictive ``group``.
    observed : mapping of str to ObservedInfo
        The model family's outcome variables; those absent from the fit are skipped.
    group : {"posterior_predictive", "prior_predictive"}
        Which replicates.
    ci_prob : float
        Interval probability of the rootograms.
    n_draws : int
        Replicates drawn as ECDFs.

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
    data, panels = _predictive_data(tree, observed, group)
    continuous = [p for p, (_, info, _) in panels.items() if info.kind != "discrete"]
    discrete = [p for p, (_, info, _) in panels.items() if info.kind == "discrete"]
    pc = azp.PlotCollection.wrap(
        data[group].to_dataset(),
        cols=["__variable__"],
        col_wrap=3,
        backend="matplotlib",
        figure_kwargs={"figsize": _panels_size(len(panels), 3)},
    )
    if continuous:
        azp.plot_ppc_dist(
            data, group=group, var_names=continuous, kind="ecdf", num_samples=n_draws,
            plot_collection=pc, visuals={"observed_dist": {}, "remove_axis": False},
        )  # fmt: skip
    if discrete:
        with warnings.catch_warnings():
            # arviz-stats stores the counts of few distinct values as if they were draws
            warnings.filterwarnings("ignore", "Found chain dimension", UserWarning)
            azp.plot_ppc_rootogram(
                data, group=group, var_names=discrete, ci_prob=ci_prob, plot_collection=pc,
                visuals={"xlabel": False, "ylabel": False, "grid": False},
            )  # fmt: skip
    for panel, (label, info, limits) in panels.items():
        ax = _axes(pc, panel)
        ax.set_title(label)
        ax.set_xlabel(label)
        for limit in limits:
            ax.axvline(limit, color="0.4", lw=0.7, ls=":")
        if info.kind == "discrete":
            ax.set_ylabel("rows (count, square-root scale)")
            if info.categories:
                ax.set_xticks(range(len(info.categories)), info.categories)
        else:
            ax.set_yscale("linear")  # the rootograms' square-root scale reaches every panel
            ax.set_ylabel("cumulative share of rows (0-1)")
            if info.log:
                ax.set_xscale("log")
                ax.xaxis.set_major_locator(ticker.LogLocator(numticks=6))
                plain_log_ticks(ax.xaxis)
    kind = "Prior" if group == "prior_predictive" else "Posterior"
    return _figure(pc, f"{kind} predictive check (observed in black, on the censored scale)")


def _panels_size(n: int, columns: int, *, height: float | None = None) -> tuple[float, float]:
    """Figure size of ``n`` panels, up to ``columns`` a row, in the style's panel size."""
    width, default = plt.rcParams["figure.figsize"]
    rows = -(-n // columns)
    return (width * min(n, columns), (height or default) * rows)


def pareto_k(tree: xr.DataTree) -> plt.Figure:
    """Pareto k of each patient's PSIS-LOO estimate (one log-likelihood term per patient).

    Patients are shown by position, never by identifier.

    Parameters
    ----------
    tree : xarray.DataTree
        A fit whose ``log_likelihood`` holds :data:`il6fit.loo.VARIABLE`.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    SpecError
        If the fit has no log-likelihood per patient.
    """
    if "log_likelihood" not in tree.children or VARIABLE not in tree["log_likelihood"]:
        raise SpecError("the fit has no log-likelihood per patient; set `store.log_likelihood`.")
    terms = tree["log_likelihood"].to_dataset()
    terms = terms.assign_coords({UNIT: np.arange(terms.sizes[UNIT])})
    with warnings.catch_warnings():
        # high k is what the figure shows
        warnings.simplefilter("ignore", UserWarning)
        fit = {"posterior": tree["posterior"].to_dataset(), "log_likelihood": terms}
        elpd = azs.loo(xr.DataTree.from_dict(fit), pointwise=True)
    # the limit the gate's LOO check uses for this many draws (0.7 from 2,200 draws up)
    limit = k_limit(tree["posterior"].sizes["chain"] * tree["posterior"].sizes["draw"])
    pc = azp.plot_khat(
        elpd, hline_values=[0.5, limit, 1.0], visuals={"hlines": {}},
        figure_kwargs={"figsize": (6.5, 2.8)},
    )  # fmt: skip
    ax = pc.get_viz("plot")
    ax.set_xlabel("patient (position in sorted order)")
    ax.set_ylabel("Pareto k (shape, dimensionless)")
    return _figure(pc, f"PSIS-LOO Pareto k by patient (above {limit:.2g}: estimate unreliable)")


def power_scaling(
    tree: xr.DataTree, units: Mapping[str, str], prior_var_names: Sequence[str]
) -> plt.Figure:
    """Posterior of each parameter as the prior or the likelihood is raised to 0.8 and 1.25.

    Parameters
    ----------
    tree : xarray.DataTree
        A fit with ``log_prior`` and ``log_likelihood`` groups.
    units : mapping of str to str
        Scalar parameters or elements (``"beta[A, 24.0]"``) to show, with their units.
    prior_var_names : sequence of str
        The priors power-scaled (``log_prior`` variables).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    SpecError
        If the fit has no ``log_prior`` or ``log_likelihood`` group.
    """
    missing = [g for g in ("log_prior", "log_likelihood") if g not in tree.children]
    if missing:
        raise SpecError(f"power-scaling needs the groups {', '.join(missing)} in the fit.")
    data, labels = _elements(tree, list(units))
    with warnings.catch_warnings():
        # Pareto k of the reweighting is reported in the sensitivity table
        warnings.simplefilter("ignore", UserWarning)
        pc = azp.plot_psense_dist(
            data, prior_var_names=list(prior_var_names), point_estimate="mean",
            ci_kind="eti", ci_prob=0.9, labeller=MapLabeller(var_name_map=labels),
        )  # fmt: skip
    for key, label in labels.items():
        for component in ("prior", "likelihood"):
            _axes(pc, key, component_group=component).set_xlabel(f"{label} ({units[label]})")
    return _figure(pc, "Power-scaling: posterior with prior or likelihood raised to 0.8, 1.25")


def loo_comparison(comparison: pd.DataFrame) -> plt.Figure:
    """ELPD difference of each compared model from the best, with its standard error.

    Parameters
    ----------
    comparison : pandas.DataFrame
        From :func:`il6fit.comparison.compare_fits` (``model``, ``elpd_diff``, ``dse``,
        ``weight``, ...), best first.

    Returns
    -------
    matplotlib.figure.Figure
    """
    table = comparison.assign(
        label=[f"{m}\n(weight {w:.2f})" for m, w in zip(comparison["model"], comparison["weight"],
                                                          strict=True)]
    ).set_index("label")  # fmt: skip
    pc = azp.plot_compare(
        table, visuals={"title": False}, figure_kwargs={"figsize": (6.5, 0.45 * len(table) + 1.4)}
    )
    pc.get_viz("plot").set_xlabel("ELPD difference from the best model ± SE (log score, nats)")
    return _figure(pc, "PSIS-LOO model comparison: higher predicts held-out patients better")


def _sbc_ranks(replicates: pd.DataFrame) -> tuple[xr.Dataset, dict[str, str], int]:
    """Return the truth's ranks by quantity (dims chain, draw: a draw per replicate).

    Also returns each variable's label (:func:`_keyed`) and the number of draws ranked among,
    L (ranks run from 0 to L).
    """
    ranks, n_ranks = {}, 0
    for (quantity, kind), group in replicates.groupby(["quantity", "kind"], sort=False):
        n_ranks = int(group["n_ranks"].iloc[0])
        label = quantity + (" (estimand)" if kind == "estimand" else "")
        ranks[label] = xr.DataArray(group["rank"].to_numpy()[None, :], dims=("chain", "draw"))
    data, labels = _keyed(ranks)
    return data, labels, n_ranks


def sbc_ecdf(replicates: pd.DataFrame, *, band_prob: float = 0.95) -> plt.Figure:
    """Calibration: ECDF of the truth's PIT minus the uniform CDF, with simultaneous bands.

    The PIT of rank r among L draws is (r + 1/2) / (L + 1). Each band holds at
    :func:`il6fit.ranks.band_level`, so that all of a calibrated model's curves stay inside
    together with ``band_prob`` (the coverage table's verdict, computed on the rank grid).

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
    ranks, labels, n_ranks = _sbc_ranks(replicates)
    pits = xr.DataTree.from_dict({"prior_sbc": (ranks + 0.5) / (n_ranks + 1)})
    pc = azp.plot_ecdf_pit(
        pits, labeller=MapLabeller(var_name_map=labels),
        figure_kwargs={"figsize": _panels_size(len(labels), 4, height=2.2), "sharey": False},
    )  # fmt: skip
    level = band_level(band_prob, len(labels))
    for key, label in labels.items():
        # the band of the verdict, on the rank grid (plot_ecdf_pit's own "envelope" fails in
        # arviz-plots 1.3.2 and would be a second, slightly different band)
        table = pd.DataFrame({"rank": ranks[key].values.ravel(), "n_ranks": n_ranks})
        x, _, lower, upper = rank_ecdf(table, level)
        ax = _axes(pc, key)
        ax.fill_between(x, lower - x, upper - x, color="0.85", zorder=0, step="post")
        bottom, top = ax.get_ylim()
        ax.set_ylim(min(bottom, (lower - x).min()), max(top, (upper - x).max()))
        ax.set_title(label)
        ax.set_xlabel("PIT of the truth (0-1)")
        ax.set_ylabel("ECDF - uniform (0-1)")
    n = replicates["replicate"].nunique()
    return _figure(
        pc,
        f"Calibration of {replicates['model'].iloc[0]}: {n} replicates; grey, the bands that "
        f"all curves stay in together with probability {band_prob:.0%} when calibrated",
    )


def sbc_rank_histograms(replicates: pd.DataFrame, *, bins: int = 10) -> plt.Figure:
    """Calibration: histogram of the truth's ranks per quantity (flat when calibrated).

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
    ranks, labels, n_ranks = _sbc_ranks(replicates)
    edges = np.linspace(0, n_ranks + 1, bins + 1)
    pc = azp.plot_dist(
        ranks, kind="hist", col_wrap=4, labeller=MapLabeller(var_name_map=labels),
        stats={"dist": {"bins": edges, "density": False}},
        visuals={"credible_interval": False, "point_estimate": False,
                 "point_estimate_text": False, "remove_axis": False},
        figure_kwargs={"figsize": _panels_size(len(labels), 4, height=2.2)},
    )  # fmt: skip
    low, high = binom.ppf([0.005, 0.995], ranks.sizes["draw"], 1 / bins)
    for key in labels:
        ax = _axes(pc, key)
        ax.axhspan(low, high, color="0.85", zorder=0)
        ax.set_xlabel(f"rank of the truth (0-{n_ranks})")
        ax.set_ylabel("replicates (count)")
    return _figure(pc, "Rank histograms; grey, the 99 % range of a bin's count when calibrated")
