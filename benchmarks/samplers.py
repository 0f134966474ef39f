"""Sampler benchmark: an il6fit fit job against plain PyMC, nutpie and Stan scripts, cold and warm.

    .venv/bin/python benchmarks/samplers.py                      # both models, every runner
    .venv/bin/python benchmarks/samplers.py --models treatment_response --subjects 40 \\
        --draws 100 --tune 100 --runners "il6fit job" nutpie      # a smoke test

Fits ``treatment_response`` and ``il6_crp`` (censoring on both biomarkers) to the default
simulated trial (``ra_tcz_trial``, 600 patients, 8 visits, prepared with the default config's
``prepare`` options and written as the pipeline's prepared CSV files) with

* ``il6fit job``: what a fit job (``workflow/scripts/fit_model.py``) does: imports, seeding of
  its compile cache, :func:`il6fit.inference.fit_model` with the default config's model options
  and the model's sampler settings (``sampler``, ``sampler.models``; compiled under
  :data:`il6fit.sampling.COMPILE_FLAGS`), post-processing (log-likelihood, log-prior,
  predictive draws), provenance, and the ``.nc`` saved under the default ``store`` policy;
* ``pm.sample``: a user's plain script on the same PyMC model (``family.build``, what
  il6fit's module gives a user; ``--user-model reference`` takes the straightforward version of
  ``reference_models.py`` where there is one): ``pm.sample(..., nuts_sampler="nutpie")`` with
  PyMC's defaults otherwise (PyTensor's default flags, fast-math on; target_accept 0.8, diagonal
  mass matrix; no progress bar), then ``pm.compute_log_likelihood`` as a user who wants LOO;
* ``nutpie``: ``nutpie.compile_pymc_model(model, backend="numba")`` and ``nutpie.sample`` on
  the same model, PyTensor's default flags, with the job's sampler settings (target_accept,
  maximum tree depth, mass-matrix adaptation) and no post-processing: the job minus its
  compile flags, post-processing and saving;
* ``pymc``: PyMC's own NUTS (``nuts_sampler="pymc"``, its defaults) on a straightforward PyMC
  version of the model (``reference_models.py``; ``il6_crp`` is the package's own);
* ``stan``: pystan 3 with the vectorised programs of ``stan/`` (optional extra ``bench``; a
  failed row with the import error when pystan is missing);
* ``il6fit refit`` (not run unless asked): a fit job on another dataset of another size
  (``--refit-subjects``) whose new compile cache is seeded from the first job's, as the
  pipeline seeds a new job's cache.

Every run is its own fresh process, first COLD (an empty PyTensor compile cache folder and an
empty httpstan build cache, ``XDG_CACHE_HOME``), then WARM (a second process with the caches the
cold one left). Numba's own cache of PyTensor's library functions (``__pycache__`` of the
installed packages) is not redirected: a fit job does not redirect it either. Every runner uses
the same chains, tuning steps and draws (the default config's: 4 chains, 1,000 tuning steps,
1,000 draws, 2,000 for ``treatment_response``), 2 chains in parallel (``--cores``) and the
fit job's seed. Per run:

* process s: wall time of the process, from its launch by this script to the moment it reports
  its work done (imports, data, compilation, sampling, the runner's post-processing and
  saving; interpreter shut-down and this benchmark's own diagnostics afterwards left out);
* compile s, sampling s: ``sample_stats`` attributes for il6fit; for ``pm.sample`` and PyMC's
  NUTS the ``pm.sample`` call minus its sampling time; Stan's ``stan.build``;
* min bulk ESS over the model's key parameters, ESS per second of the whole process and per
  second of sampling, and the default config's sampler gate (R-hat, ESS, divergences, tree
  depth, E-BFMI; the Pareto-k row is left to ``check_fit``) on the posterior and sample stats;
* digest: SHA-256 of the posterior arrays (variables in sorted order, names, dtypes, shapes
  and bytes); ``same as cold`` says whether the warm run drew bit-identical posteriors.

Results go to ``benchmarks/results/samplers.csv`` and print as a Markdown table with the
machine, followed by the ratios the issue targets: il6fit job process time over ``pm.sample``'s
(target <= 1.2), il6fit job ESS per process-second over PyMC NUTS's (>= 4) and ESS per
sampling-second over Stan's (>= 4), cold and warm.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RUNNERS = ("il6fit job", "pm.sample", "nutpie", "pymc", "stan", "il6fit refit")
DEFAULT_RUNNERS = ("il6fit job", "pm.sample", "nutpie", "pymc", "stan")
#: Old runner names still accepted on the command line.
ALIASES = {"il6fit": "il6fit job"}
MODELS = ("treatment_response", "il6_crp", "mmrm", "exposure_response")
DEFAULT_MODELS = ("treatment_response", "il6_crp")
#: The default config's name of the simulated trial: the fit job's seed and cache folder.
DATASET = "ra_trial"
REFIT_DATASET = "refit"
#: Targets of the issue: (label, numerator runner, denominator runner, column, target, rule).
TARGETS = (
    ("process time, il6fit job / pm.sample", "pm.sample", "process_s", 1.2, "<="),
    ("ESS per process-second, il6fit job / PyMC NUTS", "pymc", "ess_per_s_process", 4.0, ">="),
    ("ESS per sampling-second, il6fit job / Stan", "stan", "ess_per_s_sampling", 4.0, ">="),
)


def load_config() -> dict:
    import yaml

    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def simulated_trial(n_subjects: int, seed: int):
    """The default simulated trial, prepared with the default config's options."""
    from il6fit.data import as_read, prepare
    from il6fit.simulate import scenario, simulate_cohort

    subjects, measurements, _ = simulate_cohort(
        scenario("ra_tcz_trial", n_subjects=n_subjects), seed=seed
    )
    return prepare(
        as_read(subjects),
        as_read(measurements),
        subjects_file="s",
        measurements_file="m",
        **load_config()["prepare"],
    )


