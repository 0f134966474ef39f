"""Import the Tongji Hospital COVID-19 cohort into the data contract.

Source: Yan L. et al., "An interpretable mortality prediction model for COVID-19 patients",
*Nature Machine Intelligence* 2020;2:283-288, data of the public repository
HAIRLAB/Pre_Surv_COVID_19 (MIT licence), file ``time_series_375_prerpocess_en.xlsx``: 375
patients admitted to Tongji Hospital, Wuhan, January-February 2020, one row per laboratory draw
time. Users obtain the file from that repository; il6fit does not ship it.

How the source becomes the contract:

* ``PATIENT_ID`` is filled only on each patient's first row; later rows belong to the last ID
  above them (forward fill). ``USUBJID`` is ``TJ-<id>`` (three digits).
* One study and one site (``TONGJI-COVID19``, ``TONGJI``); the source records no treatment, so
  ``TRT01P`` is ``Not recorded``. ``AGE`` from ``age``; ``SEX`` from ``gender`` (1 = M, 2 = F);
  ``BMI`` is empty (not recorded); ``TRTSDT`` is the admission date, so study day 1 is the day of
  admission; ``DTHFL`` (``Y``/``N``) from ``outcome`` (1 = died).
* Results: ``Interleukin 6`` -> ``IL6`` (pg/mL, assay range 1.5-5000), ``High sensitivity
  C-reactive protein`` -> ``CRP`` (mg/L, range 0.1-320), ``ESR`` -> ``ESR`` (mm/h). The assay
  limits are written as per-row ``LLOQ``/``ULOQ``, so preparation turns values at 1.5 and 5000
  pg/mL, or 0.1 and 320 mg/L, into censored results. Other laboratory values are not imported.
* ``RE_DATE`` (draw time) gives ``ADT`` (its date) and ``ADY`` (calendar days from admission,
  day 1 = admission day); ``AVISITN`` is left empty for preparation to map study days to visits
  (``prepare.visit_weeks``, ``prepare.visit_window_days``). ``SRCROW`` is the source row.
* The import ledger lists every source row: ``used`` when it gave at least one result, else
  ``excluded`` with the reason.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from il6fit.errors import DataError

STUDY = "TONGJI-COVID19"
SITE = "TONGJI"
ARM = "Not recorded"

#: Imported results: (PARAMCD, source column, unit, LLOQ, ULOQ); limits from the source README.
RESULTS = (
    ("IL6", "Interleukin 6", "pg/mL", 1.5, 5000.0),
    ("CRP", "High sensitivity C-reactive protein", "mg/L", 0.1, 320.0),
    ("ESR", "ESR", "mm/h", None, None),
)
_SOURCE_COLUMNS = ("PATIENT_ID", "RE_DATE", "age", "gender", "Admission time", "outcome")
_SEXES = {1: "M", 2: "F"}
#: Columns of the import ledger.
IMPORT_LEDGER_COLUMNS = ("file", "row", "USUBJID", "status", "reason", "results")
#: Spreadsheet rows are counted as in a spreadsheet program: the header is row 1.
_FIRST_ROW = 2


@dataclass(frozen=True)
class Imported:
    """A source turned into the data contract.

    Attributes
    ----------
    subjects, measurements : pandas.DataFrame
        The two contract tables, ready for :func:`il6fit.data.prepare` (after writing them out
        and reading them back with :func:`il6fit.data.read_table`).
    ledger : pandas.DataFrame
        One row per source row (:data:`IMPORT_LEDGER_COLUMNS`); ``results`` is how many
        measurement rows it gave.
    """

    subjects: pd.DataFrame
    measurements: pd.DataFrame
    ledger: pd.DataFrame


def import_tongji(path: str | Path) -> Imported:
    """Read the Tongji COVID-19 workbook and return it in the data contract.

    Parameters
    ----------
    path : str or Path
        ``time_series_375_prerpocess_en.xlsx``.

    Returns
    -------
    Imported
        Subjects, measurements and the ledger of source rows.

    Raises
    ------
    DataError
        If the file cannot be read, lacks a column, or has a value the import cannot place
        (naming the spreadsheet row and column).
    """
    file = str(path)
    try:
        source = pd.read_excel(path, engine="openpyxl")
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
        raise DataError(
            file,
            f"cannot be read as an Excel workbook: {err}",
            fix="download time_series_375_prerpocess_en.xlsx again from HAIRLAB/Pre_Surv_COVID_19.",
        ) from None
    missing = [c for c in (*_SOURCE_COLUMNS, *(r[1] for r in RESULTS)) if c not in source]
    if missing:
        raise DataError(
            file,
            f"column {missing[0]} missing; this does not look like the Tongji workbook.",
            column=missing[0],
            fix="point the dataset's `path` at time_series_375_prerpocess_en.xlsx.",
        )
    source = source.reset_index(drop=True)
    row = pd.Series(np.arange(len(source)) + _FIRST_ROW, index=source.index)
    patient = source["PATIENT_ID"].ffill()
    _check(file, row, patient.isna(), "PATIENT_ID", "rows above the first patient ID.")
    source["USUBJID"] = "TJ-" + patient.astype(int).map("{:03d}".format)

    subjects = _subjects(source, row, file)
    measurements = _measurements(source, row, file)
    written = measurements.groupby("SRCROW").size()
    results = row.map(written).fillna(0).astype(int)
    has_value = source[[r[1] for r in RESULTS]].notna().any(axis=1)
    reason = np.select(
        [results > 0, has_value],
        ["", "no draw time (RE_DATE empty) for its results"],
        "no IL-6, hs-CRP or ESR result (only other laboratory values)",
    )
    ledger = pd.DataFrame(
        {
            "file": file,
            "row": row,
            "USUBJID": source["USUBJID"],
            "status": np.where(results > 0, "used", "excluded"),
            "reason": reason,
            "results": results,
        }
    )
    return Imported(subjects=subjects, measurements=measurements, ledger=ledger)


def _check(file: str, row: pd.Series, bad: pd.Series, column: str, problem: str) -> None:
    if bad.any():
        raise DataError(
            file,
            problem,
            row=int(row[bad.idxmax()]),
            column=column,
            fix="the import expects the workbook as published; restore the original file.",
        )


def _subjects(source: pd.DataFrame, row: pd.Series, file: str) -> pd.DataFrame:
    """One row per patient; per-patient columns must not change between a patient's rows."""
    per_patient = ["age", "gender", "Admission time", "outcome"]
    first = source.groupby("USUBJID", sort=False)[per_patient].transform("first")
    for column in per_patient:
        _check(
            file,
            row,
            source[column].ne(first[column]) & source[column].notna(),
            column,
            f"{column} differs from the value on the patient's first row.",
        )
    patients = source.drop_duplicates("USUBJID")
    sex = patients["gender"].map(_SEXES)
    _check(file, row, sex.isna(), "gender", "gender is neither 1 (male) nor 2 (female).")
    _check(file, row, patients["Admission time"].isna(), "Admission time", "no admission time.")
    return pd.DataFrame(
        {
            "USUBJID": patients["USUBJID"],
            "STUDYID": STUDY,
            "SITEID": SITE,
            "TRT01P": ARM,
            "AGE": patients["age"],
            "SEX": sex,
            "BMI": "",
            "TRTSDT": patients["Admission time"].dt.strftime("%Y-%m-%d"),
            "DTHFL": np.where(patients["outcome"] == 1, "Y", "N"),
        }
    ).reset_index(drop=True)


