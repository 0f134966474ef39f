import logging

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from arviz_base import from_dict

from il6fit.diagnostics import summarise_estimands
from il6fit.errors import SpecError
from il6fit.models import get_model
from il6fit.models.treatment_response import (
    DEFAULT_PRIORS,
    Options,
    estimands,
    subject_log_likelihood,
)

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
    # the subject effects are integrated out: the likelihood is one term per subject
    assert model.named_vars_to_dims["y"] == ("subject",)
    assert {v.name for v in model.free_RVs} == {
        "mu_base", "gamma_base", "sigma_base", "delta", "eta", "tau_delta", "log_k", "sigma"
    }  # fmt: skip
    latent = get_model("treatment_response").generative(table(), DEFAULT_PRIORS)
    assert latent.named_vars_to_dims["y"] == ("obs",)
    assert {"z_base", "z_plateau"} <= {v.name for v in latent.free_RVs}


def irregular_table(seed: int = 1, n: int = 12) -> pd.DataFrame:
    """Visits at uneven weeks, two in one week for some subjects, baseline IL-6 varying."""
    rng = np.random.default_rng(seed)
    arms = {"Placebo": 0.0, "TCZ 4": 4.0, "TCZ 8": 8.0}
    rows = []
    for i in range(n):
        arm = list(arms)[i % 3]
        weeks = [0, 2, 4, 12, 24] if i % 2 else [0, 4, 4, 16]
        il6 = np.log(rng.lognormal(np.log(20), 1.0))
        for w in weeks:
            rows.append({"USUBJID": f"S{i:02d}", "week": w, "y": 6 + rng.normal(),
                         "arm": arm, "dose": arms[arm], "log_il6": il6})  # fmt: skip
    return pd.DataFrame(rows).sort_values(["USUBJID", "week"]).reset_index(drop=True)


def point(model, seed: int = 2) -> tuple[dict, dict]:
    """A random point: unconstrained values and the constrained globals they give."""
    rng = np.random.default_rng(seed)
    start = model.initial_point()
    values = {k: v + rng.normal(0, 0.4, np.shape(v)) for k, v in start.items()}
    outputs = model.unobserved_value_vars
    constrained = model.compile_fn(
        outputs, inputs=model.value_vars, point_fn=False, mode="FAST_COMPILE"
    )(**values)
    return values, {v.name: np.asarray(c) for v, c in zip(outputs, constrained, strict=True)}


def subject_moments(rows: pd.DataFrame, theta: dict, arms: list) -> tuple:
    """Prior mean and covariance of a subject's (base, plateau) and its design matrix."""
    x = rows["log_il6"].iloc[0] - np.log(20.0)
    arm = arms.index(rows["arm"].iloc[0])
    active = float(rows["dose"].iloc[0] > 0)
    mean = np.array([theta["mu_base"] + theta["gamma_base"] * x,
                     theta["delta"][arm] + theta["eta"] * active * x])  # fmt: skip
    k = theta["k"][arm] if np.ndim(theta["k"]) else theta["k"]
    z = 1 - np.exp(-k * rows["week"].to_numpy(float))
    design = np.column_stack([np.ones_like(z), z])
    prior = np.diag([theta["sigma_base"] ** 2, theta["tau_delta"] ** 2])
    return mean, prior, design


def repeated_draws(model, theta: dict, n: int) -> tuple[xr.Dataset, xr.Dataset]:
    """A posterior of ``n`` draws all at the globals ``theta``, and the model's constant data."""
    names = ("mu_base", "gamma_base", "sigma_base", "delta", "eta", "tau_delta", "k", "sigma")
    dims = model.named_vars_to_dims
    posterior = xr.Dataset(
        {
            name: (
                ("chain", "draw", *dims.get(name, ())),
                np.broadcast_to(theta[name], (1, n, *np.shape(theta[name]))),
            )
            for name in names
        },
        coords={"chain": [0], "draw": np.arange(n), "arm": list(model.coords["arm"])},
    )
    constant = xr.Dataset(
        {v.name: (dims.get(v.name, ()), v.get_value()) for v in model.data_vars},
        coords={"subject": list(model.coords["subject"])},
    )
    return posterior, constant


RATES = pytest.mark.parametrize("rates", ["shared", "per_arm"])


