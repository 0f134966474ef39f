import datetime

import numpy as np
import pandas as pd
import pyreadstat
import pytest
from helpers import MEASUREMENTS_HEADER, SUBJECTS_HEADER, read_pair

from il6fit.data import as_read, das28_crp, prepare, read_table
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


def test_typed_parquet_columns_read_as_their_csv_export_would(tmp_path):
    frame = pd.DataFrame(
        {
            "F32": np.array([0.03, 1.5, 28], dtype=np.float32),
            "F64": [0.1 + 0.2, 28.0, np.nan],
            "DATE": [datetime.date(2020, 1, 31), None, datetime.date(2021, 2, 1)],
            "TIME": pd.to_datetime(["2020-01-31 13:45", None, "2020-02-01 00:00"]),
            "ZONED": pd.to_datetime(["2020-01-31 23:30"] * 3).tz_localize("Europe/Berlin"),
        },
        index=pd.Index(["S-1", "S-2", "S-3"], name="USUBJID"),
    )
    frame.to_parquet(tmp_path / "t.parquet")
    table = read_table(tmp_path / "t.parquet")
    assert table.drop(columns="_row").to_dict("list") == {
        "USUBJID": ["S-1", "S-2", "S-3"],
        "F32": ["0.03", "1.5", "28"],  # float32's own shortest text, not 0.0299999993
        "F64": ["0.30000000000000004", "28", ""],
        "DATE": ["2020-01-31", "", "2021-02-01"],
        "TIME": ["2020-01-31", "", "2020-02-01"],
        "ZONED": ["2020-01-31"] * 3,
    }


def test_an_unnamed_parquet_index_is_dropped(tmp_path):
    pd.DataFrame({"A": ["x", "y", "z"]}).iloc[[2, 0]].to_parquet(tmp_path / "t.parquet")
    table = read_table(tmp_path / "t.parquet")
    assert list(table.columns) == ["A", "_row"]
    assert table["_row"].tolist() == [1, 2]


