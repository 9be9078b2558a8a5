#!/usr/bin/env bash
# GPU check: build the CUDA backend (CMake, sm_90 by default), run the gpu-labelled tests, then the
# CUDA pipeline benchmark, whose table is printed last. Meant to finish in a few minutes on one GPU.
#   scripts/gpu_check.sh                    # from anywhere; BUILD_DIR, JOBS, CUDA_ARCH, BENCH_ITERS override
# Exit status: non-zero if the build or any gpu test fails (the benchmark still runs after test failures).
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD_DIR:-build-gpu}
JOBS=${JOBS:-$(nproc)}
ARCH=${CUDA_ARCH:-90}
ITERS=${BENCH_ITERS:-50}

echo "== configure ($BUILD, sm_$ARCH)"
cmake -S . -B "$BUILD" -DMASKRT_WITH_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$ARCH" -DCMAKE_BUILD_TYPE=Release \
  > "$BUILD.configure.log" 2>&1 || { cat "$BUILD.configure.log"; exit 1; }
targets=(maskrt bench_cuda_pipeline)
for f in tests/gpu/test_*.cpp tests/gpu/test_*.cu; do
  [ -e "$f" ] && targets+=("$(basename "${f%.*}")")
done
echo "== build: ${targets[*]}"
t0=$(date +%s)
if ! cmake --build "$BUILD" -j "$JOBS" --target "${targets[@]}" > "$BUILD.build.log" 2>&1; then
  grep -E "error|Error" "$BUILD.build.log" | head -40
  exit 1
fi
echo "   built in $(( $(date +%s) - t0 )) s"

echo "== ctest -L gpu"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || true
(cd "$BUILD" && ctest -L gpu -V --timeout 300 > ../"$BUILD.ctest.log" 2>&1)
test_rc=$?
grep -E "\[parity\]|Test +#|tests passed|\[  FAILED  \]|Failure|Expected|Which is|actual|maskrt: cuda" "$BUILD.ctest.log" \
  | grep -v "maskrt: cuda plan" | sed 's/^[0-9]*: //' | head -150
echo "   ctest exit status $test_rc"

echo "== benchmark"
"$BUILD/bench_cuda_pipeline" "$ITERS" 480 640 2> "$BUILD.bench.log" || { tail -20 "$BUILD.bench.log"; exit 1; }
exit $test_rc
