import pandas as pd
import pyreadstat
import pytest
from helpers import MEASUREMENTS_HEADER, SUBJECTS_HEADER, read_pair

from il6fit.data import prepare, read_table
from il6fit.errors import DataError, SpecError


def run(subjects, measurements, **kwargs):
    s, m = read_pair(subjects, measurements)
    return prepare(s, m, subjects_file=subjects, measurements_file=measurements, **kwargs)


def raises(subjects, measurements, *, row, column, text, **kwargs):
    with pytest.raises(DataError) as info:
        run(subjects, measurements, **kwargs)
    err = info.value
    assert (err.file, err.row, err.column) == (measurements if row else err.file, row, column)
    assert text in str(err)
    return err


def test_units_are_harmonised_to_canonical(subjects_csv, write_csv):
    meas = write_csv(
        "m.csv",
        [
            MEASUREMENTS_HEADER,
            "S-1,CRP,1.2,1.2,mg/dL,0",
            "S-2,CRP,7,7,mg/L,0",
            "S-3,IL6,15,15,ng/L,0",
            "S-3,PTGA,4.5,4.5,cm,0",
        ],
    )
    out = run(subjects_csv, meas).measurements.set_index(["USUBJID", "PARAMCD"])
    assert out.loc[("S-1", "CRP"), "AVAL"] == pytest.approx(12.0)
    assert out.loc[("S-1", "CRP"), "AVALU"] == "mg/L"
    assert out.loc[("S-2", "CRP"), "AVAL"] == pytest.approx(7.0)
    assert out.loc[("S-3", "IL6"), "AVALU"] == "pg/mL"
    assert out.loc[("S-3", "PTGA"), "AVAL"] == pytest.approx(45.0)


def test_limit_strings_become_censored_results(subjects_csv, write_csv):
    meas = write_csv(
        "m.csv",
        [MEASUREMENTS_HEADER, "S-1,IL6,,<1.5,pg/mL,0", "S-2,IL6,,>5000,pg/mL,0"],
    )
    out = run(subjects_csv, meas).measurements.set_index("USUBJID")
    assert (out.loc["S-1", "AVAL"], out.loc["S-1", "CENS"]) == (1.5, -1)
    assert (out.loc["S-2", "AVAL"], out.loc["S-2", "CENS"]) == (5000.0, 1)


def test_values_at_declared_limits_are_censored(subjects_csv, write_csv):
    meas = write_csv(
        "m.csv",
        [
            "USUBJID,PARAMCD,AVAL,AVALC,AVALU,AVISITN,LLOQ",
            "S-1,CRP,0.03,0.03,mg/dL,0,0.03",  # at its row limit, given in mg/dL
            "S-2,CRP,0.5,0.5,mg/L,0,",  # at the config limit
            "S-3,CRP,0.6,0.6,mg/L,0,",  # above it
        ],
    )
    out = run(subjects_csv, meas, limits={"CRP": {"lloq": 0.5}}).measurements
    out = out.set_index("USUBJID")
    assert (out.loc["S-1", "AVAL"], out.loc["S-1", "CENS"]) == (pytest.approx(0.3), -1)
    assert out.loc["S-2", "CENS"] == -1
    assert out.loc["S-3", "CENS"] == 0


def test_das28_is_derived_and_a_disagreeing_supplied_score_is_ledgered(subjects_csv, write_csv):
    meas = write_csv(
        "m.csv",
        [
            MEASUREMENTS_HEADER,
            "S-1,TJC28,9,9,joints,0",
            "S-1,SJC28,4,4,joints,0",
            "S-1,CRP,24,24,mg/L,0",
            "S-1,PTGA,70,70,mm,0",
            "S-1,DAS28CRP,9.9,9.9,score,0",
        ],
    )
    prepared = run(subjects_csv, meas)
    das = prepared.measurements.query("PARAMCD == 'DAS28CRP'")
    assert len(das) == 1
    assert das["SOURCE"].item() == "derived"
    # 0.56 sqrt(9) + 0.28 sqrt(4) + 0.36 ln(25) + 0.014 * 70 + 0.96
    assert das["AVAL"].item() == pytest.approx(5.3388, abs=1e-4)
    row = prepared.ledger.query("row == 6")
    assert row["status"].item() == "excluded"
    assert row["reason"].item() == (
        "supplied score disagrees: DAS28CRP 9.90 given, 5.34 derived from its components "
        "(the derived score is used)"
    )