def analysis_table(model: str, n_subjects: int, seed: int):
    """A model family and its analysis table of the simulated trial (the default options)."""
    from il6fit.models import get_model
    from il6fit.settings import model_options

    data = simulated_trial(n_subjects, seed)
    family = get_model(model)
    options = model_options(load_config(), model)
    return family, family.table(data.subjects, data.measurements, options)


def write_trial(folder: Path, n_subjects: int, seed: int) -> Path:
    """Write the prepared trial as the pipeline's prepare job does (subjects, measurements)."""
    data = simulated_trial(n_subjects, seed)
    folder.mkdir(parents=True, exist_ok=True)
    data.subjects.to_csv(folder / "subjects.csv", index=False)
    data.measurements.to_csv(folder / "measurements.csv", index=False)
    return folder


def pipeline_settings(model: str):
    """The sampler settings the default config gives a model's fit job (as ``fit.smk``)."""
    from il6fit.sampling import SamplerSettings

    sampler = dict(load_config()["sampler"])
    overrides = sampler.pop("models", {}).get(model, {})
    return SamplerSettings(**{**sampler, **overrides}, cores=sampler["chains"])


def run_settings(model: str, args) -> dict:
    """Sampler settings of every runner: the model's fit-job settings, with the CLI's sizes."""
    from il6fit.settings import sampler_settings

    values = sampler_settings(load_config(), model)
    for key in ("chains", "draws", "tune"):
        if getattr(args, key) is not None:
            values[key] = getattr(args, key)
    return {**values, "cores": args.cores}


def job_seed(model: str, dataset: str = DATASET) -> int:
    """The seed the default run's fit job of a model on the trial gets."""
    from il6fit.provenance import derive_seed

    return derive_seed(load_config()["seed"], "fit_model", model=model, dataset=dataset)


