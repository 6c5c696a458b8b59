#!/usr/bin/env bash
# Installs the Debian packages asib-sweep builds and runs against, skipping the package index
# update when everything is already installed.
set -euo pipefail

packages=(
    libopenblas-dev    # cblas_sgemm for the trainer
    libzmq3-dev        # coordinator-worker messaging
    libsodium-dev      # SHA-256 for the config lock
    libyaml-dev        # YAML configs and sweep specs
    libsqlite3-dev     # the sweep store
    zlib1g-dev         # gzip-compressed IDX files, checkpoint checksums
    dataset-fashion-mnist  # the default data set, under /usr/share/datasets/fashion-mnist
)

missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "install-deps: all packages present"
    exit 0
fi

sudo_command=()
if [ "$(id -u)" -ne 0 ]; then
    sudo_command=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
"${sudo_command[@]}" apt-get update -q
DEBIAN_FRONTEND=noninteractive "${sudo_command[@]}" apt-get install -y -q --no-install-recommends \
    "${missing[@]}"
