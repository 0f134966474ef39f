"""The independent exposure-response generator (``tests/independent_exposure.py``) checked on its
own: published exposures, a closed form, and its population truth against a large trial."""

import numpy as np
import pytest
from independent_exposure import ARMS, REGIMENS, courses, patients, population_change, trial

from il6fit.data import as_read, prepare
from il6fit.models import exposure_response as er


@pytest.fixture(scope="module")
def people():
    return patients(1000, np.random.default_rng(7))


@pytest.mark.parametrize(
    ("label", "published"),
    [("4 mg/kg IV every 4 weeks", 1.49), ("8 mg/kg IV every 4 weeks", 9.74),
     ("162 mg SC every 2 weeks", 2.3), ("162 mg SC every week", 27.9)],
)  # fmt: skip
def test_troughs_are_near_the_published_steady_state_means(people, label, published):
    # domain-facts section 5a: mean steady-state Cmin; within a factor of 2
    concentration, _ = courses(people, REGIMENS[label], np.array([0.0, 168.0]))
    assert published / 2 < concentration[:, 1].mean() < published * 2


def test_without_drug_the_course_is_the_closed_form(people):
    days = np.array([0.0, 14.0, 84.0, 168.0])
    _, score = courses(people, REGIMENS["placebo"], days)
    driven = people["dmard"].to_numpy()
    effect = people["imax"].to_numpy() * driven / (people["ec50"].to_numpy() + driven)
    base, kout = people["base"].to_numpy(), people["kout"].to_numpy()
    exact = base[:, None] * (1 - effect[:, None] * (1 - np.exp(-kout[:, None] * days)))
    np.testing.assert_allclose(score, exact, rtol=1e-5)


def test_the_population_truth_is_what_a_large_trial_shows():
    truth = population_change(n=2000)
    subjects, measurements = trial(400, seed=11, p_missed=0.0)
    das = measurements[measurements["PARAMCD"] == "DAS28ESR"].astype({"AVAL": float})
    wide = das.pivot_table(index="USUBJID", columns="AVISITN", values="AVAL")
    change = (wide["24"] - wide["0"]).groupby(subjects.set_index("USUBJID")["TRT01P"]).mean()
    labels = dict(zip(ARMS, list(REGIMENS)[:3], strict=True))
    for arm, observed in change.items():
        # the trial's SE about 0.08 per arm, Monte Carlo's about 0.03: 4 SEs
        assert observed == pytest.approx(truth[labels[arm]], abs=0.35)
    assert truth["8 mg/kg IV every 4 weeks"] < truth["4 mg/kg IV every 4 weeks"] < truth["placebo"]


def test_il6fit_reads_the_trial_with_its_drug_samples():
    subjects, measurements = trial(20, seed=3)
    data = prepare(
        as_read(subjects), as_read(measurements), subjects_file="s.csv", measurements_file="m.csv"
    )
    table = er.analysis_table(data.subjects, data.measurements, er.Options())
    assert table["USUBJID"].nunique() == 60
    assert table["tcz"].notna().sum() > 0 and (table["tcz_cens"] == -1).any()
