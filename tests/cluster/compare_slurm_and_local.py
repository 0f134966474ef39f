"""Run the workflow locally and through SLURM, and check that both give the same results.

Used by `make test-cluster` (tests/cluster/run.sh), with a SLURM started by start-slurm.sh:

    python tests/cluster/compare_slurm_and_local.py --config CONFIG TARGET...

Each run gets its own copy of the workflow in a fresh folder (as tests/workflow does). The SLURM
run uses profiles/slurm with the account and partition of $IL6FIT_SLURM_ACCOUNT and
$IL6FIT_SLURM_PARTITION. The check passes when

- every job Snakemake sent to SLURM is in `sacct` under the run's job name (the plugin names
  each job after the run's UUID and comments it with the rule and wildcards) and COMPLETED, and
- every result file of the local run exists in the SLURM run: CSV and JSON files byte for byte
  equal, NetCDF fits equal in every value of every group and in their provenance attributes.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import xarray as xr

ROOT = Path(__file__).resolve().parents[2]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
SACCT_FIELDS = "JobID,JobName%36,Comment%60,Account,Partition,AllocCPUS,ReqMem,Timelimit,State"
SACCT_FIELDS += ",ExitCode,Elapsed"


def workflow_copy(folder: Path, config: Path) -> Path:
    """A copy of the workflow in `folder`, with `config` as its config/config.yaml."""
    folder.mkdir(parents=True)
    shutil.copy(ROOT / "Snakefile", folder)
    for name in ("workflow", "profiles"):
        shutil.copytree(ROOT / name, folder / name)
    (folder / "config").mkdir()
    shutil.copy(config, folder / "config" / "config.yaml")
    return folder


def run_snakemake(folder: Path, args: list[str], label: str) -> str:
    """Run Snakemake in `folder`; return its output (stdout and stderr), stop on failure."""
    start = time.monotonic()
    result = subprocess.run(
        [SNAKEMAKE, *args],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    (folder / f"{label}.out").write_text(result.stdout)
    print(f"{label} run: {time.monotonic() - start:.0f} s, exit code {result.returncode}")
    if result.returncode != 0:
        print(result.stdout[-6000:])
        raise SystemExit(f"FAILED: the {label} run failed (output in {folder}/{label}.out)")
    return result.stdout


def sacct_jobs(job_name: str) -> list[dict[str, str]]:
    """The SLURM jobs (allocations, not steps) named `job_name`, as sacct reports them."""
    fields = SACCT_FIELDS.split(",")
    table = subprocess.run(
        ["sacct", "-X", "--name", job_name, "-o", SACCT_FIELDS],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    print(table, end="")
    parsable = subprocess.run(
        ["sacct", "-X", "-P", "--name", job_name, "-o", ",".join(f.split("%")[0] for f in fields)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    names = parsable[0].split("|")
    return [dict(zip(names, line.split("|"), strict=True)) for line in parsable[1:]]


def check_sacct(output: str) -> list[str]:
    """Problems with the SLURM accounting of the run whose Snakemake output is `output`."""
    run_id = re.search(r"SLURM run ID: (\S+)", output)
    if run_id is None:
        return ["the SLURM run did not report a SLURM run ID: did it use the slurm executor?"]
    # Snakemake announces jobs it submits as `rule <name>:` and runs `localrule <name>:` itself.
    submitted = Counter(re.findall(r"^rule (\w+):$", output, flags=re.MULTILINE))
    jobs = sacct_jobs(run_id.group(1))
    in_sacct = Counter(re.match(r"rule_(\w+?)(_wildcards_|$)", j["Comment"])[1] for j in jobs)
    problems = []
    if not submitted:
        problems.append("Snakemake submitted no job to SLURM")
    if in_sacct != submitted:
        problems.append(f"jobs per rule: submitted {dict(submitted)}, in sacct {dict(in_sacct)}")
    problems += [
        f"job {j['JobID']} ({j['Comment']}) is {j['State']}, exit code {j['ExitCode']}"
        for j in jobs
        if j["State"] != "COMPLETED" or j["ExitCode"] != "0:0"
    ]
    per_rule = ", ".join(f"{rule} {n}" for rule, n in sorted(in_sacct.items()))
    print(f"sacct: {len(jobs)} jobs named {run_id.group(1)}; per rule: {per_rule}")
    return problems


def compare_results(local: Path, slurm: Path) -> list[str]:
    """Problems found comparing the result files of the two runs."""
    problems = []
    compared = Counter()
    for path in sorted((local / "results").rglob("*")):
        if not path.is_file():
            continue
        name = path.relative_to(local)
        other = slurm / name
        if not other.exists():
            problems.append(f"{name}: missing in the SLURM run")
        elif path.suffix in {".csv", ".json"}:
            if path.read_bytes() != other.read_bytes():
                problems.append(f"{name}: differs")
            compared[path.suffix] += 1
        elif path.suffix == ".nc":
            # Values and root (provenance) attributes; a group's created_at and sampling_time
            # say when and how fast, which differs between any two runs.
            with xr.open_datatree(path) as a, xr.open_datatree(other) as b:
                if not a.equals(b):
                    problems.append(f"{name}: the fits' values differ")
                if a.attrs != b.attrs:
                    problems.append(f"{name}: the fits' provenance attributes differ")
            compared[path.suffix] += 1
    if not compared:
        problems.append("the local run wrote no CSV, JSON or NetCDF result to compare")
    print("compared with the local run: " + ", ".join(f"{n} {s}" for s, n in compared.items()))
    return problems


def main() -> None:
    """Run both, compare, and exit non-zero with the problems found."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True, help="config of both runs")
    parser.add_argument("--cores", default="2", help="cores of the local run")
    parser.add_argument("--keep", action="store_true", help="keep the run folders")
    parser.add_argument("targets", nargs="+", help="Snakemake targets (files or rule names)")
    args = parser.parse_args()
    account = os.environ["IL6FIT_SLURM_ACCOUNT"]
    partition = os.environ["IL6FIT_SLURM_PARTITION"]

    base = Path(tempfile.mkdtemp(prefix="il6fit-cluster-"))
    print(f"runs in {base}; targets: {' '.join(args.targets)}; config: {args.config}")
    local = workflow_copy(base / "local", args.config.resolve())
    slurm = workflow_copy(base / "slurm", args.config.resolve())
    run_snakemake(local, ["--cores", args.cores, *args.targets], "local")
    output = run_snakemake(
        slurm,
        [
            "--workflow-profile",
            "profiles/slurm",
            "--default-resources",
            f"slurm_account={account}",
            f"slurm_partition={partition}",
            # A one-node test cluster answers at once; the default (40 s) suits busy ones.
            "--slurm-init-seconds-before-status-checks",
            "5",
            *args.targets,
        ],
        "slurm",
    )
    problems = check_sacct(output) + compare_results(local, slurm)
    if problems:
        raise SystemExit(f"FAILED (runs kept in {base}):\n" + "\n".join(f"- {p}" for p in problems))
    if not args.keep:
        shutil.rmtree(base)
    print("PASSED: every job went through SLURM and the results equal the local run's")


if __name__ == "__main__":
    main()
