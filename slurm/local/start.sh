#!/usr/bin/env bash
# Starts a one-node Slurm cluster that listens on 127.0.0.1 only, for tests of `sbatch --array`.
#
# Needs root. Installs slurmctld, slurmd, slurm-client and munge with apt-get when they are
# missing, builds the bind() shim in bind_loopback.c, writes /etc/slurm/slurm.conf, starts
# munged (a working munged is reused and left alone), slurmctld and slurmd, and waits until the
# node is idle. The PIDs of the daemons it started go to /var/spool/local-slurm/daemons.pids;
# stop.sh stops exactly those.
#
# Calling it again with the same settings while the cluster is up does nothing. Changed
# settings stop the cluster and start it again with empty job state, so job IDs restart at 1.
#
# Settings (environment):
#   LOCAL_SLURM_CPUS=N              CPUs advertised for the node (default: from `slurmd -C`);
#                                   a count other than the hardware's adds
#                                   SlurmdParameters=config_overrides
#   LOCAL_SLURM_MAX_ARRAY_SIZE=N    MaxArraySize (default 1001, so task IDs 0..1000)
#   LOCAL_SLURM_MIN_JOB_AGE=S       MinJobAge in seconds: how long finished jobs stay
#                                   visible in squeue/scontrol (default 300)
#   LOCAL_SLURM_DEF_MEM_PER_CPU=MB  DefMemPerCPU (default 1024, lowered to fit RealMemory)
#   LOCAL_SLURM_EXTRA_CONF=LINES    extra slurm.conf lines, appended verbatim
#   LOCAL_SLURM_START_TIMEOUT=S     how long to wait for the node to become idle (default 30)
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
source "$SCRIPT_DIR/common.sh"

SHIM_SOURCE=$SCRIPT_DIR/bind_loopback.c
SHIM_LIBRARY=$LOCAL_SLURM_ROOT/lib/bind_loopback.so
CTLD_PORT=6817
SLURMD_PORT=6818

require_integer() {
    local name=$1 value=$2 minimum=$3
    if ! [[ $value =~ ^[0-9]+$ ]] || ((value < minimum)); then
        fail "invalid $name '$value': expected an integer of at least $minimum"
    fi
}

read_settings() {
    CPUS_OVERRIDE=${LOCAL_SLURM_CPUS:-}
    MAX_ARRAY_SIZE=${LOCAL_SLURM_MAX_ARRAY_SIZE:-1001}
    MIN_JOB_AGE=${LOCAL_SLURM_MIN_JOB_AGE:-300}
    DEF_MEM_PER_CPU=${LOCAL_SLURM_DEF_MEM_PER_CPU:-1024}
    EXTRA_CONF=${LOCAL_SLURM_EXTRA_CONF:-}
    START_TIMEOUT=${LOCAL_SLURM_START_TIMEOUT:-30}
    [[ -z $CPUS_OVERRIDE ]] || require_integer LOCAL_SLURM_CPUS "$CPUS_OVERRIDE" 1
    require_integer LOCAL_SLURM_MAX_ARRAY_SIZE "$MAX_ARRAY_SIZE" 1
    require_integer LOCAL_SLURM_MIN_JOB_AGE "$MIN_JOB_AGE" 2
    require_integer LOCAL_SLURM_DEF_MEM_PER_CPU "$DEF_MEM_PER_CPU" 1
    require_integer LOCAL_SLURM_START_TIMEOUT "$START_TIMEOUT" 1
}

install_packages() {
    local command missing=0
    for command in slurmctld slurmd sbatch squeue scancel sinfo scontrol munged munge unmunge; do
        command -v "$command" >/dev/null 2>&1 || missing=1
    done
    ((missing)) || return 0

    log "installing slurmctld slurmd slurm-client munge with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    timeout 300 apt-get update -qq >/dev/null || fail "apt-get update failed or timed out"
    timeout 600 apt-get install -y -qq --no-install-recommends \
        slurmctld slurmd slurm-client munge >/dev/null \
        || fail "apt-get install of slurmctld slurmd slurm-client munge failed or timed out"
}

