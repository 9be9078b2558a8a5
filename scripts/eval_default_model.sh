#!/usr/bin/env bash
# Accuracy of the embedded default model with `maskrt eval` on the shapes val split (issue 5 tables):
# regenerates the val split exactly as the model card says (seeded; train split skipped), then evaluates
# with each requested backend. Writes $OUT/eval_<backend>.json (METRICS.json) and prints AP lines.
#   BUILD_DIR=build-gpu BACKENDS="cpu cuda:fp32 cuda:tf32 cuda:fp16" scripts/eval_default_model.sh
# EVAL_ARGS adds arguments to every `maskrt eval` (e.g. "--batch 8": pipelined batches on CUDA).
# Needs: numpy, Pillow, scikit-image, pycocotools (the generator; installed from .whl/ when missing);
# a maskrt build in $BUILD_DIR.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out}; mkdir -p "$OUT"
BUILD=${BUILD_DIR:-build}
DATA=${DATA:-/tmp/shapes_val}
BACKENDS=${BACKENDS:-"cpu"}
# The generator needs pycocotools; on the GPU machine it comes from the carried wheel (.whl/, git-ignored).
if ! python3 -c "import pycocotools.mask" 2>/dev/null; then
  ls .whl/pycocotools-*.whl >/dev/null 2>&1 || { echo "pycocotools missing and no .whl/pycocotools-*.whl"; exit 1; }
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
if [ ! -f "$DATA/annotations/val.json" ]; then
  python3 tools/dataset/make_shapes_dataset.py --out "$DATA" --num-train 0 --num-val 300 --seed 0 \
    --workers "${WORKERS:-8}" || exit 1
fi
rc=0
for b in $BACKENDS; do
  dev=${b%%:*}; prec=fp32; [ "$dev" != "$b" ] && prec=${b#*:}
  t0=$(date +%s.%N)
  "$BUILD/maskrt" eval --annotations "$DATA/annotations/val.json" --images "$DATA/val" --device "$dev" \
    --precision "$prec" ${EVAL_ARGS:-} --output "$OUT/eval_${dev}_${prec}.json" > "$OUT/eval_${dev}_${prec}.log" 2>&1 || rc=1
  python3 - "$OUT/eval_${dev}_${prec}.json" "$b" "$t0" <<'PY' || rc=1
import json, sys, time
m = json.load(open(sys.argv[1]))
def pick(d):
    return " ".join("%s=%.2f" % (k, v) for k, v in d.items() if k in ("AP", "AP50", "AP75") and isinstance(v, (int, float)))
print("%-10s %5.1f s | bbox %s | segm %s" % (sys.argv[2], time.time() - float(sys.argv[3]),
      pick(m.get("bbox", {})), pick(m.get("segm", {}))))
PY
done
exit $rc
