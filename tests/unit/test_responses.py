"""Supplied response rows (EULAR, ACR20/50/70): validation, storage and the ledger."""

import pytest
from helpers import MEASUREMENTS_HEADER, read_pair

from il6fit.data import prepare
from il6fit.data.contract import CATEGORICAL, PARAMETERS
from il6fit.errors import DataError


def run(subjects, measurements, **kwargs):
    s, m = read_pair(subjects, measurements)
    return prepare(s, m, subjects_file=subjects, measurements_file=measurements, **kwargs)


def components(subject: str, week: int, tjc: int, sjc: int, crp: str, ptga: int) -> list[str]:
    """Rows of the four DAS28-CRP components; ``crp`` as AVALC (a number or a limit)."""
    aval = "" if crp.startswith("<") else crp
    return [
        f"{subject},TJC28,{tjc},{tjc},joints,{week}",
        f"{subject},SJC28,{sjc},{sjc},joints,{week}",
        f"{subject},CRP,{aval},{crp},mg/L,{week}",
        f"{subject},PTGA,{ptga},{ptga},mm,{week}",
    ]


def test_response_rows_are_stored_as_category_numbers_and_used(subjects_csv, write_csv):
    meas = write_csv(
        "m.csv",
        [
            MEASUREMENTS_HEADER,
            "S-1,EULAR,,good,,24",
            "S-2,EULAR,1,moderate,category,24",
            "S-3,EULAR,0,,,24",
            "S-1,ACR20,,Y,,24",
            "S-1,ACR50,0,N,,24",
            "S-2,ACR70,1,,category,24",
        ],
    )
    prepared = run(subjects_csv, meas)
    out = prepared.measurements.set_index(["USUBJID", "PARAMCD"])
    assert out["AVAL"].to_dict() == {
        ("S-1", "ACR20"): 1.0,
        ("S-1", "ACR50"): 0.0,
        ("S-1", "EULAR"): 2.0,
        ("S-2", "ACR70"): 1.0,
        ("S-2", "EULAR"): 1.0,
        ("S-3", "EULAR"): 0.0,
    }
    assert set(out["AVALU"]) == {"category"}
    assert (out["CENS"] == 0).all() and (out["SOURCE"] == "reported").all()
    ledger = prepared.ledger.query("table == 'measurements'")
    assert len(ledger) == 6 and (ledger["status"] == "used").all()
    assert prepared.response.empty


@pytest.mark.parametrize(
    ("line", "column", "text", "fix"),
    [
        ("S-1,EULAR,,excellent,,24", "AVALC", "unknown EULAR category 'excellent'", "good (2)"),
        ("S-1,EULAR,,Good,,24", "AVALC", "unknown EULAR category 'Good'", "'good', not 'Good'"),
        ("S-1,ACR20,,yes,,24", "AVALC", "unknown ACR20 category 'yes'", "N (0), Y (1)"),
        ("S-1,EULAR,,<2,,24", "AVALC", "('<2') is not allowed for EULAR", "moderate (1)"),
        ("S-1,EULAR,3,,,24", "AVAL", "AVAL '3' is not the number of any EULAR", "none (0)"),
        ("S-1,EULAR,two,,,24", "AVAL", "AVAL 'two' is not the number", "none (0)"),
        ("S-1,EULAR,1,good,,24", "AVAL", "disagrees with AVALC 'good'", "same category"),
        ("S-1,ACR50,,,,24", "AVAL", "AVAL and AVALC are both empty", "Y (1)"),
        ("S-1,EULAR,,good,score,24", "AVALU", "unit 'score' is not known for EULAR", "'category'"),
        ("S-1,ACR70,,Y,,0", "AVISITN", "ACR70 at week 0", "AVISITN"),
    ],
)
def test_bad_responses_name_file_row_and_column(subjects_csv, write_csv, line, column, text, fix):
    meas = write_csv("m.csv", [MEASUREMENTS_HEADER, "S-2,CRP,5,5,mg/L,0", line])
    with pytest.raises(DataError) as info:
        run(subjects_csv, meas)
    err = info.value
    assert (err.file, err.row, err.column) == (meas, 3, column)
    assert text in err.problem
    assert fix in err.fix


def test_a_supplied_eular_is_compared_with_the_one_derived_from_das28(subjects_csv, write_csv):
    # DAS28-CRP 6.30 at week 0; week 24: S-1 2.45 (good), S-2 4.79 (moderate)
    lines = [MEASUREMENTS_HEADER]
    for subject in ("S-1", "S-2"):
        lines += components(subject, 0, 16, 10, "30", 70)
    lines += components("S-1", 24, 1, 0, "5", 20) + components("S-2", 24, 8, 5, "12", 50)
    lines += ["S-1,EULAR,,good,,24", "S-2,EULAR,,good,,24", "S-3,EULAR,,none,,24"]
    prepared = run(subjects_csv, write_csv("m.csv", lines))
    ledger = prepared.ledger.query("table == 'measurements'").set_index("row")
    assert ledger.loc[18, ["status", "reason"]].tolist() == [
        "excluded",
        "supplied response superseded: EULAR derived from DAS28CRP at weeks 0 and 24 agrees",
    ]
    assert ledger.loc[19, ["status", "reason"]].tolist() == [
        "excluded",
        "supplied response disagrees: EULAR 'good' given, 'moderate' from DAS28CRP at weeks 0 "
        "and 24 (the derived response is used)",
    ]
    # S-3 has no DAS28: its supplied response is kept
    assert ledger.loc[20, ["status", "reason"]].tolist() == ["used", ""]
    kept = prepared.measurements.query("PARAMCD == 'EULAR'")
    assert kept[["USUBJID", "AVAL"]].values.tolist() == [["S-3", 0.0]]
    assert prepared.response.set_index("USUBJID")["EULAR"].to_dict() == {
        "S-1": "good",
        "S-2": "moderate",
    }


def test_a_supplied_eular_is_kept_where_a_censored_score_leaves_the_category_open(
    subjects_csv, write_csv
):
    # week 24 CRP below 3 mg/L: DAS28-CRP in [2.78, 3.28], EULAR moderate or good
    lines = [MEASUREMENTS_HEADER, *components("S-2", 0, 16, 10, "30", 70)]
    lines += components("S-2", 24, 4, 1, "<3", 30)
    lines.append("S-2,EULAR,,good,,24")
    prepared = run(subjects_csv, write_csv("m.csv", lines))
    assert prepared.ledger.query("row == 10")["status"].item() == "used"
    assert prepared.response["EULAR"].item() == ""


def test_the_schema_lists_each_response_categories_within_its_range():
    assert CATEGORICAL == ("EULAR", "ACR20", "ACR50", "ACR70")
    assert PARAMETERS["EULAR"].categories == {"none": 0, "moderate": 1, "good": 2}
    for code in CATEGORICAL:
        parameter = PARAMETERS[code]
        numbers = sorted(parameter.categories.values())
        assert numbers == list(range(len(numbers)))
        assert (parameter.lower, parameter.upper) == (numbers[0], numbers[-1])
        assert parameter.unit == "category" and not parameter.censorable
