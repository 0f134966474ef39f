"""The repeated-measures model: likelihood, table, estimands and the landmark check, no MCMC."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from independent_trial import trial
from scipy.stats import multivariate_normal

from il6fit.data import as_read, prepare
from il6fit.errors import SpecError
from il6fit.models import get_model, missing_parameters
from il6fit.models.landmark import completer_change, landmark_check
from il6fit.models.mmrm import DEFAULT_PRIORS, masked_logp

FAMILY = get_model("mmrm")
ARMS = {"Placebo": 0.0, "TCZ 8": 8.0}
WEEKS = (4, 12, 24)


def table(
    n: int = 40, seed: int = 1, p_missed: float = 0.25, keep_first: bool = True
) -> pd.DataFrame:
    """Changes at weeks 4, 12 and 24; visits missed at random (not week 4 if ``keep_first``)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        arm = list(ARMS)[i % 2]
        base = 6 + rng.normal(0, 0.8)
        for week in WEEKS:
            if (week != 4 or not keep_first) and rng.random() < p_missed:
                continue
            y = -0.5 - 1.5 * (arm != "Placebo") * week / 24 - 0.2 * (base - 6) + rng.normal()
            rows.append(
                {
                    "USUBJID": f"S{i:02d}",
                    "week": float(week),
                    "base": base,
                    "y": y,
                    "arm": arm,
                    "dose": ARMS[arm],
                }
            )
    return pd.DataFrame(rows)


def evaluate(model, values: dict, names: list[str]) -> list[np.ndarray]:
    """Values of model variables at a point of the free variables (value space)."""
    variables = model.replace_rvs_by_values([model[name] for name in names])
    fn = model.compile_fn(
        variables, inputs=model.value_vars, on_unused_input="ignore", mode="FAST_COMPILE"
    )
    return fn(values)


@pytest.mark.parametrize("covariance", ["unstructured", "compound_symmetry", "ar1", "independent"])
def test_each_patient_log_likelihood_is_the_normal_density_of_the_visits_they_have(
    covariance, fast_compile
):
    data = table(keep_first=False)  # missing visits first, between and last
    options = {"covariance": covariance, "arms": ARMS}
    model = FAMILY.build(data, DEFAULT_PRIORS, options)
    rng = np.random.default_rng(3)
    point = {k: v + rng.normal(0, 0.3, np.shape(v)) for k, v in model.initial_point().items()}
    rows = model.compile_fn(
        model.logp(vars=[model["y"]], sum=False)[0], inputs=model.value_vars, mode="FAST_COMPILE"
    )(point)
    sigma, beta, gamma = evaluate(model, point, ["sigma", "beta", "gamma"])
    corr = np.eye(len(WEEKS))
    if covariance == "unstructured":
        lower = np.tril_indices(len(WEEKS), -1)
        corr[lower] = corr[lower[::-1]] = evaluate(model, point, ["corr"])[0]
    elif covariance != "independent":
        rho = evaluate(model, point, ["rho"])[0]
        lag = np.abs(np.subtract.outer(range(3), range(3)))
        corr = np.where(lag == 0, 1.0, rho) if covariance == "compound_symmetry" else rho**lag
    cov = sigma[:, None] * corr * sigma[None, :]
    base = data.groupby("USUBJID")["base"].first()
    centred = base - base.mean()
    weeks = list(map(float, WEEKS))
    for subject, rows_of in data.groupby("USUBJID"):
        arm = 0 if rows_of["arm"].iloc[0] == "Placebo" else 1
        at = [weeks.index(w) for w in rows_of["week"]]
        mean = beta[arm, at] + gamma[at] * centred[subject]
        expected = multivariate_normal(mean, cov[np.ix_(at, at)]).logpdf(rows_of["y"])
        assert rows[rows_of.index].sum() == pytest.approx(expected, rel=1e-9), subject
        # the whole term on the patient's first row: one unit per patient for LOO
        assert np.all(rows[rows_of.index[1:]] == 0)


def test_masked_logp_keeps_no_latent_value_and_draws_the_rows_jointly(fast_compile):
    data = table()
    model = FAMILY.build(data, DEFAULT_PRIORS, {"arms": ARMS})
    assert {v.name for v in model.free_RVs} == {"beta", "gamma", "cov_factor"}
    assert model.named_vars_to_dims["y"] == ("obs",)
    drawn = FAMILY.simulate(data, DEFAULT_PRIORS, {}, seed=1, options={"arms": ARMS})
    assert drawn["y"].shape == data["y"].shape and not np.allclose(drawn["y"], data["y"])
    assert masked_logp.__doc__


