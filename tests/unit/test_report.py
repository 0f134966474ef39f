import base64
import dataclasses
import re

import pandas as pd
import pytest

from il6fit.history import estimate_shifts, record
from il6fit.models import MODELS
from il6fit.report import (
    CalibrationSection,
    ComparisonSection,
    DatasetSection,
    FitSection,
    build_report,
    equations_html,
)

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def checks(passed: bool) -> pd.DataFrame:
    names = ["max R-hat", "min bulk ESS", "min tail ESS", "divergences", "min E-BFMI"]
    return pd.DataFrame(
        {
            "check": names,
            "value": [1.2 if not passed else 1.0, 800.0, 800.0, 0.0, 0.9],
            "threshold": [1.01, 400, 400, 0, 0.3],
            "rule": ["<=", ">=", ">=", "<=", ">="],
            "passed": [passed, True, True, True, True],
            "worst": ["alpha", "", "", "", "chain 0"],
        }
    )


def section(dataset: str, passed: bool) -> FitSection:
    summary = pd.DataFrame(
        {
            "parameter": ["beta_il6"],
            "mean": [0.75],
            "sd": [0.03],
            "ci_lower": [0.70],
            "ci_upper": [0.80],
            "ci_kind": ["eti"],
            "ci_prob": [0.9],
            "r_hat": [1.0],
            "ess_bulk": [900.0],
            "ess_tail": [800.0],
            "mcse_mean": [0.001],
            "unit": ["ln(mg/L) per ln(pg/mL)"],
            "description": ["slope"],
        }
    )
    return FitSection(
        model="il6_crp",
        dataset=dataset,
        title="IL-6 -> CRP",
        equations="mu = alpha + beta x",
        priors={"beta_il6": "Normal(mu=0.7, sigma=0.5)"},
        summary=summary,
        checks=checks(passed),
        metadata={"seed": 42, "sampler": {"backend": "nutpie", "chains": 2}},
        rows_used=3,
        figures={"relation": PNG},
        headlines=MODELS["il6_crp"].headlines,
    )


def dataset() -> DatasetSection:
    ledger = pd.DataFrame(
        {
            "table": ["subjects", "measurements", "measurements"],
            "file": ["s.csv", "m.csv", "m.csv"],
            "row": [2, 2, 3],
            "USUBJID": ["PATIENT-0001", "PATIENT-0001", "PATIENT-0001"],
            "PARAMCD": ["", "CRP", "CRP"],
            "AVISITN": [None, 0, 0],
            "status": ["used", "used", "excluded"],
            "reason": ["", "", "duplicate: same result as row 2"],
        }
    )
    measurements = pd.DataFrame(
        {
            "USUBJID": ["PATIENT-0001"],
            "PARAMCD": ["CRP"],
            "AVISITN": [0],
            "AVAL": [5.0],
            "AVALU": ["mg/L"],
            "CENS": [0],
            "SOURCE": ["reported"],
            "ROW": [2],
        }
    )
    return DatasetSection("trial", "simulated", 1, ledger, measurements)


def test_report_embeds_images_and_never_names_a_subject():
    html = build_report(
        title="T",
        datasets=[dataset()],
        fits=[section("trial", True)],
        config={"seed": 1},
        versions={"pymc": "6.4.0"},
    )
    assert "PATIENT-0001" not in html
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert [base64.b64decode(i) for i in images] == [PNG]
    assert '<td class="text">duplicate</td>' in html
    assert "row 2" not in html
    assert "90% ETI lower" in html
    assert "Every fit passed the diagnostics gate" in html
    assert "\\" not in html  # no LaTeX or reStructuredText source


def test_covariates_missing_for_some_subjects_are_counted_in_the_dataset_section():
    import dataclasses

    d = dataclasses.replace(dataset(), subjects=300, missing_covariates={"BMI": 30})
    html = build_report(title="T", datasets=[d], fits=[section("trial", True)],
                        config={"seed": 1}, versions={})  # fmt: skip
    assert "Covariates missing for some subjects: BMI 30 of 300" in html


