#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages maskrt needs to build and test (skips what is already there).
# The CUDA toolkit and cuDNN are optional: when nvcc and cudnn.h are found, the CUDA backend is built.
set -euo pipefail
pkgs=(cmake g++ make pkg-config libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libopenblas-dev
      libpng-dev libjpeg-dev zlib1g-dev libgtest-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "maskrt: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
