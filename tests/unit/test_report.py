import base64
import re

import pandas as pd

from il6fit.report import DatasetSection, FitSection, build_report

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
    images = re.findall(r"src='data:image/png;base64,([^']+)'", html)
    assert [base64.b64decode(i) for i in images] == [PNG]
    assert '<td class="text">duplicate</td>' in html
    assert "row 2" not in html
    assert "90% ETI lower" in html
    assert "Every fit passed the diagnostics gate" in html


def test_a_failing_fit_is_marked_as_failed_everywhere():
    html = build_report(
        title="T",
        datasets=[dataset()],
        fits=[section("trial", True), section("other", False)],
        config={},
        versions={},
    )
    assert "FAILED the diagnostics gate (estimates not reliable): il6_crp on other" in html
    assert "Diagnostics gate: FAILED — max R-hat 1.2 (limit &lt;= 1.01; alpha)" in html
    assert html.count('class="failed-fit"') == 1
