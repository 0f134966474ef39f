"""A tiny end-to-end run of the workflow in a temporary folder, as a user would run it.

The run (fixture ``run``, tests/workflow/conftest.py) is shared with the other workflow tests.
"""

import json
import re
import subprocess

import pandas as pd
import pytest
import xarray as xr
import yaml
from helpers import CHROMIUM, ROOT, TINY, chromium_view, snakemake, workflow_copy

from il6fit.diagnostics import SUMMARY_COLUMNS

pytestmark = pytest.mark.workflow


def planned_outputs(result: subprocess.CompletedProcess) -> set[str]:
    """The output files of the jobs a dry run plans."""
    return {
        path
        for line in re.findall(r"^\s+output: (.*)$", result.stdout, re.M)
        for path in line.split(", ")
    }


def test_run_writes_report_fits_summaries_figures_and_ledgers(run):
    summary = pd.read_csv(run / "results/summaries/il6_crp/trial.csv")
    assert list(summary.columns) == list(SUMMARY_COLUMNS)
    assert "beta_il6" in set(summary["parameter"])
    assert (run / "results/fits/il6_crp/trial.nc").stat().st_size > 0
    checks = pd.read_csv(run / "results/diagnostics/il6_crp/trial.csv")
    assert set(checks["check"]) >= {"max R-hat", "divergences", "min E-BFMI"}
    for figure in ("relation", "forest", "ranks", "prior_ppc", "ppc"):
        for ext in ("png", "svg"):
            assert (run / f"results/figures/il6_crp/trial/{figure}.{ext}").exists()
    for dataset in ("trial", "controls"):
        ledger = pd.read_csv(run / f"results/prepared/{dataset}/ledger.csv")
        raw = pd.read_csv(run / f"results/simulated/{dataset}/measurements.csv")
        assert (ledger["table"] == "measurements").sum() == len(raw)
        assert (run / f"results/prepared/{dataset}/response.csv").exists()
    estimands = pd.read_csv(run / "results/estimands/treatment_response/trial.csv")
    assert "effect[TCZ 8 mg/kg + MTX]" in set(estimands["parameter"])
    assert (run / "results/figures/treatment_response/trial/course.svg").exists()
    assert not (run / "results/fits/treatment_response/controls.nc").exists()
    html = (run / "results/tiny/report.html").read_text()
    assert "tiny run" in html
    assert "Clinical estimands" in html
    subjects = pd.read_csv(run / "results/simulated/trial/subjects.csv")
    assert not any(uid in html for uid in subjects["USUBJID"])


def test_sampler_overrides_apply_per_model_and_to_a_variant_through_its_model(run):
    def sampler(model, dataset):
        tree = xr.open_datatree(run / f"results/fits/{model}/{dataset}.nc")
        settings = json.loads(tree.attrs["il6fit_sampler"])
        return settings["target_accept"], settings["tune"]

    assert sampler("il6_crp", "trial") == (0.95, 200)
    assert sampler("treatment_response", "trial") == (0.85, 200)
    assert sampler("toy_crp", "controls") == (0.9, 200)
    assert sampler("toy_flat", "controls") == (0.9, 150)  # its model's override, then its own


def test_each_parallel_fit_compiles_into_its_own_cache(run):
    caches = {f"{p.parent.name}/{p.name}" for p in (run / ".cache/pytensor").glob("*/*")}
    assert caches == {"il6_crp/trial", "treatment_response/trial", "toy_crp/controls",
                      "toy_flat/controls"}  # fmt: skip
    for name in caches:
        assert any((run / ".cache/pytensor" / name / "numba").iterdir())


def test_a_second_run_does_nothing(run):
    assert "Nothing to be done" in snakemake(run, "--dry-run").stdout