def gate(family, tree) -> tuple[float, bool, str]:
    """Minimum bulk ESS over the key parameters, and the default config's gate verdict."""
    from il6fit.diagnostics import Thresholds, check, failed_checks, summarise

    config = load_config()
    summary = summarise(tree, family.parameters, ci_kind="eti", ci_prob=0.9)
    checks = check(tree, summary, Thresholds(**config["diagnostics"]["thresholds"]))
    failed = failed_checks(checks)
    return float(summary["ess_bulk"].min()), not failed, "; ".join(failed)


def posterior_digest(tree) -> str:
    """SHA-256 of the posterior arrays: sorted variable names, dtypes, shapes and bytes."""
    import hashlib

    import numpy as np

    digest = hashlib.sha256()
    posterior = tree["posterior"]
    for name in sorted(posterior.data_vars):
        values = np.ascontiguousarray(posterior[name].values)
        digest.update(f"{name}|{values.dtype.str}|{values.shape}|".encode())
        digest.update(values.tobytes())
    return digest.hexdigest()


def prepared_table(model: str, data: Path):
    """Family, config options, typed options and analysis table of the prepared trial."""
    from il6fit.data import read_prepared
    from il6fit.models import get_model
    from il6fit.settings import model_options

    family = get_model(model)
    options = model_options(load_config(), model)
    typed = family.make_options(options)
    subjects, measurements = read_prepared(
        str(data / "subjects.csv"), str(data / "measurements.csv")
    )
    return family, options, typed, family.table(subjects, measurements, typed)


def plain_model(model: str, family, options, typed, table, user_model: str):
    """The PyMC model a user's script samples: il6fit's own, or the reference version."""
    import reference_models

    priors = family.priors(options.get("priors"))
    if user_model == "reference" and hasattr(reference_models, model):
        return getattr(reference_models, model)(table, priors), "reference"
    return family.build(table, priors, typed), "il6fit"


def run_il6fit_job(args) -> tuple[dict, object, object]:
    """A fit job, as ``workflow/scripts/fit_model.py`` runs it (PYTENSOR_FLAGS set by launch)."""
    from functools import partial

    from il6fit.cache import seed_compile_cache
    from il6fit.data import read_prepared
    from il6fit.diagnostics import Thresholds, sampler_failures
    from il6fit.escalation import Escalation
    from il6fit.inference import fit_model
    from il6fit.logs import log_to
    from il6fit.models import get_model
    from il6fit.provenance import input_hashes
    from il6fit.sampling import SamplerSettings
    from il6fit.settings import model_options
    from il6fit.storage import StorePolicy, annotate, save

    log_to(str(args.log))
    seed_compile_cache(args.cache)
    config = load_config()
    inputs = [str(args.data / "subjects.csv"), str(args.data / "measurements.csv")]
    subjects, measurements = read_prepared(*inputs)
    settings = SamplerSettings(**run_settings(args.one, args))
    family = get_model(args.one)
    options = model_options(config, args.one)
    diagnostics = config["diagnostics"]
    judge = escalation = None
    if diagnostics["on_failure"] == "escalate":
        judge = partial(
            sampler_failures, family=family, thresholds=Thresholds(**diagnostics["thresholds"])
        )
        escalation = Escalation(**diagnostics["escalation"])
    tree, table = fit_model(
        family,
        subjects,
        measurements,
        options=options,
        settings=settings,
        seed=args.sampler_seed,
        judge=judge,
        escalation=escalation,
    )
    annotate(
        tree,
        model=args.one,
        family=family.name,
        dataset=args.dataset,
        seed=args.sampler_seed,
        settings=settings,
        config={
            "seed": config["seed"],
            "prepare": config["prepare"],
            "model_options": options,
            "sampler": run_settings(args.one, args),
        },
        inputs=input_hashes(inputs),
    )
    save(tree, args.out / f"{args.one}.nc", StorePolicy(**config["store"]))
    stats = tree["sample_stats"].attrs
    return (
        {
            "compile_s": stats["compile_time"],
            "sampling_s": stats["sampling_time"],
            "rows": len(table),
            "iterations": settings.tune + settings.draws,
            "target_accept": settings.target_accept,
            "adaptation": settings.adaptation,
            "pymc_model": "il6fit",
        },
        tree,
        family,
    )


