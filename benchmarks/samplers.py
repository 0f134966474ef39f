"""Sampler benchmark: il6fit as shipped against PyMC's own NUTS and Stan (pystan), same data.

    .venv/bin/python benchmarks/samplers.py                      # both models, every runner
    .venv/bin/python benchmarks/samplers.py --models treatment_response --subjects 300

Fits ``treatment_response`` and ``il6_crp`` (censoring on both biomarkers) to the default
simulated trial (``ra_tcz_trial``, 600 patients, 8 visits) with

* ``il6fit``: the pipeline's backend and sampler settings of ``config/config.yaml``, through
  ``il6fit.sampling.sample_posterior`` (the fit job's own code), with a cold compile cache;
* ``il6fit refit``: the same, again in a new process on another dataset of another size (450
  patients) with the compile cache the first fit left: what a refit pays;
* ``pymc``: PyMC's own NUTS (``nuts_sampler="pymc"``, its defaults) on a straightforward PyMC
  version of the model (``benchmarks/reference_models.py``; ``il6_crp`` is the package's own);
* ``stan``: pystan 3 with the vectorised programs of ``benchmarks/stan/`` (optional extra
  ``bench``; skipped with a note when pystan is missing), cold httpstan build cache.

Each run is its own process with its own empty cache, 2 chains in parallel, 1,000 draws; PyMC
and Stan tune 1,000 steps. Per run: compile time, sampling time (tuning included), the minimum
bulk ESS over the model's key parameters (its summary table), ESS per second of sampling and per
second of wall time (compile + sampling), and whether the fit passes the diagnostics gate of the
default config. Results go to ``benchmarks/results/samplers.csv`` and print as a Markdown table.
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
RUNNERS = ("il6fit", "il6fit refit", "pymc", "stan")
MODELS = ("treatment_response", "il6_crp", "mmrm")


def load_config() -> dict:
    import yaml

    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def analysis_table(model: str, n_subjects: int, seed: int):
    from il6fit.data import as_read, prepare
    from il6fit.models import get_model
    from il6fit.simulate import scenario, simulate_cohort

    config = load_config()
    subjects, measurements, _ = simulate_cohort(
        scenario("ra_tcz_trial", n_subjects=n_subjects), seed=seed
    )
    data = prepare(
        as_read(subjects),
        as_read(measurements),
        subjects_file="s",
        measurements_file="m",
        **config["prepare"],
    )
    family = get_model(model)
    options = {k: v for k, v in config["model_options"][model].items() if k != "priors"}
    return family, family.table(data.subjects, data.measurements, options)


def pipeline_settings(model: str):
    """The sampler settings the default config gives a model's fit job (as ``fit.smk``)."""
    from il6fit.sampling import SamplerSettings

    sampler = dict(load_config()["sampler"])
    overrides = sampler.pop("models", {}).get(model, {})
    return SamplerSettings(**{**sampler, **overrides}, cores=sampler["chains"])


def gate(family, tree) -> tuple[float, bool, str]:
    """Minimum bulk ESS over the key parameters, and the default config's gate verdict."""
    from il6fit.diagnostics import Thresholds, check, failed_checks, summarise

    config = load_config()
    summary = summarise(tree, family.parameters, ci_kind="eti", ci_prob=0.9)
    checks = check(tree, summary, Thresholds(**config["diagnostics"]["thresholds"]))
    failed = failed_checks(checks)
    return float(summary["ess_bulk"].min()), not failed, "; ".join(failed)


def run_il6fit(model: str, n_subjects: int, seed: int) -> dict:
    from il6fit.sampling import sample_posterior

    family, table = analysis_table(model, n_subjects, seed)
    settings = pipeline_settings(model)
    tree = sample_posterior(family.build(table, family.default_priors), settings, seed=1)
    stats = tree["sample_stats"].attrs
    return {
        "compile_s": stats["compile_time"],
        "sampling_s": stats["sampling_time"],
        "rows": len(table),
        "steps_per_draw": float(tree["sample_stats"]["n_steps"].mean()),
        "iterations": settings.tune + settings.draws,
        **_verdict(family, tree),
    }


def run_pymc(model: str, n_subjects: int, seed: int, draws: int, tune: int) -> dict:
    import pymc as pm
    import reference_models

    family, table = analysis_table(model, n_subjects, seed)
    build = getattr(reference_models, model, family.build)
    start = time.perf_counter()
    with build(table, family.default_priors):
        tree = pm.sample(
            draws=draws,
            tune=tune,
            chains=2,
            cores=2,
            random_seed=1,
            nuts_sampler="pymc",
            progressbar=False,
            compute_convergence_checks=False,
        )
    wall = time.perf_counter() - start
    sampling = tree["sample_stats"].attrs["sampling_time"]
    return {
        "compile_s": wall - sampling,
        "sampling_s": sampling,
        "rows": len(table),
        "steps_per_draw": float(tree["sample_stats"]["n_steps"].mean()),
        "iterations": tune + draws,
        **_verdict(family, tree),
    }


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


