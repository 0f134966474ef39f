#!/usr/bin/env bash
# Wall time of the default run: cold (empty compile cache), warm (results deleted, compile cache
# kept) and a no-change rerun, with the number of jobs; then whether the cold and the warm run
# wrote the same results (summaries, estimands and fits byte for byte; fits whose bytes differ
# are compared array by array, attributes such as timings left out). Runs on a copy of the
# committed tree (`git archive HEAD`: uncommitted changes are not measured) in a temporary folder.
# Usage: bash benchmarks/pipeline.sh   (after `make setup`); prints Markdown table rows.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
snakemake="$here/.venv/bin/snakemake"
python="$here/.venv/bin/python"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/tree"
git -C "$here" archive HEAD | tar -x -C "$work/tree"
cd "$work/tree"

# a run's wall time; its Snakemake log kept as $work/<label>.log for the job times
timed() {
    local start end
    start=$(date +%s%N)
    "$snakemake" --cores 2 >/dev/null 2>"$work/$1.log" || { tail -50 "$work/$1.log"; exit 1; }
    end=$(date +%s%N)
    echo "$(((end - start) / 1000000)) ms"
}

# jobs a run would start now (the dry run's job-stats total; 0 when nothing is to do)
job_count() {
    "$snakemake" --cores 2 --dry-run 2>&1 | awk '$1 == "total" {n = $2} END {print n + 0}'
}

cold_jobs=$(job_count)
cold=$(timed cold)
cp -a results "$work/cold-results"
rm -rf results logs
warm_jobs=$(job_count)
warm=$(timed warm)
nochange_jobs=$(job_count)
nochange=$(timed nochange)
echo "| default run, cold compile cache (${cold_jobs} jobs) | ${cold} |"
echo "| default run, warm compile cache, results deleted (${warm_jobs} jobs) | ${warm} |"
echo "| no-change rerun (${nochange_jobs} jobs) | ${nochange} |"
echo
for run in cold warm; do
    echo "Job-seconds by rule, ${run} run (\`benchmarks/job_times.py\`):"
    echo
    "$python" "$here/benchmarks/job_times.py" "$work/$run.log"
    echo
done

# cold against warm: byte for byte, folder by folder
echo "| cold vs warm | files | byte-identical |"
echo "| --- | --- | --- |"
for folder in summaries estimands fits; do
    files=$(find "results/$folder" -type f 2>/dev/null | wc -l)
    if diff -r -q "$work/cold-results/$folder" "results/$folder" >"$work/diff-$folder.txt" 2>&1; then
        same=yes
    else
        same="no: $(wc -l <"$work/diff-$folder.txt") differ (listed below)"
    fi
    echo "| results/$folder | ${files} | ${same} |"
done
echo
for folder in summaries estimands fits; do
    if [ -s "$work/diff-$folder.txt" ]; then sed 's/^/    /' "$work/diff-$folder.txt"; fi
done

# fits whose bytes differ: the same arrays? (a fit's attributes hold its timings)
"$python" - "$work/cold-results/fits" results/fits <<'EOF'
import filecmp
import sys
from pathlib import Path

import xarray as xr

cold, warm = Path(sys.argv[1]), Path(sys.argv[2])
for path in sorted(cold.rglob("*.nc")):
    other = warm / path.relative_to(cold)
    if not other.exists() or filecmp.cmp(path, other, shallow=False):
        continue
    a, b = xr.open_datatree(path), xr.open_datatree(other)
    groups = sorted(set(a.groups) | set(b.groups))
    differ = [g for g in groups if g not in a.groups or g not in b.groups
              or not a[g].to_dataset().equals(b[g].to_dataset())]
    attrs = [g for g in groups if g not in differ and str(a[g].attrs) != str(b[g].attrs)]
    print(f"{path.relative_to(cold)}: arrays "
          + (f"differ in {', '.join(differ)}" if differ else "identical")
          + (f"; attributes differ in {', '.join(attrs)}" if attrs else ""))
EOF
echo
# each fit's compile and sampling seconds (sample_stats attributes) in the warm run, summed
"$python" - results/fits <<'EOF'
import sys
from pathlib import Path

import xarray as xr

print("| fit (warm run) | compile s | sampling s |")
print("| --- | --- | --- |")
totals = [0.0, 0.0]
for path in sorted(Path(sys.argv[1]).rglob("*.nc")):
    attrs = xr.open_datatree(path)["sample_stats"].attrs
    times = [attrs["compile_time"], attrs["sampling_time"]]
    totals = [t + x for t, x in zip(totals, times, strict=True)]
    print(f"| {path.parent.name} on {path.stem} | {times[0]:.1f} | {times[1]:.1f} |")
print(f"| all fits | {totals[0]:.1f} | {totals[1]:.1f} |")
EOF
echo
echo "Files written by the default run:"
find results -type f | sort
