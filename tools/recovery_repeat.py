"""Repeat the recovery studies at their fixed truth over many simulated trials.

The single study of docs/model-recovery.md is one draw: with a dozen parameters a correct
posterior misses the truth with one or two 90 % intervals. Repeating the study with the same
truth on fresh trials measures the intervals' coverage *at that truth* (the frequentist check
beside calibration's, which averages over the prior) and each parameter's mean z, which is 0
without bias at that truth.

Usage: ``make recovery-repeat`` or ``python tools/recovery_repeat.py [MODEL ...] --seeds
1000:1050``. Rows go to ``results/recovery/repeat-MODEL.csv``; seeds already there are skipped,
so a run resumes. At the end docs/model-recovery-repeated.md is rewritten from every model's
rows; ``--seeds 0:0`` rewrites it without fitting.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import binom

from il6fit.diagnostics import PARETO_K_CHECK
from il6fit.provenance import package_versions
from il6fit.sampling import SamplerSettings
from il6fit.validation import recovery_study, repeated_recovery_summary, studied_models

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "recovery"
DOC = ROOT / "docs" / "model-recovery-repeated.md"
SETTINGS = SamplerSettings(chains=2, draws=1000, tune=1000, cores=2)


def main() -> None:
    """Run the studies for every seed not yet recorded."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", choices=studied_models())
    parser.add_argument("--seeds", default="1000:1050", help="start:stop (stop excluded)")
    args = parser.parse_args()
    start, stop = (int(part) for part in args.seeds.split(":"))
    OUT.mkdir(parents=True, exist_ok=True)
    for name in args.models or studied_models():
        path = OUT / f"repeat-{name}.csv"
        done = set(pd.read_csv(path)["seed"]) if path.exists() else set()
        for seed in range(start, stop):
            if seed in done:
                continue
            began = time.perf_counter()
            summary, checks = recovery_study(name, settings=SETTINGS, seed=seed)
            sampler = checks[checks["check"] != PARETO_K_CHECK]
            summary.insert(0, "seed", seed)
            summary["gate_passed"] = bool(sampler["passed"].all())
            summary["seconds"] = time.perf_counter() - began
            summary.to_csv(path, mode="a", header=not path.exists(), index=False)
            print(
                f"{name} seed {seed}: {int(summary['covered'].sum())}/{len(summary)} cover, "
                f"max |z| {summary['z'].abs().max():.2f}, {summary['seconds'].iat[0]:.0f} s",
                file=sys.stderr,
                flush=True,
            )
    write_doc()


def write_doc() -> None:
    """Rewrite the results page from the rows of every model run so far."""
    lines = [
        "# Recovery repeated at the same truth over many simulated trials",
        "",
        "Written by `make recovery-repeat` (tools/recovery_repeat.py). Each study of",
        "[model-recovery.md](model-recovery.md) (same truth, same design of a simulated",
        "600-patient trial, same fit: nutpie, 2 chains x 1,000 draws after 1,000 tuning",
        "steps) is repeated on fresh trials, one per seed, seeds chosen before the runs.",
        "At a fixed truth a correct posterior's 90 % equal-tailed interval covers it in about",
        "90 % of trials, and z = (mean - truth) / sd averages about 0 with an SD about 1.",
        "*range* is the central 95 % range of the number of trials that cover for an interval",
        "of exactly 90 %; *mean z* has its standard error (SD of z over the root of the trials).",
        "This measures the intervals at the truth of the studies; calibration",
        "([calibration.md](calibration.md)) measures them averaged over the prior.",
        "",
        f"Versions: PyMC {package_versions()['pymc']}, nutpie {package_versions()['nutpie']}.",
        "",
    ]
    for name in studied_models():
        path = OUT / f"repeat-{name}.csv"
        if not path.exists():
            continue
        rows = pd.read_csv(path)
        summary = repeated_recovery_summary(rows)
        trials = rows.groupby("seed")
        misses = trials["covered"].agg(lambda covered: int((~covered).sum()))
        n_params, n_trials = len(summary), len(misses)
        gate = int(trials["gate_passed"].first().sum())
        seconds = trials["seconds"].first()
        lines += [
            f"## {name}",
            "",
            f"{n_trials} trials (seeds {misses.index.min()}-{misses.index.max()}), "
            f"{seconds.mean():.0f} s each on average (simulation, compilation and sampling); "
            f"{gate} of {n_trials} fits pass the sampler checks of the gate.",
            "",
            "| parameter | truth | covered | coverage | range | mean z | SD of z "
            "| share abs(z) <= 2 | max abs(z) |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for row in summary.itertuples():
            lines.append(
                f"| `{row.parameter}` | {row.truth:.3g} | {row.covered} of {row.trials} | "
                f"{row.coverage:.2f} | {row.covered_low}-{row.covered_high} | "
                f"{row.mean_z:+.2f} ({row.se_mean_z:.2f}) | {row.sd_z:.2f} | "
                f"{row.within_2sd:.2f} | {row.max_abs_z:.2f} |"
            )
        counts = misses.value_counts().reindex(range(n_params + 1), fill_value=0)
        expected = binom.pmf(np.arange(n_params + 1), n_params, 0.1) * n_trials
        shown = [k for k in range(n_params + 1) if counts[k] or expected[k] >= 0.5]
        lines += [
            "",
            f"Intervals missing the truth per trial, of {n_params}: observed against the number"
            " expected if the parameters' misses were independent (binomial, 10 %):",
            "",
            "| misses | " + " | ".join(str(k) for k in shown) + " |",
            "| --- | " + " | ".join("---" for _ in shown) + " |",
            "| trials | " + " | ".join(str(counts[k]) for k in shown) + " |",
            "| expected | " + " | ".join(f"{expected[k]:.1f}" for k in shown) + " |",
            "",
            f"Every interval covers in {counts[0]} of {n_trials} trials "
            f"({counts[0] / n_trials:.0%}; {0.9**n_params:.0%} expected). All parameters: "
            f"{n_params * n_trials - misses.sum()} of {n_params * n_trials} intervals cover "
            f"({1 - misses.mean() / n_params:.1%}; standard error "
            f"{100 * misses.std(ddof=1) / np.sqrt(n_trials) / n_params:.1f} points, from the "
            "spread of misses per trial, since the parameters of one trial miss together).",
            "",
        ]
    DOC.write_text("\n".join(lines))
    print(f"wrote {DOC}", file=sys.stderr)


if __name__ == "__main__":
    main()