build_shim() {
    mkdir -p "$LOCAL_SLURM_ROOT/lib"
    if [[ -f $SHIM_LIBRARY && $SHIM_LIBRARY -nt $SHIM_SOURCE ]]; then
        return 0
    fi
    # cc from gcc, or the clang that ships with the Swift toolchain.
    local compiler
    compiler=$(command -v cc || command -v clang || true)
    [[ -n $compiler ]] || fail "no C compiler (cc or clang) found; install gcc and libc6-dev"
    "$compiler" -O2 -fPIC -shared -o "$SHIM_LIBRARY.tmp" "$SHIM_SOURCE" -ldl \
        || fail "building the bind() shim from '$SHIM_SOURCE' failed"
    mv -f "$SHIM_LIBRARY.tmp" "$SHIM_LIBRARY"
}

# Sets NODE_NAME, NODE_CPUS, REAL_MEMORY and MEM_PER_CPU from the hardware and the settings.
probe_node() {
    local probe hardware_cpus hardware_memory
    NODE_NAME=$(hostname -s)
    [[ -n $NODE_NAME ]] || fail "'hostname -s' printed nothing; set a host name"
    probe=$(timeout 20 slurmd -C 2>/dev/null) || fail "'slurmd -C' failed or timed out"
    hardware_cpus=$(sed -n 's/.*\bCPUs=\([0-9]\+\).*/\1/p' <<<"$probe" | head -n 1)
    hardware_memory=$(sed -n 's/.*\bRealMemory=\([0-9]\+\).*/\1/p' <<<"$probe" | head -n 1)
    [[ -n $hardware_cpus && -n $hardware_memory ]] \
        || fail "could not read CPUs and RealMemory from 'slurmd -C' output: $probe"

    NODE_CPUS=${CPUS_OVERRIDE:-$hardware_cpus}
    OVERRIDE_LINE=""
    if ((NODE_CPUS != hardware_cpus)); then
        OVERRIDE_LINE="SlurmdParameters=config_overrides"
    fi
    # 95 % of the measured memory: a node configured above what slurmd measures turns INVAL.
    REAL_MEMORY=$((hardware_memory * 95 / 100))
    MEM_PER_CPU=$DEF_MEM_PER_CPU
    if ((MEM_PER_CPU * NODE_CPUS > REAL_MEMORY)); then
        MEM_PER_CPU=$((REAL_MEMORY / NODE_CPUS))
    fi
}

