"""The EULAR response model: response coding, structure, estimands from a known posterior."""

import numpy as np
import pandas as pd
import pytest
from arviz_base import from_dict

from il6fit.errors import SpecError
from il6fit.models import get_model
from il6fit.models.eular_response import probabilities

FAMILY = get_model("eular_response")
ARMS = {"Placebo": 0.0, "TCZ 8": 8.0}


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
        ({"arms": ARMS, "landmark_week": 52}, "has DAS28ESR at weeks 0 and 52"),
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


def test_simulated_responses_follow_the_odds_ratio():
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
