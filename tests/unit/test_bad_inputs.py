"""The bad-input corpus: every case in tests/data/bad/ ends in one clear DataError naming file,
row and column and saying how to fix it, or in a documented exclusion in the ledger.

Each case folder holds a tiny subjects.csv and measurements.csv; the expectation lives here.
"""

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from il6fit.data import prepare, read_table
from il6fit.errors import DataError

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
    """Preparation succeeds; measurements row ``row`` is in the ledger with this status."""

    row: int
    status: str
    text: str = ""
    config: dict = field(default_factory=dict)


M, S = "measurements", "subjects"
WEEKS = {"visit_weeks": [0, 2, 4], "visit_window_days": 3}

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
    "not_utf8": Fails(M, None, None, "cannot be read as csv"),
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
    "duplicate_subject": Fails(S, 4, "USUBJID", "USUBJID 'S-1' appears on more than one row"),
    "unknown_sex": Fails(S, 2, "SEX", "unknown SEX 'female'"),
    "age_out_of_range": Fails(S, 3, "AGE", "AGE 610 years is outside the plausible range"),
    "bmi_not_a_number": Fails(S, 2, "BMI", "'27 kg/m2' is not a number"),
    "subjects_missing_column": Fails(S, None, "TRT01P", "required column TRT01P missing"),
}


def test_every_case_has_an_expectation_and_the_corpus_is_large_enough():
    assert sorted(p.name for p in CORPUS.iterdir() if p.is_dir()) == sorted(CASES)
    assert len(CASES) >= 25


def prepare_case(folder: Path, config: dict):
    subjects, measurements = folder / "subjects.csv", folder / "measurements.csv"
    return prepare(
        read_table(subjects),
        read_table(measurements),
        subjects_file=str(subjects),
        measurements_file=str(measurements),
        **config,
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_case(case):
    folder, expected = CORPUS / case, CASES[case]
    if isinstance(expected, Fails):
        with pytest.raises(DataError) as info:
            prepare_case(folder, expected.config)
        err = info.value
        assert (Path(err.file).name, err.row, err.column) == (
            f"{expected.file}.csv",
            expected.row,
            expected.column,
        ), str(err)
        assert expected.text in str(err)
        assert err.fix, f"no fix offered: {err}"
        assert str(err).startswith(str(folder / f"{expected.file}.csv"))
    else:
        ledger = prepare_case(folder, expected.config).ledger
        rows = ledger[(ledger["table"] == M)]
        entry = rows[rows["row"] == expected.row]
        assert entry["status"].item() == expected.status
        assert expected.text in entry["reason"].item()
        assert len(rows) == len(read_table(folder / "measurements.csv"))
