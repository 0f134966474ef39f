"""Rank statistics of simulation-based calibration: coverage and the rank ECDF's verdict.

Pure statistics on a table of ranks (one row per replicate and quantity, as
:class:`il6fit.sbc.Calibrator` writes them): the rank ECDF of each quantity on its grid, its
simultaneous band (Säilynoja, Bürkner and Vehtari 2022), the mean rank's distance from its
expectation, and interval coverage. The method is in the docstring of :mod:`il6fit.sbc`.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
from scipy.stats import binom

#: Interval probabilities whose coverage is tabulated.
LEVELS = (0.5, 0.8, 0.9, 0.95)

#: Simulations behind each simultaneous ECDF band.
BAND_SIMULATIONS = 10_000


def band_level(band_prob: float, n_quantities: int) -> float:
    """Level of each quantity's ECDF band so that all bands hold together with ``band_prob``.

    A model has many quantities; with a 95 % band each, one of ten well-calibrated quantities
    would leave its band about 40 % of the time. Bonferroni's correction makes the verdict
    simultaneous over the ECDF points (the bands' own construction) and over the quantities.

    Parameters
    ----------
    band_prob : float
        Probability that every ECDF of a calibrated model stays within its band.
    n_quantities : int
        Number of quantities judged together.

    Returns
    -------
    float

    Examples
    --------
    >>> round(band_level(0.95, 10), 4)
    0.995
    """
    return 1 - (1 - band_prob) / max(n_quantities, 1)


def summarise_ranks(replicates: pd.DataFrame, *, band_prob: float = 0.95) -> pd.DataFrame:
    """Coverage and the ECDF verdict of every quantity over a model's replicates.

    Parameters
    ----------
    replicates : pandas.DataFrame
        Replicate tables (:data:`il6fit.sbc.REPLICATE_COLUMNS`) of one model, concatenated.
    band_prob : float
        Probability that a calibrated model keeps every quantity's rank ECDF within its band
        (each band at :func:`band_level`).

    Returns
    -------
    pandas.DataFrame
        One row per quantity: ``quantity``, ``kind``, ``replicates``, ``coverage_50`` ...
        ``coverage_95`` (shares of replicates whose interval held the truth), ``mean_rank_z``
        (the mean rank's distance from its expectation in standard errors: the sign says
        whether the posterior sits above, negative, or below, positive, the truth),
        ``max_ecdf_gap`` (largest distance of the ECDF outside its band, 0 when inside) and
        ``within_band``. The verdict depends on the ranks alone, not on their order.
    """
    rows = []
    groups = replicates.groupby(["quantity", "kind"], sort=False)
    level = band_level(band_prob, groups.ngroups)
    for (quantity, kind), group in groups:
        _, ecdf, lower, upper = rank_ecdf(group, level)
        gap = float(np.maximum(lower - ecdf, ecdf - upper).clip(min=0).max())
        row = {"quantity": quantity, "kind": kind, "replicates": len(group)}
        for level_ in LEVELS:
            row[f"coverage_{round(level_ * 100)}"] = float(
                group[f"in_{round(level_ * 100)}"].mean()
            )
        row |= {"mean_rank_z": mean_rank_z(group), "max_ecdf_gap": gap, "within_band": gap == 0}
        rows.append(row)
    return pd.DataFrame(rows)


def mean_rank_z(group: pd.DataFrame) -> float:
    r"""Distance of the mean rank from its expectation under calibration, in standard errors.

    Ranks uniform on :math:`0, \dots, L` have mean :math:`L / 2` and variance
    :math:`((L + 1)^2 - 1) / 12`.

    Parameters
    ----------
    group : pandas.DataFrame
        Replicate rows of one quantity.

    Returns
    -------
    float

    Examples
    --------
    >>> round(mean_rank_z(pd.DataFrame({"rank": [0, 99], "n_ranks": 99})), 6)
    0.0
    """
    n_ranks = int(group["n_ranks"].iloc[0])
    se = np.sqrt(((n_ranks + 1) ** 2 - 1) / 12 / len(group))
    return float((group["rank"].mean() - n_ranks / 2) / se)


def rank_ecdf(group: pd.DataFrame, level: float, seed: int = 0):
    r"""ECDF of one quantity's ranks on the rank grid, with its simultaneous band.

    Ranks take the values :math:`0, \dots, L`, so their ECDF is evaluated where it is
    exact, at :math:`z_k = k / (L + 1)`, :math:`k = 1, \dots, L`, as the share of ranks below
    :math:`k`; calibrated, it is :math:`z_k` in expectation (Säilynoja, Bürkner and Vehtari
    2022, with :math:`K = L + 1` evaluation points). No jitter enters, so identical ranks
    give identical verdicts whatever their order.

    Parameters
    ----------
    group : pandas.DataFrame
        Replicate rows of one quantity (``rank``, ``n_ranks``).
    level : float
        Probability that the whole ECDF of a calibrated quantity stays within the band.
    seed : int
        Seed of the band simulation.

    Returns
    -------
    x, ecdf, lower, upper : numpy.ndarray
        Evaluation points with 0 and 1 added at the ends, the ECDF and the band there.
    """
    n_ranks = int(group["n_ranks"].iloc[0])
    ranks = np.sort(group["rank"].to_numpy())
    lower, upper = _rank_band(len(ranks), n_ranks, level, seed)
    grid = np.arange(1, n_ranks + 1)
    ecdf = np.searchsorted(ranks, grid, side="left") / len(ranks)
    return tuple(
        np.concatenate(([0.0], values, [1.0]))
        for values in (grid / (n_ranks + 1), ecdf, lower, upper)
    )


@lru_cache(maxsize=256)
def _rank_band(n: int, n_ranks: int, level: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Simultaneous band of a rank ECDF, which depends only on the replicates, grid and level.

    The statistic is the smallest tail probability of the ECDF's counts over the grid,
    :math:`T = \min_k \min(P(X_k \le c_k), P(X_k \ge c_k))` with
    :math:`X_k \sim \mathrm{Binomial}(n, z_k)`; its null distribution is simulated from
    uniform ranks, and an ECDF is outside when :math:`T` falls below the null's
    :math:`1 - \text{level}` quantile. Ties of this discrete statistic are counted inside,
    so the band errs wide.
    """
    grid = np.arange(1, n_ranks + 1) / (n_ranks + 1)
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n, np.full(n_ranks + 1, 1 / (n_ranks + 1)), size=BAND_SIMULATIONS)
    below = counts.cumsum(axis=1)[:, :-1]  # ranks below k, k = 1..L
    tails = np.minimum(binom.cdf(below, n, grid), binom.sf(below - 1, n, grid))
    threshold = np.quantile(tails.min(axis=1), 1 - level, method="lower")
    c = np.arange(n + 1)[:, None]
    lower = np.argmax(binom.cdf(c, n, grid) >= threshold, axis=0)
    upper = n - np.argmax((binom.sf(c - 1, n, grid) >= threshold)[::-1], axis=0)
    lower, upper = lower / n, upper / n
    lower.setflags(write=False)
    upper.setflags(write=False)
    return lower, upper
