"""The EULAR response model: response coding, structure, estimands from a known posterior."""

import logging

import numpy as np
import pandas as pd
import pymc as pm
import pytest
from arviz_base import from_dict

from il6fit.data import as_read, das28_crp, prepare
from il6fit.errors import SpecError
from il6fit.models import get_model
from il6fit.models.eular_response import probabilities

FAMILY = get_model("eular_response")
ARMS = {"Placebo": 0.0, "TCZ 8": 8.0}
COMPONENTS = ("TJC28", "SJC28", "CRP", "PTGA")


def data():
    """Four subjects: EULAR good, moderate, none, and a dropout without a week-24 score."""
    subjects = pd.DataFrame(
        {"USUBJID": ["A", "B", "C", "D"], "TRT01P": ["TCZ 8", "TCZ 8", "Placebo", "Placebo"]}
    )
    scores = {"A": (6.0, 3.0), "B": (6.0, 4.5), "C": (6.0, 5.6), "D": (6.0, None)}
    rows = []
    for subject, (base, week24) in scores.items():
        rows += [
            (subject, "DAS28ESR", 0.0, base, 0),
            (subject, "IL6", 0.0, 1.5 if subject == "B" else 25.0, -1 if subject == "B" else 0),
            (subject, "CRP", 0.0, 12.0, 0),
        ]
        if week24 is not None:
            rows.append((subject, "DAS28ESR", 24.0, week24, 0))
    columns = ["USUBJID", "PARAMCD", "AVISITN", "AVAL", "CENS"]
    return subjects, pd.DataFrame(rows, columns=columns)


def test_table_codes_the_response_and_leaves_out_dropouts():
    table = FAMILY.table(*data(), {"arms": ARMS})
    # improvement 3.0 to 3.0 (good), 1.5 to 4.5 (moderate), 0.4 (none); D has no week 24
    assert list(table["USUBJID"]) == ["A", "B", "C"]
    assert list(table["response"]) == [2, 1, 0]
    assert list(table["IL6_cens"]) == [0, -1, 0]
    assert "das28_centred" not in table
    adjusted = FAMILY.table(*data(), {"arms": ARMS, "covariates": ["il6", "das28"]})
    assert list(adjusted["das28_centred"]) == [0.0, 0.0, 0.0]
    assert "CRP" not in adjusted


@pytest.mark.parametrize(
    ("options", "text"),
    [
        ({"arms": {"TCZ 8": 8.0}}, "exactly one control arm"),
        ({"arms": ARMS, "covariates": ["bmi"]}, "unknown covariate"),
        ({"arms": ARMS, "landmark_week": 52}, "DAS28ESR at weeks 0 and 52, or a supplied EULAR"),
    ],
)
def test_bad_options_are_named(options, text):
    with pytest.raises(SpecError, match=text):
        FAMILY.table(*data(), options)


def test_structure_control_is_the_reference_and_il6_is_latent_below_its_limit():
    model = FAMILY.build(FAMILY.table(*data(), {"arms": ARMS}), FAMILY.default_priors)
    assert list(model.coords["arm"]) == ["Placebo", "TCZ 8"]
    assert list(model.coords["active_arm"]) == ["TCZ 8"]
    assert model.named_vars_to_dims["beta"] == ("active_arm",)
    assert model.named_vars_to_dims["response"] == ("subject",)
    free = {v.name for v in model.free_RVs}
    assert {"beta", "gamma_il6", "gamma_crp", "theta_none", "theta_gap", "log_il6_below"} <= free
    assert "gamma_das28" not in free


def test_probabilities_are_the_cumulative_logit():
    eta = np.array([[0.0, 1.0]])
    p = probabilities(eta, np.array([0.5]), np.array([2.0]))
    expit = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    assert p[0, 1].tolist() == pytest.approx(
        [expit(-0.5), expit(1.5) - expit(-0.5), 1 - expit(1.5)]
    )
    assert p.sum(axis=-1) == pytest.approx(np.ones((1, 2)))


