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
* response rows (EULAR, ACR20/50/70) give a category (the schema's ``categories``), stored as
  its number with unit ``category`` (:mod:`il6fit.data.responses`); a response at week 0 is an
  error;
* DAS28-CRP and DAS28-ESR are derived from their four components wherever all are present;
  a supplied score is then superseded and its row ledgered with the difference; a score from
  a component beyond its assay limit is censored at the score with the component at its limit
  (``CENS`` -1 / +1), never exact;
* EULAR response and remission are derived per subject at a landmark week, where the scores'
  bounds decide them; a supplied EULAR row that DAS28 at week 0 and its visit decide is
  superseded and ledgered (agrees or disagrees);
* a subject lacking a covariate a configured model uses (``subject_columns``) is kept for the
  model to model the value (``missing="model"``) or excluded with all of their rows, each
  ledgered (``missing="drop"``); a used column absent from the table is an error;
* the reader (:mod:`il6fit.data.read`) names files that are not comma-separated UTF-8, removes
  invisible characters from cells, and reads Parquet dates, float32 values and a subject
  identifier in the index as their CSV export would be;
* anything else wrong (non-finite numbers, study day 0, a visit contradicting its study day,
  reserved column names, ...) stops with a :class:`~il6fit.errors.DataError` naming file, row
  and column; crossed config limits with a :class:`~il6fit.errors.SpecError`.

The checks are in :mod:`il6fit.data.checks`, visit mapping in :mod:`il6fit.data.visits`, and
censoring at limits, exclusion rules and derived scores in :mod:`il6fit.data.derivation`; this
module runs them in order and keeps the ledger.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from il6fit.data.checks import _check_measurements, _check_subjects, _duplicates
from il6fit.data.derivation import (
    PREPARED_COLUMNS,
    _apply_limits,
    _derive_das28,
    _excluded_by_rules,
    _supplied_responses,
    response_table,
)
from il6fit.data.dosing import DOSING_COLUMNS, check_dosing, empty_dosing
from il6fit.data.read import ROW
from il6fit.data.visits import _assign_visits
from il6fit.errors import SpecError

LEDGER_COLUMNS = ("table", "file", "row", "USUBJID", "PARAMCD", "AVISITN", "status", "reason")


@dataclass(frozen=True)
class Prepared:
    """A validated, harmonised dataset.

    Attributes
    ----------
    subjects : pandas.DataFrame
        One row per subject; ``AGE`` and ``BMI`` numeric (``BMI`` empty where unknown).
    measurements : pandas.DataFrame
        Columns :data:`~il6fit.data.derivation.PREPARED_COLUMNS`; ``AVAL`` in the canonical
        unit ``AVALU``; ``CENS`` is -1 (below the lower limit, ``AVAL`` is that limit), 0, or +1
        (above the upper limit), for a derived score the bound its censored component gives;
        a response (EULAR, ACR) is its category's number, unit ``category``; ``SOURCE`` is
        ``reported`` or ``derived``; ``ROW`` is the input row (0 when derived).
    ledger : pandas.DataFrame
        One row per input row of both tables, columns :data:`LEDGER_COLUMNS`.
    dosing : pandas.DataFrame
        The tocilizumab doses of a dosing table (:mod:`il6fit.data.dosing`), columns
        :data:`~il6fit.data.dosing.DOSING_COLUMNS`; rows left out are in the ledger only. Empty
        without a dosing table.
    response : pandas.DataFrame
        One row per subject and DAS28 score (:data:`~il6fit.data.derivation.RESPONSE_COLUMNS`):
        baseline (week 0) and landmark values with their censoring, change, EULAR response
        (``good``/``moderate``/``none``, empty without both visits or where a censored score's
        bounds leave it open), remission (``Y`` if the landmark score is below 2.6, empty
        without it or if open) and a note on censored scores.
    """

    subjects: pd.DataFrame
    measurements: pd.DataFrame
    ledger: pd.DataFrame
    response: pd.DataFrame
    dosing: pd.DataFrame


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
    missing: str = "model",
    subject_columns: Mapping[str, str] | None = None,
    dosing: pd.DataFrame | None = None,
    dosing_file: str = "",
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
    missing : {"model", "drop"}
        A subject lacking a value of a column in ``subject_columns``: kept, the models
        modelling the missing value (``model``), or excluded with all of their rows, each
        ledgered (``drop``: complete cases for every model of the dataset).
    subject_columns : mapping of str to str, optional
        Subjects-table columns the dataset's models use (such as ``AGE``), each with what uses
        it (a config key, for the message): the table must have them. Columns no model uses
        (AGE, SEX, BMI) may be absent.
    dosing : pandas.DataFrame, optional
        A dosing table (:mod:`il6fit.data.dosing`), as :func:`il6fit.data.read_table` returns
        it.
    dosing_file : str
        Its file name, for error messages and the ledger.

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
    if missing not in ("model", "drop"):
        raise SpecError(f"prepare.missing must be 'model' or 'drop', not '{missing}'.")
    subject_columns = dict(subject_columns or {})
    subjects = _check_subjects(subjects, subjects_file, subject_columns)
    meas = _check_measurements(measurements, measurements_file, subjects)
    dropped = _incomplete(subjects, subject_columns) if missing == "drop" else pd.Series(dtype=str)
    meas, reasons = _assign_visits(
        meas, subjects, measurements_file, visit_weeks, visit_window_days
    )
    reasons = reasons.combine_first(_excluded_by_rules(meas, subjects, exclude))
    reasons = reasons.combine_first(_of_dropped(meas["USUBJID"], meas[ROW], dropped))
    meas = _apply_limits(meas, measurements_file, limits or {})
    reasons = reasons.combine_first(
        _duplicates(meas[~meas[ROW].isin(reasons.index)], measurements_file)
    )
    kept = meas[~meas[ROW].isin(reasons.index)]
    derived, superseded = _derive_das28(kept)
    reasons = reasons.combine_first(superseded)
    kept = kept[~kept[ROW].isin(superseded.index)]
    superseded = _supplied_responses(kept, derived, measurements_file)
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
                    "status": np.where(subjects["USUBJID"].isin(dropped.index), "excluded", "used"),
                    "reason": subjects["USUBJID"].map(dropped).astype(object).fillna(""),
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
    doses = empty_dosing()
    if dosing is not None:
        doses, left_out = check_dosing(dosing, dosing_file, subjects)
        left_out = left_out.combine_first(_of_dropped(doses["USUBJID"], doses["ROW"], dropped))
        why = doses["ROW"].map(left_out).astype(object).fillna("")
        ledger = pd.concat(
            [
                ledger,
                pd.DataFrame(
                    {
                        "table": "dosing",
                        "file": dosing_file,
                        "row": doses["ROW"],
                        "USUBJID": doses["USUBJID"],
                        "PARAMCD": "EXDOSE",
                        "AVISITN": doses["DAY"] / 7,
                        "status": np.where(why == "", "used", "excluded"),
                        "reason": why,
                    }
                ),
            ],
            ignore_index=True,
        )
        doses = doses[why == ""].sort_values(["USUBJID", "DAY"], kind="stable")
        doses = doses.reset_index(drop=True)[list(DOSING_COLUMNS)]
    subjects = subjects[~subjects["USUBJID"].isin(dropped.index)]
    return Prepared(
        subjects=subjects.drop(columns=[ROW]).reset_index(drop=True),
        measurements=prepared,
        ledger=ledger,
        response=response_table(prepared, subjects, landmark_week=landmark_week),
        dosing=doses,
    )


def _of_dropped(ids: pd.Series, rows: pd.Series, dropped: pd.Series) -> pd.Series:
    """Ledger reasons, by input row, of the rows of subjects dropped (``dropped``, by ID)."""
    reasons = pd.Series(ids.map(dropped).to_numpy(), index=rows.to_numpy(), dtype=object)
    return reasons.dropna().astype(str)


def _incomplete(subjects: pd.DataFrame, columns: Mapping[str, str]) -> pd.Series:
    """Ledger reasons of the subjects lacking a value of a used column, by ``USUBJID``."""
    reasons = pd.Series(dtype=str)
    for column, user in columns.items():
        empty = subjects[column].isna() | (subjects[column].astype(str) == "")
        reasons = reasons.combine_first(
            pd.Series(
                f"missing covariate: {column} is empty for this subject and {user} uses it "
                "(prepare.missing: drop)",
                index=subjects.loc[empty, "USUBJID"].to_numpy(),
                dtype=str,
            )
        )
    return reasons


def read_dosing(path: str) -> pd.DataFrame:
    """Read prepared dosing records (:attr:`Prepared.dosing`) written as CSV.

    Parameters
    ----------
    path : str
        The file.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`~il6fit.data.dosing.DOSING_COLUMNS`.
    """
    return pd.read_csv(path, dtype={"USUBJID": str, "DOSEU": str, "ROUTE": str})


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
