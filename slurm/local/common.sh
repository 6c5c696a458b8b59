# Shared by start.sh and stop.sh: paths of the local one-node Slurm cluster and checks on the
# daemons it records. Source it; it defines variables and functions only.

LOCAL_SLURM_ROOT=/var/spool/local-slurm
LOCAL_SLURM_PID_FILE=$LOCAL_SLURM_ROOT/daemons.pids
LOCAL_SLURM_LOG_DIR=$LOCAL_SLURM_ROOT/log
LOCAL_SLURM_CONF=/etc/slurm/slurm.conf

log() {
    printf 'local-slurm: %s\n' "$*" >&2
}

fail() {
    log "error: $*"
    exit 1
}

# Succeeds when PID is a live process whose command name is NAME. A zombie (State: Z) is
# dead: the container's init reaps stopped daemons with a delay of about a second, and until
# then /proc/PID/comm still names the daemon.
daemon_alive() {
    local pid=$1 name=$2 comm state
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
    [[ $comm == "$name" ]] || return 1
    state=$(awk '/^State:/ { print $2; exit }' "/proc/$pid/status" 2>/dev/null) || return 1
    [[ -n $state && $state != Z ]]
}

# Prints the recorded "NAME PID" lines, in start order.
recorded_daemons() {
    [[ -f $LOCAL_SLURM_PID_FILE ]] || return 0
    grep -E '^[a-z]+ [0-9]+$' "$LOCAL_SLURM_PID_FILE" || true
}

# Prints the PID recorded for NAME, or nothing.
recorded_pid() {
    recorded_daemons | awk -v name="$1" '$1 == name { print $2; exit }'
}

# Prints "NAME PID" for every live slurmctld or slurmd that this script did not record.
foreign_daemons() {
    local recorded comm_file pid comm
    recorded=" $(recorded_daemons | awk '{ printf "%s ", $2 }')"
    for comm_file in /proc/[0-9]*/comm; do
        pid=${comm_file#/proc/}
        pid=${pid%/comm}
        comm=$(cat "$comm_file" 2>/dev/null) || continue
        [[ $comm == slurmctld || $comm == slurmd ]] || continue
        [[ $recorded == *" $pid "* ]] && continue
        daemon_alive "$pid" "$comm" && printf '%s %s\n' "$comm" "$pid"
    done
    return 0
}

# Removes SLURM_* variables inherited from a surrounding job, so that client commands and the
# daemons read only the generated slurm.conf.
clear_inherited_slurm_environment() {
    local name
    for name in $(compgen -e); do
        [[ $name == SLURM_* ]] && unset "$name"
    done
    return 0
}
