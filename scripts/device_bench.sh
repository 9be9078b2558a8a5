#!/usr/bin/env bash
# Side-by-side benchmark on the GPU machine, in ONE run: Detectron2 (eager PyTorch, fp32 with TF32
# off and autocast fp16; CPU with N threads) and maskrt (cuda fp32/tf32/fp16, cpu with N threads) on
# the same seeded, calibrated full-width R50-FPN (80 classes, 100 detections) and the same 640x480
# photo resized to 800x1067. Needs the Detectron2 source + pure-Python deps in ./d2src (git-ignored;
# see tools/reference/README.md). Writes JSON reports to $OUT (or ./out; archived as reports.tgz at the end,
# since at most 8 files come back from the device) and prints a table last. SKIP_CPU=1 skips the CPU runs.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out}; mkdir -p "$OUT"
BUILD=${BUILD_DIR:-build-gpu}; THREADS=${CPU_THREADS:-8}; ITERS=${ITERS:-100}
export D2_SRC=$PWD/d2src PYTHONUNBUFFERED=1
cmake -S . -B "$BUILD" -DMASKRT_WITH_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DMASKRT_BUILD_TESTS=OFF >/dev/null \
  && cmake --build "$BUILD" -j"$(nproc)" --target maskrt_cli > "$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; exit 1; }
M=/tmp/r50_bench
# MODEL_ONLY=1: only build and save the seeded, calibrated model to $M (for A/B runs), no timing.
python3 tools/reference/bench_detectron2.py --device cuda --precision fp32 --iters $([ "${MODEL_ONLY:-0}" = 1 ] && echo 3 || echo 50) \
  --save-model $M --out "$OUT/d2_cuda_fp32.json" > /dev/null || exit 1
if [ "${MODEL_ONLY:-0}" = 1 ]; then echo "MODEL_ONLY=1: model saved to $M; no benchmark"; exit 0; fi
python3 tools/reference/bench_detectron2.py --device cuda --precision fp16 --iters 50 --load-model $M \
  --out "$OUT/d2_cuda_fp16.json" > /dev/null
mb() { "$BUILD/maskrt" bench --config $M/config.yaml --weights $M/model.pkl --images $M/image.png --format json "$@"; }
mb --device cuda --precision fp32 --iterations $ITERS -o "$OUT/mrt_cuda_fp32.json" 2>/dev/null
mb --device cuda --precision tf32 --iterations $ITERS -o "$OUT/mrt_cuda_tf32.json" 2>/dev/null
mb --device cuda --precision fp16 --iterations $ITERS --sizes 240x320,480x640,720x1280,1080x1920 \
   -o "$OUT/mrt_cuda_fp16_sweep.json" 2>/dev/null
# cost against pixels: no resize (INPUT.MIN_SIZE_TEST 0), so the network sees each size as given
mb --device cuda --precision fp16 --iterations $ITERS --opts INPUT.MIN_SIZE_TEST 0 INPUT.MAX_SIZE_TEST 4000 \
   --sizes 240x320,480x640,800x1067,1080x1920,1344x1344 -o "$OUT/mrt_cuda_fp16_pixels.json" 2>/dev/null
# throughput: pipelined batches of 16 (host decode of image i overlaps the GPU on image i+1), one image
# per backbone pass (--backbone-batch 1: since session 10 the CLI groups same-size images by default
# from --batch 16, so without it these rows would repeat the next two)
mb --device cuda --precision fp16 --iterations $ITERS --batch 16 --backbone-batch 1 -o "$OUT/mrt_cuda_fp16_b16.json" 2>/dev/null
mb --device cuda --precision tf32 --iterations $ITERS --batch 16 --backbone-batch 1 -o "$OUT/mrt_cuda_tf32_b16.json" 2>/dev/null
# the CLI default at --batch >= 16: same-size groups of 4 through one backbone pass (bit-exact per image;
# EngineOptions::backbone_batch, ConvCudnn::plan_pinned)
mb --device cuda --precision fp16 --iterations $ITERS --batch 16 --backbone-batch 4 -o "$OUT/mrt_cuda_fp16_b16_bb4.json" 2>/dev/null
mb --device cuda --precision tf32 --iterations $ITERS --batch 16 --backbone-batch 4 -o "$OUT/mrt_cuda_tf32_b16_bb4.json" 2>/dev/null
mb --device cuda --precision fp16 --iterations $ITERS --opts INPUT.MIN_SIZE_TEST 0 --sizes 1344x1344 \
   -o "$OUT/mrt_cuda_fp16_1344.json" 2>/dev/null
