#!/usr/bin/env bash
# Installs the dependencies, builds in release mode and runs the quickstart sweep with two
# local workers on Fashion-MNIST. Extra arguments go to 'asib-sweep launch'.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
swift build -c release
.build/release/asib-sweep launch --local 2 "$@" sweeps/quickstart.yaml
