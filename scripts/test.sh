#!/usr/bin/env bash
# Builds maskrt and runs every test that does not need a GPU (ctest label `gpu` is excluded;
# scripts/gpu_check.sh runs those on the GPU machine).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/build.sh"
build="${MASKRT_BUILD_DIR:-$root/build}"
ctest --test-dir "$build" -LE gpu --output-on-failure -j"$(nproc)" "$@"
