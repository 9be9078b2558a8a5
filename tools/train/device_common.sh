# Shared start of tools/train/device_stage*.sh (sourced, not run). The caller sets DRY (0/1), OUT, T0,
# TOTAL_S and RESERVE_S, then calls:
#   stage_start "HEADER"       output folder, $LOG (= $OUT/train_log.txt, HEADER appended), say();
#                              on the GPU machine (DRY != 1) the carried wheels (.whl/) into /tmp/site
#                              and the GPU list; exports D2_SRC (./d2src) and PYTHONUNBUFFERED
#   make_shapes_data DRY_DIR   the shapes data set as in every stage (seed 0; 3000 train / 300 val, or a
#                              tiny one in DRY_DIR when DRY=1) -> $DATA; sets $DEADLINE = T0 + TOTAL_S - RESERVE_S

say() { echo "[$(date +%H:%M:%S)] $*" | tee -a "$LOG"; }

stage_start() {
    mkdir -p "$OUT"
    LOG="$OUT/train_log.txt"
    echo "$1" >> "$LOG"
    if [ "$DRY" != 1 ]; then
        python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
        export PYTHONPATH=/tmp/site
        nvidia-smi -L 2>&1 | tee -a "$LOG" || true
    fi
    export D2_SRC="$PWD/d2src" PYTHONUNBUFFERED=1
}

make_shapes_data() {
    # Exactly as stages 1-3 (same arguments and seed, so val is the same 300 images).
    if [ "$DRY" = 1 ]; then
        DATA=$1
        python3 tools/dataset/make_shapes_dataset.py --out $DATA --num-train 24 --num-val 6 --seed 0 --workers 2 2>&1 | tail -n 3 | tee -a "$LOG"
    else
        DATA=/tmp/shapes
        python3 tools/dataset/make_shapes_dataset.py --out $DATA --num-train 3000 --num-val 300 --seed 0 --workers 16 2>&1 | tail -n 3 | tee -a "$LOG"
    fi
    DEADLINE=$((T0 + TOTAL_S - RESERVE_S))
    say "data set ready $(( $(date +%s) - T0 )) s after start; training must end by +$((DEADLINE - T0)) s"
}
