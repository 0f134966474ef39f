"""Helpers shared by tests (importable because pytest puts tests/ on the path)."""

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


def workflow_copy(folder: Path, config: dict) -> Path:
    """Copy the workflow into ``folder`` with ``config`` as its config; return the folder."""
    shutil.copy(ROOT / "Snakefile", folder)
    shutil.copytree(ROOT / "workflow", folder / "workflow")
    (folder / "config").mkdir()
    (folder / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    return folder


def snakemake(folder: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run snakemake in ``folder`` on two cores; fail the test with its output if it fails.

    Each fit gets one thread, so two fits run at once: a fit of the tests' few draws spends
    nearly all its time compiling, which uses one core, not sampling its chains in parallel.
    """
    result = subprocess.run(
        [SNAKEMAKE, "--cores", "2", *args, "--set-threads", "fit_model=1"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed:\n{result.stdout}\n{result.stderr}")
    return result
