import dataclasses
import inspect
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pymc as pm
import pytest
import yaml

from il6fit.catalogue import cached, config_schema, describe, options_table
from il6fit.data import prepare
from il6fit.diagnostics import Thresholds
from il6fit.errors import SpecError
from il6fit.escalation import Escalation
from il6fit.models import MODELS, get_model, missing_parameters, resolve_priors
from il6fit.models.il6_crp import DEFAULT_PRIORS
from il6fit.models.priors import Prior
from il6fit.sampling import SamplerSettings
from il6fit.storage import StorePolicy


def table(il6_cens=(0, 0, -1, 1), crp_cens=(0, -1, 0, 1)):
    n = len(il6_cens)
    return pd.DataFrame(
        {
            "USUBJID": [f"S{i}" for i in range(n)],
            "AVISITN": 0,
            "site": ["A", "A", "B", "B"][:n],
            "il6": [20.0, 5.0, 1.5, 5000.0][:n],
            "il6_cens": il6_cens,
            "crp": [15.0, 0.3, 4.0, 320.0][:n],
            "crp_cens": crp_cens,
            "BMI": [27.0, 30.0, 22.0, 35.0][:n],
            "AGE": [50.0, 60.0, 40.0, 55.0][:n],
            "male": [0.0, 1.0, 0.0, 1.0][:n],
        }
    )


def test_unknown_model_lists_valid_names():
    with pytest.raises(SpecError, match="unknown model 'foo'; choose one of il6_crp"):
        get_model("foo")


def test_il6_crp_structure_dims_and_censoring():
    model = get_model("il6_crp").generative(table(), DEFAULT_PRIORS)
    free = {v.name for v in model.free_RVs}
    assert {"alpha", "beta_il6", "sigma", "alpha_site"} <= free
    assert model.named_vars_to_dims["alpha_site"] == ("site",)
    hierarchical = get_model("il6_crp").build(
        table(), DEFAULT_PRIORS, {"site_effects": "hierarchical"}
    )
    assert {"tau_site", "z_site"} <= {v.name for v in hierarchical.free_RVs}
    assert {"log_il6_below", "log_il6_above"} <= free
    assert model.named_vars_to_dims["log_crp"] == ("obs",)
    assert list(model.coords["site"]) == ["A", "B"]
    assert list(model.coords["il6_measured"]) == [0, 1]
    assert {v.name for v in model.observed_RVs} == {"log_crp", "log_il6"}
    # the fitted form integrates the censored IL-6 out: no latent value left to sample
    fitted = get_model("il6_crp").build(table(), DEFAULT_PRIORS)
    assert not {"log_il6_below", "log_il6_above"} & {v.name for v in fitted.free_RVs}
    assert fitted.named_vars_to_dims["log_crp"] == ("il6_measured",)
    assert fitted.named_vars_to_dims["log_il6_below"] == ("il6_below",)
    # Student-t residuals have no closed form: the latent values stay
    robust = get_model("il6_crp").build(table(), DEFAULT_PRIORS, {"residual": "student_t"})
    assert {"log_il6_below", "log_il6_above"} <= {v.name for v in robust.free_RVs}


def censored_rows_table():
    """IL-6 and CRP both below their limits, IL-6 below with CRP measured, both above."""
    return table(il6_cens=(0, -1, -1, 1), crp_cens=(0, -1, 0, 1))


def fitted_point(model, seed=4):
    rng = np.random.default_rng(seed)
    values = {k: v + rng.normal(0, 0.3, np.shape(v)) for k, v in model.initial_point().items()}
    outputs = model.unobserved_value_vars
    constrained = model.compile_fn(
        outputs, inputs=model.value_vars, point_fn=False, mode="FAST_COMPILE"
    )(**values)
    return values, {v.name: np.asarray(c) for v, c in zip(outputs, constrained, strict=True)}


def crp_regression(t, theta):
    """Each row's ln CRP intercept (IL-6 term excluded, -beta ln 20 included)."""
    site = {"A": 0, "B": 1}
    return (
        theta["alpha"] + theta["alpha_site"][t["site"].map(site).to_numpy()]
        + theta["beta_bmi"] * (t["BMI"].to_numpy() - 27) / 5 + theta["beta_male"] * t["male"]
        + theta["beta_age"] * (t["AGE"].to_numpy() - 50) / 10
        - theta["beta_il6"] * np.log(20.0)
    ).to_numpy()  # fmt: skip