def test_ledger_accounts_for_every_input_row(subjects_csv, write_csv):
    meas = write_csv(
        "m.csv",
        [
            MEASUREMENTS_HEADER,
            "S-1,CRP,5,5,mg/L,0",
            "S-1,CRP,5,5,mg/L,0",
            "S-2,IL6,3,3,pg/mL,0",
        ],
    )
    prepared = run(subjects_csv, meas)
    ledger = prepared.ledger
    assert len(ledger) == 3 + 3
    assert ledger.query("table == 'measurements'")["row"].tolist() == [2, 3, 4]
    dup = ledger.query("table == 'measurements' and row == 3")
    assert (dup["status"].item(), dup["reason"].item()) == (
        "excluded",
        "duplicate: same result as row 2",
    )
    assert len(prepared.measurements) == 2


@pytest.mark.parametrize(
    ("line", "row", "column", "text"),
    [
        ("S-9,CRP,5,5,mg/L,0", 2, "USUBJID", "not in the subjects table"),
        ("S-1,XYZ,5,5,mg/L,0", 2, "PARAMCD", "unknown PARAMCD 'XYZ'"),
        ("S-1,CRP,5,5,g/L,0", 2, "AVALU", "unit 'g/L' is not known for CRP"),
        ("S-1,CRP,five,,mg/L,0", 2, "AVAL", "'five' is not a number"),
        ("S-1,CRP,-2,-2,mg/L,0", 2, "AVAL", "impossible"),
        ("S-1,IL6,0,0,pg/mL,0", 2, "AVAL", "impossible"),
        ("S-1,TJC28,29,29,joints,0", 2, "AVAL", "TJC28 29 joints is impossible"),
        ("S-1,PTGA,101,101,mm,0", 2, "AVAL", "impossible"),
        ("S-1,IL6,,<,pg/mL,0", 2, "AVALC", "neither a number nor a limit"),
        ("S-1,IL6,,,pg/mL,0", 2, "AVAL", "AVAL and AVALC are both empty"),
        ("S-1,IL6,<1.5,,pg/mL,0", 2, "AVAL", "put limits such as '<1.5' in AVALC"),
        ("S-1,TJC28,,<3,joints,0", 2, "AVALC", "not allowed for TJC28"),
        ("S-1,CRP,5,5,mg/L,week 2", 2, "AVISITN", "'week 2' is not a number"),
    ],
)
def test_bad_measurements_name_file_row_and_column(
    subjects_csv, write_csv, line, row, column, text
):
    meas = write_csv("m.csv", [MEASUREMENTS_HEADER, line])
    raises(subjects_csv, meas, row=row, column=column, text=text)


def test_conflicting_duplicates_stop(subjects_csv, write_csv):
    meas = write_csv(
        "m.csv", [MEASUREMENTS_HEADER, "S-1,CRP,5,5,mg/L,0", "S-1,CRP,0.6,0.6,mg/dL,0"]
    )
    err = raises(subjects_csv, meas, row=3, column="AVAL", text="conflicting duplicate")
    assert "row 2" in str(err)


def test_missing_column_is_named(subjects_csv, write_csv):
    meas = write_csv("m.csv", ["USUBJID,PARAMCD,AVAL,AVALU,AVISITN", "S-1,CRP,5,mg/L,0"])
    raises(subjects_csv, meas, row=None, column="AVALC", text="required column AVALC missing")