@RATES
def test_the_marginal_likelihood_of_each_subject_is_their_multivariate_normal_density(rates):
    from scipy.stats import multivariate_normal

    t = irregular_table()
    model = get_model("treatment_response").build(t, DEFAULT_PRIORS, Options(rates=rates))
    assert np.shape(model["k"].eval()) == ((3,) if rates == "per_arm" else ())
    values, theta = point(model)
    graph = model.replace_rvs_by_values([model["y"]])[0]
    per_subject = model.compile_fn(
        graph, inputs=model.value_vars, point_fn=False, on_unused_input="ignore",
        mode="FAST_COMPILE",
    )(**values)  # fmt: skip
    arms = list(model.coords["arm"])
    exact = []
    for _, rows in t.groupby("USUBJID"):
        mean, prior, design = subject_moments(rows, theta, arms)
        cov = theta["sigma"] ** 2 * np.eye(len(rows)) + design @ prior @ design.T
        exact.append(multivariate_normal(design @ mean, cov).logpdf(rows["y"].to_numpy()))
    np.testing.assert_allclose(per_subject, exact, rtol=1e-10)
    # ... and so is what the fit computes after sampling, in NumPy
    after = subject_log_likelihood(*repeated_draws(model, theta, 1))
    np.testing.assert_allclose(after["y"].values[0, 0], exact, rtol=1e-10)


@RATES
def test_subject_effects_drawn_back_follow_their_exact_conditional(rates):
    from il6fit.models.treatment_response import conditional_effects

    t = irregular_table()
    model = get_model("treatment_response").build(t, DEFAULT_PRIORS, Options(rates=rates))
    _, theta = point(model)
    n = 40_000
    posterior, constant = repeated_draws(model, theta, n)
    drawn = conditional_effects(posterior, constant, np.random.default_rng(3))
    arms = list(model.coords["arm"])
    for j, (_, rows) in enumerate(t.groupby("USUBJID")):
        mean, prior, design = subject_moments(rows, theta, arms)
        precision = np.linalg.inv(prior) + design.T @ design / theta["sigma"] ** 2
        cov = np.linalg.inv(precision)
        centre = cov @ (np.linalg.solve(prior, mean) + design.T @ rows["y"].to_numpy()
                        / theta["sigma"] ** 2)  # fmt: skip
        draws = np.column_stack([drawn["base"].values[0, :, j], drawn["plateau"].values[0, :, j]])
        se = np.sqrt(np.diag(cov) / n)
        assert np.all(np.abs(draws.mean(axis=0) - centre) < 4.5 * se)
        np.testing.assert_allclose(np.cov(draws.T), cov, rtol=0.05, atol=0.02 * cov.max())


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


@pytest.mark.parametrize("name", ["treatment_response", "mmrm"])
def test_censored_scores_are_left_out_with_a_note_in_the_log(name, caplog):
    subjects = pd.DataFrame({"USUBJID": ["A", "B", "C"], "TRT01P": ["Placebo", "TCZ 8", "TCZ 8"]})
    # B's week-24 score and C's baseline are bounds (derived from CRP below its limit)
    measurements = pd.DataFrame(
        {
            "USUBJID": ["A", "A", "A", "B", "B", "B", "C", "C", "C"],
            "PARAMCD": ["DAS28CRP", "DAS28CRP", "IL6"] * 3,
            "AVISITN": [0, 24, 0] * 3,
            "AVAL": [6.0, 4.0, 22.0, 6.2, 2.3, 30.0, 2.4, 2.0, 10.0],
            "CENS": [0, 0, 0, 0, -1, 0, -1, 0, 0],
        }
    )
    options = {"arms": ARMS, "score": "DAS28CRP"}
    with caplog.at_level(logging.INFO, logger="il6fit.models.censored"):
        out = get_model(name).table(subjects, measurements, options)
    kept = out[["USUBJID", "week"]].values.tolist()
    assert kept == ([["A", 24.0]] if name == "mmrm" else [["A", 0.0], ["A", 24.0], ["B", 0.0]])
    assert f"{name}: 2 censored DAS28CRP result(s) of 2 subject(s) left out" in caplog.text


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
                "k": np.broadcast_to(np.asarray(k, float), (*shape, *np.shape(k))).copy(),
            },
            "constant_data": {"log_il6_centred": np.zeros(3)},
        },
        dims={"base": ["subject"], "delta": ["arm"], "log_il6_centred": ["subject"]}
        | ({"k": ["arm"]} if np.ndim(k) else {}),
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
    # a rate per arm: placebo halfway at week 12, TCZ 8 there already
    per_arm = estimands(
        known_fit([-2.0, -4.0], k=[np.log(2) / 12, 50.0]), table(), Options(landmark_week=12), 0
    )
    assert float(per_arm["change"].sel(arm="Placebo").mean()) == pytest.approx(-1.0)
    assert float(per_arm["effect"].sel(active_arm="TCZ 8").mean()) == pytest.approx(-3.0)


