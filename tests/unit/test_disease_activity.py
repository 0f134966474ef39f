"""The disease-activity model: table, structure, priors from config, simulation."""

import numpy as np
import pandas as pd
import pymc as pm
import pytensor
import pytest
from scipy import stats

from il6fit.errors import SpecError
from il6fit.models import get_model, missing_parameters, resolve_priors

FAMILY = get_model("disease_activity")


def measurements() -> pd.DataFrame:
    """Three subjects at baseline (one also at week 12); C has no PtGA at baseline."""
    rows = []
    values = {
        ("A", 0): {"TJC28": 10, "SJC28": 6, "PTGA": 60, "IL6": 20, "CRP": 12, "DAS28ESR": 5.9},
        ("A", 12): {"TJC28": 4, "SJC28": 2, "PTGA": 30, "IL6": 8, "CRP": 3, "DAS28ESR": 3.9},
        ("B", 0): {"TJC28": 20, "SJC28": 12, "PTGA": 100, "IL6": 1.5, "CRP": 0.3, "DAS28ESR": 6.8},
        ("C", 0): {"TJC28": 8, "SJC28": 5, "IL6": 30, "CRP": 20, "DAS28ESR": 5.0},
    }
    cens = {("B", 0, "IL6"): -1, ("B", 0, "CRP"): -1}
    for (subject, week), results in values.items():
        for code, value in results.items():
            rows.append(
                {"USUBJID": subject, "PARAMCD": code, "AVISITN": float(week), "AVAL": value,
                 "CENS": cens.get((subject, week, code), 0)}
            )  # fmt: skip
    return pd.DataFrame(rows)


SUBJECTS = pd.DataFrame({"USUBJID": ["A", "B", "C"]})


def test_table_keeps_rows_with_every_value_at_the_chosen_visits():
    table = FAMILY.table(SUBJECTS, measurements(), {})
    assert list(table["USUBJID"]) == ["A", "B"]  # C lacks PtGA
    assert table.loc[1, "IL6_cens"] == -1
    assert {"TJC28", "SJC28", "PTGA", "IL6", "CRP"} <= set(table.columns)
    later = FAMILY.table(SUBJECTS, measurements(), {"visits": [0, 12], "outcome": "das28esr"})
    assert len(later) == 4
    assert "TJC28" not in later.columns


def test_a_censored_outcome_score_is_left_out(caplog):
    rows = measurements()
    # A's week-12 DAS28-ESR is a bound (as if derived from a censored ESR)
    rows.loc[(rows["USUBJID"] == "A") & (rows["PARAMCD"] == "DAS28ESR") & (rows["AVISITN"] == 12),
             "CENS"] = -1  # fmt: skip
    with caplog.at_level("INFO", logger="il6fit.models.disease_activity"):
        table = FAMILY.table(SUBJECTS, rows, {"visits": [0, 12], "outcome": "das28esr"})
    assert table[["USUBJID", "AVISITN"]].values.tolist() == [["A", 0.0], ["B", 0.0], ["C", 0.0]]
    assert "1 row(s) with a censored outcome left out" in caplog.text


@pytest.mark.parametrize(
    ("options", "text"),
    [
        ({"outcome": "das28crp"}, "outcome must be one of components, das28esr"),
        ({"predictors": ["esr"]}, "predictors must be a non-empty list of il6, crp"),
        ({"predictors": []}, "predictors must be a non-empty list"),
        ({"visits": [52]}, "no subject has all of TJC28, SJC28, PTGA, IL6, CRP at visit"),
    ],
)
def test_bad_options_are_named(options, text):
    with pytest.raises(SpecError, match=text):
        FAMILY.table(SUBJECTS, measurements(), options)


