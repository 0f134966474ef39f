"""Time read_table + prepare on about 1,000,000 simulated measurement rows.

Usage: ``.venv/bin/python benchmarks/prepare.py [--subjects N] [--keep DIR]``. Simulates the
RA trial scenario (8 visits x 6 parameters per subject, mg/dL sites, censored results as
``<x``/``>x`` strings), writes it as CSV, then times reading both files and preparing them.
"""

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

from il6fit.data import prepare, read_table
from il6fit.simulate import scenario, simulate_cohort


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=24_000)
    parser.add_argument("--keep", help="write the CSV files here instead of a temporary folder")
    args = parser.parse_args()

    start = time.perf_counter()
    subjects, measurements, _ = simulate_cohort(
        scenario("ra_tcz_trial", n_subjects=args.subjects, n_sites=20), seed=1
    )
    print(f"simulated {len(measurements):,} rows in {time.perf_counter() - start:.1f} s")

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        subjects.to_csv(folder / "subjects.csv", index=False)
        measurements.to_csv(folder / "measurements.csv", index=False)
        size = (folder / "measurements.csv").stat().st_size / 2**20

        start = time.perf_counter()
        s = read_table(folder / "subjects.csv")
        m = read_table(folder / "measurements.csv")
        read = time.perf_counter() - start
        prepared = prepare(
            s,
            m,
            subjects_file="subjects.csv",
            measurements_file="measurements.csv",
            exclude=[{"paramcd": "IL6", "after_week": 0, "arms_matching": "TCZ"}],
        )
        total = time.perf_counter() - start

    counts = prepared.ledger.query("table == 'measurements'")["status"].value_counts()
    print(f"measurements.csv: {len(m):,} rows, {size:.0f} MiB")
    print(f"ledger: {counts.to_dict()}; prepared rows {len(prepared.measurements):,}")
    print(f"read {read:.1f} s, prepare {total - read:.1f} s, total {total:.1f} s")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
