"""The calibration target as a user runs it: resumable, extendable, every replicate kept."""

import pandas as pd
import pytest
import yaml
from helpers import CALIBRATION, CALIBRATION_RUN, snakemake

pytestmark = pytest.mark.workflow


def planned(folder, config=None) -> dict[str, int]:
    """Jobs a dry run of `calibrate` would run, by rule."""
    args = ["-n", "calibrate", "--quiet", "rules"]
    if config:
        path = folder / "more.yaml"
        path.write_text(yaml.safe_dump(config))
        args += ["--configfile", str(path), "--replace-workflow-config"]
    out = snakemake(folder, *args).stdout
    jobs = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and parts[0] != "total":
            jobs[parts[0]] = int(parts[1])
    return jobs


@pytest.fixture(scope="module")
def calibrated(workflow_runs):
    """The folder of `snakemake calibrate` on ``CALIBRATION_RUN``, run to the end.

    Started, niced, at the session's first test (tests/conftest.py).
    """
    folder, started = workflow_runs["calibrated"]
    started.wait()
    return folder


def test_every_replicate_is_ranked_and_counted(calibrated):
    ranks = pd.read_csv(calibrated / "results/calibration/toy_crp/ranks.csv")
    assert sorted(ranks["replicate"].unique()) == [0, 1, 2, 3]
    assert ranks["rank"].between(0, 19).all()
    coverage = pd.read_csv(calibrated / "results/calibration/toy_crp/coverage.csv")
    assert {"coverage_90", "within_band", "replicates_failing_gate"} <= set(coverage.columns)
    assert (coverage["replicates"] == 4).all()
    assert (
        coverage["replicates_failing_gate"].iloc[0]
        == (~ranks.groupby("replicate")["gate_passed"].first()).sum()
    )
    for figure in ("ecdf", "ranks"):
        assert (calibrated / f"results/calibration/toy_crp/{figure}.png").exists()


def test_an_interrupted_run_redoes_only_the_missing_batch(calibrated):
    # what a run stopped after its first batch leaves: batch 0, no batch 1, no summary yet
    folder = calibrated / "results/calibration/toy_crp"
    kept = (folder / "batches/0.csv").read_bytes()
    for path in [folder / "batches/1.csv", *folder.glob("*.*")]:
        path.unlink()
    assert planned(calibrated) == {"sbc_batch": 1, "sbc_summary": 1, "calibrate": 1}
    snakemake(calibrated, "calibrate")
    assert (folder / "batches/1.csv").exists()
    assert (folder / "coverage.csv").exists()
    assert (folder / "batches/0.csv").read_bytes() == kept


def test_more_replicates_reuse_the_batches_done(calibrated):
    more = {**CALIBRATION_RUN, "calibration": {**CALIBRATION, "replicates": 6}}
    assert planned(calibrated, more) == {"sbc_batch": 1, "sbc_summary": 1, "calibrate": 1}


def test_one_model_can_have_more_replicates_than_the_others(calibrated):
    both = {**CALIBRATION, "models": ["toy_crp", "il6_crp"]}
    both["designs"] = {**CALIBRATION["designs"], "il6_crp": {"scenario": "healthy"}}
    more = {**CALIBRATION_RUN, "calibration": {**both, "model_replicates": {"toy_crp": 8}}}
    # toy_crp: batches 0-1 done, 2-3 to run; il6_crp: its 2 batches of 4 replicates
    assert planned(calibrated, more) == {"sbc_batch": 4, "sbc_summary": 2, "calibrate": 1}


def test_a_batch_past_the_last_replicate_is_refused_with_the_batches_there_are(calibrated):
    out = snakemake(calibrated, "-n", "results/calibration/toy_crp/batches/2.csv", check=False)
    assert out.returncode != 0
    message = " ".join((out.stdout + out.stderr).split())
    assert "calibration batch 2 of toy_crp holds no replicate" in message
    assert "are batches 0-1" in message