def test_censored_il6_rows_get_their_exact_probability_with_the_latent_value_integrated_out():
    from scipy import integrate, stats

    t = censored_rows_table()
    model = get_model("il6_crp").build(t, DEFAULT_PRIORS)
    values, theta = fitted_point(model)
    terms = [model.replace_rvs_by_values([model[n]])[0] for n in ("log_il6_below", "log_il6_above")]
    below, above = model.compile_fn(
        terms, inputs=model.value_vars, point_fn=False, on_unused_input="ignore",
        mode="FAST_COMPILE",
    )(**values)  # fmt: skip
    c = crp_regression(t, theta)
    mx, sx, b, s = theta["mu_il6"], theta["sigma_il6"], theta["beta_il6"], theta["sigma"]
    a, y = np.log(t["il6"].to_numpy()), np.log(t["crp"].to_numpy())

    def probability(row, sign):  # P(sign x < sign a, sign y < sign b) by adaptive quadrature
        crp = lambda x: stats.norm.cdf(sign * (y[row] - c[row] - b * x) / s)  # noqa: E731
        lo, hi = (-np.inf, a[row]) if sign > 0 else (a[row], np.inf)
        return integrate.quad(lambda x: stats.norm.pdf(x, mx, sx) * crp(x), lo, hi,
                              epsabs=1e-14, epsrel=1e-12)[0]  # fmt: skip

    # row 1: both below; row 3: both above (the bivariate normal probabilities)
    exact_1, upper = np.log(probability(1, 1)), probability(3, -1)
    # row 2: IL-6 below, CRP measured -> integral of the joint density over x < a
    dens = integrate.quad(
        lambda x: stats.norm.pdf(x, mx, sx) * stats.norm.pdf(y[2], c[2] + b * x, s), -np.inf, a[2]
    )[0]
    np.testing.assert_allclose(below, [exact_1, np.log(dens)], rtol=1e-6)
    np.testing.assert_allclose(above, [np.log(upper)], rtol=1e-6)


def test_censored_il6_drawn_back_follows_its_exact_conditional():
    import xarray as xr
    from scipy import integrate, stats

    from il6fit.models.il6_crp import conditional_il6

    t = censored_rows_table()
    model = get_model("il6_crp").build(t, DEFAULT_PRIORS)
    _, theta = fitted_point(model)
    n = 20_000
    dims = model.named_vars_to_dims
    posterior = xr.Dataset(
        {
            name: (
                ("chain", "draw", *dims.get(name, ())),
                np.broadcast_to(value, (1, n, *np.shape(value))),
            )
            for name, value in theta.items()
            if not name.endswith("__")
        },
        coords={"chain": [0], "draw": np.arange(n), "site": ["A", "B"]},
    )
    constant = xr.Dataset(
        {v.name: (dims.get(v.name, ()), v.get_value()) for v in model.data_vars},
        coords={d: np.asarray(model.coords[d]) for d in ("obs", "il6_below", "il6_above")},
    )
    drawn = conditional_il6(posterior, constant, np.random.default_rng(5))
    c = crp_regression(t, theta)
    mx, sx, b, s = theta["mu_il6"], theta["sigma_il6"], theta["beta_il6"], theta["sigma"]
    a, y = np.log(t["il6"].to_numpy()), np.log(t["crp"].to_numpy())

    def weight(x, row):  # unnormalised conditional density of x given what the row shows
        crp = t["crp_cens"].iloc[row]
        like = (stats.norm.pdf(y[row], c[row] + b * x, s) if crp == 0
                else stats.norm.cdf(crp * -(y[row] - c[row] - b * x) / s))  # fmt: skip
        return stats.norm.pdf(x, mx, sx) * like

    for name, rows in (("log_il6_below", (1, 2)), ("log_il6_above", (3,))):
        values = drawn[name].values[0]
        for j, row in enumerate(rows):
            lo, hi = (-np.inf, a[row]) if name.endswith("below") else (a[row], np.inf)
            assert (values[:, j] < a[row]).all() if name.endswith("below") else (
                values[:, j] > a[row]).all()  # fmt: skip
            mass = integrate.quad(weight, lo, hi, args=(row,))[0]
            mean = integrate.quad(lambda x, r=row: x * weight(x, r), lo, hi)[0] / mass
            second = integrate.quad(lambda x, r=row: x**2 * weight(x, r), lo, hi)[0] / mass
            sd = np.sqrt(second - mean**2)
            assert abs(values[:, j].mean() - mean) < 4.5 * sd / np.sqrt(n)
            assert values[:, j].std() == pytest.approx(sd, rel=0.05)


