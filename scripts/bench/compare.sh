#!/usr/bin/env bash
# Measures the Swift trainer (asib-bench) and PyTorch on CPU side by side on this machine:
# the same CIFAR ResNets, batch 128, 1 and 2 threads. Needs a release build and PyTorch
# (`pip install torch`). Usage: bash scripts/bench/compare.sh [--steps N]
set -euo pipefail
cd "$(dirname "$0")/../.."

steps=20
if [ "${1:-}" = "--steps" ]; then
    steps=$2
fi

echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "== asib-bench (Swift, OpenBLAS)"
.build/release/asib-bench --steps "$steps"
echo
echo "== PyTorch, NCHW"
python3 scripts/bench/pytorch_resnet.py --steps "$steps"
echo
echo "== PyTorch, channels_last"
python3 scripts/bench/pytorch_resnet.py --steps "$steps" --channels-last
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