def run_pm_sample(args) -> tuple[dict, object, object]:
    """A user's script: ``pm.sample`` with nutpie and PyMC's defaults, then the log-likelihood."""
    import pymc as pm

    family, options, typed, table = prepared_table(args.one, args.data)
    model, kind = plain_model(args.one, family, options, typed, table, args.user_model)
    settings = run_settings(args.one, args)
    start = time.perf_counter()
    with model:
        tree = pm.sample(
            draws=settings["draws"],
            tune=settings["tune"],
            chains=settings["chains"],
            cores=settings["cores"],
            random_seed=args.sampler_seed,
            nuts_sampler="nutpie",
            progressbar=False,
        )
        sampled = time.perf_counter()
        pm.compute_log_likelihood(tree, progressbar=False)
    done = time.perf_counter()
    sampling = tree["posterior"].attrs["sampling_time"]
    return (
        {
            "compile_s": sampled - start - sampling,
            "sampling_s": sampling,
            "log_likelihood_s": done - sampled,
            "rows": len(table),
            "iterations": settings["tune"] + settings["draws"],
            "target_accept": 0.8,
            "adaptation": "diag",
            "pymc_model": kind,
        },
        tree,
        family,
    )


def run_nutpie(args) -> tuple[dict, object, object]:
    """nutpie directly, PyTensor's default flags, the fit job's sampler settings."""
    import nutpie

    from il6fit.sampling import SamplerSettings

    family, options, typed, table = prepared_table(args.one, args.data)
    model, kind = plain_model(args.one, family, options, typed, table, "il6fit")
    settings = SamplerSettings(**run_settings(args.one, args))
    start = time.perf_counter()
    compiled = nutpie.compile_pymc_model(model, backend="numba")
    compiled_at = time.perf_counter()
    tree = nutpie.sample(
        compiled,
        draws=settings.draws,
        tune=settings.tune,
        chains=settings.chains,
        cores=settings.cores,
        seed=args.sampler_seed,
        target_accept=settings.target_accept,
        maxdepth=settings.max_treedepth,
        adaptation=settings.adaptation,
        progress_bar=False,
    )
    sampled = time.perf_counter()
    return (
        {
            "compile_s": compiled_at - start,
            "sampling_s": sampled - compiled_at,
            "rows": len(table),
            "iterations": settings.tune + settings.draws,
            "target_accept": settings.target_accept,
            "adaptation": settings.adaptation,
            "pymc_model": kind,
        },
        tree,
        family,
    )


def run_pymc(args) -> tuple[dict, object, object]:
    """PyMC's own NUTS, its defaults, on the straightforward version of the model."""
    import pymc as pm

    family, options, typed, table = prepared_table(args.one, args.data)
    model, kind = plain_model(args.one, family, options, typed, table, "reference")
    settings = run_settings(args.one, args)
    start = time.perf_counter()
    with model:
        tree = pm.sample(
            draws=settings["draws"],
            tune=settings["tune"],
            chains=settings["chains"],
            cores=settings["cores"],
            random_seed=args.sampler_seed,
            nuts_sampler="pymc",
            progressbar=False,
            compute_convergence_checks=False,
        )
    wall = time.perf_counter() - start
    sampling = tree["sample_stats"].attrs["sampling_time"]
    return (
        {
            "compile_s": wall - sampling,
            "sampling_s": sampling,
            "rows": len(table),
            "iterations": settings["tune"] + settings["draws"],
            "target_accept": 0.8,
            "adaptation": "diag",
            "pymc_model": kind,
        },
        tree,
        family,
    )