def test_estimands_standardise_over_subjects_in_each_arm():
    table = FAMILY.table(*data(), {"arms": ARMS})
    # two draws; subjects' linear predictors include their own arm's beta
    beta = np.array([[[1.0], [2.0]]])
    covariate_part = np.array([0.5, -0.5, 0.0])
    own_beta = np.array([1.0, 1.0, 0.0])  # A and B on TCZ 8, C on placebo
    eta = covariate_part + own_beta * beta[..., :1]
    tree = from_dict(
        {
            "posterior": {
                "beta": beta, "eta": eta, "theta_none": np.array([[0.0, 0.0]]),
                "theta_gap": np.array([[1.0, 1.0]]),
            }
        },
        dims={"beta": ["active_arm"], "eta": ["subject"]},
        coords={"active_arm": ["TCZ 8"]},
    )  # fmt: skip
    out = FAMILY.estimand_draws(tree, table)
    for draw, b in enumerate((1.0, 2.0)):
        for arm, shift in (("Placebo", 0.0), ("TCZ 8", b)):
            p = probabilities((covariate_part + shift)[None], np.zeros(1), np.ones(1))[0]
            got = out.sel(chain=0, draw=draw, arm=arm)
            assert float(got["p_good"]) == pytest.approx(p[:, 2].mean())
            assert float(got["p_none"]) == pytest.approx(p[:, 0].mean())
            assert float(got["p_moderate_or_good"]) == pytest.approx(1 - p[:, 0].mean())
    difference = out["p_good_difference"].sel(active_arm="TCZ 8")
    assert (difference > 0).all()
    assert float(difference[0, 1]) == pytest.approx(
        float(out["p_good"].sel(arm="TCZ 8")[0, 1] - out["p_good"].sel(arm="Placebo")[0, 1])
    )


def test_simulated_responses_follow_the_odds_ratio(fast_compile):
    subjects, meas = data()
    table = FAMILY.table(subjects, meas, {"arms": ARMS})
    big = pd.concat([table] * 3000, ignore_index=True)
    big["USUBJID"] = [f"S{i}" for i in range(len(big))]
    big["IL6_cens"] = 0
    truth = {"beta": [2.0], "gamma_il6": 0.0, "gamma_crp": 0.0, "theta_none": 0.0,
             "theta_gap": 2.0}  # fmt: skip
    out = FAMILY.simulate(big, FAMILY.default_priors, truth, seed=3)
    placebo = out.loc[out["arm"] == "Placebo", "response"]
    active = out.loc[out["arm"] == "TCZ 8", "response"]
    assert (placebo == 0).mean() == pytest.approx(0.5, abs=0.03)  # expit(0 - 0)
    assert (active == 2).mean() == pytest.approx(0.5, abs=0.03)  # 1 - expit(2 - 2)
    assert (placebo == 2).mean() == pytest.approx(1 - 1 / (1 + np.exp(-2.0)), abs=0.03)


def prepared(rows: list[tuple], arms: dict[str, str]):
    """A dataset prepared from (subject, PARAMCD, AVALC, AVISITN) rows, units canonical."""
    units = {"IL6": "pg/mL", "CRP": "mg/L", "TJC28": "joints", "SJC28": "joints", "PTGA": "mm"}
    subjects = pd.DataFrame(
        {"USUBJID": list(arms), "STUDYID": "ST", "SITEID": "01", "TRT01P": list(arms.values()),
         "AGE": 50, "SEX": "F", "BMI": 25.0}
    )  # fmt: skip
    measurements = pd.DataFrame(
        [
            (s, code, "" if value[0] in "<>" or code == "EULAR" else value, value,
             units.get(code, ""), week)
            for s, code, value, week in rows
        ],
        columns=["USUBJID", "PARAMCD", "AVAL", "AVALC", "AVALU", "AVISITN"],
    )  # fmt: skip
    data = prepare(
        as_read(subjects), as_read(measurements), subjects_file="s", measurements_file="m"
    )
    return data.subjects, data.measurements


