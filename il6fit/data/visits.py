"""Mapping of study days and dates to the scheduled visits whose windows they fall in."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from il6fit.data.checks import _KEY, _first, _raise_at
from il6fit.data.read import ROW
from il6fit.errors import DataError


def _assign_visits(
    meas: pd.DataFrame,
    subjects: pd.DataFrame,
    file: str,
    weeks: Sequence[float],
    window: float,
) -> tuple[pd.DataFrame, pd.Series]:
    """Give every row a visit; return the rows and the ledger reasons of those without one."""
    _check_visit_days(meas, file, window)
    meas = meas.copy()
    open_rows = meas["AVISITN"].isna()
    if not open_rows.any():
        return meas, pd.Series(dtype=str)
    start = meas["USUBJID"].map(subjects.set_index("USUBJID")["TRTSDT"])
    date = pd.to_datetime(meas["ADT"].where(meas["ADT"] != ""), format="%Y-%m-%d")
    start = pd.to_datetime(start.where(start != ""), format="%Y-%m-%d")
    _raise_at(
        meas,
        open_rows & meas["ADY"].isna() & date.notna() & start.isna(),
        file,
        "ADT",
        lambda v: "a date (ADT) needs the subject's day 1 (TRTSDT), which is empty.",
        fix="give TRTSDT in the subjects table, or ADY or AVISITN here.",
    )
    elapsed = (date - start).dt.days
    # CDISC study days have no day 0: day 1 is the first dose, the day before it day -1
    meas["ADY"] = meas["ADY"].fillna(elapsed + (elapsed >= 0))
    _raise_at(
        meas,
        open_rows & meas["ADY"].isna(),
        file,
        "AVISITN",
        lambda v: "no visit: AVISITN, ADY and ADT are all empty.",
        fix="give the visit (AVISITN, weeks) or the study day (ADY).",
    )
    if not weeks:
        i = _first(open_rows)
        raise DataError(
            file,
            f"AVISITN is empty and no scheduled visits are configured to map study day "
            f"{meas.at[i, 'ADY']:g} to one.",
            row=int(meas.at[i, ROW]),
            column="AVISITN",
            fix="give AVISITN, or list the visits in the config's prepare.visit_weeks.",
        )
    scheduled = np.asarray(sorted(weeks), dtype=float)
    day = meas.loc[open_rows, "ADY"].to_numpy()
    distance = np.abs(day[:, None] - (7 * scheduled[None, :] + 1))
    nearest = distance.argmin(axis=1)  # ties go to the earlier visit
    gap = distance[np.arange(day.size), nearest]
    inside = gap <= window
    meas.loc[open_rows, "AVISITN"] = np.where(inside, scheduled[nearest], np.nan)
    listed = ", ".join(f"{w:g}" for w in scheduled)
    outside_rows = meas.loc[open_rows, ROW][~inside]
    reasons = pd.Series(
        [
            f"outside every visit window: study day {d:g} is more than {window:g} days from the "
            f"target day (7 x week + 1) of weeks {listed} (prepare.visit_weeks, "
            "prepare.visit_window_days)"
            for d in day[~inside]
        ],
        index=outside_rows.to_numpy(),
        dtype=str,
    )

    mapped = meas[open_rows].assign(_gap=gap)[inside]
    ranked = mapped.sort_values([*_KEY, "_gap", "ADY", ROW])
    farther = ranked.duplicated(_KEY)
    nearer_row = ranked.groupby(_KEY, sort=False)[ROW].transform("first")
    farther_rows = ranked[farther]
    reasons = pd.concat(
        [
            reasons,
            pd.Series(
                (
                    f"not the nearest result to its visit: row {r} has this subject's {p} "
                    f"nearer the target day of week {w:g}"
                    for p, r, w in zip(
                        farther_rows["PARAMCD"],
                        nearer_row[farther],
                        farther_rows["AVISITN"],
                        strict=True,
                    )
                ),
                index=farther_rows[ROW].to_numpy(),
                dtype=str,
            ),
        ]
    )
    return meas, reasons


def _check_visit_days(meas: pd.DataFrame, file: str, window: float) -> None:
    """Raise where a row's visit (AVISITN) and study day (ADY) contradict each other.

    They contradict when the study day lies farther from the visit's target day,
    ``7 * week + 1``, than ``prepare.visit_window_days``, the window used to map study days to
    visits.
    """
    target = 7 * meas["AVISITN"] + 1
    gap = (meas["ADY"] - target).abs()
    off = gap > window  # False where either is missing
    if not off.any():
        return
    i = _first(off)
    raise DataError(
        file,
        f"visit AVISITN {meas.at[i, 'AVISITN']:g} contradicts study day ADY "
        f"{meas.at[i, 'ADY']:g}: its target day (7 x week + 1) is day {target[i]:g}, "
        f"{gap[i]:g} days away, more than the {window:g} days of prepare.visit_window_days.",
        row=int(meas.at[i, ROW]),
        column="AVISITN",
        fix="correct AVISITN or ADY; or leave AVISITN empty to have the study day mapped to its "
        "visit; or widen prepare.visit_window_days if visits may lie this far from their "
        "target day.",
    )