def stan_data(model: str, table) -> dict:
    import numpy as np

    from il6fit.models import il6_crp
    from il6fit.models.arms import arm_order
    from il6fit.models.censored import IL6_REFERENCE

    if model == "treatment_response":
        subjects, subject_idx = np.unique(table["USUBJID"], return_inverse=True)
        arms = arm_order(table)
        per = table.groupby("USUBJID").first().loc[subjects]
        return {
            "N": len(table),
            "S": len(subjects),
            "A": len(arms),
            "week": table["week"].to_numpy(float),
            "subject": subject_idx + 1,
            "y": table["y"].to_numpy(float),
            "x": per["log_il6"].to_numpy(float) - np.log(IL6_REFERENCE),
            "active": (per["dose"].to_numpy(float) > 0).astype(float),
            "arm": per["arm"].map({a: i + 1 for i, a in enumerate(arms)}).to_numpy(),
        }
    sites, site_idx = np.unique(table["site"], return_inverse=True)
    il6c, crpc = table["il6_cens"].to_numpy(), table["crp_cens"].to_numpy()

    def rows(cens, code):
        idx = np.flatnonzero(cens == code) + 1
        return len(idx), idx

    data = {
        "N": len(table),
        "J": len(sites),
        "site": site_idx + 1,
        "log_il6": np.log(table["il6"].to_numpy(float)),
        "log_crp": np.log(table["crp"].to_numpy(float)),
    }
    for name, cens, code in (("meas", il6c, 0), ("below", il6c, -1), ("above", il6c, 1)):
        data[f"n_{name}"], data[f"il6_{name}"] = rows(cens, code)
    for name, cens, code in (("obs", crpc, 0), ("lo", crpc, -1), ("hi", crpc, 1)):
        data[f"n_{name}"], data[f"crp_{name}"] = rows(cens, code)
    for name, (column, ref, scale) in il6_crp.COVARIATES.items():
        data[name] = (table[column].to_numpy(float) - ref) / scale
    return data


def run_stan(args) -> tuple[dict, object, object]:
    """pystan 3; its build cache lives under ``XDG_CACHE_HOME`` (set by launch)."""
    import numpy as np
    import stan
    from arviz_base import from_dict

    if not hasattr(stan, "build"):  # without pystan, `stan` is the folder of programs here
        raise ImportError("No module named 'stan': pystan is not installed (extra `bench`)")

    family, _, _, table = prepared_table(args.one, args.data)
    settings = run_settings(args.one, args)
    code = (HERE / "stan" / f"{args.one}.stan").read_text()
    start = time.perf_counter()
    posterior = stan.build(code, data=stan_data(args.one, table), random_seed=args.sampler_seed)
    built = time.perf_counter()
    fit = posterior.sample(
        num_chains=settings["chains"], num_samples=settings["draws"], num_warmup=settings["tune"]
    )
    sampled = time.perf_counter()
    draws_ = fit._draws  # (flat parameter, draw, chain)
    names = list(fit.sample_and_sampler_param_names) + list(fit.constrained_param_names)

    def var(name):
        idx = [i for i, n in enumerate(names) if n == name or n.startswith(f"{name}.")]
        return (
            np.moveaxis(draws_[idx], 0, -1).transpose(1, 0, 2).squeeze(-1)
            if len(idx) == 1
            else np.moveaxis(draws_[idx], 0, -1).transpose(1, 0, 2)
        )

    posterior_vars = {p: var(p) for p in family.parameters if p in fit.param_names}
    tree = from_dict(
        {
            "posterior": posterior_vars,
            "sample_stats": {
                "diverging": var("divergent__").astype(bool),
                "reached_max_treedepth": var("treedepth__") >= 10,
                "energy": var("energy__"),
                "n_steps": var("n_leapfrog__"),
            },
        }
    )
    return (
        {
            "compile_s": built - start,
            "sampling_s": sampled - built,
            "rows": len(table),
            "iterations": settings["tune"] + settings["draws"],
            "target_accept": 0.8,
            "adaptation": "diag",
            "pymc_model": "",
        },
        tree,
        family,
    )