def test_estimand_table_reports_probabilities_without_intervals():
    family = get_model("treatment_response")
    summary = summarise_estimands(
        known_fit([-1.0, -3.5]), family, table(), {}, ci_kind="eti", ci_prob=0.9, seed=1
    ).set_index("parameter")
    row = summary.loc["effect_exceeds_cid[TCZ 8]"]
    assert row["mean"] == 1.0
    assert np.isnan(row["ci_lower"])
    assert summary.loc["effect[TCZ 8]", "unit"] == "score"


@RATES
def test_landmark_check_draws_each_completer_given_their_other_visits(rates):
    from il6fit.models.treatment_response import conditional_effects, landmark_predictive

    t = irregular_table(seed=4, n=30)
    t.loc[t["week"] == 16, "week"] = 24.0  # completers: those seen at weeks 0 and 24
    family = get_model("treatment_response")
    model = family.build(t, DEFAULT_PRIORS, Options(rates=rates))
    _, theta = point(model)
    posterior, constant = repeated_draws(model, theta, 4000)
    # a stored fit holds the generative (latent) model's constant data
    latent = family.generative(t, DEFAULT_PRIORS, Options(rates=rates))
    stored = xr.Dataset(
        {
            v.name: (latent.named_vars_to_dims.get(v.name, ()), v.get_value())
            for v in latent.data_vars
            if v.name != "y_observed"
        },
        coords={"subject": list(latent.coords["subject"]), "week": list(latent.coords["week"])},
    )
    tree = xr.DataTree.from_dict({"posterior": posterior, "constant_data": stored})
    options = Options(landmark_week=24, rates=rates)
    observed = family.landmark.observed(t, options)
    assert set(observed["USUBJID"]) == set(t.loc[t["week"] == 24, "USUBJID"])
    draws = landmark_predictive(tree, t, options, np.random.default_rng(1))
    # direct: effects given the visits other than week 24, then the week-24 score
    without = t[t["week"] != 24]
    reached = 1 - np.exp(-np.asarray(theta["k"]) * 24)
    drawn = conditional_effects(
        posterior,
        constant.assign(
            {name: (constant[name].dims, value) for name, value in _grid(without, model).items()}
        ),
        np.random.default_rng(2),
    )
    subjects = list(model.coords["subject"])
    for j, arm in enumerate(model.coords["arm"]):
        members = observed[observed["arm"] == arm]
        at = [subjects.index(s) for s in members["USUBJID"]]
        baseline = t[t["week"] == 0].groupby("USUBJID")["y"].first().loc[members["USUBJID"]]
        here = reached[j] if reached.ndim else reached
        centre = drawn["base"].values[0][:, at] + drawn["plateau"].values[0][:, at] * here
        expected = (centre.mean(axis=0) - baseline.to_numpy()).mean()
        assert float(draws.sel(arm=arm).mean()) == pytest.approx(expected, abs=0.03), arm


def _grid(rows: pd.DataFrame, model) -> dict:
    """Visit counts and sums per subject and week of some rows, on the model's grid."""
    subjects, weeks = list(model.coords["subject"]), list(model.coords["week"])
    count = np.zeros((len(subjects), len(weeks)))
    total = np.zeros_like(count)
    for r in rows.itertuples():
        count[subjects.index(r.USUBJID), weeks.index(r.week)] += 1
        total[subjects.index(r.USUBJID), weeks.index(r.week)] += r.y
    sum_yy = rows.assign(yy=rows["y"] ** 2).groupby("USUBJID")["yy"].sum()
    return {
        "visit_count": count,
        "visit_sum": total,
        "visits": count.sum(axis=1),
        "sum_y": total.sum(axis=1),
        "sum_yy": sum_yy.reindex(subjects, fill_value=0.0).to_numpy(),
    }
