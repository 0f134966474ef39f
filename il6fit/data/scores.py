"""Disease-activity scores computed from their components.

Formulas from das-score.nl and Prince et al. 2012 (*Arthritis Res Ther* 14:R68, Table 1);
EULAR response from van Gestel et al. (see ``domain-facts.md`` §3b-3d).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

ArrayLike = npt.ArrayLike

#: DAS28 remission threshold (das-score.nl).
DAS28_REMISSION = 2.6
#: DAS28 low disease activity upper bound.
DAS28_LOW = 3.2
#: DAS28 high disease activity lower bound.
DAS28_HIGH = 5.1
#: EULAR response categories, in order.
EULAR_CATEGORIES = ("none", "moderate", "good")


def das28_crp(tjc28: ArrayLike, sjc28: ArrayLike, crp: ArrayLike, ptga: ArrayLike) -> np.ndarray:
    r"""DAS28-CRP with four variables.

    .. math::

        0.56\sqrt{TJC28} + 0.28\sqrt{SJC28} + 0.36\ln(CRP + 1) + 0.014\,GH + 0.96

    Parameters
    ----------
    tjc28, sjc28 : array_like
        Tender and swollen joint counts out of 28.
    crp : array_like
        CRP in mg/L.
    ptga : array_like
        Patient global health, 0-100 mm.

    Returns
    -------
    numpy.ndarray
        The score.

    Examples
    --------
    >>> round(float(das28_crp(4, 1, 9.0, 50)), 4)
    3.8889
    """
    tjc28, sjc28, crp, ptga = (np.asarray(a, dtype=float) for a in (tjc28, sjc28, crp, ptga))
    return (
        0.56 * np.sqrt(tjc28) + 0.28 * np.sqrt(sjc28) + 0.36 * np.log(crp + 1) + 0.014 * ptga + 0.96
    )


def das28_esr(tjc28: ArrayLike, sjc28: ArrayLike, esr: ArrayLike, ptga: ArrayLike) -> np.ndarray:
    r"""DAS28-ESR with four variables.

    .. math::

        0.56\sqrt{TJC28} + 0.28\sqrt{SJC28} + 0.70\ln(ESR) + 0.014\,GH

    Parameters
    ----------
    tjc28, sjc28 : array_like
        Tender and swollen joint counts out of 28.
    esr : array_like
        ESR in mm/h.
    ptga : array_like
        Patient global health, 0-100 mm.

    Returns
    -------
    numpy.ndarray
        The score.

    Examples
    --------
    >>> round(float(das28_esr(4, 1, 20.0, 50)), 4)
    4.197
    """
    tjc28, sjc28, esr, ptga = (np.asarray(a, dtype=float) for a in (tjc28, sjc28, esr, ptga))
    return 0.56 * np.sqrt(tjc28) + 0.28 * np.sqrt(sjc28) + 0.70 * np.log(esr) + 0.014 * ptga


def eular_response(baseline: ArrayLike, current: ArrayLike) -> np.ndarray:
    """EULAR response category from baseline and current DAS28.

    ============ ====== ========== =====
    current DAS28 >1.2  >0.6-<=1.2 <=0.6
    ============ ====== ========== =====
    <=3.2         good  moderate   none
    >3.2-<=5.1   moderate moderate none
    >5.1         moderate none     none
    ============ ====== ========== =====

    Parameters
    ----------
    baseline, current : array_like
        DAS28 at baseline and at the assessment visit.

    Returns
    -------
    numpy.ndarray of str
        ``"good"``, ``"moderate"`` or ``"none"``; ``""`` where either score is missing.

    Examples
    --------
    >>> eular_response([6.0, 6.0, 6.0], [3.0, 4.0, 5.7]).tolist()
    ['good', 'moderate', 'none']
    """
    baseline = np.asarray(baseline, dtype=float)
    current = np.asarray(current, dtype=float)
    # rounded so that, e.g., 4.4 - 3.2 counts as exactly 1.2 (not above it)
    improvement = np.round(baseline - current, 9)
    big = improvement > 1.2
    some = (improvement > 0.6) & ~big
    good = big & (current <= DAS28_LOW)
    moderate = (big & (current > DAS28_LOW)) | (some & (current <= DAS28_HIGH))
    out = np.where(good, "good", np.where(moderate, "moderate", "none"))
    return np.where(np.isnan(baseline) | np.isnan(current), "", out)


def eular_possible(
    base_low: ArrayLike, base_high: ArrayLike, current_low: ArrayLike, current_high: ArrayLike
) -> np.ndarray:
    """Which EULAR categories a baseline and a current DAS28 known only within bounds allow.

    A score known only within bounds (derived from a result beyond an assay limit) lies
    somewhere in ``[low, high]``; an exact score has ``low == high``. The category is not a
    function of the current score alone, but van Gestel's table is ordered both ways: a higher
    current score (at the same baseline) never gives a better category, and a higher baseline
    (at the same current score) never a worse one. Over the box of possible (baseline, current)
    pairs the worst category is therefore at (lowest baseline, highest current) and the best at
    (highest baseline, lowest current), and every category between them is met on the way
    (``none`` and ``good`` share no border), so these two corners decide exactly. The bounds
    are taken as attainable (a closed box): a bound exactly on a threshold counts both sides.

    Parameters
    ----------
    base_low, base_high, current_low, current_high : array_like
        Bounds of the baseline and the current DAS28 (``-inf``/``inf`` allowed).

    Returns
    -------
    numpy.ndarray of bool
        Shape (n, 3): whether ``none``, ``moderate``, ``good`` (:data:`EULAR_CATEGORIES`) is
        possible; all False where a bound is missing.

    Examples
    --------
    >>> eular_possible([6.0], [6.0], [2.4], [3.0]).tolist()
    [[False, False, True]]
    >>> eular_possible([6.0], [6.0], [2.9], [3.5]).tolist()
    [[False, True, True]]
    """
    rank = {c: i for i, c in enumerate(EULAR_CATEGORIES)}
    worst, best = (
        np.atleast_1d(np.vectorize(rank.get, otypes=[float])(eular_response(b, c)))
        for b, c in ((base_low, current_high), (base_high, current_low))
    )
    levels = np.arange(len(EULAR_CATEGORIES))
    return (worst[:, None] <= levels) & (levels <= best[:, None])


def eular_response_bounded(
    base_low: ArrayLike, base_high: ArrayLike, current_low: ArrayLike, current_high: ArrayLike
) -> np.ndarray:
    """EULAR response from DAS28 known within bounds: the category if the bounds decide it.

    Parameters
    ----------
    base_low, base_high, current_low, current_high : array_like
        Bounds of the baseline and the current DAS28 (see :func:`eular_possible`).

    Returns
    -------
    numpy.ndarray of str
        The category where it is the same at every value the scores can take; ``""`` where it
        is not, or a bound is missing. With exact scores, :func:`eular_response`.

    Examples
    --------
    >>> eular_response_bounded([6.0, 6.0], [6.0, 6.0], [2.4, 2.9], [3.0, 3.5]).tolist()
    ['good', '']
    """
    possible = eular_possible(base_low, base_high, current_low, current_high)
    names = np.asarray(EULAR_CATEGORIES)[possible.argmax(axis=1)]
    return np.where(possible.sum(axis=1) == 1, names, "")


def remission_bounded(current_low: ArrayLike, current_high: ArrayLike) -> np.ndarray:
    """DAS28 remission (< 2.6) from a score known within bounds.

    Parameters
    ----------
    current_low, current_high : array_like
        Bounds of the score.

    Returns
    -------
    numpy.ndarray of str
        ``"Y"`` if every possible score is below 2.6, ``"N"`` if none is, else ``""`` (also
        where a bound is missing).

    Examples
    --------
    >>> remission_bounded([1.5, 2.5, 2.7], [2.4, 2.9, 3.0]).tolist()
    ['Y', '', 'N']
    """
    low = np.asarray(current_low, dtype=float)
    high = np.asarray(current_high, dtype=float)
    return np.where(high < DAS28_REMISSION, "Y", np.where(low >= DAS28_REMISSION, "N", ""))
