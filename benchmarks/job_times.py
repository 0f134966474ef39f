"""Seconds each rule's jobs took in a Snakemake run, summed, from the run's log.

Snakemake logs a ``[date]`` line, then ``rule <name>:`` and ``jobid: <n>`` when a job starts,
and ``Finished jobid: <n>`` when it ends (one-second resolution). Prints a Markdown table,
longest first. Usage: ``python benchmarks/job_times.py <snakemake stderr log>``.
"""

from __future__ import annotations

import re
import sys
from datetime import datetime

STAMP = re.compile(r"\[\w{3} \w{3} +\d+ [\d:]+ \d{4}\]")


def job_times(lines) -> dict[str, tuple[int, float]]:
    """Jobs and summed job-seconds per rule."""
    now = rule = None
    started: dict[str, tuple[str, datetime]] = {}
    totals: dict[str, tuple[int, float]] = {}
    for line in lines:
        line = line.strip()
        if STAMP.fullmatch(line):
            now = datetime.strptime(" ".join(line[1:-1].split()), "%a %b %d %H:%M:%S %Y")
        elif m := re.fullmatch(r"(?:local)?rule (\w+):", line):
            rule = m[1]
        elif (m := re.fullmatch(r"jobid: (\d+)", line)) and rule:
            started[m[1]], rule = (rule, now), None
        elif (m := re.match(r"Finished jobid: (\d+)", line)) and m[1] in started:
            name, start = started.pop(m[1])
            jobs, seconds = totals.get(name, (0, 0.0))
            totals[name] = (jobs + 1, seconds + (now - start).total_seconds())
    return totals


def main() -> None:
    with open(sys.argv[1]) as log:
        totals = job_times(log)
    print("| rule | jobs | job-seconds (sum) |")
    print("| --- | --- | --- |")
    for name, (jobs, seconds) in sorted(totals.items(), key=lambda kv: -kv[1][1]):
        print(f"| {name} | {jobs} | {seconds:.0f} |")
    jobs = sum(j for j, _ in totals.values())
    print(f"| every job | {jobs} | {sum(s for _, s in totals.values()):.0f} |")


if __name__ == "__main__":
    main()
