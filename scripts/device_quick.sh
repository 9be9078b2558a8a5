#!/usr/bin/env bash
# A short device call (kind nvidia-h200, carry ["d2src", ".whl"], about 7-8 minutes): build + gpu
# tests (scripts/gpu_check.sh), then single benchmark runs on the full-width R50 bench model (fp32
# b1; tf32 b1/b16 with tf32 graphs off (MASKRT_CONV_GRAPH_TF32=0) and on; fp16 b1, b16 with 1..4
# concurrent CUDA streams (--cuda-streams), 1344x1344) with their memory figures, then the default
# model's accuracy with maskrt on CUDA (scripts/eval_default_model.sh, batch 8: concurrent streams).
# Output: $OUT/quick.tgz; a table last.
set -uo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?OUT must name the output folder}"
W=/tmp/quick; rm -rf $W; mkdir -p $W
t0=$(date +%s)
stamp() { echo "== [$(( $(date +%s) - t0 )) s] $*"; }
export D2_SRC=$PWD/d2src PYTHONUNBUFFERED=1
M=/tmp/r50_bench
# the bench model (seeded, calibrated full-width R50-FPN) in the background while the build runs
(python3 tools/reference/bench_detectron2.py --device cuda --precision fp32 --warmup 1 --iters 3 --save-model $M \
  --out $W/d2_fp32_short.json > $W/d2.log 2>&1) &
stamp "gpu_check"
BENCH_ITERS=5 timeout ${CHECK_S:-330} scripts/gpu_check.sh > $W/gpu_check.log 2>&1; echo "gpu_check exit $?"
grep -E "tests passed|\[  FAILED  \]|built in" $W/gpu_check.log | head -20; cp build-gpu.ctest.log $W/ 2>/dev/null
wait
stamp "bench"
run() {  # name env precision batch [more bench arguments]
  local name=$1 envs=$2 prec=$3 batch=$4; shift 4
  timeout 40 env $envs build-gpu/maskrt bench --config $M/config.yaml --weights $M/model.pkl --images $M/image.png \
    --format json --device cuda --precision $prec --iterations 30 --batch $batch "$@" -o $W/$name.json 2>$W/$name.err
  python3 -c "
import json,sys
r=json.load(open(sys.argv[1]))['runs'][0]; m=r.get('memory',{})
print('| %s | %.3f | %.1f | %s | %.0f | %.0f | %.0f |' % (sys.argv[2], r['stats']['median'], r['throughput_img_s'], r['gpu'].get('mem_peak_beyond_context_mib'), m.get('arena_mib',0), m.get('other_mib',0), r['engine_creation_ms']))
" $W/$name.json "$name $envs $*" >> $W/table.md 2>/dev/null || echo "| $name $envs $* | failed: $(tail -1 $W/$name.err) |" >> $W/table.md
}
echo "| run | median ms | images/s | beyond context MiB | arena MiB | other MiB | engine creation ms |" > $W/table.md
echo "|---|---|---|---|---|---|---|" >> $W/table.md
run fp32_b1 X=1 fp32 1
run tf32_b1 X=1 tf32 1
run tf32_b1_nograph MASKRT_CONV_GRAPH_TF32=0 tf32 1
run tf32_b16_s1_nograph MASKRT_CONV_GRAPH_TF32=0 tf32 16 --cuda-streams 1
run tf32_b16_s1 X=1 tf32 16 --cuda-streams 1
run tf32_b16_s2 X=1 tf32 16 --cuda-streams 2
run tf32_b16_s3 X=1 tf32 16 --cuda-streams 3
run fp16_b1 X=1 fp16 1
run fp16_b16_s1 X=1 fp16 16 --cuda-streams 1
run fp16_b16_s2 X=1 fp16 16 --cuda-streams 2
run fp16_b16_s3 X=1 fp16 16 --cuda-streams 3
run fp16_b16_s4 X=1 fp16 16 --cuda-streams 4
run fp16_b32_s4 X=1 fp16 32 --cuda-streams 4
timeout 40 build-gpu/maskrt bench --config $M/config.yaml --weights $M/model.pkl --images $M/image.png --opts INPUT.MIN_SIZE_TEST 0 --sizes 1344x1344 \
  --format json --device cuda --precision fp16 --iterations 30 -o $W/fp16_1344.json 2>$W/fp16_1344.err && python3 -c "
import json,sys
r=json.load(open(sys.argv[1]))['runs'][0]
print('| fp16_1344 (no resize) | %.3f | %.1f | %s | | | %.0f |' % (r['stats']['median'], r['throughput_img_s'], r['gpu'].get('mem_peak_beyond_context_mib'), r['engine_creation_ms']))" $W/fp16_1344.json >> $W/table.md
stamp "eval default model (cuda fp32 / fp16, --batch 8: two concurrent streams by default)"
OUT=$W/eval BUILD_DIR=build-gpu BACKENDS="cuda:fp32 cuda:fp16" WORKERS=16 EVAL_ARGS="--batch 8" timeout 150 scripts/eval_default_model.sh 2>&1 | tee $W/eval.log
stamp "done"
(cd $W && tar czf $OUT/quick.tgz .)
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
cat $W/table.md
