#!/usr/bin/env bash
# One device call that checks and measures everything after a change (kind nvidia-h200, carry
# ["d2src", ".whl"], timeout_s 600): build + gpu tests (scripts/gpu_check.sh), the side-by-side
# benchmark (scripts/device_bench.sh, SKIP_CPU=1), then, each optional: the default model's accuracy
# with maskrt on CUDA (EVAL=1, scripts/eval_default_model.sh), an A/B of the conv paths
# (AB_GRAPH=1: MASKRT_CONV_GRAPH=0 vs default) and the per-layer plans (MASKRT_CUDNN_LOG=1), an A/B of
# concurrent CUDA streams at fp16 batch 16 (AB_STREAMS=1: --cuda-streams 1 vs the default), an A/B of
# the opt-in space-to-depth stem (AB_S2D=1: MASKRT_STEM_S2D=0/1 alternated, fp16 batch 1 and 16, plus
# the stem's plan lines and the default model's fp16 AP with it on), an A/B of the opt-in batched
# backbone (AB_BBATCH=1: MASKRT_BACKBONE_BATCH=1 (off) vs 4 vs 8, fp16 and tf32 batch 16, alternated,
# AB_REPS times (2); BBATCH_VALUES="1 4" narrows it, BBATCH_BATCH=64 sets --batch), an
# A/B of the NHWC tf32 pipeline, the default since session 7 (AB_TF32NHWC=1: MASKRT_TF32_NHWC 0/1 alternated,
# tf32 batch 1 and 16), and a
# kernel profile of one steady-state fp16 image (PROFILE=1, scripts/profile_kernels.sh, ncu; PROFILE_BATCH=1
# adds one of an fp16 batch of 16 with --backbone-batch 4), and an A/B of the batch size (AB_BATCHSIZE=1: fp16
# and tf32 at --batch 16 / 32 / 64, --backbone-batch 1 and 4, alternated; each report records how long the
# host thread waited on the GPU, so it says whether the host or the GPU bounds throughput), and of the
# RPN's top-k (AB_RPNTOPK=1: the gpu tests that cover it and the Detectron2 goldens with
# MASKRT_RPN_TOPK=select, then fp16 batch 1 and 16 with sort vs select).
# INVARIANCE=1: bench_batch_invariance (does an fp16 conv configuration chosen at n = 1 give an image the
# same bits inside a batch of 4? decides whether --backbone-batch can be made neighbour-independent),
# then the backbone-batch gpu tests (the MASKRT_BACKBONE_BATCH_PIN=1 bit-equality one included) and
# throughput with groups of 4, MASKRT_BACKBONE_BATCH_PIN 0 vs 1 (fp16 batch 64, tf32 batch 32), alternated.
# AB_DEFAULTS=1: fp16 --batch 64 / 16 and tf32 --batch 32 as the CLI runs them by default (same-size
# groups of 4, bit-exact: ConvCudnn::plan_pinned), with --backbone-batch 1 (no groups) and with MASKRT_BACKBONE_BATCH_PIN=0
# (groups planned at n), DEF_REPS (2) alternated repetitions of DEF_RUNS ("fp16:64 tf32:32 fp16:16"); each line also gives the memory beyond the context.
# AB_COMBO=1: the two fp16 opt-ins that cut GPU time at batch 1 (space-to-depth stem, RPN top-k by
# select), alone and together, at the best throughput setting (--batch 64 --backbone-batch 4) and at
# --batch 16, 2 alternated repetitions, after the parity/golden tests with the stem on.
# MODEL_ONLY=1 makes the benchmark step only build and save the model the A/B steps use (a shorter
# round for A/Bs: e.g. MODEL_ONLY=1 EVAL=0 AB_GRAPH=0 AB_S2D=1 AB_BBATCH=1).
# Batch-16+ fp16/tf32 arms of every A/B run with the CLI's default same-size groups of 4 (since session 10)
# unless the arm sets --backbone-batch / MASKRT_BACKBONE_BATCH: not comparable to earlier sessions' batch-16 rows.
# Everything lands in $OUT/round.tgz (one file back); summaries are printed, the benchmark table last.
set -uo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?OUT must name the output folder}"
W=/tmp/round; rm -rf $W; mkdir -p $W
t0=$(date +%s)
stamp() { echo "== [$(( $(date +%s) - t0 )) s] $*"; }
if [ "${CHECK:-1}" = 1 ]; then  # CHECK=0: no gpu tests (an A/B-only round after one that ran them)
stamp "gpu_check"
BENCH_ITERS=10 timeout ${CHECK_S:-360} scripts/gpu_check.sh > $W/gpu_check.log 2>&1; echo "gpu_check exit $?" | tee -a $W/gpu_check.log
grep -E "tests passed|FAILED|ctest exit|built in" $W/gpu_check.log
cp build-gpu.ctest.log $W/ 2>/dev/null; grep -h "\[ graph" build-gpu.ctest.log | head -30
fi
stamp "device_bench"
OUT=$W/bench SKIP_CPU=1 ITERS=${ITERS:-30} timeout ${BENCH_S:-200} scripts/device_bench.sh > $W/bench.log 2>&1
M=/tmp/r50_bench
if [ "${EVAL:-1}" = 1 ]; then
stamp "eval default model"
OUT=$W/eval BUILD_DIR=build-gpu BACKENDS="cuda:fp32 cuda:fp16" WORKERS=16 timeout 90 scripts/eval_default_model.sh 2>&1 | tee $W/eval.log
fi
if [ "${AB_GRAPH:-1}" = 1 ]; then
stamp "conv path A/B + plans"
# graph path off (session 3's paths); the default-path numbers are device_bench's runs above
for pb in fp16:1 fp16:16 tf32:16; do
  prec=${pb%%:*}; b=${pb#*:}; f=$W/ab_${prec}_graph0_b$b.json
  MASKRT_CONV_GRAPH=0 timeout 40 build-gpu/maskrt bench --config $M/config.yaml --weights $M/model.pkl \
    --images $M/image.png --format json --device cuda --precision $prec --iterations 30 --batch $b -o $f 2>/dev/null
  python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['runs'][0]; print('$prec MASKRT_CONV_GRAPH=0 batch=$b', 'median %.3f ms, %.1f img/s, engine creation %.0f ms' % (r['stats']['median'], r['throughput_img_s'], r['engine_creation_ms']))" $f
done
MASKRT_CUDNN_LOG=1 timeout 30 build-gpu/maskrt bench --config $M/config.yaml --weights $M/model.pkl --images $M/image.png --format json --device cuda --precision fp16 --iterations 3 -o $W/plans.json > /dev/null 2> $W/plans_fp16.log
grep -c "graph" $W/plans_fp16.log; grep -o "planning [0-9.]* ms host" $W/plans_fp16.log | awk '{s+=$2} END {print "graph planning host ms (fp16, one size):", s, "layers:", NR}'
MASKRT_CUDNN_LOG=1 timeout 30 build-gpu/maskrt bench --config $M/config.yaml --weights $M/model.pkl --images $M/image.png --format json --device cuda --precision tf32 --iterations 3 -o $W/plans_tf32.json > /dev/null 2> $W/plans_tf32.log
grep -E "cudnn plan" $W/plans_tf32.log | grep -oE ": (graph[a-z-]*|gemm|im2col-gemm|cudnn) " | sort | uniq -c
fi
if [ "${AB_STREAMS:-0}" = 1 ]; then
stamp "concurrent streams A/B (fp16 and tf32 batch 16)"
for pb in fp16:1 fp16:0 tf32:1 tf32:0; do
  prec=${pb%%:*}; st=${pb#*:}; f=$W/ab_streams_${prec}_s$st.json
  timeout 40 build-gpu/maskrt bench --config $M/config.yaml --weights $M/model.pkl --images $M/image.png --format json \
    --device cuda --precision $prec --iterations 30 --batch 16 --cuda-streams $st -o $f 2>/dev/null
  python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['runs'][0]; print('$prec batch 16 --cuda-streams $st (0 = default)', 'median %.3f ms, %.1f img/s, beyond context %s MiB' % (r['stats']['median'], r['throughput_img_s'], r['gpu'].get('mem_peak_beyond_context_mib')))" $f
done
fi
if [ "${AB_S2D:-0}" = 1 ]; then
stamp "space-to-depth stem A/B (fp16; MASKRT_STEM_S2D alternated)"
for s2d in 0 1; do
  MASKRT_STEM_S2D=$s2d MASKRT_CUDNN_LOG=1 timeout 30 build-gpu/maskrt bench --config $M/config.yaml --weights $M/model.pkl \
    --images $M/image.png --format json --device cuda --precision fp16 --iterations 3 -o $W/s2d_plans$s2d.json 2>&1 >/dev/null \
    | grep "cudnn plan backbone.bottom_up.stem" | cut -c1-220
done
for rep_i in 1 2; do for s2d in 0 1; do for b in 1 16; do
  f=$W/ab_s2d${s2d}_b${b}_r$rep_i.json
  MASKRT_STEM_S2D=$s2d timeout 40 build-gpu/maskrt bench --config $M/config.yaml --weights $M/model.pkl --images $M/image.png \
    --format json --device cuda --precision fp16 --iterations 30 --batch $b -o $f 2>/dev/null
  python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['runs'][0]; print('fp16 MASKRT_STEM_S2D=$s2d batch $b run $rep_i', 'median %.3f ms, %.1f img/s' % (r['stats']['median'], r['throughput_img_s']))" $f
done; done; done
MASKRT_STEM_S2D=1 OUT=$W/eval_s2d BUILD_DIR=build-gpu BACKENDS="cuda:fp16" WORKERS=16 timeout 60 scripts/eval_default_model.sh 2>&1 | tail -2
fi
if [ "${AB_BBATCH:-0}" = 1 ]; then
BB=${BBATCH_BATCH:-16}
stamp "batched backbone A/B (MASKRT_BACKBONE_BATCH ${BBATCH_VALUES:-1 4 8}; batch $BB)"
for rep_i in $(seq ${AB_REPS:-2}); do for prec in fp16 tf32; do for nb in ${BBATCH_VALUES:-1 4 8}; do
  f=$W/ab_bbatch${nb}_${prec}_r$rep_i.json
  # =1 set explicitly: unset, the CLI's default from --batch 16 is groups of 4 (since session 10)
  env MASKRT_BACKBONE_BATCH=$nb timeout $(( 40 * (BB + 15) / 16 )) build-gpu/maskrt bench --config $M/config.yaml \
    --weights $M/model.pkl --images $M/image.png --format json --device cuda --precision $prec --iterations 30 --batch $BB \
    -o $f 2>$W/ab_bbatch${nb}_${prec}_r$rep_i.log
  python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['runs'][0]; print('$prec batch $BB MASKRT_BACKBONE_BATCH=$nb run $rep_i', 'median %.3f ms, %.1f img/s, beyond context %s MiB' % (r['stats']['median'], r['throughput_img_s'], r['gpu'].get('mem_peak_beyond_context_mib')))" $f \
    || tail -3 $W/ab_bbatch${nb}_${prec}_r$rep_i.log
done; done; done
fi
if [ "${AB_TF32NHWC:-0}" = 1 ]; then
stamp "NHWC tf32 A/B (MASKRT_TF32_NHWC 0/1 alternated)"
for rep_i in 1 2; do for v in 0 1; do for b in 1 16; do
  f=$W/ab_tf32nhwc${v}_b${b}_r$rep_i.json
  MASKRT_TF32_NHWC=$v timeout 60 build-gpu/maskrt bench --config $M/config.yaml --weights $M/model.pkl --images $M/image.png \
    --format json --device cuda --precision tf32 --iterations 30 --batch $b -o $f 2>$W/ab_tf32nhwc${v}_b${b}_r$rep_i.log
  python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['runs'][0]; print('tf32 MASKRT_TF32_NHWC=$v batch $b run $rep_i', 'median %.3f ms, %.1f img/s, beyond context %s MiB' % (r['stats']['median'], r['throughput_img_s'], r['gpu'].get('mem_peak_beyond_context_mib')))" $f \
    || tail -3 $W/ab_tf32nhwc${v}_b${b}_r$rep_i.log
done; done; done
fi
if [ "${AB_RPNTOPK:-0}" = 1 ]; then
stamp "RPN top-k A/B (MASKRT_RPN_TOPK sort/select) + the Detectron2 goldens with select"
MASKRT_RPN_TOPK=select timeout 120 ctest --test-dir build-gpu -L gpu -R "CudaParity|RpnProposals|RpnTopk" --output-on-failure \
  > $W/rpntopk_ctest.log 2>&1; echo "ctest (MASKRT_RPN_TOPK=select) exit $?"; grep -E "tests passed|Failed" $W/rpntopk_ctest.log | tail -5
for rep_i in 1 2; do for v in sort select; do for b in 1 16; do
  f=$W/ab_rpntopk_${v}_b${b}_r$rep_i.json
  MASKRT_RPN_TOPK=$v timeout 40 build-gpu/maskrt bench --config $M/config.yaml --weights $M/model.pkl --images $M/image.png \
    --format json --device cuda --precision fp16 --iterations 30 --batch $b -o $f 2>/dev/null
  python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['runs'][0]; print('fp16 MASKRT_RPN_TOPK=$v batch $b run $rep_i', 'median %.3f ms, %.1f img/s' % (r['stats']['median'], r['throughput_img_s']))" $f
done; done; done
fi
if [ "${AB_BATCHSIZE:-0}" = 1 ]; then
stamp "batch size A/B (--batch 16/32/64 x --backbone-batch 1/4; fp16, tf32)"
for prec in fp16 tf32; do for b in 16 32 64; do for bb in 1 4; do
  f=$W/ab_batch${b}_bb${bb}_${prec}.json
  timeout 60 build-gpu/maskrt bench --config $M/config.yaml --weights $M/model.pkl --images $M/image.png --format json \
    --device cuda --precision $prec --iterations $((480 / b)) --batch $b --backbone-batch $bb -o $f 2>$W/ab_batch${b}_bb${bb}_${prec}.log
  python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['runs'][0]; hw=r.get('host_wait') or {}; print('$prec --batch $b --backbone-batch $bb', 'median %.3f ms, %.1f img/s, gpu util %s%%, host waits %.0f%% of a call, beyond context %s MiB' % (r['stats']['median'], r['throughput_img_s'], r['gpu'].get('util_mean_pct'), 100 * hw.get('share_median', -0.01), r['gpu'].get('mem_peak_beyond_context_mib')))" $f \
    || tail -3 $W/ab_batch${b}_bb${bb}_${prec}.log
done; done; done
# lanes against groups: batch 16 in groups of 4 is 4 units over the default 3 streams (2-1-1)
for st in 2 4; do
  f=$W/ab_batch16_bb4_fp16_streams$st.json
  timeout 60 build-gpu/maskrt bench --config $M/config.yaml --weights $M/model.pkl --images $M/image.png --format json \
    --device cuda --precision fp16 --iterations 30 --batch 16 --backbone-batch 4 --cuda-streams $st -o $f 2>/dev/null
  python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['runs'][0]; hw=r.get('host_wait') or {}; print('fp16 --batch 16 --backbone-batch 4 --cuda-streams $st', 'median %.3f ms, %.1f img/s, gpu util %s%%, host waits %.0f%% of a call' % (r['stats']['median'], r['throughput_img_s'], r['gpu'].get('util_mean_pct'), 100 * hw.get('share_median', -0.01)))" $f
done
fi
if [ "${INVARIANCE:-0}" = 1 ]; then
stamp "batch invariance of fp16 conv configurations (bench/bench_batch_invariance.cpp)"
cmake --build build-gpu -j "$(nproc)" --target bench_batch_invariance > $W/invariance_build.log 2>&1 \
  && timeout 120 build-gpu/bench_batch_invariance > $W/invariance.md 2>&1; echo "bench_batch_invariance exit $?"
tail -3 $W/invariance.md
timeout 240 ctest --test-dir build-gpu -L gpu -R "BackboneBatch" --output-on-failure > $W/pin_ctest.log 2>&1
echo "ctest BackboneBatch (incl. PinnedGroupsEqualSingleImagesBitForBit) exit $?"; grep -E "tests passed|Failed|FAILED" $W/pin_ctest.log | tail -6
for rep_i in 1 2; do for pin in 0 1; do for pb in fp16:64 tf32:32; do
  prec=${pb%%:*}; b=${pb#*:}; f=$W/ab_pin${pin}_${prec}_b${b}_r$rep_i.json
  MASKRT_BACKBONE_BATCH_PIN=$pin timeout 60 build-gpu/maskrt bench --config $M/config.yaml --weights $M/model.pkl \
    --images $M/image.png --format json --device cuda --precision $prec --iterations $((960 / b)) --batch $b \
    --backbone-batch 4 -o $f 2>/dev/null
  python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['runs'][0]; print('$prec --batch $b --backbone-batch 4 MASKRT_BACKBONE_BATCH_PIN=$pin run $rep_i', 'median %.3f ms, %.1f img/s' % (r['stats']['median'], r['throughput_img_s']))" $f
done; done; done
fi
if [ "${AB_DEFAULTS:-0}" = 1 ]; then
stamp "batch defaults A/B (session 10: the CLI groups same-size images by default for --batch >= 2; pinned)"
for rep_i in $(seq 1 ${DEF_REPS:-2}); do for mode in default nogroups unpinned; do for pb in ${DEF_RUNS:-fp16:64 tf32:32 fp16:16}; do
  prec=${pb%%:*}; b=${pb#*:}; f=$W/ab_defaults_${mode}_${prec}_b${b}_r$rep_i.json
  envs=(); extra=(); case $mode in nogroups) extra=(--backbone-batch 1);; unpinned) envs=(MASKRT_BACKBONE_BATCH_PIN=0);; esac
  env "${envs[@]}" timeout 60 build-gpu/maskrt bench --config $M/config.yaml --weights $M/model.pkl --images $M/image.png \
    --format json --device cuda --precision $prec --iterations $((960 / b)) --batch $b "${extra[@]}" -o $f 2>/dev/null
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); r=d['runs'][0]; print('$prec --batch $b $mode run $rep_i', 'backbone_batch', d['metadata']['options'].get('backbone_batch'), 'median %.3f ms, %.1f img/s, beyond ctx %s MiB' % (r['stats']['median'], r['throughput_img_s'], r['gpu'].get('mem_peak_beyond_context_mib')))" $f
done; done; done
fi
if [ "${AB_COMBO:-0}" = 1 ]; then
stamp "opt-in combination A/B (fp16; MASKRT_STEM_S2D / MASKRT_RPN_TOPK=select; batch 64 groups of 4, batch 16)"
MASKRT_STEM_S2D=1 timeout 120 ctest --test-dir build-gpu -L gpu -R "CudaParity|StemS2d|BackboneBatch" --output-on-failure \
  > $W/combo_s2d_ctest.log 2>&1; echo "ctest (MASKRT_STEM_S2D=1) exit $?"; grep -E "tests passed|Failed" $W/combo_s2d_ctest.log | tail -5
for rep_i in 1 2; do for combo in none s2d select both; do for bb in 64:4 16:1; do
  b=${bb%%:*}; g=${bb#*:}; f=$W/ab_combo_${combo}_b${b}_bb${g}_r$rep_i.json
  envs=(); case $combo in s2d) envs=(MASKRT_STEM_S2D=1);; select) envs=(MASKRT_RPN_TOPK=select);;
    both) envs=(MASKRT_STEM_S2D=1 MASKRT_RPN_TOPK=select);; esac
  env "${envs[@]}" timeout 60 build-gpu/maskrt bench --config $M/config.yaml --weights $M/model.pkl --images $M/image.png \
    --format json --device cuda --precision fp16 --iterations $((960 / b)) --batch $b --backbone-batch $g -o $f 2>/dev/null
  python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['runs'][0]; print('fp16 $combo --batch $b --backbone-batch $g run $rep_i', 'median %.3f ms, %.1f img/s, gpu util %s%%' % (r['stats']['median'], r['throughput_img_s'], r['gpu'].get('util_mean_pct')))" $f
