"""Helpers shared by tests (importable because pytest puts tests/ on the path)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

from il6fit.data import read_table

SUBJECTS_HEADER = "USUBJID,STUDYID,SITEID,TRT01P,AGE,SEX,BMI"
MEASUREMENTS_HEADER = "USUBJID,PARAMCD,AVAL,AVALC,AVALU,AVISITN"


def read_pair(subjects: str, measurements: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read a subjects and a measurements file."""
    return read_table(subjects), read_table(measurements)


ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")


def workflow_copy(folder: Path, config: dict, *, families: tuple[Path, ...] = ()) -> Path:
    """Copy the workflow into ``folder`` with ``config`` as its config; return the folder.

    With ``families`` (model family modules), the package is copied too, to ``folder/site``,
    each module is put in its ``il6fit/models/`` and registered with one line in
    ``FAMILY_MODULES``; :func:`snakemake` then runs on that copy.
    """
    shutil.copy(ROOT / "Snakefile", folder)
    shutil.copytree(ROOT / "workflow", folder / "workflow")
    shutil.copytree(ROOT / "profiles" / "default", folder / "profiles" / "default")
    (folder / "config").mkdir()
    (folder / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    if families:
        package = folder / "site" / "il6fit"
        shutil.copytree(ROOT / "il6fit", package, ignore=shutil.ignore_patterns("__pycache__"))
        registry = package / "models" / "__init__.py"
        text = registry.read_text()
        for module in families:
            shutil.copy(module, package / "models" / module.name)
            text = text.replace("\n)\n", f'\n    "{module.stem}",\n)\n', 1)
        registry.write_text(text)
    return folder


def snakemake(folder: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run snakemake in ``folder`` on two cores; fail the test with its output if it fails.

    Each fit gets one thread, so two fits run at once: a fit of the tests' few draws spends
    nearly all its time compiling, which uses one core, not sampling its chains in parallel.
    """
    site = folder / "site"
    env = {**os.environ, "PYTHONPATH": str(site)} if site.exists() else None
    result = subprocess.run(
        [SNAKEMAKE, "--cores", "2", *args, "--set-threads", "fit_model=1"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=2400,  # the tiny run: about 13 min alone on 2 cores, more on a loaded machine
    )
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed:\n{result.stdout}\n{result.stderr}")
    return result
