"""Two analyses in one project folder, run alternately: each report is its own, none goes stale.

The second analysis shares the tiny run's folder (fixture ``run``) and one of its fits: a fit
made for one analysis is reused by another whose config determines it alike.
"""

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from helpers import TINY, snakemake

pytestmark = pytest.mark.workflow

#: A second analysis beside the tiny run: the controls alone, with the toy model. No `name`:
#: its folder comes from the title.
SECOND = {
    **{key: value for key, value in TINY.items() if key not in ("name", "comparisons")},
    "title": "Cohort two",
    "datasets": {"controls": TINY["datasets"]["controls"]},
}


@pytest.fixture(scope="module")
def folder(run):
    (run / "second.yaml").write_text(yaml.safe_dump(SECOND))
    return run


def run_analysis(folder: Path, config: str | None, *args: str) -> str:
    """Run the workflow with the folder's default config or another one; return its output."""
    extra = ["--configfile", config, "--replace-workflow-config"] if config else []
    result = snakemake(folder, *extra, *args)
    return result.stdout + result.stderr


def check_report(folder: Path, name: str, config: dict) -> None:
    """The analysis's report carries its config's title, input hashes and estimates."""
    page = (folder / f"results/{name}/report.html").read_text()
    assert f"<title>{config['title']}</title>" in page
    record = json.loads((folder / f"results/{name}/report.json").read_text())
    assert record["config"]["title"] == config["title"]
    fit = "toy_crp on controls"
    assert list(record["verdicts"]) == [fit]
    for path, digest in record["inputs"][fit].items():
        assert hashlib.sha256((folder / path).read_bytes()).hexdigest() == digest
        assert "results/prepared/controls/" in path
    summary = pd.read_csv(folder / "results/summaries/toy_crp/controls.csv")
    recorded = {p: e["mean"] for p, e in record["estimates"][fit].items()}
    assert {p: recorded[p] for p in summary["parameter"]} == pytest.approx(
        dict(zip(summary["parameter"], summary["mean"], strict=True))
    )
    history = json.loads((folder / f"results/{name}/history/last-report.json").read_text())
    assert history == record


def test_two_analyses_run_alternately_keep_their_own_reports_and_rerun_nothing(folder):
    tiny = {name: (folder / f"results/tiny/{name}").read_bytes()
            for name in ("report.html", "report.json")}  # fmt: skip
    out = run_analysis(folder, "second.yaml")
    assert "rule fit_model:" not in out  # the tiny run's fit of the controls serves both
    check_report(folder, "cohort-two", SECOND)
    for name, content in tiny.items():  # untouched by the second analysis
        assert (folder / f"results/tiny/{name}").read_bytes() == content
    for config in (None, "second.yaml", None):
        assert "Nothing to be done" in run_analysis(folder, config, "--dry-run")
    assert not (folder / "results/report.html").exists()


def test_a_changed_title_rebuilds_that_analysis_report_only(folder):
    tiny = (folder / "results/tiny/report.html").read_bytes()
    retitled = {**SECOND, "name": "cohort-two", "title": "Cohort two, retitled"}
    (folder / "retitled.yaml").write_text(yaml.safe_dump(retitled))
    out = run_analysis(folder, "retitled.yaml")
    assert "rule build_report:" in out
    assert "rule fit_model:" not in out
    assert "'seed': 7" not in out  # the config's digest, not the config, is the trigger
    check_report(folder, "cohort-two", retitled)
    assert (folder / "results/tiny/report.html").read_bytes() == tiny