def test_a_failing_fit_is_marked_as_failed_everywhere():
    html = build_report(
        title="T",
        datasets=[dataset()],
        fits=[section("trial", True), section("other", False)],
        config={},
        versions={},
    )
    assert "1 FAILED the diagnostics gate</span> (il6_crp on other)" in html
    assert "Diagnostics gate FAILED: max R-hat 1.2 (limit &lt;= 1.01; alpha)" in html
    assert html.count('class="failed-fit"') == 1
    assert html.count('<tr class="failed-row">') == 1  # its answer, marked


def test_a_comparison_names_failed_fits_and_embeds_its_figure():
    table = pd.DataFrame(
        {"model": ["il6_crp", "il6_crp_t"], "rank": [0, 1], "elpd": [-100.0, -104.0],
         "se": [8.0, 8.5], "p_loo": [5.0, 6.0], "elpd_diff": [0.0, -4.0], "dse": [0.0, 1.5],
         "weight": [0.9, 0.1], "max_pareto_k": [0.3, 0.4], "high_pareto_k": [0, 0],
         "elpd_reliable": [True, True], "n_observations": [50, 50]}
    )  # fmt: skip
    html = build_report(
        title="T", datasets=[], fits=[section("other", False)], config={}, versions={},
        comparisons=[ComparisonSection("residuals", "other", table, PNG)],
    )  # fmt: skip
    assert "Model comparison (PSIS-LOO)" in html
    assert "50 patients left out one at a time" in html
    assert "Fits that FAILED the diagnostics gate take part: il6_crp." in html
    assert html.count("data:image/png") == 2
    assert "comparison residuals: <b>comparison</b>" in html


def test_flagged_parameters_of_the_sensitivity_are_listed():
    sensitivity = pd.DataFrame(
        {"parameter": ["beta_il6", "sigma"], "prior": [0.09, 0.01], "likelihood": [0.01, 0.3],
         "diagnosis": ["strong prior / weak likelihood", "-"], "flagged": [True, False],
         "unit": ["dimensionless"] * 2}
    )  # fmt: skip
    fit = dataclasses.replace(section("trial", True), sensitivity=sensitivity)
    html = build_report(title="T", datasets=[], fits=[fit], config={}, versions={})
    assert '<span class="fail">flagged: beta_il6</span>' in html
    assert html.count("FLAGGED") == 1 and "FAIL<" not in html


def test_calibration_appears_only_when_there_are_results():
    plain = build_report(title="T", datasets=[], fits=[section("a", True)], config={}, versions={})
    assert "<h2>Calibration</h2>" not in plain
    coverage = pd.DataFrame({"nominal": [0.9], "observed": [0.88]})
    calibration = CalibrationSection(tables={"coverage": coverage})
    html = build_report(title="T", datasets=[], fits=[section("a", True)], config={},
                        versions={}, calibration=calibration)  # fmt: skip
    assert "<h2>Calibration</h2>" in html and "<h4>coverage</h4>" in html


def test_a_refit_report_says_what_changed_and_how_the_estimates_moved():
    before = section("trial", True)
    previous = record(fits=[before], config={"seed": 1, "sampler": {"draws": 500}},
                      versions={"pymc": "6.3.0"})  # fmt: skip
    previous["inputs"] = {"il6_crp on trial": {"results/prepared/trial/subjects.csv": "ab" * 32}}
    summary = before.summary.assign(mean=[0.81])  # moved by two previous sds
    hashes = {"results/prepared/trial/subjects.csv": "cd" * 32}
    after = dataclasses.replace(
        before, summary=summary, metadata={**before.metadata, "input_hashes": hashes}
    )
    html = build_report(title="T", datasets=[], fits=[after],
                        config={"seed": 1, "sampler": {"draws": 1000}},
                        versions={"pymc": "6.4.0"}, previous=previous)  # fmt: skip
    changes = html[html.index('<section id="changes">') : html.index('<section id="provenance">')]
    assert "abababababab" in changes and "cdcdcdcdcdcd" in changes
    assert "sampler.draws" in changes and "500" in changes and "1000" in changes
    assert "6.3.0" in changes and "6.4.0" in changes
    assert "1 of 1 estimates moved; 1 by more than one previous posterior sd" in changes
    shifts = estimate_shifts(previous, record(fits=[after], config={}, versions={}))
    assert shifts.loc[0, "change in sd before"] == pytest.approx(2.0)
    first = build_report(title="T", datasets=[], fits=[after], config={}, versions={})
    assert "No previous run recorded" in first