def test_without_censored_il6_there_are_no_latent_values():
    model = get_model("il6_crp").build(table(il6_cens=(0, 0, 0, 0)), DEFAULT_PRIORS)
    assert not {"log_il6_below", "log_il6_above"} & {v.name for v in model.free_RVs}


def test_latent_il6_respects_its_limits_and_crp_predictions_are_censored():
    model = get_model("il6_crp").generative(table(), DEFAULT_PRIORS)
    # the potentials that renormalise the latent IL-6 are ignored by prior sampling
    with model, pytest.warns(UserWarning, match="Potentials"):
        prior = pm.sample_prior_predictive(
            draws=300, random_seed=1, compile_kwargs={"mode": "FAST_COMPILE"}
        )
    below = prior["prior"]["log_il6_below"].values
    above = prior["prior"]["log_il6_above"].values
    assert (below < np.log(1.5)).all()
    assert (above > np.log(5000)).all()
    crp = prior["prior_predictive"]["log_crp"].values[0]
    # a row reported below its LLOQ replicates as "the limit or above it" (and vice versa)
    assert crp[:, 1].min() == pytest.approx(np.log(0.3))
    assert crp[:, 3].max() == pytest.approx(np.log(320))
    assert crp[:, 0].min() < np.log(0.3)
    assert crp[:, 0].max() > np.log(320)


def test_priors_can_be_overridden_from_config():
    priors = resolve_priors(
        DEFAULT_PRIORS, {"beta_il6": {"dist": "Normal", "mu": 0.1, "sigma": 0.01}}, "il6_crp"
    )
    assert repr(priors["beta_il6"]) == "Normal(mu=0.1, sigma=0.01)"
    model = get_model("il6_crp").build(table(il6_cens=(0, 0, 0, 0)), priors)
    with model:
        draws = pm.sample_prior_predictive(
            draws=500, random_seed=2, compile_kwargs={"mode": "FAST_COMPILE"}
        )["prior"]["beta_il6"]
    assert float(draws.mean()) == pytest.approx(0.1, abs=0.005)


@pytest.mark.parametrize(
    ("override", "text"),
    [
        ({"gamma": {"dist": "Normal", "mu": 0, "sigma": 1}}, "has no parameter gamma"),
        ({"sigma": {"dist": "Cauchy", "beta": 1}}, "unknown prior distribution 'Cauchy'"),
        ({"sigma": {"dist": "HalfNormal", "mu": 1}}, "HalfNormal prior needs parameters sigma"),
        ({"sigma": {"mu": 1}}, "has no 'dist'"),
    ],
)
def test_bad_priors_are_rejected(override, text):
    with pytest.raises(SpecError, match=text):
        resolve_priors(DEFAULT_PRIORS, override, "il6_crp")


def test_prior_prints_readably():
    assert repr(Prior("HalfNormal", {"sigma": 0.5})) == "HalfNormal(sigma=0.5)"


def test_missing_parameters_are_named():
    measurements = pd.DataFrame({"PARAMCD": ["CRP", "ESR"]})
    assert missing_parameters(get_model("il6_crp"), measurements) == ["IL6"]


def test_analysis_table_pairs_il6_and_crp_at_the_chosen_visits():
    subjects = pd.DataFrame(
        {
            "USUBJID": ["A", "B"],
            "STUDYID": ["S", "S"],
            "SITEID": ["1", "2"],
            "AGE": [50, 60],
            "SEX": ["F", "M"],
            "BMI": [27.0, 30.0],
        }
    )
    measurements = pd.DataFrame(
        {
            "USUBJID": ["A", "A", "A", "A", "B"],
            "PARAMCD": ["IL6", "CRP", "IL6", "CRP", "IL6"],
            "AVISITN": [0, 0, 12, 12, 0],
            "AVAL": [20.0, 10.0, 60.0, 1.0, 5.0],
            "CENS": [0, 0, 0, -1, 0],
        }
    )
    family = get_model("il6_crp")
    baseline = family.table(subjects, measurements, {"visits": [0], "priors": {}})
    assert baseline[["USUBJID", "il6", "crp"]].values.tolist() == [["A", 20.0, 10.0]]
    both = family.table(subjects, measurements, {"visits": [0, 12]})
    assert both["crp_cens"].tolist() == [0, -1]
    assert both["site"].tolist() == ["S:1", "S:1"]


