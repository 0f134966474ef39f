"""Supplied response results (EULAR, ACR20/50/70): categories read from AVALC and AVAL.

A response parameter's result is a category (``parameters.<code>.categories`` in the
measurements schema): EULAR ``none`` / ``moderate`` / ``good``, ACR ``N`` / ``Y``. The row gives
it in ``AVALC``, exactly as the schema writes it (codes are case-sensitive: nothing is
silently recoded), or in ``AVAL`` as the category's number (EULAR 0 / 1 / 2, ACR 0 / 1), or
in both, which must then agree. It is stored as that number, unit ``category``, never censored.
"""

from __future__ import annotations

import pandas as pd

from il6fit.data.contract import PARAMETERS
from il6fit.data.read import ROW
from il6fit.errors import DataError


def _codes(code: str) -> str:
    """List a parameter's categories with their numbers, e.g. ``none (0), moderate (1)``."""
    return ", ".join(f"{c} ({n})" for c, n in PARAMETERS[code].categories.items())


def _stop(meas: pd.DataFrame, mask: pd.Series, file: str, column: str, problem, fix) -> None:
    """Raise a DataError for the first row of ``mask``, if any."""
    if not mask.any():
        return
    row = meas.loc[mask.idxmax()]
    raise DataError(file, problem(row), row=int(row[ROW]), column=column, fix=fix(row))


def category_results(meas: pd.DataFrame, file: str) -> tuple[pd.Series, pd.Series]:
    """Return (number, censoring) of response rows: the category's number and 0.

    Parameters
    ----------
    meas : pandas.DataFrame
        Rows of response parameters as read (text cells, ``PARAMCD`` checked), with ``_row``.
    file : str
        The file, for error messages.

    Returns
    -------
    tuple of pandas.Series
        The category's number (float) and the censoring flag (always 0), on ``meas``'s index.

    Raises
    ------
    DataError
        For a limit (``<x``), an unknown category, an AVAL that is no category's number, a
        row without a result, or AVAL and AVALC naming different categories.
    """
    aval, avalc, code = meas["AVAL"], meas["AVALC"], meas["PARAMCD"]
    _stop(
        meas,
        avalc.str.startswith(("<", ">")),
        file,
        "AVALC",
        lambda r: (
            f"a censored result ('{r['AVALC']}') is not allowed for {r['PARAMCD']}: it is "
            "a category."
        ),
        lambda r: f"give the category, one of {_codes(r['PARAMCD'])}.",
    )
    _stop(
        meas,
        (aval == "") & (avalc == ""),
        file,
        "AVAL",
        lambda r: "no result: AVAL and AVALC are both empty.",
        lambda r: f"give the category in AVALC, one of {_codes(r['PARAMCD'])}, or remove the row.",
    )
    given = pd.to_numeric(aval.where(aval != ""), errors="coerce")
    _stop(
        meas,
        (aval != "") & ~_is_number(code, given),
        file,
        "AVAL",
        lambda r: f"AVAL '{r['AVAL']}' is not the number of any {r['PARAMCD']} category.",
        lambda r: (
            f"give the category's number, one of {_codes(r['PARAMCD'])}, or leave AVAL "
            "empty and give the category in AVALC."
        ),
    )
    # AVALC may also repeat the number, as it does for numeric parameters
    named = pd.Series(
        [PARAMETERS[c].categories.get(text) for c, text in zip(code, avalc, strict=True)],
        index=meas.index,
        dtype=float,
    )
    repeated = pd.to_numeric(avalc.where(avalc != ""), errors="coerce")
    from_avalc = named.fillna(repeated.where(_is_number(code, repeated)))
    _stop(
        meas,
        (avalc != "") & from_avalc.isna(),
        file,
        "AVALC",
        lambda r: f"unknown {r['PARAMCD']} category '{r['AVALC']}'.",
        lambda r: (
            f"use one of {_codes(r['PARAMCD'])}, written exactly so"
            + _hint(r["AVALC"], PARAMETERS[r["PARAMCD"]].categories)
            + "; or leave AVALC empty and give the number in AVAL."
        ),
    )
    _stop(
        meas,
        given.notna() & from_avalc.notna() & (given != from_avalc),
        file,
        "AVAL",
        lambda r: (
            f"AVAL '{r['AVAL']}' disagrees with AVALC '{r['AVALC']}': they name different "
            f"{r['PARAMCD']} categories."
        ),
        lambda r: f"give the same category in both ({_codes(r['PARAMCD'])}), or leave AVAL empty.",
    )
    return from_avalc.fillna(given).astype(float), pd.Series(0, index=meas.index)


def _is_number(codes: pd.Series, values: pd.Series) -> pd.Series:
    """Whether each value is the number of a category of its row's parameter."""
    return pd.Series(
        [v in PARAMETERS[c].categories.values() for c, v in zip(codes, values, strict=True)],
        index=values.index,
        dtype=bool,
    )


def _hint(text: str, categories: dict[str, int]) -> str:
    """`` ('good', not 'Good': codes are case-sensitive)`` where only the case differs."""
    near = [c for c in categories if c.lower() == text.strip().lower()]
    return f" ('{near[0]}', not '{text}': codes are case-sensitive)" if near else ""
