#!/usr/bin/env bash
# A real single-node SLURM cluster with two placeholder GPUs, for tests of the SLURM profile (make test-cluster).
#
#   workflow/cluster/local_slurm.sh up       install (apt) if needed, configure, start munged/slurmctld/slurmd,
#                                            wait until the node is idle
#   workflow/cluster/local_slurm.sh down     stop the three daemons by their pid files
#   workflow/cluster/local_slurm.sh status   sinfo and squeue
#
# For a Debian-like machine where you are root and nothing else runs SLURM (a CI box, a container): it writes
# /etc/slurm/slurm.conf and gres.conf, and refuses to overwrite files it did not write. No systemd needed.
# The GPUs are character devices equivalent to /dev/null: SLURM schedules them (--gpus, --cpus-per-gpu,
# CUDA_VISIBLE_DEVICES) but torch sees no CUDA device, so jobs must run their CPU path (the smoke preset).
# Without accounting storage `sacct` fails: point the SLURM executor at `squeue` (profiles/slurm explains).
set -euo pipefail

STATE=${SOFTDIMO_SLURM_STATE:-/var/lib/softdimo-slurm}   # placeholder devices and the marker of our files
CONF_DIR=/etc/slurm
MARKER="# written by softdimo workflow/cluster/local_slurm.sh"
PIDS=(/var/spool/slurmd/slurmd.pid /var/spool/slurmctld/slurmctld.pid /run/munge/munged.pid)
UP_TIMEOUT=${SOFTDIMO_SLURM_UP_TIMEOUT:-60}

die() { echo "local_slurm.sh: $*" >&2; exit 1; }

install_packages() {
    command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null \
        && command -v munged >/dev/null && return 0
    command -v apt-get >/dev/null || die "apt-get not found: install slurmctld, slurmd, slurm-client and munge yourself"
    # package scripts must not start daemons (there is no init system to own them): a temporary policy-rc.d
    local policy=/usr/sbin/policy-rc.d made_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1
    fi
    echo "installing slurmctld slurmd slurm-client munge (apt)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        slurmctld slurmd slurm-client munge >/dev/null \
        || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
             --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null; } \
        || { [ "$made_policy" = 1 ] && rm -f "$policy"; die "apt-get install failed"; }
    [ "$made_policy" = 1 ] && rm -f "$policy"
    return 0
}

write_config() {
    local host node mem
    host=$(hostname -s)
    for f in "$CONF_DIR/slurm.conf" "$CONF_DIR/gres.conf"; do
        if [ -e "$f" ] && ! grep -qF "$MARKER" "$f"; then
            die "$f exists and was not written by this script; refusing to replace a real cluster's configuration"
        fi
    done
    mkdir -p "$CONF_DIR" "$STATE" /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
    # two placeholder GPUs: character devices equal to /dev/null (regular files and file-less GPUs are refused)
    for i in 0 1; do
        [ -c "$STATE/nvidia$i" ] || { rm -f "$STATE/nvidia$i"; mknod -m 666 "$STATE/nvidia$i" c 1 3; }
    done
    # the node line as slurmd detects it, with RealMemory lowered to 75% (slurmd drains a node that has less)
    node=$(slurmd -C | head -n 1)
    mem=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$node")
    node=$(sed "s/RealMemory=[0-9]*/RealMemory=$((mem * 3 / 4))/" <<<"$node")
    cat >"$CONF_DIR/slurm.conf" <<EOF
$MARKER
ClusterName=ci
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SlurmctldPidFile=/var/spool/slurmctld/slurmctld.pid
SlurmdPidFile=/var/spool/slurmd/slurmd.pid
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
MinJobAge=300
KillWait=5
InactiveLimit=0
GresTypes=gpu
$node Gres=gpu:2 State=UNKNOWN
PartitionName=debug Default=YES Nodes=ALL MaxTime=INFINITE State=UP
EOF
    cat >"$CONF_DIR/gres.conf" <<EOF
$MARKER
AutoDetect=off
NodeName=$host Name=gpu File=$STATE/nvidia[0-1]
EOF
}

start_daemons() {
    if [ ! -s /etc/munge/munge.key ]; then
        mkdir -p /etc/munge
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
        chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
    fi
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    running /run/munge/munged.pid || runuser -u munge -- /usr/sbin/munged
    running /var/spool/slurmctld/slurmctld.pid || /usr/sbin/slurmctld
    running /var/spool/slurmd/slurmd.pid || /usr/sbin/slurmd
}

running() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_idle() {
    local host state i
    host=$(hostname -s)
    for ((i = 0; i < UP_TIMEOUT * 2; i++)); do
        state=$(sinfo -h -n "$host" -o %t 2>/dev/null || true)
        case "$state" in
            idle|mix|alloc) echo "SLURM node $host is $state (2 placeholder GPUs)"; return 0 ;;
        esac
        sleep 0.5
    done
    echo "node state: '${state:-unknown}'" >&2
    tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
    die "the node did not become idle within ${UP_TIMEOUT}s"
}

down() {
    local pid f i
    for f in "${PIDS[@]}"; do
        running "$f" || continue
        pid=$(cat "$f")
        kill "$pid"
        for ((i = 0; i < 40; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        if kill -0 "$pid" 2>/dev/null; then
            echo "pid $pid ($f) ignored SIGTERM for 10 s; sending SIGKILL" >&2
            kill -9 "$pid" 2>/dev/null || true
        fi
    done
    echo "SLURM daemons stopped"
}

[ "$(id -u)" = 0 ] || die "run as root (it installs packages and starts the SLURM daemons)"
case "${1:-}" in
    up) install_packages; write_config; start_daemons; wait_idle ;;
    down) down ;;
    status) sinfo; squeue ;;
    *) die "usage: $0 up|down|status" ;;
esac