def test_invisible_characters_leave_cells_and_names(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("\u200bA,B\u00a0\n\ufeffx\u200b,\u00a0mm\u00a0VAS\u202f\n", encoding="utf-8")
    assert read_table(path).drop(columns="_row").to_dict("list") == {"A": ["x"], "B": ["mm VAS"]}


def test_a_rejected_unit_shows_its_look_alike_characters(subjects_csv, write_csv):
    meas = write_csv("m.csv", [MEASUREMENTS_HEADER, "S-1,IL6,5,5,\u03bcg/dL,0"])
    err = raises(subjects_csv, meas, row=2, column="AVALU", text="is not known for IL6")
    assert "'\u03bcg/dL' (<U+03BC GREEK SMALL LETTER MU>g/dL)" in str(err)


def test_column_names_split_at_semicolons_are_recognised():
    # a table read by other means than read_table (which says so itself for a CSV file)
    header = "USUBJID;PARAMCD;AVAL;AVALC;AVALU;AVISITN"
    measurements = as_read(pd.DataFrame({header: ["S-1;CRP;5;5;mg/L;0"]}))
    subjects = as_read(
        pd.DataFrame([["S-1", "ST", "01", "P", 50, "F", 27]], columns=SUBJECTS_HEADER.split(","))
    )
    with pytest.raises(DataError, match="appears to be semicolon-separated"):
        prepare(subjects, measurements, subjects_file="s", measurements_file="m")


@pytest.mark.parametrize(
    ("limits", "text"),
    [
        ({"IL-6": {"lloq": 1.5}}, r"prepare.limits.IL-6: unknown PARAMCD"),
        ({"ESR": {"lloq": 1}}, r"prepare.limits.ESR: ESR results are never censored"),
        ({"IL6": {"LLOQ": 1.5}}, r"prepare.limits.IL6: .* is not a mapping of lloq and uloq"),
        ({"IL6": {"lloq": "1.5"}}, r"prepare.limits.IL6.lloq: '1.5' is not a positive number"),
        ({"IL6": {"uloq": 0}}, r"prepare.limits.IL6.uloq: 0 is not a positive number"),
        ({"IL6": {"lloq": 10, "uloq": 5}}, r"prepare.limits.IL6: lloq 10 is not below uloq 5"),
    ],
)
def test_bad_config_limits_are_config_errors(subjects_csv, write_csv, limits, text):
    meas = write_csv("m.csv", [MEASUREMENTS_HEADER, "S-2,IL6,60,60,pg/mL,4"])
    with pytest.raises(SpecError, match=text) as info:
        run(subjects_csv, meas, limits=limits)
    assert "Fix: " in str(info.value)


def test_a_value_converted_onto_its_limit_is_at_the_limit(subjects_csv, write_csv):
    # 0.07 mg/dL is 0.7000000000000001 mg/L once converted
    meas = write_csv("m.csv", [MEASUREMENTS_HEADER, "S-1,CRP,0.07,0.07,mg/dL,0"])
    out = run(subjects_csv, meas, limits={"CRP": {"lloq": 0.7}}).measurements
    assert (out["AVAL"].item(), out["CENS"].item()) == (0.7, -1)


def test_visit_and_study_day_must_agree_without_scheduled_visits(subjects_csv, write_csv):
    meas = write_csv("m.csv", [VISIT_HEADER, "S-1,CRP,5,5,mg/L,2,15", "S-1,CRP,5,5,mg/L,4,40"])
    raises(subjects_csv, meas, row=3, column="AVISITN", text="visit AVISITN 4 contradicts")


def das28_visit(subject: str, week: int, tjc: int, sjc: int, crp: str, ptga: int) -> list[str]:
    """Rows of the four DAS28-CRP components; ``crp`` as AVALC (a number or a limit)."""
    aval = "" if crp[0] in "<>" else crp
    return [
        f"{subject},TJC28,{tjc},{tjc},joints,{week}",
        f"{subject},SJC28,{sjc},{sjc},joints,{week}",
        f"{subject},CRP,{aval},{crp},mg/L,{week}",
        f"{subject},PTGA,{ptga},{ptga},mm,{week}",
    ]


def test_das28_from_a_censored_crp_is_stored_as_its_bound_never_as_exact(subjects_csv, write_csv):
    lines = [MEASUREMENTS_HEADER, *das28_visit("S-1", 0, 4, 1, "<3", 30)]
    lines += das28_visit("S-2", 0, 4, 1, ">300", 30) + das28_visit("S-3", 0, 4, 1, "3", 30)
    lines.append("S-1,DAS28CRP,3.1,3.1,score,0")
    prepared = run(subjects_csv, write_csv("m.csv", lines))
    das = prepared.measurements.query("PARAMCD == 'DAS28CRP'").set_index("USUBJID")
    assert das["CENS"].to_dict() == {"S-1": -1, "S-2": 1, "S-3": 0}
    for subject, crp in (("S-1", 3.0), ("S-2", 300.0), ("S-3", 3.0)):
        assert das.loc[subject, "AVAL"] == pytest.approx(float(das28_crp(4, 1, crp, 30)))
    # the score lies in [f(CRP 0), f(3)] = [2.78, 3.28]: a supplied 3.1 is consistent with it
    assert prepared.ledger.query("table == 'measurements' and row == 14")["reason"].item() == (
        "supplied score superseded: DAS28CRP derived from its components lies between 2.78 and "
        "3.28 (a component beyond its assay limit), as does the 3.10 given (the derived, "
        "censored score is used)"
    )
    response = prepared.response.set_index("USUBJID")
    assert response["BASECENS"].to_dict() == {"S-1": -1, "S-2": 1, "S-3": 0}


def test_a_value_at_a_configured_limit_censors_the_score_too(subjects_csv, write_csv):
    lines = [MEASUREMENTS_HEADER, *das28_visit("S-1", 0, 4, 1, "0.5", 30)]
    prepared = run(subjects_csv, write_csv("m.csv", lines), limits={"CRP": {"lloq": 0.5}})
    das = prepared.measurements.query("PARAMCD == 'DAS28CRP'")
    assert das["CENS"].item() == -1
    assert das["AVAL"].item() == pytest.approx(float(das28_crp(4, 1, 0.5, 30)))


def test_eular_from_censored_scores_is_given_only_where_the_bounds_decide_it(
    subjects_csv, write_csv
):
    lines = [MEASUREMENTS_HEADER]
    for subject in ("S-1", "S-2", "S-3"):
        lines += das28_visit(subject, 0, 16, 10, "30", 70)  # 6.30
    lines += das28_visit("S-1", 24, 1, 0, "<3", 20)  # in [1.80, 2.30]: good, remission
    lines += das28_visit("S-2", 24, 4, 1, "<3", 30)  # in [2.78, 3.28]: moderate or good
    lines += das28_visit("S-3", 24, 4, 1, "3", 30)  # 3.28 exactly: moderate
    prepared = run(subjects_csv, write_csv("m.csv", lines))
    response = prepared.response.set_index("USUBJID")
    assert response["EULAR"].to_dict() == {"S-1": "good", "S-2": "", "S-3": "moderate"}
    assert response["REMISS"].to_dict() == {"S-1": "Y", "S-2": "N", "S-3": "N"}
    assert response["CENS"].to_dict() == {"S-1": -1, "S-2": -1, "S-3": 0}
    assert response.loc["S-1", "AVAL"] == pytest.approx(float(das28_crp(1, 0, 3.0, 20)))
    assert response["CHG"].isna().tolist() == [True, True, False]
    assert response.loc["S-1", "NOTE"] == (
        "censored score (week 24 score below 2.30; a component beyond its limit): the bounds "
        "decide the categories"
    )
    assert response.loc["S-2", "NOTE"].endswith("EULAR could be moderate or good")
    assert response.loc["S-3", "NOTE"] == ""
