#!/usr/bin/env bash
# Installs the dependencies, builds in release mode once and runs the whole test suite.
# The end-to-end tests run the release executables that this build leaves in .build/release.
#
# The Slurm job array tests need a running Slurm: this script starts the one-node cluster of
# slurm/local/start.sh (which installs slurmctld, slurmd, slurm-client and munge with apt-get
# and needs root, or sudo) and stops it on exit, unless it was already running before. The
# cluster advertises 4 CPUs, so that a throttle of 2 and not the CPU count limits how many
# tasks run at once, and MaxArraySize 4, so that the 7-run test sweep is split into arrays.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

export LOCAL_SLURM_CPUS=${LOCAL_SLURM_CPUS:-4}
export LOCAL_SLURM_MAX_ARRAY_SIZE=${LOCAL_SLURM_MAX_ARRAY_SIZE:-4}
as_root=()
if [ "$(id -u)" -ne 0 ]; then
    as_root=(sudo --preserve-env=LOCAL_SLURM_CPUS,LOCAL_SLURM_MAX_ARRAY_SIZE)
fi
slurm_was_running=0
if [ -s /var/spool/local-slurm/daemons.pids ]; then
    slurm_was_running=1
fi
stop_slurm() {
    if [ "$slurm_was_running" -eq 0 ]; then
        "${as_root[@]}" bash slurm/local/stop.sh || echo "test.sh: stopping the local Slurm failed" >&2
    fi
}
trap stop_slurm EXIT
"${as_root[@]}" bash slurm/local/start.sh

swift build -c release
swift test -c release -Xswiftc -enable-testing "$@"