def _measurements(source: pd.DataFrame, row: pd.Series, file: str) -> pd.DataFrame:
    """One row per reported IL-6, hs-CRP or ESR result with a draw time."""
    drawn = source["RE_DATE"].notna()
    days = (source["RE_DATE"].dt.normalize() - source["Admission time"].dt.normalize()).dt.days
    # CDISC study days have no day 0: the admission day is day 1, the day before it day -1
    study_day = days + (days >= 0)
    parts = []
    for order, (code, column, unit, lloq, uloq) in enumerate(RESULTS):
        present = source[column].notna() & drawn
        values = source.loc[present, column]
        text = values.map(lambda v: f"{v:.15g}" if isinstance(v, int | float) else str(v).strip())
        numeric = values.map(lambda v: isinstance(v, int | float))
        parts.append(
            pd.DataFrame(
                {
                    "USUBJID": source.loc[present, "USUBJID"],
                    "PARAMCD": code,
                    # a text result (such as '<1.5') goes to AVALC only, for preparation to parse
                    "AVAL": text.where(numeric, ""),
                    "AVALC": text,
                    "AVALU": unit,
                    "AVISITN": "",
                    "ADY": study_day[present].astype(int),
                    "ADT": source.loc[present, "RE_DATE"].dt.strftime("%Y-%m-%d"),
                    "LLOQ": "" if lloq is None else f"{lloq:g}",
                    "ULOQ": "" if uloq is None else f"{uloq:g}",
                    "SRCROW": row[present],
                    "_order": order,
                }
            )
        )
    measurements = pd.concat(parts).sort_values(["SRCROW", "_order"], kind="stable")
    return measurements.drop(columns="_order").reset_index(drop=True)
