"""The slow independent exposure-response test's trials, one at a time and resumable.

    PYTHONPATH=. .venv/bin/python tools/independent_exposure_trials.py            # fit the rest
    PYTHONPATH=. .venv/bin/python tools/independent_exposure_trials.py --summary  # the table

``tests/slow/test_exposure_response_independent.py`` fits its 20 trials in one pytest call
(about 2.5 hours on 2 cores). This fits them as it does (its ``fit``), appends each trial's
result to ``benchmarks/results/independent_exposure_trials.jsonl`` as it finishes, and skips
trials already there, so a stopped run loses one trial at most. ``--summary`` prints the
docs' table (docs/exposure-response.md, "On trials il6fit did not make"): per regimen the
population truth, the mean of the posterior means (bias, its standard error), the mean 90 %
interval width and coverage, and the trials whose fit failed the gate.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "independent_exposure_trials.jsonl"
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "slow")]


def rows() -> list[dict]:
    """Return the trials fitted so far, in order."""
    if not OUT.exists():
        return []
    return sorted((json.loads(line) for line in OUT.read_text().splitlines()),
                  key=lambda r: r["trial"])  # fmt: skip


def fit_rest() -> None:
    """Fit every trial not yet in the results, appending each."""
    import test_exposure_response_independent as study

    done = {r["trial"] for r in rows()}
    for k in range(study.N_TRIALS):
        if k in done:
            continue
        start = time.perf_counter()
        result = study.fit(k)
        row = {
            "trial": k, "labels": result["labels"], "mean": result["mean"].tolist(),
            "interval": np.asarray(result["interval"]).tolist(), "failed": result["failed"],
            "seconds": round(time.perf_counter() - start, 1),
        }  # fmt: skip
        with OUT.open("a") as f:
            f.write(json.dumps(row) + "\n")
        print(f"trial {k}: {row['seconds']:.0f} s, gate {row['failed'] or 'passed'}", flush=True)


def summary() -> None:
    """Print the docs' table of the trials fitted so far."""
    from independent_exposure import population_change

    table = rows()
    n = len(table)
    change = population_change(24)
    labels = table[0]["labels"]
    truth = np.array([change[label] - change["placebo"] for label in labels])
    means = np.array([r["mean"] for r in table])
    intervals = np.array([r["interval"] for r in table])
    covered = ((intervals[:, :, 0] <= truth) & (truth <= intervals[:, :, 1])).sum(axis=0)
    print(f"{n} trials; minutes each: {[round(r['seconds'] / 60, 1) for r in table]}")
    print("| regimen (effect against placebo, DAS28 units) | truth | mean of posterior means "
          "(bias, se) | mean 90 % interval width | covered |")  # fmt: skip
    print("| --- | --- | --- | --- | --- |")
    for i, label in enumerate(labels):
        mean = means[:, i].mean()
        se = means[:, i].std() / np.sqrt(n)
        width = (intervals[:, i, 1] - intervals[:, i, 0]).mean()
        print(f"| {label} | {truth[i]:.2f} | {mean:.2f} ({mean - truth[i]:+.2f}, {se:.2f}) | "
              f"{width:.2f} | {covered[i]} of {n} |")  # fmt: skip
    print("gate failed:", [(r["trial"], r["failed"]) for r in table if r["failed"]] or "none")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--summary", action="store_true", help="print the table only")
    args = parser.parse_args()
    summary() if args.summary else fit_rest()
