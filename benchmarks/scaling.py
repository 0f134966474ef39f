"""Scaling curve: il6fit's fit of ``treatment_response`` against the number of patients.

    .venv/bin/python benchmarks/scaling.py            # 1,000, 3,000, 10,000, 30,000 patients

Each size is simulated from ``ra_tcz_trial`` (8 visits) and fitted as ``benchmarks/samplers.py``
fits it (the pipeline's backend and settings, own process), all sizes sharing one compile cache
that starts empty, as a user refitting new data would. Writes ``benchmarks/results/scaling.csv``
and ``benchmarks/results/scaling.png`` (sampling and wall time, and ESS per second, against
patients, log-log, with a line of slope 1 for linear cost), and prints the log-log slope of
sampling time against patients (least squares over the sizes). The table is rewritten after each
size (sorted by patients), so sizes may be given largest first and a run stopped part-way keeps
the sizes it finished; the first size given is the cold fit, the others refits.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import samplers

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[1000, 3000, 10000, 30000])
    parser.add_argument("--model", default="treatment_response", choices=samplers.MODELS)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "scaling.csv")
    parser.add_argument("--cores", type=int, default=2, help="chains sampled in parallel")
    args = parser.parse_args()
    import pandas as pd

    rows = []
    options = argparse.Namespace(
        seed=2026, sampler_seed=None, cores=args.cores, user_model="il6fit",
        chains=None, draws=None, tune=None,
    )  # fmt: skip
    print(f"machine: {samplers.machine()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for k, n in enumerate(args.sizes):
            # one dataset folder and compile cache: each size after the first is a refit
            samplers.write_trial(work / "data" / samplers.DATASET, n, options.seed)
            row = samplers.launch(args.model, "il6fit job", "cold" if k == 0 else "refit",
                                  options, work)  # fmt: skip
            row["patients"] = n
            print(json.dumps(row), flush=True)
            rows.append(row)
            # written after every size, so a long run stopped part-way keeps what it measured
            table = pd.DataFrame(rows).sort_values("patients", kind="stable")
            args.out.parent.mkdir(parents=True, exist_ok=True)
            table.to_csv(args.out, index=False)
            plot(table, args.out.with_suffix(".png"))
    cols = ["patients", "rows", "compile_s", "sampling_s", "min_ess_bulk", "ess_per_s_sampling",
            "ess_per_s_process", "steps_per_draw", "ms_per_gradient", "gate_passed",
            "load_before"]  # fmt: skip
    print(samplers.markdown(table[[c for c in cols if c in table]]))
    print(f"log-log slope of sampling time against patients: {slope(table):.3f}")


def slope(table) -> float:
    """Least-squares slope of log sampling time against log patients."""
    import numpy as np

    return float(np.polyfit(np.log(table["patients"]), np.log(table["sampling_s"]), 1)[0])


def plot(table, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = table["patients"].to_numpy(float)
    wall = table["process_s"].to_numpy(float)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.loglog(n, table["sampling_s"], "o-", label="sampling (tuning included)")
    left.loglog(n, wall, "s-", label="fit job (process)")
    left.loglog(n, table["sampling_s"].iloc[0] * n / n[0], "k:", label="linear in patients")
    left.set(
        xlabel="patients",
        ylabel="seconds",
        title=f"time per fit (pipeline settings; slope {slope(table):.2f})",
    )
    left.legend()
    right.loglog(n, table["ess_per_s_sampling"], "o-", label="per second of sampling")
    right.loglog(n, table["ess_per_s_process"], "s-", label="per second of the fit job")
    right.loglog(n, table["ess_per_s_sampling"].iloc[0] * n[0] / n, "k:", label="1 / patients")
    right.set(xlabel="patients", ylabel="min bulk ESS per second", title="efficiency")
    right.legend()
    for axis in (left, right):
        axis.set_xticks(n, [f"{int(v):,}" for v in n])
        axis.minorticks_off()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
