"""A simulated dataset written as CSV, Parquet and SAS XPORT prepares to identical tables."""

import pandas as pd
import pyreadstat
import pytest

from il6fit.data import prepare, read_table
from il6fit.simulate import scenario, simulate_cohort

NUMBERS = {"AGE", "BMI", "AVAL", "AVISITN", "ADY", "LLOQ", "ULOQ"}
OPTIONS = {"exclude": [{"paramcd": "IL6", "after_week": 0, "arms_matching": "TCZ"}]}


def typed(table: pd.DataFrame) -> pd.DataFrame:
    """Number columns as numbers (empty cells missing), as a statistics package would store them."""
    return table.apply(
        lambda col: pd.to_numeric(col.replace("", None)) if col.name in NUMBERS else col
    )


def write(kind: str, table: pd.DataFrame, path) -> None:
    if kind == "csv":
        table.to_csv(path, index=False)
    elif kind == "parquet":
        typed(table).to_parquet(path)
    else:
        # XPORT v5: names of at most 8 characters (the contract's are) and fixed string widths
        pyreadstat.write_xport(typed(table), str(path), table_name=path.stem[:8].upper())


@pytest.fixture(scope="module")
def cohort():
    # a low IL-6 median so that some results fall below the assay's lower limit
    spec = scenario("ra_tcz_trial", n_subjects=40, il6_median=4.0)
    subjects, measurements, _ = simulate_cohort(spec, 11)
    return subjects, measurements


@pytest.fixture(scope="module")
def prepared(cohort, tmp_path_factory):
    out = {}
    for kind, ext in (("csv", "csv"), ("parquet", "parquet"), ("xport", "xpt")):
        folder = tmp_path_factory.mktemp(kind)
        paths = [folder / f"subjects.{ext}", folder / f"measurements.{ext}"]
        for table, path in zip(cohort, paths, strict=True):
            write(kind, table, path)
        out[kind] = prepare(
            read_table(paths[0]),
            read_table(paths[1]),
            subjects_file="subjects",
            measurements_file="measurements",
            **OPTIONS,
        )
    return out


@pytest.mark.parametrize("kind", ["parquet", "xport"])
def test_formats_prepare_to_identical_tables(prepared, kind):
    csv, other = prepared["csv"], prepared[kind]
    # rows are counted as each format's users count them: CSV lines (the header is line 1),
    # Parquet and XPORT records from 1; otherwise every table is the same
    measurements = csv.measurements.assign(
        ROW=csv.measurements["ROW"].where(lambda r: r == 0, lambda r: r - 1)
    )
    ledger = csv.ledger.assign(row=csv.ledger["row"] - 1)
    pd.testing.assert_frame_equal(other.measurements, measurements)
    pd.testing.assert_frame_equal(other.ledger, ledger)
    pd.testing.assert_frame_equal(other.subjects, csv.subjects)
    pd.testing.assert_frame_equal(other.response, csv.response)


def test_the_roundtrip_exercises_censoring_units_exclusions_and_scores(prepared, cohort):
    _, measurements = cohort
    assert (measurements["AVALU"] == "mg/dL").any()
    result = prepared["csv"]
    assert (result.measurements["CENS"] != 0).any()
    assert (result.ledger["status"] == "excluded").any()
    assert (result.measurements["SOURCE"] == "derived").any()
    assert result.response["EULAR"].isin(["good", "moderate"]).any()
