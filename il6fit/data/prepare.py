"""Validate and harmonise subjects + measurements, derive scores, and keep a ledger of every row.

Rules (also in ``config/README.md``):

* both tables are checked against their schemas (``il6fit/data/schemas/``): columns, types,
  allowed codes and units, plausible ranges;
* every value is converted to its parameter's canonical unit; an unknown unit is an error;
* ``<x`` / ``>x`` results, and values at or beyond a declared assay limit (per-row
  ``LLOQ``/``ULOQ`` columns, else per-parameter limits from the config), become left/right
  censored results whose value is the limit (``CENS`` = -1 / +1);
* a row without ``AVISITN`` gets the scheduled visit whose target day (``7 * week + 1``) is
  nearest its study day (``ADY``, or ``ADT`` counted from the subject's ``TRTSDT``), within a
  window; a row outside every window, or farther from the target than another result of the same
  subject, parameter and visit, is excluded and ledgered;
* rows matched by an ``exclude`` rule of the config are excluded and ledgered with the rule;
* every ledger reason reads ``<kind>: <details>``, so reasons can be counted by kind;
* an exact duplicate row is excluded and ledgered; a conflicting duplicate is an error;
* DAS28-CRP and DAS28-ESR are derived from their four components wherever all are present;
  a supplied score is then superseded and its row ledgered with the difference;
* EULAR response and remission are derived per subject at a landmark week;
* anything else wrong stops with a :class:`~il6fit.errors.DataError` naming file, row and column.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

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
from il6fit.data.scores import DAS28_REMISSION, das28_crp, das28_esr, eular_response
from il6fit.errors import DataError, SpecError

LEDGER_COLUMNS = ("table", "file", "row", "USUBJID", "PARAMCD", "AVISITN", "status", "reason")
#: Columns of the prepared measurements table.
PREPARED_COLUMNS = ("USUBJID", "PARAMCD", "AVISITN", "AVAL", "AVALU", "CENS", "SOURCE", "ROW")
#: Columns of the per-subject response table.
RESPONSE_COLUMNS = (
    "USUBJID",
    "TRT01P",
    "PARAMCD",
    "LANDMARK",
    "BASE",
    "AVAL",
    "CHG",
    "EULAR",
    "REMISS",
)

_RESULT = re.compile(
    r"^(?P<op><=|>=|<|>)?\s*(?P<num>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)$"
)
_CENSORING = {"<": -1, "<=": -1, ">": 1, ">=": 1}
_DAS28_TOLERANCE = 0.01
_AGREEMENT = 1e-6
_KEY = ["USUBJID", "PARAMCD", "AVISITN"]


@dataclass(frozen=True)
class Prepared:
    """A validated, harmonised dataset.

    Attributes
    ----------
    subjects : pandas.DataFrame
        One row per subject; ``AGE`` and ``BMI`` numeric (``BMI`` empty where unknown).
    measurements : pandas.DataFrame
        Columns :data:`PREPARED_COLUMNS`; ``AVAL`` in the canonical unit ``AVALU``; ``CENS`` is
        -1 (below the lower limit, ``AVAL`` is that limit), 0, or +1 (above the upper limit);
        ``SOURCE`` is ``reported`` or ``derived``; ``ROW`` is the input row (0 when derived).
    ledger : pandas.DataFrame
        One row per input row of both tables, columns :data:`LEDGER_COLUMNS`.
    response : pandas.DataFrame
        One row per subject and DAS28 score (:data:`RESPONSE_COLUMNS`): baseline (week 0) and
        landmark values, change, EULAR response (``good``/``moderate``/``none``, empty without
        both visits) and remission (``Y`` if the landmark score is below 2.6, empty without it).
    """

    subjects: pd.DataFrame
    measurements: pd.DataFrame
    ledger: pd.DataFrame
    response: pd.DataFrame


def prepare(
    subjects: pd.DataFrame,
    measurements: pd.DataFrame,
    *,
    subjects_file: str,
    measurements_file: str,
    limits: Mapping[str, Mapping[str, float]] | None = None,
    visit_weeks: Sequence[float] = (),
    visit_window_days: float = 3,
    exclude: Sequence[Mapping] = (),
    landmark_week: float = 24,
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
    visit_weeks : sequence of float
        Scheduled visits (weeks) for rows that give a study day or date instead of ``AVISITN``.
    visit_window_days : float
        How far (days) a study day may lie from a visit's target day ``7 * week + 1``.
    exclude : sequence of mapping
        Exclusion rules, each with ``paramcd`` (a code or list of codes) and optionally
        ``after_week`` (only visits after it), ``arms_matching`` (a regular expression searched
        in ``TRT01P``) and ``reason`` (text for the ledger).
    landmark_week : float
        Visit at which EULAR response and remission are assessed against week 0.

    Returns
    -------
    Prepared
        Harmonised tables, the ledger and the response table.

    Raises
    ------
    DataError
        On the first problem found, naming file, row and column.
    SpecError
        If an exclusion rule names an unknown code or an invalid regular expression.
    """
    subjects = _check_subjects(subjects, subjects_file)
    meas = _check_measurements(measurements, measurements_file, subjects)
    meas, reasons = _assign_visits(
        meas, subjects, measurements_file, visit_weeks, visit_window_days
    )
    reasons = reasons.combine_first(_excluded_by_rules(meas, subjects, exclude))
    meas = _apply_limits(meas, measurements_file, limits or {})
    reasons = reasons.combine_first(
        _duplicates(meas[~meas[ROW].isin(reasons.index)], measurements_file)
    )
    kept = meas[~meas[ROW].isin(reasons.index)]
    derived, superseded = _derive_das28(kept)
    reasons = reasons.combine_first(superseded)
    kept = kept[~kept[ROW].isin(superseded.index)]

    prepared = pd.concat(
        [kept.assign(SOURCE="reported").rename(columns={ROW: "ROW"}), derived],
        ignore_index=True,
    )[list(PREPARED_COLUMNS)].astype({"AVISITN": float, "AVAL": float, "CENS": int, "ROW": int})
    prepared = prepared.sort_values(["USUBJID", "AVISITN", "PARAMCD"], kind="stable")
    prepared = prepared.reset_index(drop=True)

    reason = pd.Series("", index=meas.index)
    excluded = meas[ROW].isin(reasons.index)
    reason[excluded] = meas.loc[excluded, ROW].map(reasons)
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
                    "row": meas[ROW],
                    "USUBJID": meas["USUBJID"],
                    "PARAMCD": meas["PARAMCD"],
                    "AVISITN": meas["AVISITN"],
                    "status": np.where(reason == "", "used", "excluded"),
                    "reason": reason,
                }
            ),
        ],
        ignore_index=True,
    )[list(LEDGER_COLUMNS)]
    return Prepared(
        subjects=subjects.drop(columns=[ROW]).reset_index(drop=True),
        measurements=prepared,
        ledger=ledger,
        response=response_table(prepared, subjects, landmark_week=landmark_week),
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
        Subjects (identifiers as text, ``AGE`` and ``BMI`` numeric) and measurements.
    """
    ids = {"USUBJID": str, "STUDYID": str, "SITEID": str, "TRT01P": str, "SEX": str}
    subjects_table = pd.read_csv(subjects, dtype=ids, keep_default_na=False)
    for column in ("AGE", "BMI"):
        subjects_table[column] = pd.to_numeric(subjects_table[column].replace("", np.nan))
    measurements_table = pd.read_csv(
        measurements, dtype={"USUBJID": str, "PARAMCD": str, "AVALU": str, "SOURCE": str}
    )
    return subjects_table, measurements_table


def response_table(
    measurements: pd.DataFrame, subjects: pd.DataFrame, *, landmark_week: float = 24
) -> pd.DataFrame:
    """EULAR response and remission per subject and DAS28 score at a landmark week.

    Parameters
    ----------
    measurements : pandas.DataFrame
        Prepared measurements (:data:`PREPARED_COLUMNS`).
    subjects : pandas.DataFrame
        The subjects table (for ``TRT01P``).
    landmark_week : float
        The assessment visit; baseline is week 0.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`RESPONSE_COLUMNS`, one row per subject and score with a baseline or a
        landmark value.
    """
    scores = measurements[measurements["PARAMCD"].isin(["DAS28CRP", "DAS28ESR"])]
    wide = scores[scores["AVISITN"].isin([0, landmark_week])].pivot_table(
        index=["USUBJID", "PARAMCD"], columns="AVISITN", values="AVAL", aggfunc="first"
    )
    wide = wide.reindex(columns=[0.0, float(landmark_week)])
    base, current = wide.iloc[:, 0].to_numpy(), wide.iloc[:, 1].to_numpy()
    table = pd.DataFrame(
        {
            "USUBJID": wide.index.get_level_values("USUBJID"),
            "PARAMCD": wide.index.get_level_values("PARAMCD"),
            "LANDMARK": float(landmark_week),
            "BASE": base,
            "AVAL": current,
            "CHG": current - base,
            "EULAR": eular_response(base, current),
            "REMISS": np.where(
                np.isnan(current), "", np.where(current < DAS28_REMISSION, "Y", "N")
            ),
        }
    )
    table = table.merge(subjects[["USUBJID", "TRT01P"]], on="USUBJID", how="left")
    return table[list(RESPONSE_COLUMNS)]


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


def _assign_visits(
    meas: pd.DataFrame,
    subjects: pd.DataFrame,
    file: str,
    weeks: Sequence[float],
    window: float,
) -> tuple[pd.DataFrame, pd.Series]:
    """Give every row a visit; return the rows and the ledger reasons of those without one."""
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


def _excluded_by_rules(
    meas: pd.DataFrame, subjects: pd.DataFrame, rules: Sequence[Mapping]
) -> pd.Series:
    """Ledger reasons of the rows matched by the config's exclusion rules (first rule wins)."""
    arm = meas["USUBJID"].map(subjects.set_index("USUBJID")["TRT01P"])
    reasons = pd.Series(dtype=str)
    for n, rule in enumerate(rules):
        codes = [rule["paramcd"]] if isinstance(rule["paramcd"], str) else list(rule["paramcd"])
        unknown = [c for c in codes if c not in PARAMETERS]
        if unknown:
            raise SpecError(
                f"prepare.exclude[{n}]: unknown PARAMCD {', '.join(unknown)}; use one of "
                f"{', '.join(PARAMETERS)}."
            )
        match = meas["PARAMCD"].isin(codes) & meas["AVISITN"].notna()
        what = [f"{'/'.join(codes)}"]
        if "after_week" in rule:
            match &= meas["AVISITN"] > rule["after_week"]
            what.append(f"after week {rule['after_week']:g}")
        if "arms_matching" in rule:
            try:
                pattern = re.compile(rule["arms_matching"])
            except re.error as err:
                raise SpecError(
                    f"prepare.exclude[{n}].arms_matching '{rule['arms_matching']}' is not a "
                    f"regular expression: {err}."
                ) from None
            match &= arm.str.contains(pattern, regex=True)
            what.append(f"on arms matching '{rule['arms_matching']}'")
        text = f"prepare.exclude[{n}]: {' '.join(what)}"
        if rule.get("reason"):
            text += f" ({rule['reason']})"
        reasons = reasons.combine_first(pd.Series(text, index=meas.loc[match, ROW].to_numpy()))
    return reasons


def _apply_limits(
    meas: pd.DataFrame, file: str, limits: Mapping[str, Mapping[str, float]]
) -> pd.DataFrame:
    """Censor values at or beyond their assay limits; row limits take precedence over config."""
    meas = meas.copy()
    lloq, uloq = (
        meas[column].fillna(
            meas["PARAMCD"].map({c: v.get(key, np.nan) for c, v in limits.items()}).astype(float)
        )
        for column, key in (("LLOQ", "lloq"), ("ULOQ", "uloq"))
    )
    crossed = (lloq >= uloq).fillna(False)
    if crossed.any():
        i = _first(crossed)
        raise DataError(
            file,
            f"LLOQ {lloq[i]:g} is not below ULOQ {uloq[i]:g}.",
            row=int(meas.at[i, ROW]),
            column="LLOQ",
            fix="swap or correct the limits (both in the row's unit).",
        )
    censorable = meas["PARAMCD"].isin(CENSORABLE) & (meas["CENS"] == 0)
    below = censorable & (meas["AVAL"] <= lloq)
    above = censorable & (meas["AVAL"] >= uloq)
    meas.loc[below, "AVAL"] = lloq[below]
    meas.loc[below, "CENS"] = -1
    meas.loc[above, "AVAL"] = uloq[above]
    meas.loc[above, "CENS"] = 1
    return meas


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


def _derive_das28(meas: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
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
        derived.append(
            pd.DataFrame(
                {
                    "USUBJID": complete.index.get_level_values("USUBJID"),
                    "PARAMCD": score,
                    "AVISITN": complete.index.get_level_values("AVISITN"),
                    "AVAL": formula(*(complete[c] for c in needed)),
                    "AVALU": "score",
                    "CENS": 0,
                    "SOURCE": "derived",
                    "ROW": 0,
                }
            )
        )
    if not derived:
        return pd.DataFrame(columns=list(PREPARED_COLUMNS)), pd.Series(dtype=str)
    derived = pd.concat(derived, ignore_index=True)
    supplied = meas[meas["PARAMCD"].isin(["DAS28CRP", "DAS28ESR"])].merge(
        derived[[*_KEY, "AVAL"]], on=_KEY, suffixes=("", "_derived")
    )
    # one note per supplied score: few rows, so a plain loop reads best
    notes = [
        f"supplied score superseded: {code} derived from its components agrees"
        if abs(given - computed) <= _DAS28_TOLERANCE
        else f"supplied score disagrees: {code} {given:.2f} given, {computed:.2f} derived from its "
        "components (the derived score is used)"
        for code, given, computed in zip(
            supplied["PARAMCD"], supplied["AVAL"], supplied["AVAL_derived"], strict=True
        )
    ]
    return derived, pd.Series(notes, index=supplied[ROW].to_numpy(), dtype=str)
