"""The bad-input corpus: every case in tests/data/bad/ ends in one clear DataError naming file,
row and column and saying how to fix it, in a SpecError naming the config entry and its fix, or
in a documented exclusion in the ledger; never in another exception.

Each case folder holds a tiny subjects.csv and measurements.csv; the expectation lives here.
Cases in PARQUET are read from a Parquet file written from the folder's measurements.csv with
the column types a typed export would have.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from il6fit.data import prepare, read_table
from il6fit.errors import DataError, SpecError

CORPUS = Path(__file__).resolve().parents[1] / "data" / "bad"


@dataclass(frozen=True)
class Fails:
    """A DataError in ``file`` (subjects or measurements) at ``row``/``column``."""

    file: str
    row: int | None
    column: str | None
    text: str
    config: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Ledgered:
    """Preparation succeeds; measurements row ``row`` is in the ledger with this status.

    ``cens``, if given, is the row's censoring flag in the prepared measurements.
    """

    row: int
    status: str
    text: str = ""
    config: dict = field(default_factory=dict)
    cens: int | None = None


@dataclass(frozen=True)
class Misconfigured:
    """A SpecError: the config, not the data, is wrong; its message holds ``text`` and a fix."""

    text: str
    config: dict = field(default_factory=dict)


M, S = "measurements", "subjects"
WEEKS = {"visit_weeks": [0, 2, 4], "visit_window_days": 3}

#: Cases read from Parquet: how the measurements.csv of the folder becomes a typed table.
PARQUET: dict[str, Callable[[pd.DataFrame], pd.DataFrame]] = {
    "float32_value_at_limit": lambda t: t.astype({"AVAL": np.float32, "AVISITN": int}),
    "parquet_date_column": lambda t: t.assign(ADT=pd.to_datetime(t["ADT"]).dt.date),
    "parquet_datetime_column": lambda t: t.assign(ADT=pd.to_datetime(t["ADT"])),
    "subject_id_in_parquet_index": lambda t: t.set_index("USUBJID"),
}

CASES = {
    "missing_column": Fails(M, None, "AVALU", "required column AVALU missing"),
    "lower_case_column": Fails(M, None, "PARAMCD", "'paramcd' should be 'PARAMCD'"),
    "duplicate_column": Fails(M, 1, "AVAL", "column AVAL appears twice in the header"),
    "unknown_code": Fails(M, 3, "PARAMCD", "unknown PARAMCD 'IL-6'"),
    "unknown_unit": Fails(M, 3, "AVALU", "unit 'mg/ml' is not known for CRP"),
    "non_numeric_value": Fails(M, 3, "AVAL", "AVAL 'n.d.' is not a number"),
    "negative_concentration": Fails(M, 2, "AVAL", "IL6 -3 pg/mL is impossible (must be > 0"),
    "zero_concentration": Fails(M, 2, "AVAL", "CRP 0 mg/L is impossible"),
    "tjc_above_28": Fails(M, 3, "AVAL", "TJC28 30 joints is impossible"),
    "ptga_in_cm_above_100": Fails(M, 2, "AVAL", "PTGA 120 mm is impossible"),
    "conflicting_duplicates": Fails(M, 4, "AVAL", "conflicting duplicate: CRP of S-1 at visit 0"),
    "exact_duplicates": Ledgered(3, "excluded", "duplicate: same result as row 2"),
    "subject_not_in_subjects": Fails(M, 3, "USUBJID", "USUBJID 'S-9' is not in the subjects"),
    "empty_subject_id": Fails(M, 3, "USUBJID", "USUBJID is empty"),
    "empty_file": Fails(M, None, None, "the file is empty"),
    "header_only": Fails(M, None, None, "the file has a header but no data rows"),
    "byte_order_mark": Ledgered(2, "used"),
    "blank_lines": Ledgered(4, "used"),
    "not_utf8": Fails(M, None, None, "cannot be read as csv: the file is not UTF-8 encoded"),
    "too_many_fields": Fails(M, 3, None, "this row has 7 fields but the header has 6"),
    "too_few_fields": Fails(M, 3, None, "this row has 5 fields but the header has 6"),
    "less_than_without_number": Fails(M, 3, "AVALC", "AVALC '<' is neither a number nor a limit"),
    "limit_in_aval": Fails(M, 2, "AVAL", "put limits such as '<1.5' in AVALC"),
    "aval_disagrees_with_limit": Fails(M, 2, "AVAL", "disagrees with the limit in AVALC"),
    "no_result": Fails(M, 2, "AVAL", "AVAL and AVALC are both empty"),
    "censored_joint_count": Fails(M, 2, "AVALC", "('<3') is not allowed for TJC28"),
    "lloq_above_uloq": Fails(M, 2, "LLOQ", "LLOQ 10 is not below ULOQ 5"),
    "zero_lloq": Fails(M, 2, "LLOQ", "LLOQ 0 is outside the plausible range (> 0)"),
    "mixed_units_one_subject": Ledgered(2, "used"),
    "no_visit": Fails(M, 2, "AVISITN", "no visit: AVISITN, ADY and ADT are all empty", WEEKS),
    "unparseable_study_day": Fails(M, 2, "ADY", "'day 3' is not a number", WEEKS),
    "fractional_study_day": Fails(M, 2, "ADY", "'2.5' is not a whole number", WEEKS),
    "unparseable_date": Fails(M, 2, "ADT", "'31/01/2020' is not a date", WEEKS),
    "date_without_day_one": Fails(M, 2, "ADT", "needs the subject's day 1 (TRTSDT)", WEEKS),
    "unparseable_day_one": Fails(S, 3, "TRTSDT", "'Jan 30 2020' is not a date", WEEKS),
    "study_day_outside_visit_windows": Ledgered(
        3, "excluded", "outside every visit window: study day 40", WEEKS
    ),
    "visit_given_as_text": Fails(M, 2, "AVISITN", "'week 2' is not a number"),
    "on_treatment_il6_excluded_by_config": Ledgered(
        3,
        "excluded",
        "prepare.exclude[0]: IL6 after week 0 on arms matching 'TCZ'",
        {"exclude": [{"paramcd": "IL6", "after_week": 0, "arms_matching": "TCZ"}]},
    ),
    "supplied_das28_disagrees": Ledgered(
        6, "excluded", "supplied score disagrees: DAS28CRP 9.90 given"
    ),
    "unknown_eular_category": Fails(M, 3, "AVALC", "unknown EULAR category 'excellent'"),
    "supplied_eular_disagrees": Ledgered(
        10, "excluded", "supplied response disagrees: EULAR 'good' given, 'moderate' from DAS28CRP"
    ),
    "duplicate_subject": Fails(S, 4, "USUBJID", "USUBJID 'S-1' appears on more than one row"),
    "unknown_sex": Fails(S, 2, "SEX", "unknown SEX 'female'"),
    "age_out_of_range": Fails(S, 3, "AGE", "AGE 610 years is outside the plausible range"),
    "bmi_not_a_number": Fails(S, 2, "BMI", "'27 kg/m2' is not a number"),
    "subjects_missing_column": Fails(S, None, "TRT01P", "required column TRT01P missing"),
    # files that are not comma-separated UTF-8
    "semicolon_separated": Fails(M, None, None, "the file appears to be semicolon-separated"),
    "semicolon_separated_with_trailing_commas": Fails(
        M, None, None, "the file appears to be semicolon-separated"
    ),
    "tab_separated": Fails(M, None, None, "the file appears to be tab-separated"),
    "title_line_above_header": Fails(
        M, 1, None, "line 1 is not the header: it holds 'IL-6 study lab export 2024-03-01'"
    ),
    "title_line_padded_with_commas": Fails(M, 1, None, "are on line 3"),
    "utf16_with_bom": Fails(M, None, None, "the file is UTF-16 encoded"),
    "utf16_without_bom": Fails(M, None, None, "appears to be UTF-16 encoded"),
    # values pandas would read, or the schema would let through, but that are wrong
    "aval_avalc_disagree": Fails(M, 2, "AVAL", "AVAL '5.2' and AVALC '52' disagree"),
    "visit_infinite": Fails(M, 2, "AVISITN", "'inf' is not a finite number"),
    "visit_nan_text": Fails(M, 3, "AVISITN", "'NaN' is not a finite number"),
    "aval_infinite": Fails(M, 2, "AVAL", "AVAL 'Infinity' is not a finite number"),
    "lloq_nan_text": Fails(M, 2, "LLOQ", "'nan' is not a finite number"),
    "age_nan_text": Fails(S, 3, "AGE", "'nan' is not a finite number"),
    "fractional_joint_count": Fails(M, 2, "AVAL", "TJC28 2.5 is not a whole number"),
    "study_day_zero": Fails(M, 2, "ADY", "study day 0 does not exist", WEEKS),
    "visit_contradicts_study_day": Fails(
        M, 3, "AVISITN", "visit AVISITN 2 contradicts study day ADY 29", WEEKS
    ),
    # typed inputs (Parquet)
    "float32_value_at_limit": Ledgered(
        1, "used", config={"limits": {"CRP": {"lloq": 0.3}}}, cens=-1
    ),
    "parquet_date_column": Ledgered(1, "used", config=WEEKS),
    "parquet_datetime_column": Ledgered(1, "used", config=WEEKS),
    "subject_id_in_parquet_index": Ledgered(2, "used"),
    # look-alike and invisible characters
    "micro_sign_or_greek_mu": Ledgered(3, "used"),
    "invisible_characters": Ledgered(3, "used"),
    "look_alike_letter_in_code": Fails(
        M, 2, "PARAMCD", "unknown PARAMCD 'СRP' (<U+0421 CYRILLIC CAPITAL LETTER ES>RP)"
    ),
    # one result in two units
    "same_result_in_two_units": Ledgered(
        3, "excluded", "duplicate: same result as row 2 (in another unit)"
    ),
    "conflicting_duplicates_in_two_units": Fails(
        M, 3, "AVAL", "is 4.7 mg/L on row 2 and 0.52 mg/dL (5.2 mg/L) here"
    ),
    # input columns named like il6fit's own
    "reserved_column_row": Fails(M, None, "ROW", "column ROW is reserved by il6fit"),
    "reserved_column_reader_row": Fails(M, None, "_row", "column _row is reserved by il6fit"),
    "reserved_column_cens": Fails(M, None, "CENS", "column CENS is reserved by il6fit"),
    "extra_columns_named_like_working_ones": Ledgered(6, "excluded", "supplied score"),
    # assay limits: the config's own, or a row's against the config's
    "limits_crossed_in_config": Misconfigured(
        "prepare.limits.IL6: lloq 10 is not below uloq 5",
        {"limits": {"IL6": {"lloq": 10, "uloq": 5}}},
    ),
    "row_limit_crossed_with_config_limit": Fails(
        M,
        2,
        "LLOQ",
        "LLOQ 10 from this row is not below ULOQ 5 from the config (prepare.limits.IL6.uloq)",
        {"limits": {"IL6": {"uloq": 5}}},
    ),
}


def test_every_case_has_an_expectation_and_the_corpus_is_large_enough():
    assert sorted(p.name for p in CORPUS.iterdir() if p.is_dir()) == sorted(CASES)
    assert len(CASES) >= 25
    assert set(PARQUET) <= set(CASES)


def case_files(case: str, tmp_path: Path) -> dict[str, Path]:
    """The subjects and measurements files of a case; a Parquet case's file is written first."""
    folder = CORPUS / case
    files = {S: folder / "subjects.csv", M: folder / "measurements.csv"}
    if case in PARQUET:
        table = pd.read_csv(files[M], dtype=str, keep_default_na=False)
        files[M] = tmp_path / "measurements.parquet"
        PARQUET[case](table).to_parquet(files[M])
    return files


