"""Validate and harmonise subjects + measurements, derive scores, and keep a ledger of every row.

Rules (also in ``config/README.md``):

* every value is converted to its parameter's canonical unit; an unknown unit is an error;
* ``<x`` / ``>x`` results, and values at or beyond a declared assay limit (per-row
  ``LLOQ``/``ULOQ`` columns, else per-parameter limits from the config), become left/right
  censored results whose value is the limit (``CENS`` = -1 / +1);
* DAS28-CRP and DAS28-ESR are derived from their four components wherever all are present;
  a supplied score is then superseded and its row ledgered with the difference;
* an exact duplicate row is excluded and ledgered; a conflicting duplicate is an error;
* anything else wrong stops with a :class:`~il6fit.errors.DataError` naming file, row and column.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from il6fit.data.contract import (
    CENSORABLE,
    MEASUREMENT_COLUMNS,
    OPTIONAL_MEASUREMENT_COLUMNS,
    PARAMETERS,
    SUBJECT_COLUMNS,
)
from il6fit.data.read import ROW
from il6fit.data.scores import das28_crp, das28_esr
from il6fit.errors import DataError

LEDGER_COLUMNS = ("table", "file", "row", "USUBJID", "PARAMCD", "AVISITN", "status", "reason")
#: Columns of the prepared measurements table.
PREPARED_COLUMNS = ("USUBJID", "PARAMCD", "AVISITN", "AVAL", "AVALU", "CENS", "SOURCE", "ROW")

_RESULT = re.compile(r"^(?P<op><=|>=|<|>)?\s*(?P<num>[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?)$")
_SEXES = ("M", "F")
_SUBJECT_RANGES = {"AGE": (0.0, 120.0, "years"), "BMI": (10.0, 90.0, "kg/m²")}
_DAS28_TOLERANCE = 0.01


@dataclass(frozen=True)
class Prepared:
    """A validated, harmonised dataset.

    Attributes
    ----------
    subjects : pandas.DataFrame
        One row per subject; ``AGE`` and ``BMI`` numeric.
    measurements : pandas.DataFrame
        Columns :data:`PREPARED_COLUMNS`; ``AVAL`` in the canonical unit ``AVALU``; ``CENS`` is
        -1 (below the lower limit, ``AVAL`` is that limit), 0, or +1 (above the upper limit);
        ``SOURCE`` is ``reported`` or ``derived``; ``ROW`` is the input row (0 when derived).
    ledger : pandas.DataFrame
        One row per input row of both tables, columns :data:`LEDGER_COLUMNS`.
    """

    subjects: pd.DataFrame
    measurements: pd.DataFrame
    ledger: pd.DataFrame


def prepare(
    subjects: pd.DataFrame,
    measurements: pd.DataFrame,
    *,
    subjects_file: str,
    measurements_file: str,
    limits: Mapping[str, Mapping[str, float]] | None = None,
) -> Prepared:
    """Validate and harmonise a dataset and account for every input row.

    Parameters
    ----------
    subjects, measurements : pandas.DataFrame
        Tables as returned by :func:`il6fit.data.read_table` (text cells and ``_row``).
    subjects_file, measurements_file : str
        File names used in error messages and the ledger.
    limits : mapping, optional
        Per-parameter assay limits in canonical units, e.g. ``{"IL6": {"lloq": 1.5}}``;
        used where a row has no ``LLOQ``/``ULOQ`` of its own.

    Returns
    -------
    Prepared
        Harmonised tables and the ledger.

    Raises
    ------
    DataError
        On the first problem found, naming file, row and column.
    """
    subjects = _check_subjects(subjects, subjects_file)
    meas = _check_measurements(measurements, measurements_file, set(subjects["USUBJID"]))
    meas = _apply_limits(meas, measurements_file, limits or {})
    meas, dup_reasons = _drop_duplicates(meas, measurements_file)
    derived, superseded = _derive_das28(meas)
    kept = meas[~meas[ROW].isin(superseded)]

    prepared = pd.concat(
        [
            kept.assign(SOURCE="reported").rename(columns={ROW: "ROW"}),
            derived,
        ],
        ignore_index=True,
    )[list(PREPARED_COLUMNS)]
    prepared = prepared.sort_values(["USUBJID", "AVISITN", "PARAMCD"], kind="stable")

    reasons = {**dup_reasons, **superseded}
    ledger = pd.concat(
        [
            pd.DataFrame(
                {
                    "table": "subjects",
                    "file": subjects_file,
                    "row": subjects[ROW],
                    "USUBJID": subjects["USUBJID"],
                    "PARAMCD": "",
                    "AVISITN": np.nan,
                    "status": "used",
                    "reason": "",
                }
            ),
            pd.DataFrame(
                {
                    "table": "measurements",
                    "file": measurements_file,
                    "row": measurements[ROW],
                    "USUBJID": measurements["USUBJID"],
                    "PARAMCD": measurements["PARAMCD"],
                    "AVISITN": pd.to_numeric(measurements["AVISITN"], errors="coerce"),
                    "status": ["excluded" if r in reasons else "used" for r in measurements[ROW]],
                    "reason": [reasons.get(r, "") for r in measurements[ROW]],
                }
            ),
        ],
        ignore_index=True,
    )[list(LEDGER_COLUMNS)]
    return Prepared(
        subjects=subjects.drop(columns=[ROW]).reset_index(drop=True),
        measurements=prepared.reset_index(drop=True),
        ledger=ledger,
    )


def read_prepared(subjects: str, measurements: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read the subjects and measurements tables written from a :class:`Prepared`.

    Parameters
    ----------
    subjects, measurements : str
        Paths of the two CSV files.

    Returns
    -------
    tuple of pandas.DataFrame
        Subjects (identifiers as text) and measurements.
    """
    ids = {"USUBJID": str, "STUDYID": str, "SITEID": str, "TRT01P": str, "SEX": str}
    subjects_table = pd.read_csv(subjects, dtype=ids, keep_default_na=False)
    measurements_table = pd.read_csv(
        measurements, dtype={"USUBJID": str, "PARAMCD": str, "AVALU": str, "SOURCE": str}
    )
    return subjects_table, measurements_table


