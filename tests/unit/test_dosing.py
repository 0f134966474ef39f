"""Dosing records: the third input table through preparation and the ledger, and the
exposure-response model dosing each subject as recorded (nothing sampled)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import MEASUREMENTS_HEADER, SUBJECTS_HEADER

from il6fit.data import prepare, read_table
from il6fit.errors import DataError
from il6fit.exposure import Doses, Regimen, concentrations
from il6fit.models import MODELS, get_model
from il6fit.models import exposure_response as er
from il6fit.models.turnover import course_fraction

DOSING_HEADER = "USUBJID,EXTRT,EXDOSE,EXDOSU,EXROUTE,EXSTDY,AVISITN"


@pytest.fixture
def trial(write_csv):
    """Two treated subjects and one on placebo, DAS28-ESR at weeks 0, 4 and 8."""
    subjects = write_csv(
        "s.csv",
        [SUBJECTS_HEADER, "S-1,ST,1,TCZ 8 mg/kg,50,F,25", "S-2,ST,1,TCZ 8 mg/kg,60,M,30",
         "S-3,ST,1,Placebo,55,F,22"],
    )  # fmt: skip
    rows = [f"S-{i},DAS28ESR,{6 - w / 4},,,{w}" for i in (1, 2, 3) for w in (0, 4, 8)]
    return subjects, write_csv("m.csv", [MEASUREMENTS_HEADER, *rows])


def run(trial, dosing, **kwargs):
    subjects, measurements = trial
    return prepare(
        read_table(subjects),
        read_table(measurements),
        subjects_file=subjects,
        measurements_file=measurements,
        dosing=read_table(dosing),
        dosing_file=dosing,
        **kwargs,
    )


def test_doses_are_read_by_study_day_or_week_and_every_row_is_ledgered(trial, write_csv):
    dosing = write_csv(
        "d.csv",
        [
            DOSING_HEADER,
            "S-1,TOCILIZUMAB,8,mg/kg,INTRAVENOUS,1,",
            "S-1,TOCILIZUMAB,8,mg/kg,INTRAVENOUS,36,",  # a week late
            "S-1,TOCILIZUMAB,8,mg/kg,INTRAVENOUS,36,",  # the same dose again
            "S-2,Actemra,162,mg,SC,,0",  # by week
            "S-2,,162,mg,SUBCUTANEOUS,,1",  # an empty EXTRT is tocilizumab
            "S-3,PLACEBO,0,mg/kg,IV,1,",
            "S-3,METHOTREXATE,15,mg,SC,1,",
        ],
    )
    prepared = run(trial, dosing)
    assert prepared.dosing[["USUBJID", "DAY", "DOSE", "DOSEU", "ROUTE"]].values.tolist() == [
        ["S-1", 0.0, 8.0, "mg/kg", "iv"],
        ["S-1", 35.0, 8.0, "mg/kg", "iv"],
        ["S-2", 0.0, 162.0, "mg", "sc"],
        ["S-2", 7.0, 162.0, "mg", "sc"],
    ]
    ledger = prepared.ledger[prepared.ledger["table"] == "dosing"].set_index("row")
    assert ledger.index.tolist() == [2, 3, 4, 5, 6, 7, 8]  # every input row
    assert ledger.loc[[2, 3, 5, 6], "status"].eq("used").all()
    assert ledger.loc[4, "reason"] == "duplicate: same dose as row 3"
    assert ledger.loc[7, "reason"].startswith("other treatment: EXTRT 'PLACEBO'")
    assert ledger.loc[8, "reason"].startswith("other treatment: EXTRT 'METHOTREXATE'")
    assert ledger.loc[3, "AVISITN"] == 5


@pytest.mark.parametrize(
    ("line", "column", "text"),
    [
        ("S-9,TOCILIZUMAB,8,mg/kg,IV,1,", "USUBJID", "not in the subjects table"),
        ("S-1,TOCILIZUMAB,8,mg/kg,IV,0,", "EXSTDY", "outside the plausible range"),
        ("S-1,TOCILIZUMAB,8,MG,IV,1,", "EXDOSU", "unknown EXDOSU 'MG'"),
        ("S-1,TOCILIZUMAB,8,mg/kg,ORAL,1,", "EXROUTE", "use one of INTRAVENOUS"),
        ("S-1,TOCILIZUMAB,8,mg/kg,IV,,", "EXSTDY", "the dose has no day"),
        ("S-1,TOCILIZUMAB,4,mg/kg,IV,29,", "EXDOSE", "two doses of S-1 on day 29"),
    ],
)
def test_a_bad_dosing_row_is_named_by_file_row_and_column(trial, write_csv, line, column, text):
    dosing = write_csv(
        "d.csv", [DOSING_HEADER, "S-1,TOCILIZUMAB,8,mg/kg,IV,29,", line]
    )  # fmt: skip
    with pytest.raises(DataError) as info:
        run(trial, dosing)
    assert (info.value.file, info.value.row, info.value.column) == (dosing, 3, column)
    assert text in str(info.value)


def test_a_dosing_table_without_a_route_says_which_column_to_add(trial, write_csv):
    dosing = write_csv("d.csv", ["USUBJID,EXDOSE,EXDOSU,EXSTDY", "S-1,8,mg/kg,1"])
    with pytest.raises(DataError, match="EXROUTE missing"):
        run(trial, dosing)


def test_subjects_dropped_for_a_missing_covariate_have_their_doses_ledgered(trial, write_csv):
    subjects, measurements = trial
    text = Path(subjects).read_text().replace("S-2,ST,1,TCZ 8 mg/kg,60,M,30", "S-2,ST,1,TCZ,,M,30")
    dosing = write_csv("d.csv", [DOSING_HEADER, "S-2,TCZ,8,mg/kg,IV,1,"])
    prepared = run(
        (write_csv("s.csv", text.splitlines()), measurements),
        dosing,
        missing="drop",
        subject_columns={"AGE": "model_options.il6_crp.covariates: age"},
    )
    assert prepared.dosing.empty
    row = prepared.ledger[prepared.ledger["table"] == "dosing"].iloc[0]
    assert row["status"] == "excluded" and row["reason"].startswith("missing covariate")


OPTIONS = er.Options(arms={"TCZ 8 mg/kg": 8, "Placebo": 0})


def test_recorded_doses_on_schedule_give_the_scheduled_design(trial, write_csv):
    on_time = [f"S-{i},TCZ,8,mg/kg,IV,{d + 1}," for i in (1, 2) for d in (0, 28)]
    prepared = run(trial, write_csv("d.csv", [DOSING_HEADER, *on_time]))
    recorded = er.analysis_table(prepared.subjects, prepared.measurements, OPTIONS,
                                 dosing=prepared.dosing)  # fmt: skip
    scheduled = er.analysis_table(prepared.subjects, prepared.measurements, OPTIONS)
    assert recorded["doses"].tolist()[:2] == ["day 0: 8 mg/kg IV; day 28: 8 mg/kg IV"] * 2
    assert (scheduled["doses"] == "").all()
    a, b = er.exposure_design(recorded), er.exposure_design(scheduled)
    np.testing.assert_array_equal(a["edges"], b["edges"])
    np.testing.assert_array_equal(a["concentration"], b["concentration"])


def test_a_late_dose_is_a_step_bound_and_the_subject_is_exposed_as_dosed(trial, write_csv):
    # by week, half a week late (a study day is on a step bound already); S-2 on schedule
    late = ["S-1,TCZ,8,mg/kg,IV,1,", "S-1,TCZ,8,mg/kg,IV,,4.5"]
    prepared = run(trial, write_csv("d.csv", [DOSING_HEADER, *late]))
    table = get_model("exposure_response").table(
        prepared.subjects, prepared.measurements, OPTIONS, dosing=prepared.dosing
    )
    design = er.exposure_design(table)
    assert 31.5 in design["edges"] and 28.0 in design["edges"]
    middles = (design["edges"][1:] + design["edges"][:-1]) / 2
    s1 = table.drop_duplicates("USUBJID")
    weight = s1["weight"].to_numpy()
    doses = Doses((0.0, 31.5), (8.0, 8.0), ("mg/kg",) * 2, ("iv",) * 2)
    np.testing.assert_array_equal(
        design["concentration"][0], concentrations([doses], middles, weight[:1], [True])[0]
    )
    scheduled = concentrations(Regimen("iv", 8, "mg/kg", 28), middles, weight[1:2], [False])[0]
    np.testing.assert_array_equal(design["concentration"][1], scheduled)
    # no family but exposure_response is given the records
    assert [name for name, f in MODELS.items() if f.reads_dosing] == ["exposure_response"]


THETA = {
    "mu_base": 6.6, "sigma_base": 0.6, "ec50": 3.7, "omega": 1.07, "imax": 0.70,
    "kout": 0.038, "omega_kout": 0.55, "dmard": 0.3, "sigma": 0.6,
}  # fmt: skip
WEEKS = np.array([0, 2, 4, 6, 8, 12, 16, 20, 24.0])


def delayed_trial(seed: int, n: int = 90) -> pd.DataFrame:
    """A trial whose treated patients miss or delay doses; DAS28 drawn as they were dosed.

    Each treated patient's second dose is 0-3 weeks late and, for a third of them, the dose at
    week 12 is skipped; the courses come from their own exposure and EC50, kout and baseline.
    """
    rng = np.random.default_rng(seed)
    dose = rng.choice([0.0, 4.0, 8.0], n)
    rows = pd.DataFrame(
        {
            "USUBJID": np.repeat([f"s{i:03d}" for i in range(n)], WEEKS.size),
            "week": np.tile(WEEKS, n),
            "dose": np.repeat(dose, WEEKS.size),
            "female": np.repeat(rng.random(n) < 0.8, WEEKS.size),
            "weight": np.repeat(rng.normal(72, 14, n).clip(40, 140).round(), WEEKS.size),
        }
    )
    rows["day"], rows["arm"], rows["y"] = rows["week"] * 7, rows["dose"].astype(str), 0.0
    rows["regimen"] = [Regimen("iv", d, "mg/kg", 28).label for d in rows["dose"]]
    records = {}
    for i in np.flatnonzero(dose > 0):
        days = [0.0, 28.0 + 7 * rng.integers(0, 4), 56.0, 84.0, 112.0, 140.0]
        amounts = [dose[i]] * 6
        if rng.random() < 1 / 3:
            amounts[3] = 0.0
        records[f"s{i:03d}"] = Doses(tuple(days), tuple(amounts), ("mg/kg",) * 6, ("iv",) * 6)
    rows["doses"] = rows["USUBJID"].map({k: v.text for k, v in records.items()}).fillna("")
    design = er.exposure_design(rows)
    base = rng.normal(THETA["mu_base"], THETA["sigma_base"], n)
    ec50 = THETA["ec50"] * np.exp(rng.normal(0, THETA["omega"], n))
    kout = THETA["kout"] * np.exp(rng.normal(0, THETA["omega_kout"], n))
    driven = (design["concentration"] + THETA["dmard"]) ** er.HILL
    effect = THETA["imax"] * driven / (ec50[:, None] ** er.HILL + driven)
    g = np.concatenate([course_fraction(1 - effect[i : i + 1], kout[i], design["edges"],
                                        WEEKS * 7) for i in range(n)])  # fmt: skip
    rows["y"] = (base[:, None] * g + rng.normal(0, THETA["sigma"], g.shape)).ravel()
    return rows


def test_at_the_truth_the_record_explains_a_delayed_trial_better_than_the_schedule():
    # the expected log-likelihood ratio of the true dosing to the schedule is a KL divergence:
    # positive for the patients dosed off schedule, 0 for the others
    gains = []
    for seed in (1, 2, 3):
        rows = delayed_trial(seed)
        recorded = er.subject_log_likelihood(er.exposure_design(rows), **THETA)
        scheduled = er.subject_log_likelihood(er.exposure_design(rows.assign(doses="")), **THETA)
        off = rows.drop_duplicates("USUBJID")["doses"].str.contains(r"day 3[5-9]|day 4|: 0 ")
        np.testing.assert_allclose(recorded[~off.to_numpy()], scheduled[~off.to_numpy()],
                                   rtol=1e-6)  # fmt: skip
        gains.append(float((recorded - scheduled).sum()))
    assert min(gains) > 20, gains
