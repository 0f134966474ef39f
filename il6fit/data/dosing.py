"""Dosing records: an optional third input table of the tocilizumab doses each subject was given.

Rules (also in ``config/README.md``):

* the table is checked against its schema (``il6fit/data/schemas/dosing.schema.yaml``): one row
  per dose, like an SDTM EX domain (``USUBJID``, ``EXDOSE``, ``EXDOSU``, ``EXROUTE``, and the
  day as ``EXSTDY`` or the week as ``AVISITN``; ``EXTRT`` optional);
* a dose's day counts from the first dose (day 0): ``EXSTDY - 1``, else ``7 * AVISITN``;
* rows of another treatment (``EXTRT`` not tocilizumab: placebo, methotrexate) are excluded
  and ledgered; a dose of 0 is kept, a dose recorded as not given;
* an exact repeat of a dose is excluded and ledgered; two different doses of one subject on one
  day, a subject not in the subjects table, or a row without a day stop with a
  :class:`~il6fit.errors.DataError` naming file, row and column.
"""

from __future__ import annotations

import pandas as pd

from il6fit.data.checks import _known_subjects, _raise_at, _require_columns, _validate
from il6fit.data.contract import load_schema
from il6fit.data.read import ROW
from il6fit.data.text import visible
from il6fit.errors import DataError

#: JSON Schema of one row of the dosing table.
DOSING_SCHEMA = load_schema("dosing")
#: Columns of the prepared dosing records: day from the first dose, dose, its unit (mg or
#: mg/kg), route (iv or sc) and the input row.
DOSING_COLUMNS = ("USUBJID", "DAY", "DOSE", "DOSEU", "ROUTE", "ROW")
#: Names of tocilizumab in ``EXTRT`` (compared in upper case).
TOCILIZUMAB = ("TOCILIZUMAB", "TCZ", "ACTEMRA", "ROACTEMRA")
_ROUTES = {"INTRAVENOUS": "iv", "IV": "iv", "SUBCUTANEOUS": "sc", "SC": "sc"}
_DAY_COLUMNS = ("EXSTDY", "AVISITN")


def empty_dosing() -> pd.DataFrame:
    """Return the prepared dosing records of a dataset without a dosing table."""
    return pd.DataFrame({c: pd.Series(dtype=float if c == "DAY" else object)
                         for c in DOSING_COLUMNS})  # fmt: skip


def check_dosing(
    dosing: pd.DataFrame, file: str, subjects: pd.DataFrame
) -> tuple[pd.DataFrame, pd.Series]:
    """Validate and harmonise a dosing table.

    Parameters
    ----------
    dosing : pandas.DataFrame
        As returned by :func:`il6fit.data.read_table` (text cells and ``_row``).
    file : str
        File name for error messages.
    subjects : pandas.DataFrame
        The checked subjects table.

    Returns
    -------
    records : pandas.DataFrame
        Every row, columns :data:`DOSING_COLUMNS` (``ROW`` the input row), in input order.
    reasons : pandas.Series
        Ledger reasons of the rows left out, by input row.

    Raises
    ------
    DataError
        On the first problem found, naming file, row and column.
    """
    _require_columns(dosing, tuple(DOSING_SCHEMA["required"]), file, any_of=_DAY_COLUMNS)
    table = dosing[[c for c in dosing.columns if c in DOSING_SCHEMA["properties"] or c == ROW]]
    table = table.copy()
    for column in DOSING_SCHEMA["properties"]:
        if column not in table.columns:
            table[column] = ""
    table = _validate(table, DOSING_SCHEMA, file)
    _known_subjects(table, file, subjects)
    day = (table["EXSTDY"] - 1).fillna(7 * table["AVISITN"])
    _raise_at(
        table,
        day.isna(),
        file,
        "EXSTDY",
        "the dose has no day: EXSTDY and AVISITN are both empty.",
        fix="give the study day of the dose (EXSTDY, day 1 = the first dose) or its week from "
        "the first dose (AVISITN).",
    )
    records = pd.DataFrame(
        {
            "USUBJID": table["USUBJID"].to_numpy(),
            "DAY": day.to_numpy(float),
            "DOSE": table["EXDOSE"].to_numpy(float),
            "DOSEU": table["EXDOSU"].to_numpy(),
            "ROUTE": table["EXROUTE"].map(_ROUTES).to_numpy(),
            "ROW": table[ROW].to_numpy(int),
        }
    )
    treatment = table["EXTRT"].str.strip().str.upper()
    other = ((treatment != "") & ~treatment.isin(TOCILIZUMAB)).to_numpy()
    reasons = pd.Series(
        [f"other treatment: EXTRT {visible(t)} is not tocilizumab"
         for t in table.loc[other, "EXTRT"]],
        index=records.loc[other, "ROW"].to_numpy(),
        dtype=str,
    )  # fmt: skip
    reasons = reasons.combine_first(_repeats(records[~other], file))
    return records, reasons


def _repeats(records: pd.DataFrame, file: str) -> pd.Series:
    """Ledger reasons of exact repeats of a dose; another dose on the same day is an error."""
    key = ["USUBJID", "DAY"]
    first = records.groupby(key, sort=False)[["ROW", "DOSE", "DOSEU", "ROUTE"]].transform("first")
    conflict = (records[["DOSE", "DOSEU", "ROUTE"]] != first[["DOSE", "DOSEU", "ROUTE"]]).any(
        axis=1
    )
    if conflict.any():
        other = records[conflict].iloc[0]
        original = first[conflict].iloc[0]
        raise DataError(
            file,
            f"two doses of {other['USUBJID']} on day {other['DAY'] + 1:g} (EXSTDY): "
            f"{original['DOSE']:g} {original['DOSEU']} {original['ROUTE'].upper()} on row "
            f"{original['ROW']} and {other['DOSE']:g} {other['DOSEU']} "
            f"{other['ROUTE'].upper()} here.",
            row=int(other["ROW"]),
            column="EXDOSE",
            fix="keep one row per dose: a dose given in parts on one day is one row with their "
            "sum.",
        )
    repeat = records["ROW"] != first["ROW"]
    return pd.Series(
        ("duplicate: same dose as row " + first.loc[repeat, "ROW"].astype(str)).to_numpy(),
        index=records.loc[repeat, "ROW"].to_numpy(),
        dtype=str,
    )