def test_covariates_can_be_chosen_and_absent_ones_are_dropped():
    subjects = pd.DataFrame(
        {
            "USUBJID": ["A", "B"],
            "STUDYID": ["S", "S"],
            "SITEID": ["1", "1"],
            "AGE": [50, 60],
            "SEX": ["F", "M"],
            "BMI": [np.nan, np.nan],
        }
    )
    measurements = pd.DataFrame(
        {
            "USUBJID": ["A", "A", "B", "B"],
            "PARAMCD": ["IL6", "CRP", "IL6", "CRP"],
            "AVISITN": 0,
            "AVAL": [20.0, 10.0, 5.0, 2.0],
            "CENS": 0,
        }
    )
    family = get_model("il6_crp")
    default = family.table(subjects, measurements, {})
    assert not {"BMI"} & set(default.columns)
    assert {"AGE", "male"} <= set(default.columns)
    model = family.build(default, DEFAULT_PRIORS)
    assert {"beta_male", "beta_age"} <= {v.name for v in model.free_RVs}
    assert "beta_bmi" not in {v.name for v in model.free_RVs}
    only_age = family.table(subjects, measurements, {"covariates": ["age"]})
    only_age = family.build(only_age, DEFAULT_PRIORS)
    assert not {"beta_male", "beta_bmi"} & {v.name for v in only_age.free_RVs}


def test_student_t_residuals_add_degrees_of_freedom():
    family = get_model("il6_crp")
    normal = family.build(table(il6_cens=(0, 0, 0, 0)), DEFAULT_PRIORS)
    robust = family.build(table(il6_cens=(0, 0, 0, 0)), DEFAULT_PRIORS, {"residual": "student_t"})
    assert "nu" not in {v.name for v in normal.free_RVs}
    assert "nu" in {v.name for v in robust.free_RVs}
    point = robust.initial_point()
    # the Student-t model evaluates at its initial point
    assert np.isfinite(robust.compile_logp(mode="FAST_COMPILE")(point))
    with pytest.raises(SpecError, match="residual must be 'normal' or 'student_t'"):
        family.build(table(), DEFAULT_PRIORS, {"residual": "cauchy"})
    with pytest.raises(SpecError, match="il6_crp has no option resid; its options are visits"):
        family.build(table(), DEFAULT_PRIORS, {"resid": "cauchy"})


def test_build_options_do_not_reach_the_analysis_table():
    subjects = pd.DataFrame(
        {"USUBJID": ["A"], "STUDYID": ["S"], "SITEID": ["1"], "AGE": [50], "SEX": ["F"],
         "BMI": [27.0]}
    )  # fmt: skip
    measurements = pd.DataFrame(
        {"USUBJID": ["A", "A"], "PARAMCD": ["IL6", "CRP"], "AVISITN": [0, 0],
         "AVAL": [20.0, 10.0], "CENS": [0, 0]}
    )  # fmt: skip
    out = get_model("il6_crp").table(subjects, measurements, {"residual": "student_t"})
    assert len(out) == 1


def schema():
    root = Path(__file__).resolve().parents[2]
    base = yaml.safe_load((root / "workflow/schemas/config.schema.yaml").read_text())
    return base, config_schema(base, describe())