def test_the_table_is_the_change_from_baseline_and_the_landmark_must_be_a_visit():
    subjects, measurements = trial(20, seed=4, esr=False)
    data = prepare(
        as_read(subjects), as_read(measurements), subjects_file="s", measurements_file="m"
    )
    options = {"score": "DAS28CRP"}
    built = FAMILY.table(data.subjects, data.measurements, options)
    das = data.measurements.query("PARAMCD == 'DAS28CRP'").pivot_table(
        index="USUBJID", columns="AVISITN", values="AVAL"
    )
    one = built.iloc[5]
    assert one["y"] == pytest.approx(
        das.loc[one["USUBJID"], one["week"]] - das.loc[one["USUBJID"], 0]
    )
    assert (built["week"] > 0).all() and "log_il6" not in built
    with pytest.raises(SpecError, match=r"landmark week 26 is not a modelled visit.*2, 4, 8"):
        FAMILY.table(data.subjects, data.measurements, {**options, "landmark_week": 26})
    # a trial without ESR: every treatment family fits DAS28-CRP, and needs no ESR
    for name, extra in [("mmrm", {}), ("treatment_response", {}), ("eular_response", {})]:
        family = get_model(name)
        assert not missing_parameters(family, data.measurements, {**options, **extra}), name
        assert len(family.table(data.subjects, data.measurements, options)) > 0
    assert missing_parameters(FAMILY, data.measurements) == ["DAS28ESR"]
    assert FAMILY.required({"effect_modification": True, "score": "CDAI"}) == ("IL6", "CDAI")