def landmark_fit(model: str, changes: list[float], passed: bool) -> FitSection:
    arms = ["Placebo", "TCZ 8"]
    rows = [(f"change[{a}]", c) for a, c in zip(arms, changes, strict=True)]
    rows.append(("effect[TCZ 8]", changes[1] - changes[0]))
    estimands = pd.DataFrame(
        {
            "parameter": [r[0] for r in rows],
            "mean": [r[1] for r in rows],
            "ci_lower": [r[1] - 0.1 for r in rows],
            "ci_upper": [r[1] + 0.1 for r in rows],
            "ci_prob": 0.9,
            "unit": "score",
            "description": "",
        }
    )
    observed = pd.DataFrame(
        {"arm": arms, "completers": [50, 48], "observed": [-0.5, -2.0], "se": [0.1, 0.12]}
    )
    return dataclasses.replace(
        section("trial", passed),
        model=model,
        estimands=estimands,
        observed_change=observed,
        metadata={"options": {"options": {"score": "DAS28ESR", "landmark_week": 24}}},
    )


def test_landmark_estimands_of_all_models_sit_side_by_side_with_the_observed_change():
    from il6fit.report import landmark_table

    fits = [landmark_fit("mmrm", [-0.52, -2.01], True), landmark_fit("tr", [-0.4, -1.8], False)]
    table = landmark_table(fits).set_index(["estimand", "arm"])
    assert list(table.columns) == [
        "completers", "observed (mean ± SE)", "mmrm (passed)", "tr (FAILED)"
    ]  # fmt: skip
    assert table.loc[("effect vs Placebo", "TCZ 8"), "observed (mean ± SE)"] == "-1.50 ± 0.16"
    assert table.loc[("mean change", "TCZ 8"), "mmrm (passed)"] == "-2.01 (-2.11 to -1.91)"
    assert table.loc[("effect vs Placebo", "TCZ 8"), "tr (FAILED)"] == "-1.40 (-1.50 to -1.30)"
    html = build_report(title="T", datasets=[dataset()], fits=fits, config={"seed": 1}, versions={})
    assert "Primary analysis: <b>mmrm</b>" in html


def test_the_first_section_answers_with_each_fits_headline_in_words():
    fits = [landmark_fit("mmrm", [-0.52, -2.01], True), section("trial", True)]
    fits[0] = dataclasses.replace(
        fits[0],
        headlines=MODELS["mmrm"].headlines,
        options=MODELS["mmrm"].make_options({"landmark_week": 24}),
        control="Placebo",
    )
    html = build_report(title="T", datasets=[dataset()], fits=fits, config={}, versions={})
    first = html[html.index("<section") :]
    assert first.startswith('<section id="answers">\n<h2>Answers</h2>')
    answers = first[: first.index("</section>")]
    assert (
        "TCZ 8 lowered DAS28-ESR by 1.49 more than Placebo at week 24 (90 % interval 1.39 to "
        "1.59)." in answers
    )
    assert "Each doubling of IL-6 goes with 1.68-fold CRP (90 % interval 1.62 to 1.74" in answers
    assert answers.index("mmrm") < answers.index("il6_crp")
    assert '<a href="#fit-mmrm-trial">mmrm</a>' in answers
    assert 'id="fit-mmrm-trial"' in html


def test_a_dataset_whose_models_answer_no_question_says_so_in_words():
    fits = [dataclasses.replace(section("controls", True), headlines=()), section("trial", True)]
    html = build_report(title="T", datasets=[dataset()], fits=fits, config={}, versions={})
    answers = html[html.index('<section id="answers">') :]
    answers = answers[: answers.index("</section>")]
    controls = answers[answers.index("<h3>controls</h3>") : answers.index("<h3>trial</h3>")]
    assert "<table" not in controls
    assert "No model fitted to controls answers a headline question" in controls
    assert "<table" in answers[answers.index("<h3>trial</h3>") :]


@pytest.mark.parametrize("name", list(MODELS))
def test_every_familys_equations_render_as_mathml_without_latex_source(name):
    html = equations_html(MODELS[name].equations)
    assert html.count("<math") >= 3
    assert "system-message" not in html and "\\" not in html