def test_the_config_schema_takes_every_model_and_its_options_from_the_registry():
    base, full = schema()
    # the schema file lists no family: names, options and designs come from the registry
    assert "enum" not in base["$defs"]["model_name"]
    assert base["properties"]["model_options"]["properties"] == {}
    assert "default" not in base["properties"]["calibration"]["properties"]["designs"]
    assert full["$defs"]["model_name"]["enum"] == list(MODELS)
    options = full["properties"]["model_options"]["properties"]
    assert list(options) == list(MODELS)
    calibration = full["properties"]["calibration"]["properties"]
    assert calibration["designs"]["default"] == {
        name: dict(f.calibration.design) for name, f in MODELS.items() if f.calibration
    }
    for name, family in MODELS.items():
        fields = {f.name: f for f in dataclasses.fields(family.options)}
        assert set(options[name]["properties"]) == {*fields, "priors"}
        for key, field in fields.items():
            spec = options[name]["properties"][key]
            assert spec["description"], (name, key)
            # every default exists once: in the options class, and the schema shows it
            assert spec.get("default") == (
                None if field.default is None else json.loads(json.dumps(field.default))
            )


def test_every_sampler_and_gate_default_in_the_schema_is_the_settings_class_default():
    base, _ = schema()
    props = base["properties"]
    gate = props["diagnostics"]["properties"]
    blocks = {
        "sampler": (props["sampler"]["properties"], SamplerSettings),
        "store": (props["store"]["properties"], StorePolicy),
        "thresholds": (gate["thresholds"]["properties"], Thresholds),
        "escalation": (gate["escalation"]["properties"], Escalation),
    }
    for name, (block, cls) in blocks.items():
        defaults = {f.name: f.default for f in dataclasses.fields(cls)}
        for key, spec in block.items():
            if "default" in spec and key != "models":
                assert key in defaults, (name, key)
                assert spec["default"] == defaults[key], (name, key)
    # preparation's defaults: the schema shows the keyword defaults of il6fit.data.prepare
    signature = inspect.signature(prepare).parameters
    for key, spec in props["prepare"]["properties"].items():
        if "default" in spec and spec["default"] not in ({}, []):
            assert spec["default"] == signature[key].default, key
        # calibration's sampler takes the shared defaults: none of its own but the rank count
    calibration = props["calibration"]["properties"]["sampler"]["properties"]
    assert [key for key, spec in calibration.items() if "default" in spec] == ["n_ranks"]


def test_the_workflow_catalogue_describes_every_registered_family():
    families = describe()["families"]
    assert list(families) == list(MODELS)
    for name, family in MODELS.items():
        assert families[name]["figures"] == list(family.all_figures)
        assert families[name]["estimands"] == (family.estimands is not None)
        assert set(family.captions()) == set(family.all_figures)
        assert "{outcomes}" not in "".join(family.captions().values())


def test_what_a_family_needs_follows_its_options():
    assert get_model("treatment_response").required({"score": "DAS28CRP"}) == ("IL6", "DAS28CRP")
    # the response may come from the score or from supplied EULAR rows: neither is demanded
    assert get_model("eular_response").required({"covariates": ["il6"]}) == ("IL6",)
    assert get_model("eular_response").required({"covariates": ["das28"]}) == ("DAS28ESR",)
    needs = get_model("disease_activity").required({"outcome": "das28esr", "predictors": ["crp"]})
    assert needs == ("CRP", "DAS28ESR")