def run_stan(model: str, n_subjects: int, seed: int, draws: int, tune: int) -> dict:
    import numpy as np
    import stan
    from arviz_base import from_dict

    family, table = analysis_table(model, n_subjects, seed)
    code = (HERE / "stan" / f"{model}.stan").read_text()
    start = time.perf_counter()
    posterior = stan.build(code, data=stan_data(model, table), random_seed=1)
    built = time.perf_counter()
    fit = posterior.sample(num_chains=2, num_samples=draws, num_warmup=tune)
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
            },
        }
    )
    return {
        "compile_s": built - start,
        "sampling_s": sampled - built,
        "rows": len(table),
        "steps_per_draw": float(var("n_leapfrog__").mean()),
        "iterations": tune + draws,
        **_verdict(family, tree),
    }


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


def _verdict(family, tree) -> dict:
    ess, passed, failed = gate(family, tree)
    return {"min_ess_bulk": ess, "gate_passed": passed, "gate_failures": failed}


def one(args) -> None:
    """Run one (model, runner) in this process and print its result as JSON."""
    sys.path.insert(0, str(HERE))
    import warnings

    warnings.simplefilter("ignore")
    n = args.refit_subjects if args.runner == "il6fit refit" else args.subjects
    if args.runner.startswith("il6fit"):
        result = run_il6fit(args.one, n, args.seed + (1 if args.runner == "il6fit refit" else 0))
    elif args.runner == "pymc":
        result = run_pymc(args.one, n, args.seed, args.draws, args.tune)
    else:
        result = run_stan(args.one, n, args.seed, args.draws, args.tune)
    print("RESULT " + json.dumps(result), flush=True)


def launch(model: str, runner: str, args, cache: Path) -> dict:
    env = dict(os.environ)
    env["PYTENSOR_FLAGS"] = f"base_compiledir={cache}"
    env["XDG_CACHE_HOME"] = str(cache / "xdg")  # httpstan's build cache
    cmd = [
        sys.executable,
        __file__,
        "--one",
        model,
        "--runner",
        runner,
        "--subjects",
        str(args.subjects),
        "--refit-subjects",
        str(args.refit_subjects),
        "--seed",
        str(args.seed),
        "--draws",
        str(args.draws),
        "--tune",
        str(args.tune),
    ]
    load = os.getloadavg()[0]
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        return {"model": model, "runner": runner, "error": tail, "load_before": load}
    result = json.loads(lines[-1].removeprefix("RESULT "))
    result["ess_per_s_sampling"] = result["min_ess_bulk"] / result["sampling_s"]
    result["ess_per_s_wall"] = result["min_ess_bulk"] / (result["compile_s"] + result["sampling_s"])
    # chains run in parallel, so one chain's gradient evaluations fill the sampling time (tuning
    # iterations counted at the kept draws' steps per draw: an approximation)
    evaluations = result["steps_per_draw"] * result["iterations"]
    result["ms_per_gradient"] = 1000 * result["sampling_s"] / evaluations
    return {"model": model, "runner": runner, **result, "process_s": wall, "load_before": load}


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--runners", nargs="+", default=list(RUNNERS), choices=RUNNERS)
    parser.add_argument("--subjects", type=int, default=600)
    parser.add_argument("--refit-subjects", type=int, default=450)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000, help="tuning steps of PyMC and Stan")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "samplers.csv")
    parser.add_argument("--one", choices=MODELS, help=argparse.SUPPRESS)
    parser.add_argument("--runner", choices=RUNNERS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args)
        return
    import pandas as pd

    rows = []
    print(f"machine: {machine()}; load before: {os.getloadavg()}", flush=True)
    for model in args.models:
        with tempfile.TemporaryDirectory() as tmp:
            for runner in args.runners:
                # il6fit refit reuses the il6fit run's cache; the others start empty
                cache = Path(tmp) / ("il6fit" if runner.startswith("il6fit") else runner)
                row = launch(model, runner, args, cache)
                print(json.dumps(row), flush=True)
                rows.append(row)
    table = pd.DataFrame(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    cols = [
        "model",
        "runner",
        "compile_s",
        "sampling_s",
        "min_ess_bulk",
        "ess_per_s_sampling",
        "ess_per_s_wall",
        "steps_per_draw",
        "ms_per_gradient",
        "gate_passed",
        "load_before",
    ]
    print(markdown(table[[c for c in cols if c in table]]))


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
