#!/usr/bin/env bash
# GPU time per kernel (Nsight Compute, one metric: gpu__time_duration) of `maskrt infer` on the
# benchmark model and image (full-width R50-FPN, 640x480 -> 800x1067; tools/reference/bench_detectron2.py
# --save-model), for each precision in $PRECISIONS. Only the image after warm-up is profiled
# (MASKRT_CUDA_PROFILER_RANGE=1 + ncu --profile-from-start off): steady state, graph replay, no
# planning (cuDNN algorithm search) and no warm-up kernels.
#   PRECISIONS="fp16 tf32" scripts/profile_kernels.sh     # on the GPU machine; needs ./d2src, ncu
# BATCH=N profiles one infer_batch() call of N copies of the image instead (the throughput path; the
# table is then per image of the batch), BBATCH=B adds --backbone-batch B; the outputs are named
# ncu_<precision>_b<N>[_bb<B>].md. ncu serialises the kernels, so concurrent streams do not overlap there.
# A batch passes --cuda-streams explicitly (CUDA_STREAMS, default 3 = kDefaultCudaStreams): only then
# does the engine's warm-up plan and capture every stream's one-image plan; otherwise streams 1.. would
# plan (cuDNN algorithm search) and run eager inside the profiled batch call.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out}; mkdir -p "$OUT"
BUILD=${BUILD_DIR:-build-gpu}; M=${MODEL_DIR:-/tmp/r50_bench}
export D2_SRC=${D2_SRC:-$PWD/d2src} PYTHONUNBUFFERED=1
[ -x "$BUILD/maskrt" ] || { cmake -S . -B "$BUILD" -DMASKRT_WITH_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
  -DCMAKE_BUILD_TYPE=Release -DMASKRT_BUILD_TESTS=OFF >/dev/null && cmake --build "$BUILD" -j"$(nproc)" \
  --target maskrt_cli > "$OUT/profile_build.log" 2>&1 || { tail -20 "$OUT/profile_build.log"; exit 1; }; }
[ -f "$M/model.pkl" ] || python3 tools/reference/bench_detectron2.py --device cuda --precision fp32 --iters 1 \
  --warmup 1 --save-model "$M" --out /tmp/profile_d2.json > /dev/null || exit 1
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
[ -n "$NCU" ] || { echo "ncu not found"; exit 1; }
N=${BATCH:-1}
IMAGES=(); for _ in $(seq "$N"); do IMAGES+=("$M/image.png"); done
EXTRA=(); TAG=""
if [ "$N" -gt 1 ]; then EXTRA+=(--batch "$N" --cuda-streams "${CUDA_STREAMS:-3}"); TAG="_b$N"; fi
if [ -n "${BBATCH:-}" ]; then EXTRA+=(--backbone-batch "$BBATCH"); TAG="${TAG}_bb$BBATCH"; fi
for P in ${PRECISIONS:-fp16 tf32 fp32}; do
  MASKRT_CUDA_PROFILER_RANGE=1 "$NCU" --profile-from-start off --metrics gpu__time_duration.sum --csv --print-units base --log-file "/tmp/ncu_$P$TAG.csv" \
    "$BUILD/maskrt" infer --config "$M/config.yaml" --weights "$M/model.pkl" --device cuda --precision "$P" "${EXTRA[@]}" \
    -o "/tmp/ncu_$P$TAG.json" "${IMAGES[@]}" > "/tmp/ncu_$P$TAG.log" 2>&1 || { tail -5 "/tmp/ncu_$P$TAG.log"; continue; }
  echo "== $P$TAG"
  python3 tools/profile/ncu_summary.py "/tmp/ncu_$P$TAG.csv" --images "$N" --top "${TOP:-25}" | tee "$OUT/ncu_$P$TAG.md"
done