def test_the_workflow_starts_without_importing_pymc():
    # what the workflow's rule files import from il6fit must stay light: every run pays for it
    rules = Path(__file__).resolve().parents[2] / "workflow" / "rules"
    imports = [
        statement
        for path in sorted(rules.glob("*.smk"))
        for statement in re.findall(r"^from il6fit[^(\n]*(?:\([^)]*\))?", path.read_text(), re.M)
    ]
    assert imports
    code = "\n".join(
        [*imports, "import sys", "print(sorted({'pymc', 'matplotlib'} & set(sys.modules)))"]
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr


def test_the_config_readme_lists_every_family_option_as_the_registry_declares_it():
    readme = (Path(__file__).resolve().parents[2] / "config" / "README.md").read_text()
    block = readme.split("<!-- model options: generated by tools/options_doc.py -->\n")[1]
    assert block.split("\n<!-- end of model options -->")[0] == options_table(describe())


def test_the_cached_catalogue_is_the_fresh_one_in_the_same_order(tmp_path):
    fresh = cached(tmp_path)
    again = cached(tmp_path)
    assert json.dumps(fresh) == json.dumps(again)
    assert json.dumps({k: v for k, v in fresh.items() if k != "imports"}) == json.dumps(describe())


def test_the_cached_import_graph_finds_the_code_parsing_finds():
    from il6fit.catalogue import ROOT, code_files, import_graph

    graph = import_graph()
    scripts = sorted((ROOT.parent / "workflow/scripts").glob("*.py"))
    for family in ["", *MODELS]:
        modules = [f"il6fit.models.{family}"] if family else []
        for script in scripts:
            parsed = code_files(modules, scripts=[script])
            assert code_files(modules, scripts=[script], imports=graph) == parsed, script


def test_the_bivariate_normal_probability_is_accurate_over_the_correlations_met():
    from scipy import integrate
    from scipy.special import ndtr

    from il6fit.models.il6_crp import bivariate_normal_cdf

    def pdf(x):  # scipy.stats.norm.pdf without its per-call overhead (quad calls it ~10^5 times)
        return math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)

    rng = np.random.default_rng(0)
    h, k, rho = rng.normal(0, 2.5, 300), rng.normal(0, 2.5, 300), rng.uniform(-0.99, 0.99, 300)
    ours = bivariate_normal_cdf(*(pm.math.constant(v) for v in (h, k, rho))).eval(
        mode="FAST_COMPILE"
    )
    exact = np.array([
        integrate.quad(lambda x, k=k_, r=r_, q=q_: pdf(x) * ndtr((k - r * x) / q),
                       -np.inf, h_, epsabs=0, epsrel=1e-13, limit=500)[0]
        for h_, k_, r_, q_ in zip(h, k, rho, np.sqrt(1 - rho * rho), strict=True)
    ])  # fmt: skip
    kept = exact > 1e-8
    assert kept.sum() > 250
    # with rho >= 0 the two terms add; with rho < 0 they cancel, which costs digits in the
    # far tail (IL-6 below its limit with CRP above its own: a rare, improbable row)
    positive = kept & (rho >= 0)
    np.testing.assert_allclose(np.log(ours[positive]), np.log(exact[positive]), atol=1e-9)
    np.testing.assert_allclose(np.log(ours[kept]), np.log(exact[kept]), atol=1e-4)


def test_the_reports_code_counts_its_templates():
    from il6fit.catalogue import ROOT, code_files

    report = code_files(["il6fit.report"])
    assert ROOT / "templates" / "report.html.j2" in report
    assert not any("templates" in str(p) for p in code_files(["il6fit.models.il6_crp"]))


def _graph_signature(model):
    """Every variable's type (static shapes included) and every constant's value in the graph of
    a model's log density: what the compiled code depends on besides the data's values."""
    import hashlib

    from pytensor.graph.basic import Constant
    from pytensor.graph.traversal import ancestors

    out = model.logp()
    signature = []
    for var in ancestors([out]):
        value = (
            hashlib.sha1(np.asarray(var.data).tobytes()).hexdigest()
            if isinstance(var, Constant)
            else ""
        )
        signature.append((str(var.type), value))
    return sorted(signature)


# the families whose parameters do not depend on the data (disease_activity's subject effects
# and eular_response's latent censored IL-6 do: their compiled code follows the trial); il6_crp
# also with BMI missing in some rows (integrated out)
@pytest.mark.parametrize(
    ("name", "gaps"),
    [("il6_crp", 0), ("il6_crp", 20), ("treatment_response", 0), ("mmrm", 0)],
)
def test_a_refit_on_other_data_of_the_same_design_reuses_the_compiled_code(name, gaps):
    """Two trials of different sizes give log-density graphs alike but for the data's values,
    so a refit loads every compiled kernel from the first fit's cache (benchmarks/RESULTS.md)."""
    from il6fit.data import as_read
    from il6fit.simulate import scenario, simulate_cohort

    family = get_model(name)
    options = family.make_options({})
    signatures = []
    for n, seed in ((300, 1), (450, 2)):
        subjects, measurements, _ = simulate_cohort(scenario("ra_tcz_trial", n_subjects=n), seed)
        rows = np.random.default_rng(seed).choice(n, gaps, replace=False)
        subjects.loc[subjects.index[rows], "BMI"] = np.nan
        data = prepare(
            as_read(subjects), as_read(measurements), subjects_file="s", measurements_file="m"
        )
        table = family.table(data.subjects, data.measurements, options)
        signatures.append(_graph_signature(family.build(table, family.priors(None), options)))
    assert signatures[0] == signatures[1]