@pytest.mark.parametrize(
    ("line", "column", "text"),
    [
        ("S-1,ST,01,Placebo,50,X,27", "SEX", "SEX 'X'"),
        ("S-1,ST,01,Placebo,150,F,27", "AGE", "outside the plausible range"),
        ("S-1,ST,01,Placebo,50,F,n/a", "BMI", "'n/a' is not a number"),
    ],
)
def test_bad_subjects_name_row_and_column(write_csv, line, column, text):
    subjects = write_csv("s.csv", [SUBJECTS_HEADER, line])
    meas = write_csv("m.csv", [MEASUREMENTS_HEADER, "S-1,CRP,5,5,mg/L,0"])
    with pytest.raises(DataError) as info:
        run(subjects, meas)
    assert (info.value.file, info.value.row, info.value.column) == (subjects, 2, column)
    assert text in str(info.value)


def test_duplicate_subject_is_an_error(write_csv):
    subjects = write_csv("s.csv", [SUBJECTS_HEADER, "S-1,ST,01,P,50,F,27", "S-1,ST,01,P,51,F,27"])
    meas = write_csv("m.csv", [MEASUREMENTS_HEADER, "S-1,CRP,5,5,mg/L,0"])
    with pytest.raises(DataError, match=r"row 3, column USUBJID: USUBJID 'S-1' appears"):
        run(subjects, meas)