def compare_posteriors(family, reference, other, names: tuple[str, str]):
    """Posterior mean and SD of the key parameters of two fits of one model, side by side.

    Columns ``<name>_mean`` and ``<name>_sd`` for each of ``names`` (reference first), the
    error of the other's mean in reference posterior SDs (``error_in_sd``) and its SD ratio.
    """
    import pandas as pd

    from il6fit.diagnostics import summarise

    ref, est = (
        summarise(tree, family.parameters, ci_kind="eti", ci_prob=0.9).set_index("parameter")
        for tree in (reference, other)
    )
    return pd.DataFrame(
        {
            f"{names[0]}_mean": ref["mean"],
            f"{names[0]}_sd": ref["sd"],
            f"{names[1]}_mean": est["mean"],
            f"{names[1]}_sd": est["sd"],
            "error_in_sd": (est["mean"] - ref["mean"]) / ref["sd"],
            "sd_ratio": est["sd"] / ref["sd"],
        }
    )


RUN = {
    "il6fit job": run_il6fit_job,
    "il6fit refit": run_il6fit_job,
    "pm.sample": run_pm_sample,
    "nutpie": run_nutpie,
    "pymc": run_pymc,
    "stan": run_stan,
}


def one(args) -> None:
    """Run one (model, runner) in this process; print DONE when its work is done, then RESULT.

    The parent times the process up to DONE; the gate and digest computed afterwards are this
    benchmark's, not the runner's.
    """
    sys.path.insert(0, str(HERE))
    import warnings

    warnings.simplefilter("ignore")
    result, tree, family = RUN[args.runner](args)
    print("DONE", flush=True)
    import xarray as xr

    # the sampler gate on the draws alone: every runner's tree is judged alike (no Pareto k)
    judged = xr.DataTree.from_dict(
        {
            "posterior": tree["posterior"].to_dataset(),
            "sample_stats": tree["sample_stats"].to_dataset(),
        }
    )
    ess, passed, failed = gate(family, judged)
    stats = tree["sample_stats"]
    result.update(
        min_ess_bulk=ess,
        gate_passed=passed,
        gate_failures=failed,
        digest=posterior_digest(tree),
        steps_per_draw=float(stats["n_steps"].mean()) if "n_steps" in stats else float("nan"),
    )
    print("RESULT " + json.dumps(result), flush=True)


