"""Input-table checks (columns, values, units, duplicates); errors name file, row and column."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from il6fit.data.contract import (
    CENSORABLE,
    MEASUREMENT_COLUMNS,
    MEASUREMENTS_SCHEMA,
    OPTIONAL_MEASUREMENT_COLUMNS,
    PARAMETERS,
    SUBJECT_COLUMNS,
    SUBJECTS_SCHEMA,
    VISIT_COLUMNS,
)
from il6fit.data.read import ROW
from il6fit.errors import DataError

_RESULT = re.compile(
    r"^(?P<op><=|>=|<|>)?\s*(?P<num>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)$"
)
_CENSORING = {"<": -1, "<=": -1, ">": 1, ">=": 1}
_AGREEMENT = 1e-6
_KEY = ["USUBJID", "PARAMCD", "AVISITN"]


def _first(mask: pd.Series) -> int:
    """Index label of the first True in a boolean Series."""
    return mask.idxmax()


def _require_columns(
    table: pd.DataFrame, required: Sequence[str], file: str, *, any_of: Sequence[str] = ()
) -> None:
    missing = [c for c in required if c not in table.columns]
    if any_of and not set(any_of) & set(table.columns):
        missing.append(" or ".join(any_of))
    if not missing:
        return
    found = [c for c in table.columns if c != ROW]
    near = {c.upper(): c for c in found}
    hints = [f"'{near[m]}' should be '{m}'" for m in missing if m in near]
    raise DataError(
        file,
        f"required column{'s' if len(missing) > 1 else ''} {', '.join(missing)} missing "
        f"(found: {', '.join(found)}).",
        column=missing[0],
        fix=f"rename: {'; '.join(hints)} (names are case-sensitive)."
        if hints
        else "add the column or rename yours to the contract's name (see config/README.md).",
    )


def _validate(table: pd.DataFrame, schema: Mapping, file: str, *, skip: Sequence[str] = ()):
    """Check each schema column the table has; return it with number columns as floats.

    Handles the JSON Schema keywords the input schemas use: ``type`` (string, number, integer,
    optionally with null), ``minLength``, ``enum``, ``minimum``, ``maximum``,
    ``exclusiveMinimum`` and ``format: date``.
    """
    table = table.copy()
    for column, spec in schema["properties"].items():
        if column not in table.columns or column in skip:
            continue
        types = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
        text = table[column]
        empty = text == ""
        what = spec.get("description", "").split(";")[0].rstrip(".")
        if "null" not in types and (spec.get("minLength", 0) > 0 or "string" not in types):
            _raise_at(
                table, empty, file, column, f"{column} is empty.", fix=f"give the {what.lower()}."
            )
        if "enum" in spec:
            allowed = spec["enum"]
            _raise_at(
                table,
                ~text.isin(allowed) & ~empty,
                file,
                column,
                lambda v, c=column: f"unknown {c} '{v}'.",
                fix=f"use one of {', '.join(allowed)}.",
            )
        if "number" in types or "integer" in types:
            values = pd.to_numeric(text.where(~empty), errors="coerce")
            _raise_at(
                table,
                values.isna() & ~empty,
                file,
                column,
                lambda v: f"'{v}' is not a number.",
                fix="give a plain number (decimal point, no units or thousands separators).",
            )
            if "integer" in types:
                _raise_at(
                    table,
                    (values % 1 != 0) & values.notna(),
                    file,
                    column,
                    lambda v: f"'{v}' is not a whole number.",
                    fix=f"{column} counts {spec.get('unit', 'units')}: give a whole number.",
                )
            _check_range(table, values, spec, file, column)
            table[column] = values.astype(float)
        if spec.get("format") == "date":
            dates = pd.to_datetime(text.where(~empty), format="%Y-%m-%d", errors="coerce")
            _raise_at(
                table,
                dates.isna() & ~empty,
                file,
                column,
                lambda v: f"'{v}' is not a date.",
                fix="write dates as YYYY-MM-DD (ISO 8601).",
            )
    return table


def _check_range(table, values, spec, file, column):
    unit = f" {spec['unit']}" if "unit" in spec else ""
    low = spec.get("minimum", spec.get("exclusiveMinimum", -np.inf))
    high = spec.get("maximum", np.inf)
    too_low = values <= low if "exclusiveMinimum" in spec else values < low
    sign = ">" if "exclusiveMinimum" in spec else ">="
    bounds = f"{sign} {low:g}" + (f" and <= {high:g}" if np.isfinite(high) else "")
    _raise_at(
        table,
        too_low | (values > high),
        file,
        column,
        lambda v: f"{column} {float(v):g}{unit} is outside the plausible range ({bounds}).",
        fix=f"correct the value, or check that {column} is in{unit or ' the right unit'}.",
        values=values,
    )


def _raise_at(table, mask, file, column, problem, *, fix, values=None):
    """Raise a DataError for the first row of ``mask``, if any."""
    if not mask.any():
        return
    i = _first(mask)
    value = (values if values is not None else table[column])[i]
    raise DataError(
        file,
        problem(value) if callable(problem) else problem,
        row=int(table.at[i, ROW]),
        column=column,
        fix=fix,
    )


def _check_subjects(subjects: pd.DataFrame, file: str) -> pd.DataFrame:
    _require_columns(subjects, SUBJECT_COLUMNS, file)
    subjects = subjects.copy()
    for column in SUBJECTS_SCHEMA["properties"]:
        if column not in subjects.columns:
            subjects[column] = ""
    subjects = _validate(subjects, SUBJECTS_SCHEMA, file)
    dup = subjects["USUBJID"].duplicated()
    if dup.any():
        i = _first(dup)
        uid = subjects.at[i, "USUBJID"]
        first = int(subjects.loc[subjects["USUBJID"] == uid, ROW].iloc[0])
        raise DataError(
            file,
            f"USUBJID '{uid}' appears on more than one row (rows {first} and "
            f"{subjects.at[i, ROW]}).",
            row=int(subjects.at[i, ROW]),
            column="USUBJID",
            fix="keep one row per subject.",
        )
    return subjects


def _check_measurements(meas: pd.DataFrame, file: str, subjects: pd.DataFrame) -> pd.DataFrame:
    _require_columns(meas, MEASUREMENT_COLUMNS, file, any_of=VISIT_COLUMNS)
    meas = meas.copy()
    for column in OPTIONAL_MEASUREMENT_COLUMNS:
        if column not in meas.columns:
            meas[column] = ""
    raw_avalc = meas["AVALC"]
    meas = _validate(meas, MEASUREMENTS_SCHEMA, file, skip=("AVAL", "AVALC"))
    _raise_at(
        meas,
        ~meas["USUBJID"].isin(subjects["USUBJID"]),
        file,
        "USUBJID",
        lambda v: f"USUBJID '{v}' is not in the subjects table.",
        fix="add the subject to the subjects table or correct the identifier.",
    )
    meas["AVAL"], meas["CENS"] = _parse_results(meas, file)
    meas["AVALC"] = raw_avalc

    key = meas["PARAMCD"] + "\x1f" + meas["AVALU"]
    factors = key.map(
        {f"{p.code}\x1f{u}": f for p in PARAMETERS.values() for u, f in p.conversions.items()}
    )
    unknown = factors.isna()
    if unknown.any():
        i = _first(unknown)
        code, unit = meas.at[i, "PARAMCD"], meas.at[i, "AVALU"]
        accepted = ", ".join(repr(u) for u in PARAMETERS[code].conversions)
        raise DataError(
            file,
            f"unit '{unit}' is not known for {code}.",
            row=int(meas.at[i, ROW]),
            column="AVALU",
            fix=f"use one of {accepted}; il6fit converts them to {PARAMETERS[code].unit}.",
        )
    meas["AVAL"] = meas["AVAL"] * factors
    for column in ("LLOQ", "ULOQ"):
        meas[column] = meas[column] * factors
    meas["AVALU"] = meas["PARAMCD"].map({c: p.unit for c, p in PARAMETERS.items()})

    lower = meas["PARAMCD"].map({c: p.lower for c, p in PARAMETERS.items()})
    upper = meas["PARAMCD"].map({c: p.upper for c, p in PARAMETERS.items()})
    inclusive = meas["PARAMCD"].map({c: p.lower_inclusive for c, p in PARAMETERS.items()})
    too_low = np.where(inclusive, meas["AVAL"] < lower, meas["AVAL"] <= lower)
    outside = pd.Series(too_low, index=meas.index) | (meas["AVAL"] > upper)
    if outside.any():
        i = _first(outside)
        param = PARAMETERS[meas.at[i, "PARAMCD"]]
        sign = ">=" if param.lower_inclusive else ">"
        raise DataError(
            file,
            f"{param.code} {meas.at[i, 'AVAL']:g} {param.unit} is impossible "
            f"(must be {sign} {param.lower:g} and <= {param.upper:g}).",
            row=int(meas.at[i, ROW]),
            column="AVAL",
            fix="correct the value or its unit (AVALU).",
        )
    censored = ~meas["PARAMCD"].isin(CENSORABLE) & (meas["CENS"] != 0)
    if censored.any():
        i = _first(censored)
        raise DataError(
            file,
            f"a censored result ('{meas.at[i, 'AVALC']}') is not allowed for "
            f"{meas.at[i, 'PARAMCD']}.",
            row=int(meas.at[i, ROW]),
            column="AVALC",
            fix=f"give the value itself; only {', '.join(CENSORABLE)} can be reported below or "
            "above a limit.",
        )
    return meas


def _parse_results(meas: pd.DataFrame, file: str) -> tuple[pd.Series, pd.Series]:
    """Return (value, censoring) from AVAL, or from AVALC where AVAL is empty or a limit."""
    aval, avalc = meas["AVAL"], meas["AVALC"]
    number = pd.to_numeric(aval.where(aval != ""), errors="coerce")
    _raise_at(
        meas,
        number.isna() & (aval != ""),
        file,
        "AVAL",
        lambda v: f"AVAL '{v}' is not a number.",
        fix="give a plain number; put limits such as '<1.5' in AVALC and leave AVAL empty.",
    )
    from_avalc = (aval == "") | avalc.str.startswith(("<", ">"))
    parsed = avalc[from_avalc].str.extract(_RESULT).reindex(meas.index)
    limit = parsed["op"].notna()
    _raise_at(
        meas,
        (aval == "") & (avalc == ""),
        file,
        "AVAL",
        lambda v: "no result: AVAL and AVALC are both empty.",
        fix="give the result, or remove the row if there is none.",
    )
    _raise_at(
        meas,
        from_avalc & parsed["num"].isna(),
        file,
        "AVALC",
        lambda v: f"AVALC '{v}' is neither a number nor a limit such as '<1.5' or '>5000'.",
        fix="give a number, or '<' or '>' followed by the assay limit.",
    )
    limit_value = pd.to_numeric(parsed["num"])
    disagree = limit & number.notna() & ~np.isclose(number, limit_value, rtol=_AGREEMENT)
    _raise_at(
        meas,
        disagree,
        file,
        "AVAL",
        lambda v: f"AVAL '{v}' disagrees with the limit in AVALC.",
        fix="leave AVAL empty for a result beyond a limit, or give the limit in both.",
    )
    value = number.where(~from_avalc, limit_value)
    cens = parsed["op"].map(_CENSORING).fillna(0).astype(int)
    return value, cens


def _duplicates(meas: pd.DataFrame, file: str) -> pd.Series:
    """Ledger reasons of exact repeats; a repeat with another result is an error."""
    dup = meas.duplicated(_KEY, keep=False)
    if not dup.any():
        return pd.Series(dtype=str)
    group = meas[dup]
    first = group.groupby(_KEY, sort=False)[[ROW, "AVAL", "CENS"]].transform("first")
    conflict = (group["AVAL"] != first["AVAL"]) | (group["CENS"] != first["CENS"])
    if conflict.any():
        i = _first(conflict)
        other = group.loc[i]
        raise DataError(
            file,
            f"conflicting duplicate: {other['PARAMCD']} of {other['USUBJID']} at visit "
            f"{other['AVISITN']:g} is {first.at[i, 'AVAL']:g} on row {first.at[i, ROW]} and "
            f"{other['AVAL']:g} here (both in {PARAMETERS[other['PARAMCD']].unit}).",
            row=int(other[ROW]),
            column="AVAL",
            fix="keep one result per subject, parameter and visit.",
        )
    repeat = group[ROW] != first[ROW]
    return pd.Series(
        ("duplicate: same result as row " + first.loc[repeat, ROW].astype(str)).to_numpy(),
        index=group.loc[repeat, ROW].to_numpy(),
        dtype=str,
    )