def stand_in(data: pd.DataFrame, options: dict, draws: int = 400, seed: int = 5) -> xr.DataTree:
    """A posterior with known values: every draw at the truth, or scattered about it."""
    model = FAMILY.build(data, DEFAULT_PRIORS, options)
    rng = np.random.default_rng(seed)
    beta = np.array([[-0.5, -0.6, -0.7], [-1.0, -1.8, -2.2]])
    sigma = np.array([0.8, 0.9, 1.0])
    corr = np.array([0.5, 0.4, 0.6])  # pairs 4-12, 4-24, 12-24
    shape = (2, draws // 2)

    def scatter(value, sd):
        return value + sd * rng.standard_normal((*shape, *np.shape(value)))

    posterior = xr.Dataset(
        {
            "beta": (("chain", "draw", "arm", "visit"), scatter(beta, 0.05)),
            "gamma": (("chain", "draw", "visit"), scatter(np.full(3, -0.2), 0.02)),
            "sigma": (("chain", "draw", "visit"), scatter(sigma, 0.0)),
            "corr": (("chain", "draw", "visit_pair"), scatter(corr, 0.0)),
        },
        coords={"arm": list(ARMS), "visit": list(map(float, WEEKS)), "visit_pair": ["a", "b", "c"]},
    )
    constant = xr.Dataset(
        {
            v.name: (model.named_vars_to_dims[v.name], np.asarray(v.get_value()))
            for v in model.data_vars
            if v.name in model.named_vars_to_dims
        },
        coords={"subject": np.asarray(model.coords["subject"])},
    )
    return xr.DataTree.from_dict({"posterior": posterior, "constant_data": constant})


def test_estimands_are_the_standardised_landmark_change_and_its_difference():
    data = table(n=60)
    options = FAMILY.make_options({"arms": ARMS})
    tree = stand_in(data, {"arms": ARMS})
    draws = FAMILY.estimand_draws(tree, data, options, seed=1)
    beta = tree["posterior"]["beta"].sel(visit=24.0)
    # baseline centred at the analysed patients' mean: the standardised change is beta
    assert np.allclose(draws["change"].values, beta.values)
    effect = (beta.sel(arm="TCZ 8") - beta.sel(arm="Placebo")).values
    assert np.allclose(draws["effect"].sel(active_arm="TCZ 8").values, effect)
    assert draws["effect_exceeds_cid"].mean() == pytest.approx((effect < -1.2).mean())
    # remission: P(baseline + change < 2.6) over the patients, change ~ N(mean, sigma_24)
    base = data.groupby("USUBJID")["base"].first()
    expected = np.mean(
        [
            np.mean(
                multivariate_normal(0, 1).cdf((2.6 - b + 0.2 * (b - base.mean()) - (-2.2)) / 1.0)
            )
            for b in base
        ]
    )
    got = float(draws["remission"].sel(arm="TCZ 8").mean())
    assert got == pytest.approx(expected, abs=0.01)
    assert set(draws) >= {"eular_good", "remission", "change", "effect"}
    cdai = FAMILY.estimand_draws(tree, data, {"arms": ARMS, "score": "CDAI"}, seed=1)
    assert "eular_good" not in cdai


def test_landmark_predictive_conditions_each_completer_on_their_other_visits():
    data = table(n=200, seed=7, p_missed=0.3)
    options = FAMILY.make_options({"arms": ARMS})
    tree = stand_in(data, {"arms": ARMS}, draws=4000)
    draws = FAMILY.landmark.predictive(tree, data, options, np.random.default_rng(1))
    # direct: for every completer, the conditional mean at week 24 given their other visits
    sigma = np.array([0.8, 0.9, 1.0])
    corr = np.array([[1, 0.5, 0.4], [0.5, 1, 0.6], [0.4, 0.6, 1]])
    cov = sigma[:, None] * corr * sigma[None, :]
    beta = {"Placebo": np.array([-0.5, -0.6, -0.7]), "TCZ 8": np.array([-1.0, -1.8, -2.2])}
    base = data.groupby("USUBJID")["base"].first()
    expected = {arm: [] for arm in ARMS}
    for subject, rows in data.groupby("USUBJID"):
        weeks = list(rows["week"])
        if 24.0 not in weeks:
            continue
        arm = rows["arm"].iloc[0]
        mean = beta[arm] - 0.2 * (base[subject] - base.mean())
        others = [WEEKS.index(int(w)) for w in weeks if w != 24.0]
        centre = mean[2]
        if others:
            residual = rows.set_index("week").loc[[float(WEEKS[o]) for o in others], "y"]
            coef = np.linalg.solve(cov[np.ix_(others, others)], cov[others, 2])
            centre += (residual.to_numpy() - mean[others]) @ coef
        expected[arm].append(centre)
    for arm in ARMS:
        got = float(draws.sel(arm=arm).mean())
        # Monte Carlo: 4,000 draws of a mean of ~70 completers, scattered parameters
        assert got == pytest.approx(np.mean(expected[arm]), abs=0.02), arm


def test_landmark_check_flags_an_observed_mean_outside_its_predictive_99_percent():
    observed = pd.DataFrame(
        {"arm": ["A"] * 4 + ["B"] * 4, "change": [-1, -1.2, -0.8, -1, -2, -2, -2, -2]}
    )
    rng = np.random.default_rng(0)
    predictive = xr.DataArray(
        np.stack([rng.normal(-1.0, 0.1, (2, 2000)), rng.normal(-1.0, 0.1, (2, 2000))], axis=-1),
        dims=("chain", "draw", "arm"),
        coords={"arm": ["A", "B"]},
    )
    result = landmark_check(observed, predictive).set_index("arm")
    assert result.loc["A", "p"] > 0.5
    assert result.loc["B", "p"] < 0.01
    assert result.loc["B", "predictive_upper"] < -2 + 1.5
    assert list(completer_change(observed, ["B", "A"])["arm"]) == ["B", "A"]


def test_the_gate_marks_a_fit_whose_observed_landmark_change_it_cannot_reproduce():
    from il6fit.diagnostics import LANDMARK_CHECK, landmark_row
    from il6fit.models.family import options_dict
    from il6fit.provenance import canonical_json
    from il6fit.storage import table_dataset

    data = table(n=200, seed=7, p_missed=0.3)
    options = FAMILY.make_options({"arms": ARMS})

    def stored(rows):
        tree = stand_in(rows, {"arms": ARMS}, draws=2000)
        tree["analysis_table"] = xr.DataTree(table_dataset(rows))
        tree.attrs["il6fit_family"] = "mmrm"
        tree.attrs["il6fit_options"] = canonical_json({"options": options_dict(options)})
        return tree

    # the data drawn near the stand-in posterior pass; shifted at week 24 they do not
    rng = np.random.default_rng(2)
    beta = {"Placebo": [-0.5, -0.6, -0.7], "TCZ 8": [-1.0, -1.8, -2.2]}
    base = data.groupby("USUBJID")["base"].transform("first")
    weeks = data["week"].map({4.0: 0, 12.0: 1, 24.0: 2})
    mean = [beta[a][w] for a, w in zip(data["arm"], weeks, strict=True)]
    fitting = data.assign(y=mean - 0.2 * (base - base.mean()) + rng.normal(0, 0.9, len(data)))
    row = landmark_row(stored(fitting), 0.01)
    assert row["check"] == LANDMARK_CHECK and row["passed"], row
    shifted = fitting.assign(y=fitting["y"] - 0.8 * (fitting["week"] == 24))
    row = landmark_row(stored(shifted), 0.01)
    assert not row["passed"] and "observed mean change" in row["worst"], row


def test_two_results_at_one_visit_are_refused_with_the_fix():
    subjects, measurements = trial(5, seed=4, esr=False)
    data = prepare(
        as_read(subjects), as_read(measurements), subjects_file="s", measurements_file="m"
    )
    doubled = data.measurements.copy()
    extra = doubled[(doubled["PARAMCD"] == "DAS28CRP") & (doubled["AVISITN"] == 12)].iloc[[0]]
    doubled = pd.concat([doubled, extra], ignore_index=True)
    with pytest.raises(SpecError, match=r"has 2 DAS28CRP results at week 12.*visit_weeks"):
        FAMILY.table(data.subjects, doubled, {"score": "DAS28CRP"})