def test_a_family_in_one_module_registered_with_one_line_is_fitted_drawn_and_reported(run):
    package = run / "site" / "il6fit"
    changed = subprocess.run(
        ["diff", "-r", "-x", "__pycache__", str(ROOT / "il6fit"), str(package)],
        capture_output=True, text=True,
    ).stdout  # fmt: skip
    # nothing else edited: the new module, and one line added to the registry
    assert re.findall(r"^[<>] .*", changed, re.M) == ['>     "toy_crp",']
    assert f"Only in {package / 'models'}: toy_crp.py" in changed
    summary = pd.read_csv(run / "results/summaries/toy_crp/controls.csv")
    assert list(summary["parameter"]) == ["a", "b", "s"]
    estimands = pd.read_csv(run / "results/estimands/toy_crp/controls.csv")
    assert estimands.loc[0, "unit"] == "mg/L"
    for figure in ("scatter", "forest", "ranks", "prior_ppc", "ppc", "trace"):
        assert (run / f"results/figures/toy_crp/controls/{figure}.png").exists()
    page = (run / "results/tiny/report.html").read_text()
    assert "toy_crp on controls" in page and "Toy: ln CRP on ln IL-6" in page
    assert "toy scatter of CRP against IL-6" in page
    calibration = planned_outputs(snakemake(run, "--dry-run", "calibrate"))
    assert "results/calibration/toy_crp/batches/0.csv" in calibration
    assert "results/calibration/toy_crp/ecdf.png" in calibration


def test_an_edited_default_prior_reruns_that_familys_fits_and_what_follows_only(run):
    module = run / "site/il6fit/models/treatment_response.py"
    original = module.read_text()
    edited = original.replace(
        '"mu_base": Prior("Normal", {"mu": 6.5, "sigma": 1.0})',
        '"mu_base": Prior("Normal", {"mu": 6.5, "sigma": 1.1})',
    )
    assert edited != original
    module.write_text(edited)
    try:
        planned = planned_outputs(snakemake(run, "--dry-run"))
    finally:
        module.write_text(original)
    fits = {p for p in planned if p.startswith("results/fits/")}
    assert fits == {"results/fits/treatment_response/trial.nc"}
    # downstream of that fit: its tables, figures and the report
    assert "results/estimands/treatment_response/trial.csv" in planned
    assert "results/figures/treatment_response/trial" in planned  # plot_figures: its folder
    assert "results/tiny/report.html" in planned
    others = {p for p in planned if not re.search(r"/treatment_response/|results/tiny/report", p)}
    assert others == set()
    assert "Nothing to be done" in snakemake(run, "--dry-run").stdout


def test_a_script_touched_but_unchanged_reruns_nothing(run):
    (run / "workflow/scripts/fit_model.py").touch()
    (run / "site/il6fit/models/il6_crp.py").touch()
    assert "Nothing to be done" in snakemake(run, "--dry-run").stdout


def test_a_rerun_report_says_what_changed_since_the_previous_one(run):
    snakemake(run, "--config", "title=tiny run again")
    page = (run / "results/tiny/report.html").read_text()
    changes = page[page.index('<section id="changes">') : page.index('<section id="provenance">')]
    assert "title" in changes and "tiny run again" in changes
    assert "No estimate moved." in changes
    snakemake(run)  # back to the module's config for the tests below


def test_refitting_with_the_same_seed_gives_identical_summaries(run):
    path = run / "results/summaries/il6_crp/trial.csv"
    before = path.read_bytes()
    # one fit is enough, and keeps the rest of the run as it was
    snakemake(run, str(path.relative_to(run)), "--forcerun", "fit_model")
    assert path.read_bytes() == before


def test_changing_the_seed_reruns_the_fits(run):
    out = snakemake(run, "--dry-run", "--config", "seed=8").stdout
    assert "fit_model" in out
    assert "simulate_cohort" in out


def test_a_misspelt_config_key_stops_before_any_job(run):
    bad = run / "bad.yaml"
    bad.write_text(yaml.safe_dump({**TINY, "sampler": {"drawz": 10}}))
    result = snakemake(
        run, "--dry-run", "--configfile", str(bad), "--replace-workflow-config", check=False
    )
    assert result.returncode != 0
    assert "drawz" in result.stdout + result.stderr


def test_snakemake_report_builds(run):
    snakemake(run, "--report", "report.zip")
    assert (run / "report.zip").stat().st_size > 0