def _require_columns(table: pd.DataFrame, required: tuple[str, ...], file: str) -> None:
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise DataError(
            file,
            f"required column{'s' if len(missing) > 1 else ''} {', '.join(missing)} missing "
            f"(found: {', '.join(c for c in table.columns if c != ROW)}).",
            column=missing[0],
            fix="add the column or rename yours to the contract's name (see config/README.md).",
        )


def _numeric(table: pd.DataFrame, column: str, file: str, *, required: bool) -> pd.Series:
    values = pd.to_numeric(table[column].replace("", np.nan), errors="coerce")
    bad = values.isna() & (table[column] != "")
    if required:
        bad |= table[column] == ""
    if bad.any():
        i = bad.idxmax()
        raise DataError(
            file,
            f"'{table.at[i, column]}' is not a number.",
            row=int(table.at[i, ROW]),
            column=column,
            fix="give a plain number (decimal point, no units or thousands separators).",
        )
    return values


def _check_subjects(subjects: pd.DataFrame, file: str) -> pd.DataFrame:
    _require_columns(subjects, SUBJECT_COLUMNS, file)
    subjects = subjects.copy()
    empty = subjects["USUBJID"] == ""
    if empty.any():
        raise DataError(file, "empty USUBJID.", row=int(subjects.loc[empty, ROW].iloc[0]))
    dup = subjects["USUBJID"].duplicated(keep=False)
    if dup.any():
        rows = subjects.loc[dup, ROW].tolist()
        uid = subjects.loc[dup, "USUBJID"].iloc[0]
        raise DataError(
            file,
            f"USUBJID '{uid}' appears on more than one row (rows {rows[0]} and {rows[1]}).",
            row=int(rows[1]),
            column="USUBJID",
            fix="keep one row per subject.",
        )
    for column, (low, high, unit) in _SUBJECT_RANGES.items():
        values = _numeric(subjects, column, file, required=True)
        outside = (values < low) | (values > high)
        if outside.any():
            i = outside.idxmax()
            raise DataError(
                file,
                f"{column} {values[i]:g} {unit} is outside the plausible range {low:g}-{high:g}.",
                row=int(subjects.at[i, ROW]),
                column=column,
            )
        subjects[column] = values
    bad_sex = ~subjects["SEX"].isin(_SEXES)
    if bad_sex.any():
        i = bad_sex.idxmax()
        raise DataError(
            file,
            f"SEX '{subjects.at[i, 'SEX']}' is not one of {', '.join(_SEXES)}.",
            row=int(subjects.at[i, ROW]),
            column="SEX",
        )
    return subjects


