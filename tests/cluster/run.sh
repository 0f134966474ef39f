#!/usr/bin/env bash
# `make test-cluster`: start a one-node SLURM on loopback, run CONFIG's TARGETS through it and
# locally, compare, and stop SLURM again, also when something fails or is interrupted.
#   bash tests/cluster/run.sh CONFIG TARGET...
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
dir=${IL6FIT_SLURM_DIR:-/tmp/il6fit-slurm}
[ $# -ge 2 ] || {
    echo "usage: $0 CONFIG TARGET..." >&2
    exit 2
}
if [ -e "$dir/env" ]; then
    echo "run: $dir/env exists: another SLURM of these tests is running (or was not stopped:" \
        "tests/cluster/stop-slurm.sh stops it)" >&2
    exit 1
fi
start=$(date +%s)
trap 'bash "$here/tests/cluster/stop-slurm.sh"; echo "run: $(($(date +%s) - start)) s in all"' EXIT
bash "$here/tests/cluster/start-slurm.sh"
# shellcheck disable=SC1091
source "$dir/env"
"$here/.venv/bin/python" "$here/tests/cluster/compare_slurm_and_local.py" --config "$1" "${@:2}"