def launch(model: str, runner: str, phase: str, args, work: Path) -> dict:
    """Run one (model, runner) in a fresh process with its cache folder; time it from here.

    ``phase`` is ``cold`` or ``warm`` (the same cache folder again), or ``refit``. The caches of
    a (model, runner) live under ``work/cache/<model>/<runner>``; a fit job's compile cache is
    ``<that>/<model>/<dataset>``, as in the pipeline, and ``il6fit refit`` shares the job's.
    """
    slug = ("il6fit job" if runner == "il6fit refit" else runner).replace(" ", "-")
    root = work / "cache" / model / slug
    dataset = REFIT_DATASET if runner == "il6fit refit" else DATASET
    cache = root / model / dataset if runner.startswith("il6fit") else root / "pytensor"
    name = f"{model}-{runner.replace(' ', '-')}-{phase}"
    out = work / "fits" / name
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["PYTENSOR_FLAGS"] = f"base_compiledir={cache}"
    env["XDG_CACHE_HOME"] = str(root / "xdg")  # httpstan's build cache
    cmd = [sys.executable, __file__, "--one", model, "--runner", runner, "--phase", phase]
    cmd += ["--data", str(work / "data" / dataset), "--dataset", dataset, "--cache", str(cache)]
    cmd += ["--out", str(out), "--log", str(work / "logs" / f"{name}.log")]
    seed = job_seed(model) if args.sampler_seed is None else args.sampler_seed
    cmd += ["--sampler-seed", str(seed), "--cores", str(args.cores)]
    cmd += ["--user-model", args.user_model]
    for key in ("chains", "draws", "tune"):
        if getattr(args, key) is not None:
            cmd += [f"--{key}", str(getattr(args, key))]
    (work / "logs").mkdir(exist_ok=True)
    stderr = work / "logs" / f"{name}.stderr"
    load = os.getloadavg()[0]
    done_at = None
    lines = []
    start = time.perf_counter()
    with stderr.open("w") as err:
        process = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
        for line in process.stdout:
            if line.startswith("DONE") and done_at is None:
                done_at = time.perf_counter()
            lines.append(line)
        process.wait()
    ended = time.perf_counter()
    row = {"model": model, "runner": runner, "cache": phase, "load_before": load}
    results = [line for line in lines if line.startswith("RESULT ")]
    if process.returncode != 0 or not results or done_at is None:
        tails = [stderr] + [work / "logs" / f"{name}.log"] * runner.startswith("il6fit")
        tail = [t for path in tails if path.exists() for t in path.read_text().splitlines()]
        return {**row, "error": " | ".join(tail[-5:])}
    result = json.loads(results[-1].removeprefix("RESULT "))
    process_s = done_at - start
    # chains run in parallel, so one chain's gradient evaluations fill the sampling time (tuning
    # iterations counted at the kept draws' steps per draw: an approximation)
    evaluations = result["steps_per_draw"] * result["iterations"]
    return {
        **row,
        "process_s": process_s,
        **result,
        "other_s": process_s - result["compile_s"] - result["sampling_s"],
        "ess_per_s_process": result["min_ess_bulk"] / process_s,
        "ess_per_s_sampling": result["min_ess_bulk"] / result["sampling_s"],
        "ms_per_gradient": 1000 * result["sampling_s"] / evaluations,
        "child_s": ended - start,
    }


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return f"{os.cpu_count()} CPU {cpu}, Python {platform.python_version()}"


def ratios(table):
    """The issue's targets per model and cache: il6fit job over the other runner."""
    import pandas as pd

    rows = []
    if "process_s" not in table:
        return pd.DataFrame(rows)
    ok = table[table["process_s"].notna()].set_index(["model", "runner", "cache"])
    for model in table["model"].unique():
        for label, other, column, target, rule in TARGETS:
            for phase in ("cold", "warm"):
                mine, theirs = (model, "il6fit job", phase), (model, other, phase)
                if mine not in ok.index or theirs not in ok.index:
                    continue
                value = ok.loc[mine, column] / ok.loc[theirs, column]
                met = value <= target if rule == "<=" else value >= target
                rows.append(
                    {
                        "model": model,
                        "ratio": label,
                        "cache": phase,
                        "value": value,
                        "target": f"{rule} {target:g}",
                        "met": bool(met),
                    }
                )
    return pd.DataFrame(rows)


