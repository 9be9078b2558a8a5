#!/usr/bin/env bash
# Stage 4 of models/default: continue training from models/default/model.pkl on NGPUS GPUs, each
# shared by PROCS DDP processes (train_shapes.py --num-gpus NGPUS --procs-per-gpu PROCS, gloo), in ONE
# call of the device run tool (see tools/train/README.md, "Stage 4"):
#
#   run tool: kind "nvidia-h200", carry ["d2src", ".whl"], timeout_s 600,
#             command "bash tools/train/device_stage4.sh"      (optional env: PROCS=4 TOTAL_S=560)
#   two GPUs: kind "nvidia-h200-x2", command "NGPUS=2 bash tools/train/device_stage4.sh"
#   (STAGE=N only labels the log: later stages continue from models/default the same way;
#    MPS=1 runs the processes under CUDA MPS, see below; TRAIN_OPTS="KEY VALUE ..." (values without
#    spaces) are passed to train_shapes.py --opts, e.g. a different INPUT.MIN_SIZE_TRAIN)
#
# Why: the training step is bound by Detectron2's per-image Python work on each process's main
# thread, not by the GPU, so several processes on one GPU should see more images per second.
# Recipe: NGPUS*PROCS processes x 8 images (total batch NGPUS*PROCS*8), base LR 0.03*sqrt(batch/16)
# capped at 0.05 (stage 3: 0.03 at 16), fresh 100-iteration warmup, cosine to 0 over the measured
# budget, AMP, max(1, (cores - processes) / processes) loader workers per process.
#
# Everything (wheel install, data set, training, export, Detectron2 evaluation) is timed against one
# clock: training ends at T0 + TOTAL_S - RESERVE_S (train_shapes.py --deadline), which leaves RESERVE_S
# for the export and the rank-0 evaluation (~21 s for 300 val images on one H200) and a margin.
# $OUT receives exactly: model_final.pkl, config.yaml, metrics.json, train_log.txt (the log has the
# measured images/s right after the probe). The model and config are written before the evaluation
# starts, so they come back even if the evaluation is cut.
#
# If the several-process run fails within FALLBACK_BEFORE_S (240) seconds, the call retrains with one
# process per GPU (stages 2 and 3's proven recipe: 8 images per GPU, NCCL between GPUs, LR 0.02 on one
# GPU, 0.03 on several) until the same deadline; the log says so.
#
# DRY=1 runs the same flow on a CPU-only machine (tiny data set, PROCS=2 processes sharing one
# "device" through the same spawn + gloo code with --device cpu, 1 small image each, no wheel
# install) to check the script; OUT defaults to /tmp/stage4_dry there. SIMULATE_MULTI_FAIL=1 makes the
# several-process run fail at once (an unknown option), to check the fallback.
set -euo pipefail
T0=$(date +%s)
TOTAL_S=${TOTAL_S:-560}    # all done by T0 + TOTAL_S (the call's limit is 600 s)
RESERVE_S=${RESERVE_S:-60} # export + evaluation (~22 s) + process exit + margin
DRY=${DRY:-0}
NGPUS=${NGPUS:-1}
if [ "$DRY" = 1 ]; then
    OUT=${OUT:-/tmp/stage4_dry}; PROCS=${PROCS:-2}; PER=1; NGPUS=1
else
    PROCS=${PROCS:-4}; PER=8
fi
: "${OUT:?OUT must name the output folder}"
NPROC_ALL=$((NGPUS * PROCS))
BATCH=$((NPROC_ALL * PER))
LR=$(python3 -c "import math; print(round(min(0.05, 0.03 * math.sqrt($BATCH / 16)), 5))")
CORES=$(nproc)
WORKERS=$(( (CORES - NPROC_ALL) / NPROC_ALL )); if [ "$WORKERS" -lt 1 ]; then WORKERS=1; fi
if [ "$DRY" = 1 ]; then WORKERS=1; fi  # the CPU check machine has 2 cores
source tools/train/device_common.sh
stage_start "# stage ${STAGE:-4} (from models/default/model.pkl; $NGPUS GPU(s) x $PROCS processes, tools/train/device_stage4.sh)"
say "GPUs $NGPUS, processes per GPU $PROCS, batch $BATCH ($PER per process), base LR $LR, $CORES cores, $WORKERS loader workers per process"
say "config overrides: ${TRAIN_OPTS:-none}"
say "GLOO/NCCL env: $(env | grep -E '^(GLOO|NCCL)_' | tr '\n' ' ')"
make_shapes_data /tmp/stage4_dry_shapes

