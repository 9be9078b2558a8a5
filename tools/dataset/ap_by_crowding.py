#!/usr/bin/env python3
"""COCO box / mask AP of one set of detections, split by how crowded each image is.

  python3 tools/dataset/ap_by_crowding.py --annotations VAL.json --detections DETS.json [--threshold 100]

DETS.json is a COCO results list, e.g. from `maskrt eval ... --save-detections DETS.json` (for infer's
RESULTS.json, first `maskrt eval --annotations VAL.json --results RESULTS.json --save-detections DETS.json`).
Prints a markdown table, values in percent: AP, AP50, AP75, APs/m/l and AR@100 for all images, for the
images with at most --threshold ground-truth instances and for those with more, using pycocotools' COCOeval as Detectron2's COCOEvaluator calls it (for mask AP
the `bbox` field of each result is dropped, so the area ranges use the mask area, as Detectron2 does).

Why: COCO AP counts at most 100 detections per image (maxDets) and Detectron2 returns at most
TEST.DETECTIONS_PER_IMAGE (100), so images holding more than 100 instances cannot reach full recall; on
the shapes val split 14 such images hold 46 % of all instances (models/default/MODEL_CARD.md).
"""
import argparse
import contextlib
import io
import json
import sys

try:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
except ImportError:
    sys.exit("ap_by_crowding.py: needs pycocotools (pip install pycocotools)")


def evaluate(gt, results, iou_type, img_ids):
    dets = json.loads(results)  # a fresh copy: loadRes changes the dicts it is given
    if iou_type == "segm":
        for d in dets:
            d.pop("bbox", None)
    if not dets:
        return None
    with contextlib.redirect_stdout(io.StringIO()):
        dt = gt.loadRes(dets)
        ev = COCOeval(gt, dt, iou_type)
        ev.params.imgIds = img_ids
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats


def fail(msg):
    sys.exit(f"ap_by_crowding.py: {msg}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--annotations", required=True, help="COCO instances json (ground truth)")
    ap.add_argument("--detections", required=True, help="COCO results json")
    ap.add_argument("--threshold", type=int, default=100, help="instances per image that split the set (default 100)")
    a = ap.parse_args()
    for path in (a.annotations, a.detections):
        try:
            open(path).close()
        except OSError as e:
            fail(f"{path}: cannot open ({e.strerror})")
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            gt = COCO(a.annotations)
    except Exception as e:  # pycocotools asserts on a non-COCO file
        fail(f"{a.annotations}: not a COCO instances file ({type(e).__name__}: {e})")
    results = open(a.detections).read()
    try:
        parsed = json.loads(results)
    except ValueError as e:
        fail(f"{a.detections}: not JSON ({e})")
    if not isinstance(parsed, list) or any(not isinstance(d, dict) for d in parsed):
        hint = " (this looks like maskrt infer's RESULTS.json: convert it with `maskrt eval --annotations " \
               "ANN.json --results RESULTS.json --save-detections DETS.json`)" if isinstance(parsed, dict) and \
               "images" in parsed else ""
        fail(f"{a.detections}: expected a COCO results list [{{image_id, category_id, score, bbox, "
             f"segmentation}}, ...]{hint}")
    count = {i: len(gt.getAnnIds(imgIds=[i])) for i in gt.getImgIds()}
    groups = [
        ("all images", sorted(count)),
        (f"<= {a.threshold} instances", sorted(i for i, c in count.items() if c <= a.threshold)),
        (f"> {a.threshold} instances", sorted(i for i, c in count.items() if c > a.threshold)),
    ]
    print("| images | n | instances | task | AP | AP50 | AP75 | APs | APm | APl | AR@100 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, ids in groups:
        if not ids:
            print(f"| {name} | 0 | 0 | | | | | | | | |")
            continue
        for t in ("bbox", "segm"):
            s = evaluate(gt, results, t, ids)
            vals = " | ".join("-" if s is None or s[k] < 0 else "%.2f" % (100 * s[k]) for k in (0, 1, 2, 3, 4, 5, 8))
            print(f"| {name} | {len(ids)} | {sum(count[i] for i in ids)} | {t} | {vals} |")


if __name__ == "__main__":
    main()
