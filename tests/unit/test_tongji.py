"""The Tongji COVID-19 importer, on the real workbook from the shared data folder."""

from pathlib import Path

import pandas as pd
import pytest
import yaml

from il6fit.data import prepare, read_table
from il6fit.data.tongji import import_tongji
from il6fit.errors import DataError

ROOT = Path(__file__).resolve().parents[2]
WORKBOOK = ROOT.parent / "shared" / "data" / "tongji-covid19" / "time_series_375_prerpocess_en.xlsx"
SOURCE_ROWS = 6120  # README of the shared data: 6,120 rows x 81 columns, 375 patients

needs_workbook = pytest.mark.skipif(not WORKBOOK.is_file(), reason=f"{WORKBOOK} not present")


@pytest.fixture(scope="module")
def imported():
    return import_tongji(WORKBOOK)


@pytest.fixture(scope="module")
def prepared(imported, tmp_path_factory):
    folder = tmp_path_factory.mktemp("tongji")
    imported.subjects.to_csv(folder / "subjects.csv", index=False)
    imported.measurements.to_csv(folder / "measurements.csv", index=False)
    options = yaml.safe_load((ROOT / "config" / "tongji.yaml").read_text())["prepare"]
    return prepare(
        read_table(folder / "subjects.csv"),
        read_table(folder / "measurements.csv"),
        subjects_file="subjects.csv",
        measurements_file="measurements.csv",
        **options,
    )


@needs_workbook
def test_every_source_row_is_in_the_import_ledger(imported):
    ledger = imported.ledger
    assert len(ledger) == SOURCE_ROWS
    assert ledger["row"].tolist() == list(range(2, SOURCE_ROWS + 2))
    assert ledger["status"].value_counts().sum() == SOURCE_ROWS
    assert ledger["results"].sum() == len(imported.measurements)
    assert (ledger.loc[ledger["status"] == "excluded", "results"] == 0).all()
    assert (ledger.loc[ledger["status"] == "used", "results"] > 0).all()


@needs_workbook
def test_patient_ids_are_filled_down_and_subjects_follow_the_contract(imported):
    subjects = imported.subjects
    assert len(subjects) == 375
    assert subjects["USUBJID"].is_unique
    assert set(subjects["SEX"]) == {"M", "F"}
    assert (subjects["BMI"] == "").all()
    assert (subjects["DTHFL"] == "Y").sum() == 174  # README: 174 died
    # the second source row has no PATIENT_ID of its own: it belongs to patient 1
    assert imported.ledger.loc[1, "USUBJID"] == "TJ-001"


@needs_workbook
def test_prepared_ledger_adds_up_to_the_imported_rows(imported, prepared):
    ledger = prepared.ledger
    rows = ledger[ledger["table"] == "measurements"]
    assert len(rows) == len(imported.measurements)
    assert rows["row"].tolist() == list(range(2, len(imported.measurements) + 2))
    counts = rows["status"].value_counts()
    assert counts.sum() == len(imported.measurements)
    assert counts["used"] == len(prepared.measurements)
    reasons = rows.loc[rows["status"] == "excluded", "reason"]
    kinds = set(reasons.str.split(": ").str[0])
    assert kinds == {"outside every visit window", "not the nearest result to its visit"}
    assert (ledger["table"] == "subjects").sum() == 375


@needs_workbook
def test_values_at_the_assay_limits_are_censored(imported, prepared):
    measurements = prepared.measurements
    il6 = measurements[measurements["PARAMCD"] == "IL6"]
    assert (il6.loc[il6["AVAL"] == 1.5, "CENS"] == -1).all()
    assert (il6["CENS"] == -1).sum() > 0
    crp = measurements[measurements["PARAMCD"] == "CRP"]
    assert set(crp.loc[crp["CENS"] == 1, "AVAL"]) <= {320.0}
    # one IL-6 and one CRP per patient at the admission visit
    assert not measurements.duplicated(["USUBJID", "PARAMCD", "AVISITN"]).any()
    assert set(measurements["AVISITN"]) == {0}


def test_a_workbook_without_the_expected_columns_is_named(tmp_path):
    path = tmp_path / "other.xlsx"
    pd.DataFrame({"PATIENT_ID": [1], "RE_DATE": [pd.Timestamp("2020-02-01")]}).to_excel(
        path, index=False
    )
    with pytest.raises(DataError, match="column age missing; this does not look like"):
        import_tongji(path)


def test_rows_before_the_first_patient_id_are_an_error(tmp_path):
    path = tmp_path / "t.xlsx"
    columns = {
        "PATIENT_ID": [None, 1],
        "RE_DATE": pd.to_datetime(["2020-02-01", "2020-02-01"]),
        "age": [50, 50],
        "gender": [1, 1],
        "Admission time": pd.to_datetime(["2020-02-01", "2020-02-01"]),
        "outcome": [0, 0],
        "Interleukin 6": [3.0, 4.0],
        "High sensitivity C-reactive protein": [None, None],
        "ESR": [None, None],
    }
    pd.DataFrame(columns).to_excel(path, index=False)
    with pytest.raises(DataError) as info:
        import_tongji(path)
    assert (info.value.row, info.value.column) == (2, "PATIENT_ID")


def test_a_file_that_is_not_a_workbook_is_a_data_error(tmp_path):
    path = tmp_path / "t.xlsx"
    path.write_text("not a workbook")
    with pytest.raises(DataError, match="cannot be read as an Excel workbook"):
        import_tongji(path)
