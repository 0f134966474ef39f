"""Where a refit's seconds go: a fit job on new data of a model whose compile cache is warm.

Writes the default simulated trial at 600 patients and another at 450 (new patients, new seed),
runs a fit job on the first (its compile cache is the refit's starting point, as
:func:`il6fit.cache.seed_compile_cache` gives a new dataset in the pipeline), then in a fresh
process runs the fit job on the second with the package's stages wrapped by timers, and prints
each stage's seconds as Markdown: imports, reading, loading the compiled model, sampling, the
post-processing stages and saving. One core, as a local fit job declares.

Usage: ``.venv/bin/python benchmarks/refit_phases.py [--model treatment_response] [--work DIR]``
(the work folder, by default ``il6fit-refit-phases`` in the system's temporary folder, is kept:
a second call reuses its data and first job).
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: (stage label, module, function) wrapped by a timer in the refit process.
STAGES = (
    ("reading the tables", "il6fit.data", "read_prepared"),
    ("loading the compiled model (compile_time)", "il6fit.sampling", "compile_python_callbacks"),
    ("sampling, loading included", "il6fit.sampling", "sample_posterior"),
    (
        "patients' effects drawn back, log-likelihood",
        "il6fit.models.family",
        "ModelFamily.complete_with_log_likelihood",
    ),
    ("posterior predictive draws", "il6fit.sampling", "predictive_draws"),
    ("prior predictive draws", "pymc", "sample_prior_predictive"),
    ("per-patient log-likelihood", "il6fit.inference", "per_patient"),
    ("fit_model, all of it", "il6fit.inference", "fit_model"),
    ("writing the fit", "il6fit.storage", "save"),
)


def refit(args) -> None:
    """The timed refit, in this (fresh) process."""
    start = time.perf_counter()
    import importlib

    sys.path.insert(0, str(HERE))
    import nutpie  # noqa: F401
    import samplers

    import il6fit.graphs
    import il6fit.inference  # noqa: F401

    imported = time.perf_counter() - start
    seconds = {}
    for label, module, name in STAGES:
        owner = importlib.import_module(module)
        *path, name = name.split(".")
        for attribute in path:
            owner = getattr(owner, attribute)
        function = getattr(owner, name)

        @functools.wraps(function)
        def timed(*a, _function=function, _label=label, **k):
            began = time.perf_counter()
            try:
                return _function(*a, **k)
            finally:
                seconds[_label] = seconds.get(_label, 0.0) + time.perf_counter() - began

        setattr(owner, name, timed)
    job = argparse.Namespace(
        one=args.model, runner="il6fit refit", phase="refit", data=args.work / "data" / "refit",
        dataset="refit", cache=args.cache, out=args.work / "fits" / "refit",
        log=args.work / "refit.log", sampler_seed=1, cores=1, user_model="il6fit",
        chains=None, draws=None, tune=None,
    )  # fmt: skip
    job.out.mkdir(parents=True, exist_ok=True)
    _, tree, _ = samplers.run_il6fit_job(job)
    total = time.perf_counter() - start
    sampling = tree["sample_stats"].attrs["sampling_time"]
    print(f"| stage | s |\n| --- | --- |\n| imports | {imported:.2f} |")
    for label, value in seconds.items():
        print(f"| {label} | {value:.2f} |")
    print(f"| sampling alone | {sampling:.2f} |")
    print(f"| the job from its start | {total:.2f} |")
    print(f"| **the job less sampling** | **{total - sampling:.2f}** |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="treatment_response")
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "il6fit-refit-phases"
    )
    parser.add_argument("--refit", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cache", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.refit:
        refit(args)
        return
    sys.path.insert(0, str(HERE))
    import samplers

    work, python = args.work.resolve(), sys.executable
    first = work / "cache" / "first"
    if not first.exists():
        samplers.write_trial(work / "data" / "trial", 600, 2026)
        samplers.write_trial(work / "data" / "refit", 450, 2027)
        (work / "fits" / "first").mkdir(parents=True, exist_ok=True)
        cmd = [python, str(HERE / "samplers.py"), "--one", args.model, "--runner", "il6fit job"]
        cmd += ["--phase", "cold", "--data", str(work / "data" / "trial"), "--dataset", "trial"]
        cmd += ["--cache", str(first), "--out", str(work / "fits" / "first")]
        cmd += ["--log", str(work / "first.log"), "--sampler-seed", "1", "--cores", "1"]
        cmd += ["--user-model", "il6fit"]
        env = dict(os.environ, PYTENSOR_FLAGS=f"base_compiledir={first}")
        print("fit job on the 600-patient trial (cold compile cache) ...", flush=True)
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    cache = work / "cache" / "refit"
    shutil.rmtree(cache, ignore_errors=True)
    shutil.copytree(first, cache)
    env = dict(os.environ, PYTENSOR_FLAGS=f"base_compiledir={cache}")
    cmd = [python, __file__, "--refit", "--model", args.model, "--work", str(work)]
    subprocess.run([*cmd, "--cache", str(cache)], env=env, check=True)


if __name__ == "__main__":
    main()
