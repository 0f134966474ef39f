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