def test_variants_are_compared_by_loo_and_every_fit_gets_sensitivity_and_figures(run):
    table = pd.read_csv(run / "results/tiny/comparisons/slope.csv")
    assert set(table["model"]) == {"toy_crp", "toy_flat"}
    assert table["weight"].sum() == pytest.approx(1)
    assert (run / "results/tiny/comparisons/slope.svg").exists()
    slope = {
        model: pd.read_csv(run / f"results/summaries/{model}/controls.csv")
        .set_index("parameter")
        .loc["b", "mean"]
        for model in ("toy_crp", "toy_flat")
    }
    assert abs(slope["toy_flat"]) < 0.05 < abs(slope["toy_crp"])  # the variant's prior holds b
    for model, dataset in (("il6_crp", "trial"), ("treatment_response", "trial"),
                           ("toy_crp", "controls"), ("toy_flat", "controls")):  # fmt: skip
        sensitivity = pd.read_csv(run / f"results/sensitivity/{model}/{dataset}.csv")
        assert {"prior", "likelihood", "flagged"} <= set(sensitivity.columns)
        assert (run / f"results/figures/{model}/{dataset}/trace.png").exists()
    assert (run / "results/figures/treatment_response/trial/effect.svg").exists()
    page = (run / "results/tiny/report.html").read_text()
    for heading in ("Model comparison (PSIS-LOO)", "Prior sensitivity", "Figures in this report",
                    "Changes since the previous run"):  # fmt: skip
        assert heading in page
    closing = page[page.index('<section id="figures">') :]
    for figure in ("relation", "forest", "ranks", "trace", "ppc", "course", "effect", "comparison"):
        assert f"<b>{figure}</b>" in closing
    assert json.loads((run / "results/tiny/report.json").read_text())["verdicts"]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)")
def test_the_report_opens_in_a_browser_answers_first_with_maths_images_and_no_identifier(run):
    page = run / "results/tiny/report.html"
    view = chromium_view(page)
    assert view["first"] == {"section": "answers", "heading": "Answers", "table": True}
    assert "Each doubling of IL-6 goes with" in view["text"]
    assert "lowered DAS28-ESR by" in view["text"] or "raised DAS28-ESR by" in view["text"]
    assert view["maths"] >= 40 and view["unrendered_maths"] == 0
    assert "\\mathrm" not in view["text"] and ".. math::" not in view["text"]
    expected = len(re.findall(r"<img ", page.read_text()))
    assert expected >= 20
    assert view["images"] == [True] * expected
    assert "Figures in this report" in view["text"]
    for dataset in ("trial", "controls"):
        ids = pd.read_csv(run / f"results/simulated/{dataset}/subjects.csv")["USUBJID"]
        assert not [uid for uid in ids if uid in view["text"]]


def test_the_stop_policy_fails_the_run_naming_the_fit_and_its_failing_checks(run):
    strict = run / "strict.yaml"
    config = {**TINY, "diagnostics": {"on_failure": "stop",
                                        "thresholds": {"ess_bulk_min": 10**9}}}  # fmt: skip
    strict.write_text(yaml.safe_dump(config))
    target = "results/diagnostics/toy_crp/controls.csv"
    result = snakemake(run, "--configfile", str(strict), "--replace-workflow-config", target,
                       check=False)  # fmt: skip
    assert result.returncode != 0
    assert "fit_model" not in result.stdout  # the judge reran; the fit did not
    log = (run / "logs/check_fit/toy_crp/controls.log").read_text()
    assert "fit toy_crp on controls failed the diagnostics gate: " in log
    assert "min bulk ESS" in log and "(limit >= 1e+09" in log
    # the failed job's outputs are gone from the shared run: the tests that need the run
    # complete (tests/workflow/test_analyses.py) come before this one


TONGJI = ROOT.parent / "shared/data/tongji-covid19/time_series_375_prerpocess_en.xlsx"


@pytest.mark.skipif(not TONGJI.exists(), reason="the Tongji cohort is not beside the project")
def test_an_imported_cohort_is_converted_prepared_and_ledgered(tmp_path):
    config = yaml.safe_load((ROOT / "config/tongji.yaml").read_text())
    config["datasets"]["tongji"]["path"] = str(TONGJI)
    folder = workflow_copy(tmp_path, config)
    snakemake(folder, "results/prepared/tongji/measurements.csv")
    imported = pd.read_csv(folder / "results/imported/tongji/measurements.csv")
    assert {"IL6", "CRP"} <= set(imported["PARAMCD"])
    ledger = pd.read_csv(folder / "results/prepared/tongji/ledger.csv")
    assert (ledger["table"] == "measurements").sum() == len(imported)
    assert (
        "Nothing to be done"
        in snakemake(folder, "--dry-run", "results/prepared/tongji/measurements.csv").stdout
    )


