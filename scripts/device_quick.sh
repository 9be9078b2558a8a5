#!/usr/bin/env bash
# A short device call (kind nvidia-h200, carry ["d2src"], about 7 minutes): build + gpu tests
# (scripts/gpu_check.sh), the tf32 tests again with the experimental tf32 graph plans on
# (MASKRT_CONV_GRAPH_TF32=1, including the DISABLED_ forced tf32 graph test), then single benchmark
# runs on the full-width R50 bench model (fp32 b1; tf32 b1/b16 with and without tf32 graphs; fp16
# b1/b16 and 1344x1344) with their memory figures.
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
stamp "tf32 tests with MASKRT_CONV_GRAPH_TF32=1"
(cd build-gpu && MASKRT_CONV_GRAPH_TF32=1 timeout 120 ctest -R "tf32|Tf32|ConvCudnn" --timeout 100 > $W/ctest_tf32graph.log 2>&1; \
  grep -E "tests passed|Failed|\*\*\*" $W/ctest_tf32graph.log | head -12)
bin=$(find build-gpu -name test_conv_cudnn -type f | head -1)
[ -n "$bin" ] && MASKRT_CONV_GRAPH_TF32=1 timeout 60 $bin --gtest_also_run_disabled_tests --gtest_filter='ConvCudnnGraph.*Tf32*' \
  > $W/tf32graph_disabled.log 2>&1; echo "forced tf32 graph test exit $?"; grep -E "OK \]|FAILED|Failure|error" $W/tf32graph_disabled.log | head -8
wait
stamp "bench"
run() {  # name env precision batch
  timeout 40 env $2 build-gpu/maskrt bench --config $M/config.yaml --weights $M/model.pkl --images $M/image.png \
    --format json --device cuda --precision $3 --iterations 30 --batch $4 -o $W/$1.json 2>$W/$1.err
  python3 -c "
import json,sys
r=json.load(open(sys.argv[1]))['runs'][0]; m=r.get('memory',{})
print('| %s | %.3f | %.1f | %s | %.0f | %.0f | %.0f |' % (sys.argv[2], r['stats']['median'], r['throughput_img_s'], r['gpu'].get('mem_peak_beyond_context_mib'), m.get('arena_mib',0), m.get('other_mib',0), r['engine_creation_ms']))
" $W/$1.json "$1 $2" >> $W/table.md 2>/dev/null || echo "| $1 $2 | failed: $(tail -1 $W/$1.err) |" >> $W/table.md
}
echo "| run | median ms | images/s | beyond context MiB | arena MiB | other MiB | engine creation ms |" > $W/table.md
echo "|---|---|---|---|---|---|---|" >> $W/table.md
run fp32_b1 X=1 fp32 1
run tf32_b1 X=1 tf32 1
run tf32_b16 X=1 tf32 16
run tf32g_b1 MASKRT_CONV_GRAPH_TF32=1 tf32 1
run tf32g_b16 MASKRT_CONV_GRAPH_TF32=1 tf32 16
run fp16_b1 X=1 fp16 1
run fp16_b16 X=1 fp16 16
timeout 40 build-gpu/maskrt bench --config $M/config.yaml --weights $M/model.pkl --images $M/image.png --opts INPUT.MIN_SIZE_TEST 0 --sizes 1344x1344 \
  --format json --device cuda --precision fp16 --iterations 30 -o $W/fp16_1344.json 2>$W/fp16_1344.err && python3 -c "
import json,sys
r=json.load(open(sys.argv[1]))['runs'][0]
print('| fp16_1344 (no resize) | %.3f | %.1f | %s | | | %.0f |' % (r['stats']['median'], r['throughput_img_s'], r['gpu'].get('mem_peak_beyond_context_mib'), r['engine_creation_ms']))" $W/fp16_1344.json >> $W/table.md
stamp "done"
(cd $W && tar czf $OUT/quick.tgz .)
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
cat $W/table.md