done; done; done
fi
if [ "${PROFILE:-0}" = 1 ]; then
stamp "kernel profile (ncu, fp16, one steady-state image)"
OUT=$W MODEL_DIR=$M PRECISIONS=fp16 TOP=${TOP:-30} timeout ${PROFILE_S:-120} scripts/profile_kernels.sh > $W/profile.log 2>&1
head -25 $W/ncu_fp16.md 2>/dev/null || tail -5 $W/profile.log
if [ "${PROFILE_BATCH:-0}" = 1 ]; then
  OUT=$W MODEL_DIR=$M PRECISIONS=fp16 BATCH=16 BBATCH=4 TOP=${TOP:-30} timeout ${PROFILE_S:-120} scripts/profile_kernels.sh > $W/profile_b16.log 2>&1
  head -25 $W/ncu_fp16_b16_bb4.md 2>/dev/null || tail -5 $W/profile_b16.log
fi
fi
# memory breakdown of the benchmark runs (Engine::memory_report via maskrt bench)
(cd $W/bench && tar xzf reports.tgz 2>/dev/null; for f in mrt_*.json; do python3 -c "
import json,sys
for r in json.load(open(sys.argv[1]))['runs'][:1]:
    print(sys.argv[1], r.get('label'), 'beyond ctx', r['gpu'].get('mem_peak_beyond_context_mib'), {k: v for k, v in r.get('memory', {}).items() if not isinstance(v, (dict, list))})
" $f; done)
stamp "done"
(cd $W && tar czf $OUT/round.tgz .)
cat $W/bench.log | tail -40
