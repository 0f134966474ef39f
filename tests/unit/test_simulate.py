import numpy as np
import pandas as pd
import pytest
from helpers import as_read

from il6fit.data import prepare
from il6fit.data.contract import MEASUREMENT_COLUMNS, SUBJECT_COLUMNS
from il6fit.errors import SpecError
from il6fit.simulate import scenario, simulate_cohort


@pytest.fixture(scope="module")
def trial():
    return simulate_cohort(scenario("ra_tcz_trial", n_subjects=400), seed=11)


def test_same_seed_same_cohort_and_other_seed_differs(trial):
    again = simulate_cohort(scenario("ra_tcz_trial", n_subjects=400), seed=11)
    pd.testing.assert_frame_equal(trial[1], again[1])
    other = simulate_cohort(scenario("ra_tcz_trial", n_subjects=400), seed=12)
    assert not trial[1]["AVAL"].equals(other[1]["AVAL"])


def test_output_follows_the_data_contract(trial):
    subjects, measurements, truth = trial
    assert set(SUBJECT_COLUMNS) <= set(subjects.columns)
    assert set(MEASUREMENT_COLUMNS) <= set(measurements.columns)
    assert subjects["USUBJID"].is_unique
    assert set(measurements["PARAMCD"]) == {"IL6", "CRP", "ESR", "TJC28", "SJC28", "PTGA"}
    assert len(truth["subjects"]["USUBJID"]) == len(subjects)


def test_cohort_prepares_cleanly_and_converts_mg_per_dl_sites(trial):
    subjects, measurements, _ = trial
    assert (measurements["AVALU"] == "mg/dL").any()
    prepared = prepare(
        as_read(subjects),
        as_read(measurements),
        subjects_file="s.csv",
        measurements_file="m.csv",
    )
    assert (prepared.ledger["status"] == "used").all()
    crp = prepared.measurements.query("PARAMCD == 'CRP'")
    assert set(crp["AVALU"]) == {"mg/L"}


def test_baseline_levels_are_near_published_values(trial):
    _, measurements, _ = trial
    base = measurements[measurements["AVISITN"] == 0]
    il6 = pd.to_numeric(base.query("PARAMCD == 'IL6'")["AVAL"], errors="coerce")
    # OPTION baseline IL-6 median 22 pg/mL (domain-facts §1a)
    assert 15 < np.nanmedian(il6) < 30


def test_treatment_lowers_crp_and_raises_il6(trial):
    subjects, measurements, _ = trial
    arm = subjects.set_index("USUBJID")["TRT01P"]
    m = measurements[measurements["PARAMCD"].isin(["IL6", "CRP"])].copy()
    m["value"] = pd.to_numeric(m["AVAL"], errors="coerce") * np.where(m["AVALU"] == "mg/dL", 10, 1)
    m["arm"] = m["USUBJID"].map(arm)
    med = m.groupby(["arm", "PARAMCD", "AVISITN"])["value"].median()
    top = "TCZ 8 mg/kg + MTX"
    assert med[(top, "CRP", 2)] < 0.3 * med[(top, "CRP", 0)]
    assert med[(top, "IL6", 12)] > 2 * med[(top, "IL6", 0)]
    assert med[("Placebo + MTX", "IL6", 12)] == pytest.approx(
        med[("Placebo + MTX", "IL6", 0)], rel=0.2
    )


def test_results_outside_the_assay_range_are_reported_as_limits():
    _, measurements, _ = simulate_cohort(scenario("healthy", n_subjects=300), seed=3)
    il6 = measurements.query("PARAMCD == 'IL6'")
    below = il6["AVALC"] == "<1.5"
    assert below.mean() > 0.05
    assert (il6.loc[below, "AVAL"] == "").all()


@pytest.mark.parametrize(
    ("args", "text"),
    [(("nope",), "unknown scenario 'nope'"), (("healthy",), "unknown scenario option")],
)
def test_bad_scenarios_are_rejected(args, text):
    kwargs = {"n_subject": 5} if args == ("healthy",) else {}
    with pytest.raises(SpecError, match=text):
        scenario(*args, **kwargs)
