#!/usr/bin/env bash
# Start a one-node SLURM on this machine, on loopback only, for `make test-cluster`.
#
# Installs Debian's slurm-wlm, slurmdbd, munge and mariadb-server if missing (needs root), writes
# a private configuration under $IL6FIT_SLURM_DIR (default /tmp/il6fit-slurm) and starts munged,
# MariaDB, slurmdbd, slurmctld and slurmd there, each listening on 127.0.0.1 only (munged on a
# Unix socket). No system service is touched: every daemon has its own socket, pid file and log
# in that folder, and `source $IL6FIT_SLURM_DIR/env` points the SLURM commands (sbatch, sacct,
# ...) at it. The one change outside the folder is a link /etc/slurm/slurm.conf (see below).
# tests/cluster/stop-slurm.sh stops the daemons and removes the folder and the link.
#
# Accounting (sacct) needs slurmdbd, and slurmdbd needs MySQL/MariaDB: Slurm 22.05 (Debian 12)
# has no accounting_storage/filetxt any more, only jobcomp/filetxt, which plain `sacct` does not
# read, and the executor plugin queries job states with plain `sacct`.
set -euo pipefail

dir=${IL6FIT_SLURM_DIR:-/tmp/il6fit-slurm}
ctld_port=${IL6FIT_SLURMCTLD_PORT:-6817}
d_port=${IL6FIT_SLURMD_PORT:-6818}
dbd_port=${IL6FIT_SLURMDBD_PORT:-6819}
db_port=${IL6FIT_SLURM_DB_PORT:-3307}
cluster=il6fit
account=il6fit
partition=debug

say() { echo "start-slurm: $*"; }
die() {
    echo "start-slurm: $*" >&2
    exit 1
}

[ "$(id -u)" = 0 ] || die "run as root: the daemons run as root and packages may need installing"

packages=(slurm-wlm slurmdbd munge mariadb-server)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    # The packages would start their system services (MariaDB, munge, ...) where nothing
    # forbids it; only the daemons below, on their private sockets and ports, should run.
    policy=/usr/sbin/policy-rc.d
    own_policy=
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod +x "$policy"
        own_policy=1
        trap 'rm -f "$policy"' EXIT
    fi
    apt_log=${TMPDIR:-/tmp}/il6fit-slurm-apt.log
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        "${missing[@]}"; } >"$apt_log" 2>&1 || die "apt-get failed; see $apt_log"
    if [ -n "$own_policy" ]; then
        rm -f "$policy"
        trap - EXIT
    fi
fi

if [ -f "$dir/env" ]; then
    die "$dir/env exists: a SLURM may still be running; stop it with tests/cluster/stop-slurm.sh"
fi
rm -rf "$dir"
mkdir -p "$dir"/{munge,db,ctld,spool,log,run}
# munged insists that everyone may traverse to its socket.
chmod 755 "$dir" "$dir/munge"

host=$(hostname -s)
cpus=$(nproc)
# Half of the machine's memory: the node is shared with whatever else runs here.
mem=$(($(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo) / 2))

# munge: a fresh key and a private socket.
dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$dir/munge/munge.key"
munge_socket=$dir/munge/munge.socket
/usr/sbin/munged --key-file="$dir/munge/munge.key" --socket="$munge_socket" \
    --pid-file="$dir/run/munged.pid" --log-file="$dir/log/munged.log" \
    --seed-file="$dir/munge/munge.seed"
say "munged started"

# MariaDB for slurmdbd, on 127.0.0.1 only.
mariadb-install-db --no-defaults --user=root --datadir="$dir/db" \
    --auth-root-authentication-method=socket >"$dir/log/mariadb-install.log" 2>&1 ||
    die "mariadb-install-db failed; see $dir/log/mariadb-install.log"
db_socket=$dir/run/mariadb.sock
mariadbd --no-defaults --user=root --datadir="$dir/db" --socket="$db_socket" \
    --bind-address=127.0.0.1 --port="$db_port" --pid-file="$dir/run/mariadb.pid" \
    --log-error="$dir/log/mariadb.log" --innodb-lock-wait-timeout=900 </dev/null >/dev/null 2>&1 &
for _ in $(seq 60); do
    mariadb --no-defaults --socket="$db_socket" -u root -e 'select 1' >/dev/null 2>&1 && break
    sleep 0.5
