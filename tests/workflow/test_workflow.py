"""A tiny end-to-end run of the workflow in a temporary folder, as a user would run it."""

import pandas as pd
import pytest
import yaml
from helpers import snakemake, workflow_copy

from il6fit.diagnostics import SUMMARY_COLUMNS

pytestmark = pytest.mark.workflow

CONFIG = {
    "seed": 7,
    "title": "tiny run",
    "datasets": {
        "trial": {
            "simulate": {"scenario": "ra_tcz_trial", "n_subjects": 60, "n_sites": 3},
            "models": ["il6_crp", "treatment_response", "eular_response"],
        },
        "controls": {"simulate": {"scenario": "healthy", "n_subjects": 40, "n_sites": 2}},
    },
    "models": ["il6_crp"],
    "sampler": {"draws": 200, "tune": 200},
    "diagnostics": {"thresholds": {"ess_bulk_min": 50, "ess_tail_min": 50}},
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = workflow_copy(tmp_path_factory.mktemp("run"), CONFIG)
    snakemake(folder)
    return folder


def test_run_writes_report_fits_summaries_figures_and_ledgers(run):
    for dataset in ("trial", "controls"):
        summary = pd.read_csv(run / f"results/summaries/il6_crp/{dataset}.csv")
        assert list(summary.columns) == list(SUMMARY_COLUMNS)
        assert "beta_il6" in set(summary["parameter"])
        assert (run / f"results/fits/il6_crp/{dataset}.nc").stat().st_size > 0
        checks = pd.read_csv(run / f"results/diagnostics/il6_crp/{dataset}.csv")
        assert set(checks["check"]) >= {"max R-hat", "divergences", "min E-BFMI"}
        for figure in ("relation", "forest", "ranks", "prior_ppc", "ppc"):
            for ext in ("png", "svg"):
                assert (run / f"results/figures/il6_crp/{dataset}/{figure}.{ext}").exists()
        ledger = pd.read_csv(run / f"results/prepared/{dataset}/ledger.csv")
        raw = pd.read_csv(run / f"results/simulated/{dataset}/measurements.csv")
        assert (ledger["table"] == "measurements").sum() == len(raw)
        assert (run / f"results/prepared/{dataset}/response.csv").exists()
    estimands = pd.read_csv(run / "results/estimands/treatment_response/trial.csv")
    assert "effect[TCZ 8 mg/kg + MTX]" in set(estimands["parameter"])
    assert (run / "results/figures/treatment_response/trial/course.svg").exists()
    assert not (run / "results/fits/treatment_response/controls.nc").exists()
    eular = pd.read_csv(run / "results/estimands/eular_response/trial.csv").set_index("parameter")
    good = eular.loc[[f"p_good[{arm}]" for arm in ("Placebo + MTX", "TCZ 8 mg/kg + MTX")]]
    assert good["mean"].between(0, 1).all()
    assert good["unit"].eq("probability").all()
    for figure in ("eular", "prior_ppc", "ppc"):
        assert (run / f"results/figures/eular_response/trial/{figure}.png").exists()
    html = (run / "results/report.html").read_text()
    assert "tiny run" in html
    assert "Clinical estimands" in html
    subjects = pd.read_csv(run / "results/simulated/trial/subjects.csv")
    assert not any(uid in html for uid in subjects["USUBJID"])


def test_each_parallel_fit_compiles_into_its_own_cache(run):
    caches = sorted(p.name for p in (run / ".cache/pytensor/il6_crp").iterdir())
    assert caches == ["controls", "trial"]
    assert (run / ".cache/pytensor/treatment_response/trial/numba").is_dir()
    for name in caches:
        assert any((run / ".cache/pytensor/il6_crp" / name / "numba").iterdir())


def test_a_second_run_does_nothing(run):
    assert "Nothing to be done" in snakemake(run, "--dry-run").stdout


def test_refitting_with_the_same_seed_gives_identical_summaries(run):
    path = run / "results/summaries/il6_crp/trial.csv"
    before = path.read_bytes()
    snakemake(run, "--forcerun", "fit_model")
    assert path.read_bytes() == before


def test_changing_the_seed_reruns_the_fits(run):
    out = snakemake(run, "--dry-run", "--config", "seed=8").stdout
    assert "fit_model" in out
    assert "simulate_cohort" in out


def test_a_misspelt_config_key_stops_before_any_job(run):
    bad = run / "bad.yaml"
    bad.write_text(yaml.safe_dump({**CONFIG, "sampler": {"drawz": 10}}))
    result = snakemake(
        run, "--dry-run", "--configfile", str(bad), "--replace-workflow-config", check=False
    )
    assert result.returncode != 0
    assert "drawz" in result.stdout + result.stderr


def test_snakemake_report_builds(run):
    snakemake(run, "--report", "report.zip")
    assert (run / "report.zip").stat().st_size > 0