if [ "${SKIP_CPU:-0}" != 1 ]; then
  mb --device cpu --threads $THREADS --warmup 1 --iterations 5 -o "$OUT/mrt_cpu.json" 2>/dev/null
  python3 tools/reference/bench_detectron2.py --device cpu --threads $THREADS --warmup 1 --iters 5 --load-model $M \
    --out "$OUT/d2_cpu.json" > /dev/null
fi
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
python3 - "$OUT" <<'PY'
import json, sys, os
o = sys.argv[1]
def d2(f):
    p = os.path.join(o, f)
    if not os.path.exists(p): return None
    j = json.load(open(p)); return j["median_ms"], j["p90_ms"], 1000 / j["median_ms"], j.get("instances")
def mr(f, i=0):
    p = os.path.join(o, f)
    if not os.path.exists(p): return None
    r = json.load(open(p))["runs"][i]; s = r["stats"]
    g = r["gpu"]
    return s["median"], s["p90"], r["throughput_img_s"], "gpu util %s%%, peak mem %s MiB (%s beyond the context), first call %.1f ms, host waits %s" % (g.get("util_mean_pct"), g.get("mem_used_peak_mib"), g.get("mem_peak_beyond_context_mib"), r["first_call_ms"] or -1, "%.0f%% of a call" % (100 * r["host_wait"]["share_median"]) if r.get("host_wait") else "n/a")
rows = [("Detectron2 cuda fp32 (TF32 off)", d2("d2_cuda_fp32.json")), ("Detectron2 cuda fp16 autocast", d2("d2_cuda_fp16.json")),
        ("maskrt cuda fp32", mr("mrt_cuda_fp32.json")), ("maskrt cuda tf32", mr("mrt_cuda_tf32.json")),
        ("maskrt cuda fp16 480x640->800x1067", mr("mrt_cuda_fp16_sweep.json", 1)), ("maskrt cuda fp16 1344x1344", mr("mrt_cuda_fp16_1344.json")),
        ("maskrt cuda fp16 batch 16 --backbone-batch 1", mr("mrt_cuda_fp16_b16.json")), ("maskrt cuda tf32 batch 16 --backbone-batch 1", mr("mrt_cuda_tf32_b16.json")),
        ("maskrt cuda fp16 batch 16 --backbone-batch 4 (default)", mr("mrt_cuda_fp16_b16_bb4.json")),
        ("maskrt cuda tf32 batch 16 --backbone-batch 4 (default)", mr("mrt_cuda_tf32_b16_bb4.json"))]
rows += [("maskrt cuda fp16 no-resize %s" % s, mr("mrt_cuda_fp16_pixels.json", i)) for i, s in
         enumerate(["240x320", "480x640", "800x1067", "1080x1920", "1344x1344"])]
rows += [("Detectron2 cpu", d2("d2_cpu.json")), ("maskrt cpu", mr("mrt_cpu.json"))]
print("| run | median ms | p90 ms | images/s | extra |")
for n, v in rows:
    print("| %s | %s |" % (n, " | ".join("%.2f" % x if isinstance(x, float) else str(x) for x in v) if v else "missing"))
PY
# at most 8 files come back from the device: one archive of all reports
(cd "$OUT" && tar czf reports.tgz ./*.json && rm -f ./*.json)
