#!/usr/bin/env bash
# Stops the one-node Slurm cluster that start.sh started.
#
# Cancels every pending or running job (waiting up to 15 s for them to leave squeue), then
# sends SIGTERM to exactly the PIDs recorded in /var/spool/local-slurm/daemons.pids, newest
# first, waits up to 20 s for each and sends SIGKILL after that. A PID whose /proc/PID/comm
# no longer names the recorded daemon has been reused and is left alone. Removes the pid file.
# Calling it when nothing runs does nothing. State and logs stay in /var/spool/local-slurm.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
source "$SCRIPT_DIR/common.sh"

cancel_jobs() {
    local jobs attempt
    daemon_alive "$(recorded_pid slurmctld)" slurmctld || return 0
    jobs=$(timeout 15 squeue -h -o '%F' 2>/dev/null | sort -u || true)
    [[ -n $jobs ]] || return 0
    log "cancelling jobs: $(paste -sd" " <<<"$jobs")"
    # shellcheck disable=SC2086 # one argument per job ID
    timeout 15 scancel $jobs || log "scancel failed; stopping the daemons anyway"
    for attempt in $(seq 1 75); do
        [[ -z $(timeout 5 squeue -h -o '%i' 2>/dev/null || true) ]] && return 0
        sleep 0.2
    done
    log "jobs are still listed after 15 s; stopping the daemons anyway"
}

stop_daemon() {
    local name=$1 pid=$2 attempt
    if ! daemon_alive "$pid" "$name"; then
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for attempt in $(seq 1 200); do
        daemon_alive "$pid" "$name" || return 0
        sleep 0.1
    done
    log "$name (PID $pid) still runs 20 s after SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
}

main() {
    [[ $(id -u) == 0 ]] || fail "run as root: the daemons run as root or slurm"
    clear_inherited_slurm_environment
    if [[ ! -f $LOCAL_SLURM_PID_FILE ]]; then
        log "nothing to stop: $LOCAL_SLURM_PID_FILE does not exist"
        return 0
    fi

    local started_at=$SECONDS name pid
    cancel_jobs
    while read -r name pid; do
        stop_daemon "$name" "$pid"
    done < <(recorded_daemons | tac)
    rm -f "$LOCAL_SLURM_PID_FILE"
    log "stopped after $((SECONDS - started_at)) s"
}

main "$@"
