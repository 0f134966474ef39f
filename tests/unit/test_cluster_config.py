"""What a cluster run relies on, checked without a cluster (the real run: `make test-cluster`)."""

import re
import shutil
import subprocess

import yaml
from helpers import ROOT, SNAKEMAKE, seed_catalogue

SCHEMA = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())


def rule_bodies() -> dict[str, str]:
    """Each rule of workflow/rules/ with the text of its body."""
    bodies = {}
    for path in sorted((ROOT / "workflow/rules").glob("*.smk")):
        parts = re.split(r"^rule (\w+):\n", path.read_text(), flags=re.MULTILINE)
        bodies.update(zip(parts[1::2], parts[2::2], strict=True))
    return bodies


def test_every_rule_declares_threads_and_takes_its_resources_from_the_config():
    bodies = rule_bodies()
    assert "fit_model" in bodies
    for name, body in bodies.items():
        assert re.search(r"^    threads: ", body, flags=re.MULTILINE), name
        assert f'**config["resources"]["{name}"]' in body, name


def test_the_config_schema_gives_every_rule_a_memory_and_runtime_default():
    requests = SCHEMA["properties"]["resources"]["properties"]
    assert set(requests) == set(rule_bodies())
    for name, spec in requests.items():
        assert spec["properties"]["mem_mb"]["default"] > 0, name
        assert spec["properties"]["runtime"]["default"] > 0, name


def test_the_slurm_profile_selects_the_slurm_executor():
    profile = yaml.safe_load((ROOT / "profiles/slurm/config.yaml").read_text())
    assert profile["executor"] == "slurm"


def test_a_dry_run_through_the_slurm_profile_asks_for_the_configured_resources(tmp_path):
    shutil.copy(ROOT / "Snakefile", tmp_path)
    for name in ("workflow", "profiles"):
        shutil.copytree(ROOT / name, tmp_path / name)
    (tmp_path / "config").mkdir()
    seed_catalogue(tmp_path)
    config = {
        "datasets": {"trial": {"simulate": {"scenario": "ra_tcz_trial", "n_subjects": 60}}},
        "models": ["il6_crp"],
        "resources": {"fit_model": {"mem_mb": 1234, "runtime": 7}},
    }
    (tmp_path / "config/config.yaml").write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [
            SNAKEMAKE,
            "--workflow-profile",
            "profiles/slurm",
            "--default-resources",
            "slurm_account=acct",
            "slurm_partition=part",
            "--dry-run",
            "results/fits/il6_crp/trial.nc",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    fit = result.stdout[result.stdout.index("rule fit_model:") :]
    assert re.search(r"resources: .*mem_mb=1234.*slurm_account=acct", fit)
    assert "runtime=7" in fit
    # the simulation keeps its default request
    simulate = result.stdout[result.stdout.index("rule simulate_cohort:") :]
    assert "mem_mb=2000" in simulate