def test_components_structure_counts_out_of_28_and_censored_patient_global():
    model = FAMILY.build(FAMILY.table(SUBJECTS, measurements(), {}), FAMILY.default_priors)
    assert model.named_vars_to_dims["joints"] == ("obs", "joint")
    assert list(model.coords["joint"]) == ["tender", "swollen"]
    assert model.named_vars_to_dims["b_joint_il6"] == ("joint",)
    free = {v.name for v in model.free_RVs}
    assert {"a_joint", "b_joint_crp", "phi_joint", "a_ptga", "b_ptga_il6", "sigma_ptga"} <= free
    # B's IL-6 and CRP are below their limits: latent, not substituted
    assert {"log_il6_below", "log_crp_below"} <= free
    # one visit per subject: no subject effects
    assert not {"tau_joint", "z_joint", "tau_ptga"} & free
    # a patient global of 100 mm is at the end of the scale: its likelihood is P(PtGA >= 100)
    point = model.initial_point()
    logp = model.compile_logp(vars=[model["ptga"]], sum=False, mode="FAST_COMPILE")(point)[0]
    normal = model["ptga"].owner.inputs[0].owner  # the uncensored normal inside
    outputs = model.replace_rvs_by_values(normal.inputs[2:4])
    mu, sigma = pytensor.function(
        model.value_vars, outputs, on_unused_input="ignore", mode="FAST_COMPILE"
    )(**point)
    assert logp[0] == pytest.approx(stats.norm.logpdf(60, mu[0], sigma))
    assert logp[1] == pytest.approx(stats.norm.logsf(100, mu[1], sigma))


def test_repeated_visits_add_subject_effects_and_das28_outcome():
    table = FAMILY.table(SUBJECTS, measurements(), {"visits": [0, 12], "outcome": "das28esr"})
    model = FAMILY.build(table, FAMILY.default_priors)
    free = {v.name for v in model.free_RVs}
    assert {"a_das28", "b_das28_il6", "b_das28_crp", "sigma_das28", "tau_das28"} <= free
    assert model.named_vars_to_dims["z_das28"] == ("subject",)
    assert {v.name for v in model.observed_RVs} == {"das28", "log_il6", "log_crp"}


def test_priors_come_from_config():
    priors = resolve_priors(
        FAMILY.default_priors,
        {"b_joint_il6": {"dist": "Normal", "mu": 0.4, "sigma": 0.01}},
        "disease_activity",
    )
    model = FAMILY.build(FAMILY.table(SUBJECTS, measurements(), {}), priors)
    with model:
        draws = pm.draw(model["b_joint_il6"], draws=400, random_seed=1, mode="FAST_COMPILE")
    assert draws.shape == (400, 2)
    assert draws.mean() == pytest.approx(0.4, abs=0.005)


def test_a_dataset_without_joint_counts_names_them():
    meas = measurements()
    meas = meas[~meas["PARAMCD"].isin(["TJC28", "SJC28"])]
    assert missing_parameters(FAMILY, meas) == ["TJC28", "SJC28"]


def test_simulated_outcomes_follow_the_given_parameters(fast_compile):
    table = FAMILY.table(SUBJECTS, measurements(), {})
    big = pd.concat([table] * 500, ignore_index=True)
    big["USUBJID"] = [f"S{i}" for i in range(len(big))]
    big["IL6_cens"] = big["CRP_cens"] = 0
    truth = {
        "a_joint": [0.0, -1.0], "b_joint_il6": [0.0, 0.0], "b_joint_crp": [0.0, 0.0],
        "phi_joint": [1e6, 1e6], "a_ptga": 50.0, "b_ptga_il6": 0.0, "b_ptga_crp": 0.0,
        "sigma_ptga": 5.0,
    }  # fmt: skip
    out = FAMILY.simulate(big, FAMILY.default_priors, truth, seed=4)
    # binomial(28, 1/2) and binomial(28, 0.269): means 14 and 7.5
    assert out["TJC28"].mean() == pytest.approx(14, abs=0.3)
    assert out["SJC28"].mean() == pytest.approx(28 / (1 + np.e), abs=0.3)
    assert out["PTGA"].mean() == pytest.approx(50, abs=0.5)
    assert out["PTGA"].between(0, 100).all()
    assert (out["IL6"] == big["IL6"]).all()  # predictors untouched