def runner_name(name: str) -> str:
    return ALIASES.get(name, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS), choices=MODELS)
    parser.add_argument(
        "--runners", nargs="+", type=runner_name, default=list(DEFAULT_RUNNERS), choices=RUNNERS
    )
    parser.add_argument("--subjects", type=int, default=600)
    parser.add_argument("--refit-subjects", type=int, default=450, help="for 'il6fit refit'")
    parser.add_argument("--seed", type=int, default=2026, help="seed of the simulated trial")
    parser.add_argument(
        "--sampler-seed", type=int, help="every runner's seed (default: the fit job's)"
    )
    parser.add_argument("--chains", type=int, help="default: the config's (4)")
    parser.add_argument("--draws", type=int, help="default: the config's for the model")
    parser.add_argument("--tune", type=int, help="default: the config's for the model")
    parser.add_argument("--cores", type=int, default=2, help="chains sampled in parallel")
    parser.add_argument(
        "--user-model",
        choices=("il6fit", "reference"),
        default="il6fit",
        help="pm.sample's model: il6fit's (family.build) or reference_models.py's",
    )
    parser.add_argument("--out", type=Path, default=HERE / "results" / "samplers.csv")
    for hidden in ("--phase", "--dataset"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    for hidden in ("--data", "--cache", "--log"):
        parser.add_argument(hidden, type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--one", choices=MODELS, help=argparse.SUPPRESS)
    parser.add_argument("--runner", choices=RUNNERS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args)
        return
    rows = []
    print(f"machine: {machine()}; load before: {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="il6fit-samplers-") as tmp:
        work = Path(tmp)
        write_trial(work / "data" / DATASET, args.subjects, args.seed)
        if "il6fit refit" in args.runners:
            write_trial(work / "data" / REFIT_DATASET, args.refit_subjects, args.seed + 1)
        for model in args.models:
            for name in args.runners:
                for phase in ("refit",) if name == "il6fit refit" else ("cold", "warm"):
                    row = launch(model, name, phase, args, work)
                    print(json.dumps(row), flush=True)
                    rows.append(row)
    table = tabulate(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    print(f"\nmachine: {machine()}")
    print(markdown(display(table)))
    found = ratios(table)
    if not found.empty:
        found.to_csv(args.out.with_name(args.out.stem + "-ratios.csv"), index=False)
        print()
        print(markdown(found))


def tabulate(rows: list[dict]):
    """The runs as a table, each warm run marked with whether it drew the cold run's bits."""
    import pandas as pd

    table = pd.DataFrame(rows)
    if "digest" in table:
        cold = table[table["cache"] == "cold"].set_index(["model", "runner"])["digest"]
        table["same_as_cold"] = [
            cold.get((r.model, r.runner)) == r.digest
            if r.cache == "warm" and isinstance(r.digest, str)
            else None
            for r in table.itertuples()
        ]
    return table


def display(table):
    """The columns of the printed table, with short names."""
    import pandas as pd

    table = table.copy()
    if "digest" in table:
        table["digest"] = table["digest"].str[:12]
    if "gate_passed" in table:
        # failed checks without their limits: "max R-hat 1.02 (limit <= 1.01; x)": "max R-hat 1.02"
        table["gate"] = [
            ""
            if pd.isna(ok)
            else "passed"
            if ok
            else "**failed**: " + "; ".join(f.split(" (")[0] for f in why.split("; ") if "(" in f)
            for ok, why in zip(table["gate_passed"], table["gate_failures"], strict=True)
        ]
    names = {
        "model": "model",
        "runner": "runner",
        "cache": "cache",
        "process_s": "process s",
        "compile_s": "compile s",
        "sampling_s": "sampling s",
        "other_s": "other s",
        "min_ess_bulk": "min bulk ESS",
        "ess_per_s_process": "ESS/s process",
        "ess_per_s_sampling": "ESS/s sampling",
        "steps_per_draw": "steps",
        "ms_per_gradient": "ms/gradient",
        "gate": "gate",
        "digest": "digest",
        "same_as_cold": "same as cold",
        "load_before": "load",
        "error": "error",
    }
    if "error" in table and table["error"].isna().all():
        table = table.drop(columns="error")
    elif "error" in table:
        table["error"] = table["error"].str.split(" | ", regex=False).str[-1]  # the exception
    table = table[[c for c in names if c in table]].rename(columns=names)
    return table.astype(object).where(table.notna(), "")


def markdown(table) -> str:
    """A DataFrame as a Markdown table, numbers to 3 significant digits."""

    def cell(value):
        return f"{value:.3g}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(table.columns) + " |", "|" + " --- |" * len(table.columns)]
    lines += [
        "| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