def test_byte_order_mark_is_ignored(write_csv, tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(("\ufeff" + SUBJECTS_HEADER + "\nS-1,ST,01,P,50,F,27\n").encode("utf-8"))
    assert read_table(path).columns[0] == "USUBJID"


@pytest.mark.parametrize(
    ("content", "text"),
    [("", "the file is empty"), (SUBJECTS_HEADER + "\n", "header but no data rows")],
)
def test_empty_files_are_errors(tmp_path, content, text):
    path = tmp_path / "s.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=text):
        read_table(path)


def test_unknown_file_type_is_an_error(tmp_path):
    with pytest.raises(DataError, match=r"unknown file type '\.xlsx'"):
        read_table(tmp_path / "s.xlsx")


def test_parquet_and_xport_read_like_csv(tmp_path, subjects_csv):
    frame = pd.read_csv(subjects_csv, dtype={"SITEID": str})
    frame.to_parquet(tmp_path / "s.parquet")
    pyreadstat.write_xport(frame, str(tmp_path / "s.xpt"))
    from_csv = read_table(subjects_csv).drop(columns="_row")
    for name in ("s.parquet", "s.xpt"):
        table = read_table(tmp_path / name)
        assert table["_row"].tolist() == [1, 2, 3]
        pd.testing.assert_frame_equal(table.drop(columns="_row"), from_csv)


def test_mixed_units_within_one_subject_are_converted(subjects_csv, write_csv):
    meas = write_csv(
        "m.csv",
        [
            MEASUREMENTS_HEADER,
            "S-1,CRP,1.2,1.2,mg/dL,0",
            "S-1,CRP,8,8,mg/L,2",
            "S-1,IL6,0.02,0.02,ng/mL,0",
            "S-1,IL6,25,25,ng/L,2",
        ],
    )
    out = run(subjects_csv, meas).measurements.set_index(["PARAMCD", "AVISITN"])
    assert out["AVAL"].to_dict() == {
        ("CRP", 0): pytest.approx(12.0),
        ("CRP", 2): 8.0,
        ("IL6", 0): pytest.approx(20.0),
        ("IL6", 2): 25.0,
    }
    assert set(out["AVALU"]) == {"mg/L", "pg/mL"}


def test_a_limit_in_avalc_wins_over_the_same_number_in_aval(subjects_csv, write_csv):
    meas = write_csv("m.csv", [MEASUREMENTS_HEADER, "S-1,IL6,1.5,<1.5,pg/mL,0"])
    out = run(subjects_csv, meas).measurements
    assert (out["AVAL"].item(), out["CENS"].item()) == (1.5, -1)


def test_aval_disagreeing_with_the_limit_in_avalc_stops(subjects_csv, write_csv):
    meas = write_csv("m.csv", [MEASUREMENTS_HEADER, "S-1,IL6,3,<1.5,pg/mL,0"])
    raises(subjects_csv, meas, row=2, column="AVAL", text="disagrees with the limit in AVALC")


VISIT_HEADER = "USUBJID,PARAMCD,AVAL,AVALC,AVALU,AVISITN,ADY"


def test_study_days_map_to_the_nearest_scheduled_visit(subjects_csv, write_csv):
    meas = write_csv(
        "m.csv",
        [
            VISIT_HEADER,
            "S-1,CRP,5,5,mg/L,,-2",  # week 0 (target day 1)
            "S-1,CRP,6,6,mg/L,,16",  # week 2 (target day 15)
            "S-1,CRP,7,7,mg/L,,40",  # between week 4 (29) and week 8 (57): outside both
            "S-1,CRP,8,8,mg/L,,14",  # week 2 again, nearer its target than row 3
            "S-1,CRP,9,9,mg/L,4,",  # AVISITN given: used as it is
        ],
    )
    prepared = run(subjects_csv, meas, visit_weeks=[0, 2, 4, 8], visit_window_days=3)
    out = prepared.measurements.set_index("ROW")
    assert out["AVISITN"].to_dict() == {2: 0, 5: 2, 6: 4}
    ledger = prepared.ledger.query("table == 'measurements'").set_index("row")
    assert ledger.loc[4, "status"] == "excluded"
    assert ledger.loc[4, "reason"].startswith("outside every visit window: study day 40 is")
    assert "prepare.visit_window_days" in ledger.loc[4, "reason"]
    assert ledger.loc[3, "reason"] == (
        "not the nearest result to its visit: row 5 has this subject's CRP nearer the target "
        "day of week 2"
    )
    assert ledger.loc[3, "AVISITN"] == 2


def test_dates_count_from_the_subjects_day_one(write_csv):
    subjects = write_csv("s.csv", [SUBJECTS_HEADER + ",TRTSDT", "S-1,ST,01,P,50,F,27,2024-03-01"])
    meas = write_csv(
        "m.csv",
        [
            "USUBJID,PARAMCD,AVAL,AVALC,AVALU,ADT",
            "S-1,CRP,5,5,mg/L,2024-02-29",  # the day before day 1 is day -1
            "S-1,CRP,6,6,mg/L,2024-03-14",  # day 14
        ],
    )
    out = run(subjects, meas, visit_weeks=[0, 2], visit_window_days=2).measurements
    assert out["AVISITN"].tolist() == [0, 2]


@pytest.mark.parametrize(
    ("header", "line", "kwargs", "column", "text"),
    [
        (VISIT_HEADER, "S-1,CRP,5,5,mg/L,,15", {}, "AVISITN", "no scheduled visits"),
        (VISIT_HEADER, "S-1,CRP,5,5,mg/L,,", {"visit_weeks": [0]}, "AVISITN", "all empty"),
        (VISIT_HEADER, "S-1,CRP,5,5,mg/L,,2.5", {"visit_weeks": [0]}, "ADY", "whole number"),
        (VISIT_HEADER, "S-1,CRP,5,5,mg/L,,day 3", {"visit_weeks": [0]}, "ADY", "not a number"),
        (
            "USUBJID,PARAMCD,AVAL,AVALC,AVALU,ADT",
            "S-1,CRP,5,5,mg/L,03/01/2024",
            {"visit_weeks": [0]},
            "ADT",
            "'03/01/2024' is not a date",
        ),
        (
            "USUBJID,PARAMCD,AVAL,AVALC,AVALU,ADT",
            "S-1,CRP,5,5,mg/L,2024-03-01",
            {"visit_weeks": [0]},
            "ADT",
            "needs the subject's day 1 (TRTSDT)",
        ),
    ],
)
def test_bad_visits_name_row_and_column(
    subjects_csv, write_csv, header, line, kwargs, column, text
):
    meas = write_csv("m.csv", [header, line])
    raises(subjects_csv, meas, row=2, column=column, text=text, **kwargs)


def test_config_exclusion_rules_are_ledgered_with_the_rule(subjects_csv, write_csv):
    meas = write_csv(
        "m.csv",
        [
            MEASUREMENTS_HEADER,
            "S-2,IL6,20,20,pg/mL,0",  # TCZ arm, baseline: kept
            "S-2,IL6,60,60,pg/mL,4",  # TCZ arm, on treatment: excluded
            "S-1,IL6,20,20,pg/mL,4",  # placebo: kept
            "S-2,CRP,3,3,mg/L,4",  # another parameter: kept
        ],
    )
    rule = {"paramcd": "IL6", "after_week": 0, "arms_matching": "TCZ", "reason": "IL-6 rises"}
    prepared = run(subjects_csv, meas, exclude=[rule])
    assert sorted(prepared.measurements["ROW"]) == [2, 4, 5]
    entry = prepared.ledger.query("table == 'measurements' and row == 3")
    assert entry["status"].item() == "excluded"
    assert entry["reason"].item() == (
        "prepare.exclude[0]: IL6 after week 0 on arms matching 'TCZ' (IL-6 rises)"
    )


def test_eular_response_and_remission_at_the_landmark(subjects_csv, write_csv):
    lines = [MEASUREMENTS_HEADER]
    for subject, week, score in [
        ("S-1", 0, 6.0),
        ("S-1", 24, 2.5),  # good response, remission
        ("S-2", 0, 6.0),
        ("S-2", 24, 5.0),  # moderate, no remission
        ("S-3", 0, 6.0),  # no landmark visit: response unknown
    ]:
        lines.append(f"{subject},DAS28ESR,{score},{score},score,{week}")
    response = run(subjects_csv, write_csv("m.csv", lines)).response.set_index("USUBJID")
    assert response["EULAR"].to_dict() == {"S-1": "good", "S-2": "moderate", "S-3": ""}
    assert response["REMISS"].to_dict() == {"S-1": "Y", "S-2": "N", "S-3": ""}
    assert response.loc["S-1", "CHG"] == pytest.approx(-3.5)
    assert response.loc["S-2", "TRT01P"] == "TCZ 8"
    assert set(response["LANDMARK"]) == {24}


def test_without_das28_the_response_table_is_empty(subjects_csv, write_csv):
    meas = write_csv("m.csv", [MEASUREMENTS_HEADER, "S-1,CRP,5,5,mg/L,0"])
    assert run(subjects_csv, meas).response.empty


def test_bmi_may_be_missing(write_csv):
    subjects = write_csv("s.csv", ["USUBJID,STUDYID,SITEID,TRT01P,AGE,SEX", "S-1,ST,01,P,50,F"])
    meas = write_csv("m.csv", [MEASUREMENTS_HEADER, "S-1,CRP,5,5,mg/L,0"])
    assert run(subjects, meas).subjects["BMI"].isna().all()


def test_a_lower_case_column_name_gets_a_hint(subjects_csv, write_csv):
    meas = write_csv("m.csv", ["USUBJID,paramcd,AVAL,AVALC,AVALU,AVISITN", "S-1,CRP,5,5,mg/L,0"])
    err = raises(subjects_csv, meas, row=None, column="PARAMCD", text="'paramcd' should be")
    assert "case-sensitive" in str(err)


def test_rows_of_the_wrong_width_name_their_line(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text(MEASUREMENTS_HEADER + "\nS-1,CRP,5,5,mg/L,0\nS-1,CRP,5,5,mg/L,0,7\n")
    with pytest.raises(DataError) as info:
        read_table(path)
    assert info.value.row == 3
    assert "7 fields but the header has 6" in str(info.value)


def test_blank_lines_keep_row_numbers_and_hold_no_record(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text(MEASUREMENTS_HEADER + "\n\nS-1,CRP,5,5,mg/L,0\n\n")
    assert read_table(path)["_row"].tolist() == [3]


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        ({"paramcd": "IL-6"}, r"prepare.exclude\[0\]: unknown PARAMCD IL-6"),
        ({"paramcd": "IL6", "arms_matching": "TCZ("}, "is not a regular expression"),
    ],
)
def test_bad_exclusion_rules_are_config_errors(subjects_csv, write_csv, rule, text):
    meas = write_csv("m.csv", [MEASUREMENTS_HEADER, "S-2,IL6,60,60,pg/mL,4"])
    with pytest.raises(SpecError, match=text):
        run(subjects_csv, meas, exclude=[rule])
