import numpy as np
import pandas as pd
import pytest
from arviz_base import from_dict

from il6fit.diagnostics import summarise_estimands
from il6fit.errors import SpecError
from il6fit.models import get_model
from il6fit.models.treatment_response import DEFAULT_PRIORS, Options, estimands

ARMS = {"Placebo": 0.0, "TCZ 8": 8.0}


def table() -> pd.DataFrame:
    rows = []
    for i, arm in enumerate(["Placebo", "TCZ 8", "TCZ 8"]):
        for week, y in ((0, 6.5), (12, 5.0), (24, 4.0)):
            rows.append(
                {"USUBJID": f"S{i}", "week": week, "y": y - i * 0.1, "arm": arm,
                 "dose": ARMS[arm], "log_il6": np.log(20.0)}
            )  # fmt: skip
    return pd.DataFrame(rows)


def test_structure_has_arms_ordered_control_first_and_named_dims():
    model = get_model("treatment_response").build(table(), DEFAULT_PRIORS)
    assert list(model.coords["arm"]) == ["Placebo", "TCZ 8"]
    assert list(model.coords["subject"]) == ["S0", "S1", "S2"]
    assert model.named_vars_to_dims["delta"] == ("arm",)
    assert model.named_vars_to_dims["y"] == ("obs",)
    assert {"mu_base", "delta", "eta", "tau_delta", "log_k", "sigma"} <= {
        v.name for v in model.free_RVs
    }


def test_analysis_table_keeps_listed_arms_with_a_baseline_and_il6():
    subjects = pd.DataFrame({"USUBJID": ["A", "B", "C"], "TRT01P": ["Placebo", "TCZ 8", "Other"]})
    measurements = pd.DataFrame(
        {
            "USUBJID": ["A", "A", "A", "B", "B", "C", "C"],
            "PARAMCD": ["DAS28ESR", "DAS28ESR", "IL6", "DAS28ESR", "IL6", "DAS28ESR", "IL6"],
            "AVISITN": [0, 24, 0, 24, 0, 0, 0],
            "AVAL": [6.0, 4.0, 22.0, 3.0, 30.0, 5.0, 10.0],
        }
    )
    out = get_model("treatment_response").table(subjects, measurements, {"arms": ARMS})
    # B has no baseline score; C's arm is not listed
    assert out["USUBJID"].tolist() == ["A", "A"]
    assert out["log_il6"].iloc[0] == pytest.approx(np.log(22.0))


def test_arms_need_exactly_one_control():
    with pytest.raises(SpecError, match="exactly one control arm"):
        get_model("treatment_response").table(
            pd.DataFrame({"USUBJID": [], "TRT01P": []}),
            pd.DataFrame({"USUBJID": [], "PARAMCD": [], "AVISITN": [], "AVAL": []}),
            {"arms": {"A": 4.0, "B": 8.0}},
        )


def known_fit(delta, *, base=6.0, sigma=1e-6, k=50.0):
    """A posterior of point masses: 2 chains x 5 draws, 3 subjects at IL-6 20 pg/mL."""
    shape = (2, 5)
    full = lambda v: np.full(shape, v)  # noqa: E731
    return from_dict(
        {
            "posterior": {
                "base": np.full((*shape, 3), base),
                "delta": np.broadcast_to(np.asarray(delta, float), (*shape, 2)).copy(),
                "eta": full(0.0),
                "tau_delta": full(0.0),
                "sigma": full(sigma),
                "k": full(k),
            },
            "constant_data": {"log_il6_centred": np.zeros(3)},
        },
        dims={"base": ["subject"], "delta": ["arm"], "log_il6_centred": ["subject"]},
        coords={"arm": ["Placebo", "TCZ 8"], "subject": ["S0", "S1", "S2"]},
    )


def test_estimands_from_known_posterior():
    draws = estimands(known_fit([-1.0, -3.5]), table(), Options(landmark_week=24), seed=0)
    assert float(draws["change"].sel(arm="Placebo").mean()) == pytest.approx(-1.0)
    assert float(draws["effect"].sel(active_arm="TCZ 8").mean()) == pytest.approx(-2.5)
    # from 6.0 to 2.5: remission, and an improvement of 3.5 to <= 3.2 is a good response
    assert float(draws["remission"].sel(arm="TCZ 8").mean()) == 1.0
    assert float(draws["eular_good"].sel(arm="TCZ 8").mean()) == 1.0
    # placebo ends at 5.0: neither
    assert float(draws["remission"].sel(arm="Placebo").mean()) == 0.0
    assert float(draws["effect_exceeds_cid"].mean()) == 1.0


def test_estimands_read_the_course_at_the_landmark_week():
    # k = ln 2 / 12 per week: half the plateau change is reached at week 12
    draws = estimands(
        known_fit([-2.0, -4.0], k=np.log(2) / 12), table(), Options(landmark_week=12), seed=0
    )
    assert float(draws["change"].sel(arm="TCZ 8").mean()) == pytest.approx(-2.0)
    small = estimands(
        known_fit([-1.0, -2.0]),
        table(),
        Options(landmark_week=24, clinically_important_difference=1.2),
        seed=0,
    )
    assert float(small["effect_exceeds_cid"].mean()) == 0.0


def test_estimand_table_reports_probabilities_without_intervals():
    family = get_model("treatment_response")
    summary = summarise_estimands(
        known_fit([-1.0, -3.5]), family, table(), {}, ci_kind="eti", ci_prob=0.9, seed=1
    ).set_index("parameter")
    row = summary.loc["effect_exceeds_cid[TCZ 8]"]
    assert row["mean"] == 1.0
    assert np.isnan(row["ci_lower"])
    assert summary.loc["effect[TCZ 8]", "unit"] == "score"
