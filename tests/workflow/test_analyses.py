"""Two analyses in one project folder, run alternately: each report is its own, none goes stale."""

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from helpers import snakemake, workflow_copy

pytestmark = pytest.mark.workflow

TOY = Path(__file__).with_name("toy_crp.py")

SETTINGS = {
    "models": ["toy_crp"],
    "sampler": {"chains": 2, "draws": 150, "tune": 150},
    "diagnostics": {"thresholds": {"ess_bulk_min": 50, "ess_tail_min": 50}},
}
#: The default config of the folder, and a second analysis beside it (README: several analyses).
FIRST = {
    "seed": 5,
    "title": "Controls of site group one",
    "name": "one",
    "datasets": {"controls": {"simulate": {"scenario": "healthy", "n_subjects": 30}}},
    **SETTINGS,
}
SECOND = {
    "seed": 6,
    "title": "Cohort two",
    # no `name`: the folder comes from the title
    "datasets": {"cohort": {"simulate": {"scenario": "healthy", "n_subjects": 40}}},
    **SETTINGS,
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = workflow_copy(tmp_path_factory.mktemp("analyses"), FIRST, families=(TOY,))
    (folder / "second.yaml").write_text(yaml.safe_dump(SECOND))
    return folder


def run(folder: Path, config: str | None, *args: str) -> str:
    """Run the workflow with the folder's default config or another one; return its output."""
    extra = ["--configfile", config, "--replace-workflow-config"] if config else []
    result = snakemake(folder, *extra, *args)
    return result.stdout + result.stderr


def check_report(folder: Path, name: str, config: dict, dataset: str) -> None:
    """The analysis's report carries its config's title, input hashes and estimates."""
    page = (folder / f"results/{name}/report.html").read_text()
    assert f"<title>{config['title']}</title>" in page
    record = json.loads((folder / f"results/{name}/report.json").read_text())
    assert record["config"]["title"] == config["title"]
    fit = f"toy_crp on {dataset}"
    assert list(record["verdicts"]) == [fit]
    for path, digest in record["inputs"][fit].items():
        assert hashlib.sha256((folder / path).read_bytes()).hexdigest() == digest
        assert f"results/prepared/{dataset}/" in path
    summary = pd.read_csv(folder / f"results/summaries/toy_crp/{dataset}.csv")
    recorded = {p: e["mean"] for p, e in record["estimates"][fit].items()}
    assert {p: recorded[p] for p in summary["parameter"]} == pytest.approx(
        dict(zip(summary["parameter"], summary["mean"], strict=True))
    )
    history = json.loads((folder / f"results/{name}/history/last-report.json").read_text())
    assert history == record


def test_two_analyses_run_alternately_keep_their_own_reports_and_rerun_nothing(folder):
    run(folder, None)
    check_report(folder, "one", FIRST, "controls")
    run(folder, "second.yaml")
    check_report(folder, "cohort-two", SECOND, "cohort")
    check_report(folder, "one", FIRST, "controls")  # untouched by the second analysis
    for config in (None, "second.yaml", None):
        assert "Nothing to be done" in run(folder, config, "--dry-run")
    assert not (folder / "results/report.html").exists()


def test_a_changed_title_rebuilds_that_analysis_report_only(folder):
    run(folder, None)
    changed = folder / "retitled.yaml"
    changed.write_text(yaml.safe_dump({**FIRST, "title": "Controls, retitled"}))
    out = run(folder, str(changed.name))
    assert "rule build_report:" in out
    assert "rule fit_model:" not in out
    assert "'seed': 5" not in out  # the config's digest, not the config, is the trigger
    check_report(folder, "one", {**FIRST, "title": "Controls, retitled"}, "controls")
    record = json.loads((folder / "results/one/report.json").read_text())
    assert record["config"]["title"] == "Controls, retitled"
