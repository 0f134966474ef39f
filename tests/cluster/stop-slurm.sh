#!/usr/bin/env bash
# Stop the daemons tests/cluster/start-slurm.sh started (by their pid files) and remove its folder.
set -uo pipefail

dir=${IL6FIT_SLURM_DIR:-/tmp/il6fit-slurm}
[ -d "$dir" ] || exit 0

stop() {
    local name=$1 pidfile=$dir/run/$1.pid pid
    [ -f "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    if kill "$pid" 2>/dev/null; then
        for _ in $(seq 30); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
        echo "stop-slurm: stopped $name ($pid)"
    fi
}

# Jobs first, then the daemons in the reverse order of their start.
if [ -f "$dir/env" ]; then
    SLURM_CONF=$dir/slurm.conf scancel --cluster=il6fit --user="$(id -un)" 2>/dev/null
fi
for name in slurmd slurmctld slurmdbd mariadb munged; do
    stop "$name"
done
if [ "$(readlink /etc/slurm/slurm.conf 2>/dev/null)" = "$dir/slurm.conf" ]; then
    rm /etc/slurm/slurm.conf
fi
rm -rf "$dir"