render_config() {
    cat <<CONF
# Written by slurm/local/start.sh: one node on loopback, for tests.
ClusterName=localcluster
SlurmctldHost=$NODE_NAME(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=slurm
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
EnforcePartLimits=ALL
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
DefMemPerCPU=$MEM_PER_CPU
MaxArraySize=$MAX_ARRAY_SIZE
MinJobAge=$MIN_JOB_AGE
ReturnToService=2
MailProg=/bin/true
StateSaveLocation=$LOCAL_SLURM_ROOT/ctld
SlurmdSpoolDir=$LOCAL_SLURM_ROOT/d
SlurmctldPidFile=$LOCAL_SLURM_ROOT/run/slurmctld.pid
SlurmdPidFile=$LOCAL_SLURM_ROOT/run/slurmd.pid
SlurmctldLogFile=$LOCAL_SLURM_LOG_DIR/slurmctld.log
SlurmdLogFile=$LOCAL_SLURM_LOG_DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
CONF
    [[ -z $OVERRIDE_LINE ]] || printf '%s\n' "$OVERRIDE_LINE"
    [[ -z $EXTRA_CONF ]] || printf '%s\n' "$EXTRA_CONF"
    printf '\nNodeName=%s NodeAddr=127.0.0.1 NodeHostname=%s CPUs=%s RealMemory=%s' \
        "$NODE_NAME" "$NODE_NAME" "$NODE_CPUS" "$REAL_MEMORY"
    printf ' State=UNKNOWN\n'
    printf 'PartitionName=debug Nodes=%s Default=YES MaxTime=INFINITE State=UP\n' "$NODE_NAME"
}

# Succeeds when the recorded slurmctld and slurmd run with the wanted config and sinfo
# reports the node as up.
cluster_is_current() {
    local wanted_config=$1 state
    daemon_alive "$(recorded_pid slurmctld)" slurmctld || return 1
    daemon_alive "$(recorded_pid slurmd)" slurmd || return 1
    cmp -s "$wanted_config" "$LOCAL_SLURM_CONF" || return 1
    state=$(timeout 5 sinfo -h -N -o '%T' 2>/dev/null | head -n 1) || return 1
    [[ $state =~ ^(idle|mixed|allocated|completing)$ ]]
}

reject_foreign_daemons() {
    local foreign
    foreign=$(foreign_daemons)
    if [[ -n $foreign ]]; then
        fail "found Slurm daemons that this script did not start ($(paste -sd, <<<"$foreign"));" \
            "stop them first, because this script only manages the PIDs in $LOCAL_SLURM_PID_FILE"
    fi
}

prepare_state_folders() {
    local folder
    mkdir -p "$LOCAL_SLURM_ROOT"/{ctld,d,log,run,lib}
    # Fresh state: job IDs restart at 1 and drain reasons of an earlier run are gone.
    find "$LOCAL_SLURM_ROOT/ctld" "$LOCAL_SLURM_ROOT/d" "$LOCAL_SLURM_ROOT/run" \
        -mindepth 1 -delete
    for folder in slurmctld slurmd; do
        [[ -f $LOCAL_SLURM_LOG_DIR/$folder.log ]] \
            && mv -f "$LOCAL_SLURM_LOG_DIR/$folder.log" "$LOCAL_SLURM_LOG_DIR/$folder.log.old"
    done
    chown slurm:slurm "$LOCAL_SLURM_ROOT"/{ctld,log,run}
}

record_daemon() {
    printf '%s %s\n' "$1" "$2" >>"$LOCAL_SLURM_PID_FILE"
}

munge_works() {
    timeout 5 munge -n 2>/dev/null | timeout 5 unmunge >/dev/null 2>&1
}

start_munge() {
    if munge_works; then
        log "reusing the running munged"
        return 0
    fi
    mkdir -p /run/munge
    chown munge:munge /run/munge
    chmod 755 /run/munge
    if [[ ! -s /etc/munge/munge.key ]]; then
        timeout 20 mungekey --create --keyfile=/etc/munge/munge.key \
            || fail "creating /etc/munge/munge.key failed"
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 600 /etc/munge/munge.key
    rm -f /run/munge/munged.pid
    timeout 20 runuser -u munge -- /usr/sbin/munged \
        </dev/null >>"$LOCAL_SLURM_LOG_DIR/munged.stdout" 2>&1 \
        || fail "munged failed to start: $(tail -n 5 "$LOCAL_SLURM_LOG_DIR/munged.stdout")"
    local pid
    pid=$(wait_for_pid_file /run/munge/munged.pid munged) \
        || abort_start "munged did not write a live PID to /run/munge/munged.pid within 10 s"
    record_daemon munged "$pid"
    munge_works || fail "munged started but 'munge -n | unmunge' fails"
}

# Waits up to 10 s for a daemon's pid file, then prints the PID it contains.
wait_for_pid_file() {
    local file=$1 name=$2 attempt pid
    for attempt in $(seq 1 100); do
        pid=""
        [[ -s $file ]] && pid=$(tr -dc '0-9' <"$file" || true)
        if [[ -n $pid ]] && daemon_alive "$pid" "$name"; then
            printf '%s\n' "$pid"
            return 0
        fi
        sleep 0.1
    done
    return 1
}

start_slurm_daemon() {
    local name=$1 pid_file=$LOCAL_SLURM_ROOT/run/$1.pid pid
    LD_PRELOAD=$SHIM_LIBRARY timeout 20 "$name" \
        </dev/null >>"$LOCAL_SLURM_LOG_DIR/$name.stdout" 2>&1 \
        || abort_start "$name exited with an error at start"
    pid=$(wait_for_pid_file "$pid_file" "$name") \
        || abort_start "$name did not write a live PID to '$pid_file' within 10 s"
    record_daemon "$name" "$pid"
}

print_log_tail() {
    local file
    for file in slurmctld.log slurmd.log slurmctld.stdout slurmd.stdout munged.stdout; do
        [[ -s $LOCAL_SLURM_LOG_DIR/$file ]] || continue
        log "last lines of $LOCAL_SLURM_LOG_DIR/$file:"
        tail -n 15 "$LOCAL_SLURM_LOG_DIR/$file" >&2
    done
}

# Stops what this call started and exits 1 with the logs, after a failed start.
abort_start() {
    print_log_tail
    "$SCRIPT_DIR/stop.sh" >&2 || true
    fail "$*"
}

wait_until_idle() {
    local deadline=$((SECONDS + START_TIMEOUT)) state="" resumed=0
    while ((SECONDS < deadline)); do
        state=$(timeout 5 sinfo -h -N -o '%T' 2>/dev/null | head -n 1 || true)
        [[ $state == idle ]] && return 0
        if [[ $state =~ ^(down|drain|drained) && $resumed == 0 ]]; then
            timeout 10 scontrol update nodename="$NODE_NAME" state=resume >/dev/null 2>&1 || true
            resumed=1
        fi
        sleep 0.2
    done
    abort_start "node '$NODE_NAME' is not idle after $START_TIMEOUT s" \
        "(sinfo state: '${state:-none}')"
}

# Fails unless ports 6817 and 6818 are listened on, and only on loopback addresses.
check_loopback_listeners() {
    local listeners port addresses
    listeners=$(ss -ltnH 2>/dev/null | awk '{ print $4 }')
    for port in $CTLD_PORT $SLURMD_PORT; do
        addresses=$(grep -E ":$port\$" <<<"$listeners" || true)
        [[ -n $addresses ]] || abort_start "nothing listens on port $port"
        if grep -vqE "^(127\.0\.0\.1|\[::1\]):$port\$" <<<"$addresses"; then
            abort_start "port $port listens on a non-loopback address:" \
                "$(paste -sd' ' <<<"$addresses")"
        fi
    done
}

main() {
    [[ $(id -u) == 0 ]] || fail "run as root: the daemons need root to start"
    clear_inherited_slurm_environment
    read_settings
    local started_at=$SECONDS
    install_packages
    build_shim
    probe_node

    WANTED_CONFIG=$(mktemp)
    trap 'rm -f "$WANTED_CONFIG"' EXIT
    render_config >"$WANTED_CONFIG"
    if cluster_is_current "$WANTED_CONFIG"; then
        log "already running with these settings (node $NODE_NAME)"
        return 0
    fi

    if [[ -n $(recorded_daemons) ]]; then
        log "restarting: the settings changed or a daemon is not running"
        "$SCRIPT_DIR/stop.sh" >&2
    fi
    reject_foreign_daemons
    prepare_state_folders
    install -m 644 "$WANTED_CONFIG" "$LOCAL_SLURM_CONF"
    : >"$LOCAL_SLURM_PID_FILE"

    start_munge
    start_slurm_daemon slurmctld
    start_slurm_daemon slurmd
    wait_until_idle
    check_loopback_listeners
    log "node $NODE_NAME idle with $NODE_CPUS CPUs after $((SECONDS - started_at)) s;" \
        "stop it with $SCRIPT_DIR/stop.sh"
}

main "$@"
