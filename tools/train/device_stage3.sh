#!/usr/bin/env bash
# Stage 3 of models/default: continue training from models/default/model.pkl on 2 GPUs, in ONE call
# of the device run tool (see tools/train/README.md, "Stage 3"):
#
#   run tool: kind "nvidia-h200-x2", carry ["d2src", ".whl"], timeout_s 570,
#             command "bash tools/train/device_stage3.sh"
#
# Everything (wheel install, data set, training, export, Detectron2 evaluation) is timed against one
# clock: training ends at T0 + TOTAL_S - RESERVE_S (train_shapes.py --deadline), which leaves RESERVE_S
# for the export and the rank-0 evaluation (~21 s for 300 val images on one H200) and a margin.
# $OUT receives exactly: model_final.pkl, config.yaml, metrics.json, train_log.txt. The model and
# config are written before the evaluation starts, so they come back even if the evaluation is cut.
#
# DRY=1 runs the same flow on a CPU-only machine (tiny data set, 2 gloo processes, small images,
# no wheel install) to check the script; OUT defaults to /tmp/stage3_dry there.
set -euo pipefail
T0=$(date +%s)
TOTAL_S=${TOTAL_S:-550}    # all done by T0 + TOTAL_S (the call's limit is 570 s)
RESERVE_S=${RESERVE_S:-60} # export + evaluation (~22 s) + process exit + margin
DRY=${DRY:-0}
if [ "$DRY" = 1 ]; then OUT=${OUT:-/tmp/stage3_dry}; fi
: "${OUT:?OUT must name the output folder}"
source tools/train/device_common.sh
stage_start "# stage 3 (from models/default/model.pkl; 2 processes, tools/train/device_stage3.sh)"
say "NCCL env: $(env | grep '^NCCL_' | tr '\n' ' ')"
make_shapes_data /tmp/stage3_dry_shapes

# Recipe (tools/train/README.md): 2 processes x 8 images (total batch 16), base LR 0.03, fresh
# 100-iteration warmup, cosine to 0 over the measured budget, AMP, 7 loader workers per process.
if [ "$DRY" = 1 ]; then
    python3 tools/train/train_shapes.py --data $DATA --out "$OUT" --device cpu --num-gpus 2 --workers 1 \
        --init-weights models/default/model.pkl --batch 2 --lr 0.03 --warmup-iters 4 \
        --train-seconds 480 --deadline $DEADLINE --max-iter 10 --probe-iters 6 --probe-skip 2 --log-period 2 \
        --opts INPUT.MIN_SIZE_TRAIN "(128,160)" INPUT.MAX_SIZE_TRAIN 224 INPUT.MIN_SIZE_TEST 160 INPUT.MAX_SIZE_TEST 224
else
    python3 tools/train/train_shapes.py --data $DATA --out "$OUT" --num-gpus 2 --workers 7 \
        --init-weights models/default/model.pkl --batch 16 --lr 0.03 --warmup-iters 100 \
        --train-seconds 480 --deadline $DEADLINE --max-iter 8000 --probe-iters 100 --probe-skip 40 --log-period 100
fi
say "done $(( $(date +%s) - T0 )) s after start"
ls -l "$OUT"
