"""Input-table checks (columns, values, units, duplicates); errors name file, row and column."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from il6fit.data.contract import (
    CATEGORICAL,
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
from il6fit.data.responses import category_results
from il6fit.data.text import as_floats, unit_key, visible
from il6fit.errors import DataError

_RESULT = re.compile(
    r"^(?P<op><=|>=|<|>)?\s*(?P<num>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)$"
)
_CENSORING = {"<": -1, "<=": -1, ">": 1, ">=": 1}
_AGREEMENT = 1e-6
_KEY = ["USUBJID", "PARAMCD", "AVISITN"]
#: Text that pandas reads as a number but that is none: nan, inf, infinity.
_NOT_FINITE = re.compile(r"[-+]?(?:nan|inf|infinity)", re.IGNORECASE)
_PLAIN_NUMBER = "give a plain number (decimal point, no units or thousands separators)."
#: Internal columns of the measurements table while it is prepared: each result and its unit
#: as given, for messages that quote them after conversion to the canonical unit.
GIVEN, GIVEN_UNIT = "_given", "_given_unit"
#: Columns of the prepared measurements table that are not input columns: an input column of
#: one of these names would be taken for il6fit's own, so it is an error. Other extra input
#: columns are set aside before preparation, so they cannot collide with its working columns.
RESERVED_COLUMNS = {
    "ROW": "the prepared table's input row number",
    "CENS": "the prepared table's censoring flag",
    "SOURCE": "the prepared table's 'reported' or 'derived'",
}
#: Parameters that count joints: their results are whole numbers.
_COUNTS = tuple(code for code, p in PARAMETERS.items() if p.unit == "joints")
_SEPARATED = {";": "semicolon", "\t": "tab"}


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
    _reject_separated_names(found, missing, file)
    near = {c.upper(): c for c in found}
    hints = [f"'{near[m]}' should be '{m}'" for m in missing if m in near]
    shown = (c if c.isascii() and c.isprintable() else visible(c) for c in found)
    raise DataError(
        file,
        f"required column{'s' if len(missing) > 1 else ''} {', '.join(missing)} missing "
        f"(found: {', '.join(shown)}).",
        column=missing[0],
        fix=f"rename: {'; '.join(hints)} (names are case-sensitive)."
        if hints
        else "add the column or rename yours to the contract's name (see config/README.md).",
    )


def _reject_separated_names(found: Sequence[str], missing: Sequence[str], file: str) -> None:
    """Raise if the column names split at semicolons or tabs into the missing columns."""
    joined = ",".join(found)
    for sep, name in _SEPARATED.items():
        names = {n.strip().strip('"') for n in re.split(f"[,{sep}]", joined)}
        if sep in joined and all(set(m.split(" or ")) & names for m in missing):
            raise DataError(
                file,
                f"the file appears to be {name}-separated: the required columns "
                f"{', '.join(missing)} are found only when the header is split at {name}s.",
                fix="export it comma-separated, with ',' between fields and '.' as the decimal "
                "point.",
            )


def _numbers(
    table: pd.DataFrame,
    column: str,
    file: str,
    *,
    label: str = "",
    fix: str = _PLAIN_NUMBER,
    nullable: bool = True,
) -> pd.Series:
    """Parse a text column as finite numbers (empty cells NaN); raise on anything else.

    ``pd.to_numeric`` reads 'inf', 'nan' and '1e999' as numbers; they are rejected here too.
    """
    text = table[column]
    empty = text == ""
    values = as_floats(text)
    bad = (values.isna() & ~empty) | np.isinf(values)
    if not bad.any():
        return values
    i = _first(bad)
    value = text[i]
    problem = f"{label}{visible(value)} is not a number."
    if np.isinf(values[i]) or _NOT_FINITE.fullmatch(value):
        problem = f"{label}{visible(value)} is not a finite number."
        fix = "give the value as a finite number ('inf' and 'nan' are not values)" + (
            ", or leave the cell empty where it is missing." if nullable else "."
        )
    raise DataError(file, problem, row=int(table.at[i, ROW]), column=column, fix=fix)


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
                lambda v, c=column: f"unknown {c} {visible(v)}.",
                fix=f"use one of {', '.join(allowed)}.",
            )
        if "number" in types or "integer" in types:
            values = _numbers(table, column, file, nullable="null" in types)
            if "integer" in types:
                _raise_at(
                    table,
                    (values % 1 != 0) & values.notna(),
                    file,
                    column,
                    lambda v: f"{visible(v)} is not a whole number.",
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
                lambda v: f"{visible(v)} is not a date.",
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


def _check_subjects(
    subjects: pd.DataFrame, file: str, used: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """Check the subjects table; ``used`` columns (column -> config key using it) must exist."""
    _require_columns(subjects, SUBJECT_COLUMNS, file)
    for column, user in (used or {}).items():
        if column not in subjects.columns:
            found = ", ".join(c for c in subjects.columns if c != ROW)
            raise DataError(
                file,
                f"column {column} missing (found: {found}); {user} uses it.",
                column=column,
                fix=f"add the column {column} (cells may be empty where unknown), or remove "
                f"'{user.rsplit(': ', 1)[-1]}' from {user.rsplit(': ', 1)[0]}.",
            )
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
            f"USUBJID {visible(uid)} appears on more than one row (rows {first} and "
            f"{subjects.at[i, ROW]}).",
            row=int(subjects.at[i, ROW]),
            column="USUBJID",
            fix="keep one row per subject.",
        )
    return subjects


def _lookup(cells: pd.Series, mapping: Mapping) -> pd.Series:
    """``cells.map(mapping)`` through the distinct values (fast on a million text cells)."""
    codes, distinct = pd.factorize(cells)
    values = pd.Series([mapping.get(v) for v in distinct], dtype=object)
    out = values.reindex(codes).set_axis(cells.index)
    return out.infer_objects() if len(out) else out


def _known_subjects(table: pd.DataFrame, file: str, subjects: pd.DataFrame) -> None:
    """Raise at the first row whose subject is not in the subjects table."""
    _raise_at(
        table,
        ~table["USUBJID"].isin(subjects["USUBJID"]),
        file,
        "USUBJID",
        lambda v: f"USUBJID {visible(v)} is not in the subjects table.",
        fix="add the subject to the subjects table or correct the identifier.",
    )


def _check_measurements(meas: pd.DataFrame, file: str, subjects: pd.DataFrame) -> pd.DataFrame:
    _require_columns(meas, MEASUREMENT_COLUMNS, file, any_of=VISIT_COLUMNS)
    _reject_reserved(meas, file)
    # extra columns are allowed but unused: set aside, none can collide with a working column
    meas = meas[[c for c in meas.columns if c in MEASUREMENTS_SCHEMA["properties"] or c == ROW]]
    meas = meas.copy()
    for column in OPTIONAL_MEASUREMENT_COLUMNS:
        if column not in meas.columns:
            meas[column] = ""
    raw_aval, raw_avalc = meas["AVAL"], meas["AVALC"]
    meas = _validate(meas, MEASUREMENTS_SCHEMA, file, skip=("AVAL", "AVALC"))
    _known_subjects(meas, file, subjects)
    _raise_at(
        meas,
        meas["ADY"] == 0,
        file,
        "ADY",
        "study day 0 does not exist: CDISC counts the day of first dose as day 1 and the day "
        "before it as day -1.",
        fix="give the study day as CDISC counts it; if your days count the first dose as day 0, "
        "add 1 to every day from it on.",
    )
    meas["AVAL"], meas["CENS"] = _parse_results(meas, file)
    meas["AVALC"] = raw_avalc
    _check_counts(meas, raw_aval, file)
    beyond_limit = raw_avalc.str.startswith(("<", ">"))
    meas[GIVEN] = raw_aval.where((raw_aval != "") & ~beyond_limit, raw_avalc)
    meas[GIVEN_UNIT] = meas["AVALU"]

    spellings = meas["AVALU"].unique()
    spelled = _lookup(meas["AVALU"], dict(zip(spellings, map(unit_key, spellings), strict=True)))
    key = meas["PARAMCD"] + "\x1f" + spelled
    factors = _lookup(
        key,
        {
            f"{p.code}\x1f{unit_key(u)}": f
            for p in PARAMETERS.values()
            for u, f in p.conversions.items()
        },
    )
    unknown = factors.isna()
    if unknown.any():
        i = _first(unknown)
        code, unit = meas.at[i, "PARAMCD"], meas.at[i, "AVALU"]
        accepted = ", ".join(repr(u) for u in PARAMETERS[code].conversions)
        raise DataError(
            file,
            f"unit {visible(unit)} is not known for {code}.",
            row=int(meas.at[i, ROW]),
            column="AVALU",
            fix=f"use one of {accepted}; il6fit converts them to {PARAMETERS[code].unit}.",
        )
    meas["AVAL"] = meas["AVAL"] * factors
    for column in ("LLOQ", "ULOQ"):
        meas[column] = meas[column] * factors
    meas["AVALU"] = _lookup(meas["PARAMCD"], {c: p.unit for c, p in PARAMETERS.items()})

    lower = _lookup(meas["PARAMCD"], {c: p.lower for c, p in PARAMETERS.items()})
    upper = _lookup(meas["PARAMCD"], {c: p.upper for c, p in PARAMETERS.items()})
    inclusive = _lookup(meas["PARAMCD"], {c: p.lower_inclusive for c, p in PARAMETERS.items()})
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
            f"a censored result ({visible(meas.at[i, 'AVALC'])}) is not allowed for "
            f"{meas.at[i, 'PARAMCD']}.",
            row=int(meas.at[i, ROW]),
            column="AVALC",
            fix=f"give the value itself; only {', '.join(CENSORABLE)} can be reported below or "
            "above a limit.",
        )
    return meas


def _reject_reserved(meas: pd.DataFrame, file: str) -> None:
    """Raise for an input column named like one il6fit adds while preparing the table."""
    for name, use in RESERVED_COLUMNS.items():
        if name in meas.columns:
            raise DataError(
                file,
                f"column {name} is reserved by il6fit (it holds {use}).",
                column=name,
                fix="rename or drop the column.",
            )


def _check_counts(meas: pd.DataFrame, raw_aval: pd.Series, file: str) -> None:
    """Raise for a joint count that is not a whole number."""
    fractional = meas["PARAMCD"].isin(_COUNTS) & (meas["AVAL"] % 1 != 0)
    if not fractional.any():
        return
    i = _first(fractional)
    param = PARAMETERS[meas.at[i, "PARAMCD"]]
    raise DataError(
        file,
        f"{param.code} {meas.at[i, 'AVAL']:g} is not a whole number: joint counts are whole "
        "numbers.",
        row=int(meas.at[i, ROW]),
        column="AVAL" if raw_aval[i] != "" else "AVALC",
        fix=f"give the number of joints, a whole number from {param.lower:g} to {param.upper:g}.",
    )


def _parse_results(meas: pd.DataFrame, file: str) -> tuple[pd.Series, pd.Series]:
    """Return (value, censoring) from AVAL, or from AVALC where AVAL is empty or a limit."""
    categorical = meas["PARAMCD"].isin(CATEGORICAL)
    if categorical.any():  # response categories: il6fit.data.responses
        numeric = _parse_results(meas[~categorical], file)
        parts = zip(numeric, category_results(meas[categorical], file), strict=True)
        return tuple(pd.concat(p).reindex(meas.index) for p in parts)
    aval, avalc = meas["AVAL"], meas["AVALC"]
    number = _numbers(
        meas,
        "AVAL",
        file,
        label="AVAL ",
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
        lambda v: f"AVALC {visible(v)} is neither a number nor a limit such as '<1.5' or '>5000'.",
        fix="give a number, or '<' or '>' followed by the assay limit.",
    )
    limit_value = pd.to_numeric(parsed["num"])
    _raise_at(
        meas,
        np.isinf(limit_value),
        file,
        "AVALC",
        lambda v: f"AVALC {visible(v)} is not a finite number.",
        fix="give a number, or '<' or '>' followed by the assay limit.",
    )
    disagree = limit & number.notna() & ~np.isclose(number, limit_value, rtol=_AGREEMENT)
    _raise_at(
        meas,
        disagree,
        file,
        "AVAL",
        lambda v: f"AVAL {visible(v)} disagrees with the limit in AVALC.",
        fix="leave AVAL empty for a result beyond a limit, or give the limit in both.",
    )
    _check_repeated_result(meas, number, from_avalc, file)
    value = number.where(~from_avalc, limit_value)
    cens = parsed["op"].map(_CENSORING).fillna(0).astype(int)
    return value, cens


def _check_repeated_result(
    meas: pd.DataFrame, number: pd.Series, from_avalc: pd.Series, file: str
) -> None:
    """Raise where AVALC repeats AVAL as a number, but a different one."""
    avalc = meas["AVALC"]
    repeated = as_floats(avalc.where(~from_avalc, ""))
    differ = np.isfinite(repeated) & ~np.isclose(number, repeated, rtol=_AGREEMENT, atol=0)
    if not differ.any():
        return
    i = _first(differ)
    raise DataError(
        file,
        f"AVAL {visible(meas.at[i, 'AVAL'])} and AVALC {visible(avalc[i])} disagree: AVALC "
        "repeats the result as text, but holds another number.",
        row=int(meas.at[i, ROW]),
        column="AVAL",
        fix="correct whichever is wrong, or leave AVALC empty.",
    )


def _duplicates(meas: pd.DataFrame, file: str) -> pd.Series:
    """Ledger reasons of exact repeats; a repeat with another result is an error."""
    dup = meas.duplicated(_KEY, keep=False)
    if not dup.any():
        return pd.Series(dtype=str)
    group = meas[dup]
    columns = [ROW, "AVAL", "CENS", GIVEN, GIVEN_UNIT]
    first = group.groupby(_KEY, sort=False)[columns].transform("first")
    # the same result in two units may differ in its last bits once converted
    same = np.isclose(group["AVAL"], first["AVAL"], rtol=_AGREEMENT, atol=0)
    conflict = ~same | (group["CENS"] != first["CENS"])
    if conflict.any():
        i = _first(conflict)
        other = group.loc[i]
        raise DataError(
            file,
            f"conflicting duplicate: {other['PARAMCD']} of {other['USUBJID']} at visit "
            f"{other['AVISITN']:g} is {_as_given(first.loc[i], other['PARAMCD'])} on row "
            f"{first.at[i, ROW]} and {_as_given(other, other['PARAMCD'])} here.",
            row=int(other[ROW]),
            column="AVAL",
            fix="keep one result per subject, parameter and visit.",
        )
    repeat = group[ROW] != first[ROW]
    other_unit = group[GIVEN_UNIT].map(unit_key) != first[GIVEN_UNIT].map(unit_key)
    note = pd.Series(np.where(other_unit, " (in another unit)", ""), index=group.index)
    return pd.Series(
        ("duplicate: same result as row " + first[ROW].astype(str) + note)[repeat].to_numpy(),
        index=group.loc[repeat, ROW].to_numpy(),
        dtype=str,
    )


def _as_given(row: pd.Series, code: str) -> str:
    """Write a result as given, e.g. ``0.52 mg/dL``, and its prepared value if that differs."""
    param = PARAMETERS[code]
    given = f"{row[GIVEN]} {row[GIVEN_UNIT]}".strip()
    factor = {unit_key(u): f for u, f in param.conversions.items()}[unit_key(row[GIVEN_UNIT])]
    sign = {-1: "<", 1: ">"}.get(int(row["CENS"]), "")
    censored_at_limit = bool(sign) and not row[GIVEN].startswith(("<", ">"))
    if factor == 1 and not censored_at_limit:
        return given
    return f"{given} ({sign}{row['AVAL']:g} {param.unit})"