def _check_measurements(meas: pd.DataFrame, file: str, known_subjects: set[str]) -> pd.DataFrame:
    _require_columns(meas, MEASUREMENT_COLUMNS, file)
    meas = meas.copy()
    for column in OPTIONAL_MEASUREMENT_COLUMNS:
        if column not in meas.columns:
            meas[column] = ""

    unknown = ~meas["USUBJID"].isin(known_subjects)
    if unknown.any():
        i = unknown.idxmax()
        raise DataError(
            file,
            f"USUBJID '{meas.at[i, 'USUBJID']}' is not in the subjects table.",
            row=int(meas.at[i, ROW]),
            column="USUBJID",
            fix="add the subject to the subjects table or correct the identifier.",
        )
    bad_code = ~meas["PARAMCD"].isin(PARAMETERS)
    if bad_code.any():
        i = bad_code.idxmax()
        raise DataError(
            file,
            f"unknown PARAMCD '{meas.at[i, 'PARAMCD']}'.",
            row=int(meas.at[i, ROW]),
            column="PARAMCD",
            fix=f"use one of {', '.join(PARAMETERS)}.",
        )
    meas["AVISITN"] = _numeric(meas, "AVISITN", file, required=True)

    values, cens = [], []
    for i, code, aval, avalc in zip(
        meas.index, meas["PARAMCD"], meas["AVAL"], meas["AVALC"], strict=True
    ):
        value, c = _parse_result(aval, avalc, code, file, int(meas.at[i, ROW]))
        values.append(value)
        cens.append(c)
    meas["AVAL"] = values
    meas["CENS"] = cens

    factors = []
    for i, code, unit in zip(meas.index, meas["PARAMCD"], meas["AVALU"], strict=True):
        param = PARAMETERS[code]
        if unit not in param.conversions:
            accepted = ", ".join(repr(u) for u in param.conversions)
            raise DataError(
                file,
                f"unit '{unit}' is not known for {code}.",
                row=int(meas.at[i, ROW]),
                column="AVALU",
                fix=f"use one of {accepted}.",
            )
        factors.append(param.conversions[unit])
    factors = np.asarray(factors)
    meas["AVAL"] = meas["AVAL"] * factors
    for column in ("LLOQ", "ULOQ"):
        meas[column] = _numeric(meas, column, file, required=False) * factors
    meas["AVALU"] = meas["PARAMCD"].map(lambda c: PARAMETERS[c].unit)

    for code, rows in meas.groupby("PARAMCD").groups.items():
        param = PARAMETERS[code]
        values = meas.loc[rows, "AVAL"]
        too_low = values < param.lower if param.lower_inclusive else values <= param.lower
        outside = too_low | (values > param.upper)
        if outside.any():
            i = outside.idxmax()
            sign = ">=" if param.lower_inclusive else ">"
            raise DataError(
                file,
                f"{code} {meas.at[i, 'AVAL']:g} {param.unit} is impossible "
                f"(must be {sign} {param.lower:g} and <= {param.upper:g}).",
                row=int(meas.at[i, ROW]),
                column="AVAL",
            )
        if code not in CENSORABLE and (meas.loc[rows, "CENS"] != 0).any():
            i = (meas.loc[rows, "CENS"] != 0).idxmax()
            raise DataError(
                file,
                f"a censored result ('{meas.at[i, 'AVALC']}') is not allowed for {code}.",
                row=int(meas.at[i, ROW]),
                column="AVALC",
                fix=f"only {', '.join(CENSORABLE)} can be reported below or above a limit.",
            )
    return meas


def _parse_result(aval: str, avalc: str, code: str, file: str, row: int) -> tuple[float, int]:
    """Return (value, censoring) from AVAL, or from AVALC where AVAL is empty."""
    if aval != "":
        match = _RESULT.match(aval)
        if match is None or match["op"]:
            raise DataError(
                file,
                f"AVAL '{aval}' is not a number.",
                row=row,
                column="AVAL",
                fix="put limits such as '<1.5' in AVALC and leave AVAL empty.",
            )
        return float(match["num"]), 0
    if avalc == "":
        raise DataError(
            file, f"no result for {code}: AVAL and AVALC are both empty.", row=row, column="AVAL"
        )
    match = _RESULT.match(avalc)
    if match is None:
        raise DataError(
            file,
            f"AVALC '{avalc}' is neither a number nor a limit such as '<1.5' or '>5000'.",
            row=row,
            column="AVALC",
        )
    cens = {"<": -1, "<=": -1, ">": 1, ">=": 1}.get(match["op"], 0)
    return float(match["num"]), cens


