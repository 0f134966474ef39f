#!/usr/bin/env bash
# Wall time of the default run: cold (empty compile cache), warm (results deleted, compile cache
# kept) and a no-change rerun. Runs on a copy of the committed tree in a temporary folder.
# Usage: bash benchmarks/pipeline.sh   (after `make setup`); prints a Markdown table row set.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
snakemake="$here/.venv/bin/snakemake"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git -C "$here" archive HEAD | tar -x -C "$work"
cd "$work"

timed() {
    local start end
    start=$(date +%s%N)
    "$snakemake" --cores 2 --quiet >/dev/null 2>"$work/err.log" || { cat "$work/err.log"; exit 1; }
    end=$(date +%s%N)
    echo "$(((end - start) / 1000000)) ms"
}

cold=$(timed)
rm -rf results logs
warm=$(timed)
nochange=$(timed)
echo "| default run, cold compile cache | ${cold} |"
echo "| default run, warm compile cache (results deleted) | ${warm} |"
echo "| no-change rerun | ${nochange} |"
echo
echo "Files written by the default run:"
find results -type f | sort