done
db_pass=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
mariadb --no-defaults --socket="$db_socket" -u root <<SQL ||
CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$db_pass';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
SQL
    die "MariaDB did not start; see $dir/log/mariadb.log"
say "MariaDB started on 127.0.0.1:$db_port"

cat >"$dir/slurmdbd.conf" <<EOF
AuthType=auth/munge
AuthInfo=socket=$munge_socket
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$dbd_port
CommunicationParameters=NoInAddrAny
SlurmUser=root
PidFile=$dir/run/slurmdbd.pid
LogFile=$dir/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$db_port
StorageUser=slurm
StoragePass=$db_pass
StorageLoc=slurm_acct_db
EOF
chmod 600 "$dir/slurmdbd.conf"

cat >"$dir/slurm.conf" <<EOF
ClusterName=$cluster
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
# Bind to the configured addresses (127.0.0.1), never to all interfaces.
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
AuthType=auth/munge
AuthInfo=socket=$munge_socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/ctld
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
# No cgroups in a container: track processes by their parents, bind no tasks.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MpiDefault=none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$dbd_port
# For slurmdbd connections this is the munge socket (AuthInfo covers the others).
AccountingStoragePass=$munge_socket
AccountingStorageEnforce=associations
# sacct shows the comment the executor plugin gives each job (rule and wildcards).
AccountingStoreFlags=job_comment
JobCompType=jobcomp/none
NodeName=$host NodeAddr=127.0.0.1 NodeHostname=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=$partition Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF

# The SLURM commands find slurm.conf through $SLURM_CONF, except the srun that runs each rule
# inside its job: snakemake-executor-plugin-slurm-jobstep (0.6.1) removes SLURM_* variables, this
# one too, from that srun's environment, so it reads the default /etc/slurm/slurm.conf. Link it
# there for as long as this SLURM runs (stop-slurm.sh removes the link).
default_conf=/etc/slurm/slurm.conf
if [ -e "$default_conf" ] || [ -L "$default_conf" ]; then
    die "$default_conf exists: this machine has a SLURM configuration of its own; not touching it"
fi
mkdir -p /etc/slurm
ln -s "$dir/slurm.conf" "$default_conf"

export SLURM_CONF=$dir/slurm.conf
cat >"$dir/env" <<EOF
export SLURM_CONF=$dir/slurm.conf
export IL6FIT_SLURM_ACCOUNT=$account
export IL6FIT_SLURM_PARTITION=$partition
EOF

# slurmdbd reads slurmdbd.conf from the folder of $SLURM_CONF.
/usr/sbin/slurmdbd
for _ in $(seq 60); do
    sacctmgr -n list cluster >/dev/null 2>&1 && break
    sleep 0.5
done
sacctmgr -n list cluster >/dev/null 2>&1 || die "slurmdbd did not answer; see $dir/log/slurmdbd.log"
say "slurmdbd started on 127.0.0.1:$dbd_port"
sacctmgr -i add cluster "$cluster" >/dev/null
sacctmgr -i add account "$account" Cluster="$cluster" Description="il6fit tests" \
    Organization=il6fit >/dev/null
sacctmgr -i add user "$(id -un)" Account="$account" Cluster="$cluster" >/dev/null

/usr/sbin/slurmctld -f "$dir/slurm.conf"
/usr/sbin/slurmd -f "$dir/slurm.conf"
for _ in $(seq 60); do
    state=$(sinfo -h -n "$host" -o %t 2>/dev/null || true)
    [ "$state" = idle ] && break
    sleep 1
done
[ "$state" = idle ] ||
    die "node $host is '${state:-unknown}', not idle; see $dir/log/slurmctld.log and slurmd.log"
if command -v ss >/dev/null; then
    for name in mariadb slurmdbd slurmctld slurmd; do
        pid=$(cat "$dir/run/$name.pid")
        wide=$(ss -Hltnp | grep "pid=$pid," | awk '{print $4}' | grep -v '^127\.0\.0\.1:' || true)
        [ -z "$wide" ] || die "$name listens on $wide, not on 127.0.0.1 only"
    done
fi
say "slurmctld and slurmd started; node $host ($cpus CPUs, $mem MB) idle in partition $partition"
say "use it with: source $dir/env"