def test_supplied_eular_rows_without_components_fit_with_baseline_biomarkers():
    responses = {"A": "good", "B": "moderate", "C": "none", "D": "none", "E": "good"}
    arms = {"A": "TCZ 8", "B": "TCZ 8", "C": "Placebo", "D": "Placebo", "E": "Placebo"}
    rows = [(s, "EULAR", category, 24) for s, category in responses.items()]
    rows += [(s, code, value, 0) for s in arms for code, value in (("IL6", "25"), ("CRP", "12"))]
    subjects, measurements = prepared(rows, arms)
    assert not {"TJC28", "SJC28", "PTGA", "DAS28ESR"} & set(measurements["PARAMCD"])
    assert FAMILY.required() == ("IL6", "CRP")
    assert FAMILY.required({"covariates": ["il6", "das28"]}) == ("IL6", "DAS28ESR")
    table = FAMILY.table(subjects, measurements, {"arms": ARMS})
    assert table["response"].tolist() == [2, 1, 0, 0, 2]
    assert set(table["response_source"]) == {"supplied"}
    assert table[["BASE", "LANDMARK"]].isna().all().all()
    model = FAMILY.build(table, FAMILY.default_priors, {"arms": ARMS})
    with model:
        draws = pm.sample_prior_predictive(
            draws=50, random_seed=1, compile_kwargs={"mode": "FAST_COMPILE"}
        )
    replicated = draws["prior_predictive"]["response"].values
    assert replicated.shape == (1, 50, 5)
    assert set(np.unique(replicated)) <= {0, 1, 2}
    np.testing.assert_array_equal(draws["observed_data"]["response"].values, [2, 1, 0, 0, 2])
    with pytest.raises(SpecError, match="and an exact baseline DAS28ESR"):
        FAMILY.table(subjects, measurements, {"arms": ARMS, "covariates": ["das28"]})


def test_a_censored_score_gives_the_response_where_its_bounds_decide_it(caplog):
    arms = {"A": "TCZ 8", "B": "TCZ 8", "C": "Placebo", "D": "Placebo"}
    rows = [(s, code, value, 0) for s in arms for code, value in (("IL6", "25"), ("CRP", "30"))]
    rows += [
        (s, c, v, 0) for s in arms for c, v in (("TJC28", "16"), ("SJC28", "10"), ("PTGA", "70"))
    ]
    week24 = {"A": ("1", "0", "<3", "20"), "B": ("4", "1", "<3", "30"), "C": ("4", "1", "<3", "30"),
              "D": ("4", "1", "12", "30")}  # fmt: skip
    for s, values in week24.items():
        rows += [(s, c, v, 24) for c, v in zip(COMPONENTS, values, strict=True)]
    rows.append(("C", "EULAR", "moderate", 24))
    subjects, measurements = prepared(rows, arms)
    options = {"arms": ARMS, "score": "DAS28CRP"}
    with caplog.at_level(logging.INFO, logger="il6fit.models.eular_response"):
        table = FAMILY.table(subjects, measurements, options)
    # A: in [1.80, 2.30] against 6.30, good whatever CRP was; B and C: in [2.78, 3.28], good or
    # moderate: B is left out, C has a supplied category; D is exact
    assert table["USUBJID"].tolist() == ["A", "C", "D"]
    assert table["response"].tolist() == [2, 1, 1]
    assert table["response_source"].tolist() == ["score", "supplied", "score"]
    assert table["LANDMARK"].isna().tolist() == [True, True, False]
    assert table.loc[2, "LANDMARK"] == pytest.approx(float(das28_crp(4, 1, 12, 30)))
    note = "2 subject(s) have a censored DAS28CRP whose bounds leave the EULAR response open"
    assert f"{note}: 1 with a supplied category use it, 1 are left out" in caplog.text