# MPS=1: run the GPU's processes under CUDA MPS (nvidia-cuda-mps-control -d), so the PROCS processes
# sharing a GPU run their kernels concurrently instead of time-slicing contexts (stage 5's bound: each
# process's step, 0.625 s for 8 images, with the loader no longer waiting). Untried on the GPU machine
# (2026-11-29): when the daemon is missing or does not start, the log says so and training runs
# without it; a failed early run falls back without MPS too (see below).
MPS_ON=0
mps_stop() {
    if [ "$MPS_ON" = 1 ]; then echo quit | nvidia-cuda-mps-control > /dev/null 2>&1 || true; MPS_ON=0; say "MPS daemon stopped"; fi
    unset CUDA_MPS_PIPE_DIRECTORY CUDA_MPS_LOG_DIRECTORY
}
if [ "${MPS:-0}" = 1 ]; then
    if [ "$DRY" = 1 ]; then
        say "MPS=1 ignored in the CPU dry run"
    elif ! command -v nvidia-cuda-mps-control > /dev/null 2>&1; then
        say "MPS=1: nvidia-cuda-mps-control not found; training without MPS"
    else
        export CUDA_MPS_PIPE_DIRECTORY=/tmp/mps_pipe CUDA_MPS_LOG_DIRECTORY=/tmp/mps_log
        mkdir -p "$CUDA_MPS_PIPE_DIRECTORY" "$CUDA_MPS_LOG_DIRECTORY"
        if nvidia-cuda-mps-control -d > /dev/null 2>&1; then
            MPS_ON=1; trap mps_stop EXIT; say "MPS daemon started ($CUDA_MPS_PIPE_DIRECTORY)"
        else
            unset CUDA_MPS_PIPE_DIRECTORY CUDA_MPS_LOG_DIRECTORY
            say "MPS=1: nvidia-cuda-mps-control -d failed; training without MPS"
        fi
    fi
fi

# train PROCS_PER_GPU WORKERS BATCH LR: one training run on NGPUS GPUs (DRY: CPU, tiny images, few iterations).
train() {
    local procs=$1 workers=$2 batch=$3 lr=$4 extra=()
    [ "${SIMULATE_MULTI_FAIL:-0}" = 1 ] && [ "$procs" -gt 1 ] && extra=(--no-such-option)  # checks the fallback
    if [ "$DRY" = 1 ]; then
        python3 tools/train/train_shapes.py --data $DATA --out "$OUT" --device cpu --num-gpus 1 --procs-per-gpu $procs \
            --workers $workers --init-weights models/default/model.pkl --batch $batch --lr $lr --warmup-iters 4 \
            --train-seconds 480 --deadline $DEADLINE --max-iter 10 --probe-iters 6 --probe-skip 2 --log-period 2 \
            "${extra[@]}" \
            --opts INPUT.MIN_SIZE_TRAIN "(128,160)" INPUT.MAX_SIZE_TRAIN 224 INPUT.MIN_SIZE_TEST 160 INPUT.MAX_SIZE_TEST 224
    else
        python3 tools/train/train_shapes.py --data $DATA --out "$OUT" --num-gpus $NGPUS --procs-per-gpu $procs \
            --workers $workers --init-weights models/default/model.pkl --batch $batch --lr $lr --warmup-iters 100 \
            --train-seconds $((DEADLINE - $(date +%s))) --deadline $DEADLINE --max-iter 8000 --probe-iters 100 \
            --probe-skip 40 --log-period 100 "${extra[@]}" ${TRAIN_OPTS:+--opts $TRAIN_OPTS}
    fi
}

# Several processes on one GPU (gloo) have not run on a GPU before this stage: if that run fails early,
# the same call falls back to one process per GPU (stages 2 and 3's recipe: 8 images per GPU) rather
# than returning nothing. A failure after FALLBACK_BEFORE_S seconds is final.
FALLBACK_BEFORE_S=${FALLBACK_BEFORE_S:-240}
if ! train $PROCS $WORKERS $BATCH $LR; then
    elapsed=$(( $(date +%s) - T0 ))
    if [ "$PROCS" -gt 1 ] && [ "$elapsed" -lt "$FALLBACK_BEFORE_S" ]; then
        say "the $PROCS-process run failed $elapsed s after start; falling back to one process"
        mps_stop
        if [ "$DRY" = 1 ]; then train 1 1 $PER 0.02
        else
            FB_LR=0.02; [ "$NGPUS" -gt 1 ] && FB_LR=0.03
            train 1 $(( (CORES - NGPUS) / NGPUS )) $((8 * NGPUS)) $FB_LR
        fi
    else
        say "training failed $elapsed s after start"
        exit 1
    fi
fi
say "done $(( $(date +%s) - T0 )) s after start"
ls -l "$OUT"