def prepare_case(files: dict[str, Path], config: dict):
    return prepare(
        read_table(files[S]),
        read_table(files[M]),
        subjects_file=str(files[S]),
        measurements_file=str(files[M]),
        **config,
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_case(case, tmp_path):
    files, expected = case_files(case, tmp_path), CASES[case]
    if isinstance(expected, Fails):
        with pytest.raises(DataError) as info:
            prepare_case(files, expected.config)
        err = info.value
        assert (Path(err.file), err.row, err.column) == (
            files[expected.file],
            expected.row,
            expected.column,
        ), str(err)
        assert expected.text in str(err)
        assert err.fix, f"no fix offered: {err}"
        assert str(err).startswith(str(files[expected.file]))
    elif isinstance(expected, Misconfigured):
        with pytest.raises(SpecError) as info:
            prepare_case(files, expected.config)
        assert expected.text in str(info.value)
        assert "Fix: " in str(info.value)
    else:
        prepared = prepare_case(files, expected.config)
        rows = prepared.ledger[(prepared.ledger["table"] == M)]
        entry = rows[rows["row"] == expected.row]
        assert entry["status"].item() == expected.status
        assert expected.text in entry["reason"].item()
        assert len(rows) == len(read_table(files[M]))
        if expected.cens is not None:
            result = prepared.measurements[prepared.measurements["ROW"] == expected.row]
            assert result["CENS"].item() == expected.cens


@pytest.mark.parametrize("case", sorted(CASES))
def test_no_case_ends_in_another_exception(case, tmp_path):
    # a raw pandas or pyarrow error here would reach the user as a traceback
    try:
        prepare_case(case_files(case, tmp_path), CASES[case].config)
    except (DataError, SpecError):
        pass
