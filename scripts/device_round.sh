#!/usr/bin/env bash
# One device call that checks and measures everything after a change (kind nvidia-h200, carry
# ["d2src", ".whl"], timeout_s 600): build + gpu tests (scripts/gpu_check.sh), the side-by-side
# benchmark (scripts/device_bench.sh, SKIP_CPU=1), the default model's accuracy with maskrt on CUDA
# (scripts/eval_default_model.sh), an A/B of the conv paths (MASKRT_CONV_GRAPH=0 vs default) and the
# fp16 per-layer plans (MASKRT_CUDNN_LOG=1). Everything lands in $OUT/round.tgz (one file back);
# summaries are printed, the benchmark table last.
set -uo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?OUT must name the output folder}"
W=/tmp/round; rm -rf $W; mkdir -p $W
t0=$(date +%s)
stamp() { echo "== [$(( $(date +%s) - t0 )) s] $*"; }
stamp "gpu_check"
BENCH_ITERS=20 scripts/gpu_check.sh > $W/gpu_check.log 2>&1; echo "gpu_check exit $?" | tee -a $W/gpu_check.log
grep -E "tests passed|FAILED|ctest exit|built in" $W/gpu_check.log
cp build-gpu.ctest.log $W/ 2>/dev/null; grep -h "\[ graph" build-gpu.ctest.log | head -30
stamp "device_bench"
OUT=$W/bench SKIP_CPU=1 ITERS=${ITERS:-50} scripts/device_bench.sh > $W/bench.log 2>&1
stamp "eval default model"
OUT=$W/eval BUILD_DIR=build-gpu BACKENDS="cuda:fp32 cuda:fp16" WORKERS=16 scripts/eval_default_model.sh 2>&1 | tee $W/eval.log
stamp "conv path A/B + plans"
M=/tmp/r50_bench
mb() { build-gpu/maskrt bench --config $M/config.yaml --weights $M/model.pkl --images $M/image.png --format json "$@"; }
for g in 0 default; do
  for b in 1 16; do
    if [ $g = 0 ]; then e=MASKRT_CONV_GRAPH=0; else e=MASKRT_NOTHING=1; fi
    env $e build-gpu/maskrt bench --config $M/config.yaml --weights $M/model.pkl --images $M/image.png --format json \
      --device cuda --precision fp16 --iterations 30 --batch $b -o $W/ab_graph${g}_b$b.json 2>/dev/null
    python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['runs'][0]; print('graph=$g batch=$b', {k: v for k, v in r.items() if isinstance(v, (int, float))}, {k: round(v, 3) for k, v in r['stats'].items() if 'p50' in k or 'median' in k})" $W/ab_graph${g}_b$b.json
  done
done
MASKRT_CUDNN_LOG=1 mb --device cuda --precision fp16 --iterations 3 -o $W/plans.json > /dev/null 2> $W/plans_fp16.log
grep -c "graph" $W/plans_fp16.log
stamp "done"
(cd $W && tar czf $OUT/round.tgz .)
cat $W/bench.log | tail -40