def test_fits_start_longest_compiling_first_and_a_models_later_fits_after_every_first(run):
    both = run / "both.yaml"
    config = {**TINY, "datasets": {name: dict(spec) for name, spec in TINY["datasets"].items()}}
    config["datasets"]["trial"]["models"] = ["il6_crp", "treatment_response", "toy_crp"]
    config["datasets"]["controls"]["models"] = ["toy_crp", "il6_crp"]
    both.write_text(yaml.safe_dump(config, sort_keys=False))  # the trial first
    out = snakemake(run, "-n", "--forceall", "--configfile", str(both),
                    "--replace-workflow-config").stdout  # fmt: skip
    priority = {}
    for block in out.split("\n\n"):
        if "rule fit_model:" in block:
            fit = re.search(r"wildcards: model=(\w+), dataset=(\w+)", block).groups()
            priority[fit] = int(re.search(r"priority: (\d+)", block).group(1))
    later = max(priority[("toy_crp", "controls")], priority[("il6_crp", "controls")])
    assert (
        priority[("treatment_response", "trial")]
        > priority[("il6_crp", "trial")]
        > priority[("toy_crp", "trial")]
        == priority[("toy_flat", "controls")]  # a variant: a first fit of its own
        > later
    )


def test_a_dosing_table_is_prepared_ledgered_and_read_by_the_exposure_model_only(tmp_path):
    from il6fit.simulate import scenario, simulate_cohort

    subjects, measurements, _ = simulate_cohort(scenario("ra_tcz_trial", n_subjects=30), seed=3)
    subjects.to_csv(tmp_path / "subjects.csv", index=False)
    measurements.to_csv(tmp_path / "measurements.csv", index=False)
    treated = subjects[subjects["TRT01P"].str.contains("TCZ")]
    dosing = pd.DataFrame(
        [
            {"USUBJID": s, "EXTRT": "TOCILIZUMAB", "EXDOSE": 8, "EXDOSU": "mg/kg",
             "EXROUTE": "INTRAVENOUS", "EXSTDY": day + 1 + (7 if k == 1 else 0)}
            for s in treated["USUBJID"] for k, day in enumerate(range(0, 168, 28))
        ]
    )  # fmt: skip
    dosing.to_csv(tmp_path / "dosing.csv", index=False)
    config = {
        **TINY,
        "datasets": {
            "trial": {
                "subjects": str(tmp_path / "subjects.csv"),
                "measurements": str(tmp_path / "measurements.csv"),
                "dosing": str(tmp_path / "dosing.csv"),
                "models": ["exposure_response", "mmrm"],
            }
        },
        "models": ["mmrm"],
        "variants": {},
        "comparisons": {},
    }
    (tmp_path / "run").mkdir()
    folder = workflow_copy(tmp_path / "run", config)
    snakemake(folder, "results/prepared/trial/dosing.csv")
    prepared = pd.read_csv(folder / "results/prepared/trial/dosing.csv")
    ledger = pd.read_csv(folder / "results/prepared/trial/ledger.csv")
    assert len(prepared) == len(dosing) == (ledger["table"] == "dosing").sum()
    assert sorted(prepared.loc[prepared["DAY"] % 28 != 0, "DAY"].unique()) == [35.0]
    planned = snakemake(folder, "--dry-run", "results/fits/exposure_response/trial.nc",
                        "results/fits/mmrm/trial.nc").stdout  # fmt: skip
    inputs = dict(re.findall(r"input: (.*)\n\s+output: results/fits/(\w+)/trial.nc", planned))
    inputs = {model: files for files, model in inputs.items()}
    assert "results/prepared/trial/dosing.csv" in inputs["exposure_response"]
    assert "dosing.csv" not in inputs["mmrm"]