def _apply_limits(
    meas: pd.DataFrame, file: str, limits: Mapping[str, Mapping[str, float]]
) -> pd.DataFrame:
    """Censor values at or beyond their assay limits; row limits take precedence over config."""
    meas = meas.copy()
    config_lloq = meas["PARAMCD"].map(lambda c: limits.get(c, {}).get("lloq", np.nan))
    config_uloq = meas["PARAMCD"].map(lambda c: limits.get(c, {}).get("uloq", np.nan))
    lloq = meas["LLOQ"].fillna(config_lloq)
    uloq = meas["ULOQ"].fillna(config_uloq)
    crossed = (lloq >= uloq).fillna(False)
    if crossed.any():
        i = crossed.idxmax()
        raise DataError(
            file,
            f"LLOQ {lloq[i]:g} is not below ULOQ {uloq[i]:g}.",
            row=int(meas.at[i, ROW]),
            column="LLOQ",
        )
    censorable = meas["PARAMCD"].isin(CENSORABLE) & (meas["CENS"] == 0)
    below = censorable & (meas["AVAL"] <= lloq)
    above = censorable & (meas["AVAL"] >= uloq)
    meas.loc[below, "AVAL"] = lloq[below]
    meas.loc[below, "CENS"] = -1
    meas.loc[above, "AVAL"] = uloq[above]
    meas.loc[above, "CENS"] = 1
    return meas


def _drop_duplicates(meas: pd.DataFrame, file: str) -> tuple[pd.DataFrame, dict[int, str]]:
    key = ["USUBJID", "PARAMCD", "AVISITN"]
    dup = meas.duplicated(key, keep=False)
    reasons: dict[int, str] = {}
    if not dup.any():
        return meas, reasons
    for _, group in meas[dup].groupby(key, sort=False):
        first = group.iloc[0]
        for _, other in group.iloc[1:].iterrows():
            same = (other["AVAL"], other["CENS"]) == (first["AVAL"], first["CENS"])
            if not same:
                raise DataError(
                    file,
                    f"conflicting duplicate: {first['PARAMCD']} of {first['USUBJID']} at visit "
                    f"{first['AVISITN']:g} is {first['AVAL']:g} on row {first[ROW]} and "
                    f"{other['AVAL']:g} here.",
                    row=int(other[ROW]),
                    column="AVAL",
                    fix="keep one result per subject, parameter and visit.",
                )
            reasons[int(other[ROW])] = f"duplicate of row {first[ROW]}"
    return meas[~meas[ROW].isin(reasons)], reasons


def _derive_das28(meas: pd.DataFrame) -> tuple[pd.DataFrame, dict[int, str]]:
    """Derive DAS28 scores where all components are present; report superseded rows."""
    wide = meas.pivot_table(
        index=["USUBJID", "AVISITN"], columns="PARAMCD", values="AVAL", aggfunc="first"
    )
    derived = []
    for score, marker, formula in (
        ("DAS28CRP", "CRP", das28_crp),
        ("DAS28ESR", "ESR", das28_esr),
    ):
        needed = ["TJC28", "SJC28", marker, "PTGA"]
        if not set(needed) <= set(wide.columns):
            continue
        complete = wide[needed].dropna()
        if complete.empty:
            continue
        values = formula(*(complete[c] for c in needed))
        derived.append(
            pd.DataFrame(
                {
                    "USUBJID": complete.index.get_level_values("USUBJID"),
                    "PARAMCD": score,
                    "AVISITN": complete.index.get_level_values("AVISITN"),
                    "AVAL": values,
                    "AVALU": "score",
                    "CENS": 0,
                    "SOURCE": "derived",
                    "ROW": 0,
                }
            )
        )
    if not derived:
        return pd.DataFrame(columns=list(PREPARED_COLUMNS)), {}
    derived = pd.concat(derived, ignore_index=True)
    supplied = meas[meas["PARAMCD"].isin(["DAS28CRP", "DAS28ESR"])].merge(
        derived[["USUBJID", "PARAMCD", "AVISITN", "AVAL"]],
        on=["USUBJID", "PARAMCD", "AVISITN"],
        suffixes=("", "_derived"),
    )
    superseded = {}
    for _, r in supplied.iterrows():
        diff = r["AVAL"] - r["AVAL_derived"]
        note = (
            f"supplied {r['PARAMCD']} {r['AVAL']:.2f} disagrees with the score derived from "
            f"its components ({r['AVAL_derived']:.2f})"
            if abs(diff) > _DAS28_TOLERANCE
            else f"superseded by {r['PARAMCD']} derived from its components (agrees)"
        )
        superseded[int(r[ROW])] = note
    return derived, superseded
