#!/usr/bin/env bash
# End-to-end parity on the GPU machine, in ONE run (maskrt issue 3): maskrt's CUDA outputs (fp32, tf32,
# fp16) against Detectron2 (fp32, TF32 off) run on the same GPU, for seeded + calibrated full-width
# R50-FPN, R101-FPN and X101-32x8d-FPN at network inputs 1344x1344, 800x1067 (from 640x480), 480x640 and
# 1080x1920. See tools/reference/gpu_parity.py for the sizes, matching, thresholds and calibration.
#   scripts/gpu_parity.sh [extra gpu_parity.py args]     # BUILD_DIR, JOBS, CUDA_ARCH override
#   scripts/gpu_parity.sh --d2-baselines                 # + Detectron2's own tf32 / fp16-autocast rows
#   scripts/gpu_parity.sh --skip-maskrt --d2-baselines   # Detectron2 fp32 vs its tf32 / fp16 only, no build
# Other options: --models R50,R101,X101  --sizes 1344x1344,800x1067,480x640,1080x1920  --precisions fp32,tf32,fp16
# Needs ./d2src (Detectron2 source + pure-Python deps, git-ignored; tools/reference/README.md) and, where
# pycocotools is not installed, its wheel in ./.whl. The maskrt CUDA build runs in the background while
# Detectron2 works on the first model; it is skipped when $BUILD_DIR/maskrt already exists.
# Writes $OUT/gpu_parity.json (or out/), prints a markdown table last; exit status 0 iff every maskrt row
# passes (Detectron2 baseline rows are reference only).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out}; mkdir -p "$OUT"; export OUT
BUILD=${BUILD_DIR:-build-gpu}
JOBS=${JOBS:-$(nproc)}
ARCH=${CUDA_ARCH:-90}
export D2_SRC=${D2_SRC:-$PWD/d2src} PYTHONUNBUFFERED=1
if ! python3 -c "import pycocotools.mask" 2>/dev/null; then
  ls .whl/pycocotools-*.whl >/dev/null 2>&1 || { echo "pycocotools missing and no .whl/pycocotools-*.whl"; exit 1; }
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
READY=$(mktemp -u /tmp/gpu_parity_build_rc.XXXXXX)
SKIP_MASKRT=0
for a in "$@"; do [ "$a" = --skip-maskrt ] && SKIP_MASKRT=1; done
if [ $SKIP_MASKRT = 1 ]; then
  echo "== --skip-maskrt: no maskrt build or runs"
  echo 0 > "$READY"
elif [ -x "$BUILD/maskrt" ]; then
  echo "== using existing $BUILD/maskrt (no build)"
  echo 0 > "$READY"
else
  echo "== building $BUILD/maskrt (CUDA sm_$ARCH, -j$JOBS) in the background; log $OUT/build.log"
  ( t0=$(date +%s)
    cmake -S . -B "$BUILD" -DMASKRT_WITH_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$ARCH" -DCMAKE_BUILD_TYPE=Release \
          -DMASKRT_BUILD_TESTS=OFF > "$OUT/build.log" 2>&1 \
      && cmake --build "$BUILD" -j "$JOBS" --target maskrt_cli >> "$OUT/build.log" 2>&1
    rc=$?
    echo "   maskrt build exit status $rc after $(( $(date +%s) - t0 )) s" >&2
    [ $rc -eq 0 ] || grep -E "error|Error" "$OUT/build.log" | head -30 >&2
    echo $rc > "$READY" ) &
fi
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null || true
python3 tools/reference/gpu_parity.py --device cuda --maskrt "$BUILD/maskrt" --maskrt-ready "$READY" \
  --out "$OUT/gpu_parity.json" "$@"
rc=$?
wait
exit $rc
