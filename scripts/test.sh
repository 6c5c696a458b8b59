#!/usr/bin/env bash
# Installs the dependencies, builds in release mode once and runs the whole test suite.
# The end-to-end tests run the release executables that this build leaves in .build/release.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
swift build -c release
swift test -c release -Xswiftc -enable-testing "$@"
