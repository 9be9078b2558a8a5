#!/usr/bin/env python3
"""Generates tests/unit/data/coco_eval/: pycocotools COCOeval fixtures for tests/unit/test_coco_eval.cpp.

Oracle: pycocotools (COCO, COCO.loadRes, COCOeval.evaluate/accumulate/summarize, mask.frPyObjects,
mask.merge, mask.toBbox, mask.area) run on small seeded data sets.

Files:
  gt.json                  COCO ground truth: 7 images of different sizes, 5 categories with
                           non-contiguous ids (one without any GT, one without detections), polygon GT
                           (some with several parts, some cut by the image border, tiny to large), RLE GT
                           (compressed strings and uncompressed count lists), crowd regions (iscrowd=1),
                           an image without GT, and an image with 130 detections (maxDets cut).
  results_full.json        results with bbox + RLE segmentation; scores rounded to 0.05 (many ties)
  (mask_only / bbox_only cases: results_full.json with every "bbox" / "segmentation" removed; pycocotools
   then takes area and bbox from the mask / uses the box polygon as the mask)
  expected.json            versions, command, and per case / IoU type: stats (COCOeval.stats),
                           recall (eval['recall'], shape T,K,A,M, row-major), per_category_ap
                           (Detectron2's definition: mean of precision[:, :, k, 0, -1] > -1, null if none)
  gt_random.json, results_random.json   30 images, polygon GT (crowd ones too) and polygon results
                           (jittered GT; box-only false positives, 120 on one image), scores in 0.1 steps
  raster.json              polygons -> pycocotools RLE strings (frPyObjects + merge), with toBbox and area
  bad/*.json               malformed annotation / results files for the error-message tests

Cases in expected.json:
  full/bbox, full/segm_detectron2 (bbox removed from results before loadRes, as Detectron2's
  COCOEvaluator does), full/segm_loadres (results as they are: areas from the boxes),
  mask_only/{bbox,segm}, bbox_only/{bbox,segm}, random/{bbox,segm_loadres} (pycocotools' loadRes cannot take
  polygon results without bbox, so no segm_detectron2 there), no_dets/{bbox,segm} (no results at all: pycocotools'
  loadRes cannot take an empty list, so the result COCO object is built directly).

Run from the repository root:  python3 tools/reference/make_cocoeval_fixtures.py
"""
import contextlib
import copy
import io
import json
import os
import sys

import numpy as np
import pycocotools
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "unit", "data", "coco_eval")
SEED = 20240607

IMAGES = [  # id, height, width
    (3, 120, 160), (5, 96, 96), (8, 150, 110), (11, 64, 200), (12, 220, 260), (20, 80, 120), (21, 140, 140)]
CATEGORIES = [(1, "circle"), (3, "square"), (7, "star"), (10, "no_detections"), (15, "no_ground_truth")]
IMAGE_WITHOUT_GT = 11
IMAGE_MANY_DETS = 21


def polygon(rng, cx, cy, r, n):
    ang = np.sort(rng.uniform(0, 2 * np.pi, n))
    rad = r * rng.uniform(0.6, 1.0, n)
    pts = np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], 1)
    return [round(float(v), 2) for v in pts.reshape(-1)]


def encode(rle):
    out = dict(rle)
    out["counts"] = rle["counts"].decode("ascii")
    return out


def poly_rle(polys, h, w):
    return mask_utils.merge(mask_utils.frPyObjects(polys, h, w))


def make_gt(rng):
    anns = []
    next_id = 1
    for img_id, h, w in IMAGES:
        if img_id == IMAGE_WITHOUT_GT:
            continue
        n = int(rng.integers(3, 7))
        for j in range(n):
            cat = int(rng.choice([1, 3, 7, 10]))
            size_class = rng.choice(["tiny", "small", "medium", "large"])
            if j == 0 and img_id in (12, 21):
                size_class = "large"
            r = {"tiny": rng.uniform(1.5, 3), "small": rng.uniform(3, 14), "medium": rng.uniform(18, 40),
                 "large": rng.uniform(75, 100)}[size_class]
            # centres may lie near or beyond the border so that objects are cut
            cx, cy = rng.uniform(-0.1, 1.1) * w, rng.uniform(-0.1, 1.1) * h
            if size_class == "large":
                cx, cy = rng.uniform(0.35, 0.65) * w, rng.uniform(0.35, 0.65) * h
            kind = "poly" if j == 0 else rng.choice(["poly", "poly", "poly", "multipoly", "rle_str", "rle_list", "crowd"],
                              p=[0.25, 0.2, 0.15, 0.15, 0.1, 0.05, 0.1])
            polys = [polygon(rng, cx, cy, r, int(rng.integers(3, 12)))]
            if kind == "multipoly":
                polys.append(polygon(rng, cx + r * 1.5, cy, r * 0.5, int(rng.integers(3, 8))))
            rle = poly_rle(polys, h, w)
            area = float(mask_utils.area(rle))
            if area == 0:
                continue
            bbox = [round(float(v), 2) for v in mask_utils.toBbox(rle)]
            ann = {"id": next_id, "image_id": img_id, "category_id": cat, "iscrowd": 0, "area": area, "bbox": bbox}
            if kind in ("poly", "multipoly"):
                ann["segmentation"] = polys
                # COCO's polygon bbox is the polygon extent, clipped here to the image
                xs, ys = np.array(sum((p[0::2] for p in polys), [])), np.array(sum((p[1::2] for p in polys), []))
                x0, y0 = max(0.0, xs.min()), max(0.0, ys.min())
                x1, y1 = min(float(w), xs.max()), min(float(h), ys.max())
                ann["bbox"] = [round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2)]
            elif kind == "rle_str":
                ann["segmentation"] = encode(rle)
            else:  # uncompressed counts, as COCO stores crowd regions
                m = mask_utils.decode(rle)
                counts, prev, run = [], 0, 0
                for v in m.flatten(order="F"):
                    if v != prev:
                        counts.append(run)
                        run, prev = 0, v
                    run += 1
                counts.append(run)
                ann["segmentation"] = {"size": [h, w], "counts": [int(c) for c in counts]}
                ann["iscrowd"] = 1 if kind == "crowd" else 0
            anns.append(ann)
            next_id += 1
    return {
        "info": {"description": "maskrt COCOeval fixture"},
        "images": [{"id": i, "height": h, "width": w, "file_name": f"{i:06d}.jpg"} for i, h, w in IMAGES],
        "categories": [{"id": c, "name": n} for c, n in CATEGORIES],
        "annotations": anns,
    }


def score(rng, lo=1, hi=21):
    return round(float(rng.integers(lo, hi)) * 0.05, 2)  # 0.05 .. 1.0: many ties


def make_results(rng, gt):
    sizes = {i: (h, w) for i, h, w in IMAGES}
    res = []
    coco = COCO()
    coco.dataset = copy.deepcopy(gt)
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()

    def add(img_id, cat, polys, box_jitter=0.0, score_range=(1, 21)):
        h, w = sizes[img_id]
        add_rle(img_id, cat, poly_rle(polys, h, w), box_jitter, score_range)

    def add_mask(img_id, cat, m, box_jitter=0.0):
        add_rle(img_id, cat, mask_utils.encode(np.asfortranarray(m.astype(np.uint8))), box_jitter)

    def add_rle(img_id, cat, rle, box_jitter, score_range=(1, 21)):
        if mask_utils.area(rle) == 0:
            return
        bb = [float(v) for v in mask_utils.toBbox(rle)]
        if box_jitter:
            bb = [bb[0] + rng.normal(0, box_jitter), bb[1] + rng.normal(0, box_jitter),
                  max(0.5, bb[2] * rng.uniform(0.85, 1.15)), max(0.5, bb[3] * rng.uniform(0.85, 1.15))]
        res.append({"image_id": img_id, "category_id": cat, "bbox": [round(v, 2) for v in bb],
                    "score": score(rng, *score_range), "segmentation": encode(rle)})

    for ann in gt["annotations"]:
        if ann["category_id"] == 10:
            continue  # category 10 has GT but no detections
        img = coco.imgs[ann["image_id"]]
        h, w = img["height"], img["width"]
        m = coco.annToMask(ann)
        r = max(1.5, np.sqrt(ann["area"] / np.pi))
        for _ in range(int(rng.integers(0, 4))):
            cat = ann["category_id"] if rng.uniform() < 0.85 else int(rng.choice([1, 3, 7, 15]))
            if rng.uniform() < 0.7:  # the GT mask shifted by a few pixels: IoUs spread over 0.3 .. 1
                dx, dy = (int(v) for v in np.rint(rng.normal(0, 0.15 * r, 2)))
                shifted = np.zeros_like(m)
                ys, xs = np.nonzero(m)
                ys, xs = ys + dy, xs + dx
                keep = (ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)
                shifted[ys[keep], xs[keep]] = 1
                if shifted.sum() == 0:
                    continue
                add_mask(img["id"], cat, shifted, box_jitter=rng.uniform(0, 2))
            else:
                ys, xs = np.nonzero(m)
                cx, cy = xs.mean() + 0.5, ys.mean() + 0.5
                add(img["id"], cat, [polygon(rng, cx + rng.normal(0, 0.2 * r), cy + rng.normal(0, 0.2 * r),
                                             r * rng.uniform(0.8, 1.3), int(rng.integers(5, 14)))],
                    box_jitter=rng.uniform(0, 2))
    for img_id, h, w in IMAGES:  # false positives everywhere, including the image without GT
        for _ in range(int(rng.integers(1, 5))):
            add(img_id, int(rng.choice([1, 3, 7, 15])),
                [polygon(rng, rng.uniform(0, w), rng.uniform(0, h), rng.uniform(2, 40), int(rng.integers(3, 10)))])
    h, w = sizes[IMAGE_MANY_DETS]
    for _ in range(130):  # more than maxDets=100 on one image and category
        add(IMAGE_MANY_DETS, 3, [polygon(rng, rng.uniform(0, w), rng.uniform(0, h), rng.uniform(2, 12), 4)],
            score_range=(1, 7))
    order = rng.permutation(len(res))  # results files are not sorted by image
    return [res[i] for i in order]


def run_eval(gt_dict, results, iou_type, drop_bbox=False):
    coco_gt = COCO()
    coco_gt.dataset = copy.deepcopy(gt_dict)
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt.createIndex()
        results = copy.deepcopy(results)
        if drop_bbox:
            for r in results:
                r.pop("bbox", None)
        if results:
            coco_dt = coco_gt.loadRes(results)
        else:
            coco_dt = COCO()
            coco_dt.dataset = {"images": copy.deepcopy(gt_dict["images"]),
                               "categories": copy.deepcopy(gt_dict["categories"]), "annotations": []}
            coco_dt.createIndex()
        ev = COCOeval(coco_gt, coco_dt, iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    prec = ev.eval["precision"]
    per_cat = []
    for k in range(prec.shape[2]):
        p = prec[:, :, k, 0, -1]
        p = p[p > -1]
        per_cat.append(float(np.mean(p)) if p.size else None)
    return {"stats": [float(s) for s in ev.stats], "category_ids": [int(c) for c in ev.params.catIds],
            "per_category_ap": per_cat, "recall": [float(v) for v in ev.eval["recall"].reshape(-1)],
            "recall_shape": list(ev.eval["recall"].shape)}


def make_random_set(rng):
    """A larger set, all polygons (GT and results; crowd GT as polygons too), coarse scores."""
    images, anns, res = [], [], []
    for img_id in range(1, 31):
        h, w = int(rng.integers(40, 300)), int(rng.integers(40, 300))
        images.append({"id": img_id, "height": h, "width": w})
        for _ in range(int(rng.integers(0, 9))):
            r = float(np.exp(rng.uniform(np.log(2), np.log(max(3, min(h, w) / 2)))))
            poly = polygon(rng, rng.uniform(0, w), rng.uniform(0, h), r, int(rng.integers(3, 9)))
            rle = poly_rle([poly], h, w)
            area = float(mask_utils.area(rle))
            if area == 0:
                continue
            xs, ys = poly[0::2], poly[1::2]
            cat = int(rng.integers(1, 7))
            anns.append({"id": len(anns) + 1, "image_id": img_id, "category_id": cat, "area": area,
                         "iscrowd": int(rng.uniform() < 0.08), "segmentation": [poly],
                         "bbox": [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]})
            for _ in range(int(rng.integers(0, 4))):
                jit = np.array(poly) + rng.normal(0, 0.12 * r, len(poly))
                jp = [round(float(v), 1) for v in jit]
                jx, jy = jp[0::2], jp[1::2]
                res.append({"image_id": img_id, "category_id": cat if rng.uniform() < 0.9 else int(rng.integers(1, 7)),
                            "bbox": [min(jx), min(jy), round(max(jx) - min(jx), 2), round(max(jy) - min(jy), 2)],
                            "score": round(float(rng.integers(1, 11)) * 0.1, 1), "segmentation": [jp]})
        n_fp = 120 if img_id == 7 else int(rng.integers(0, 4))
        for _ in range(n_fp):
            x, y = rng.uniform(0, w), rng.uniform(0, h)
            bw, bh = rng.uniform(1, w / 3), rng.uniform(1, h / 3)
            bb = [round(float(v), 2) for v in (x, y, bw, bh)]
            # no segmentation: loadRes uses the box polygon
            res.append({"image_id": img_id, "category_id": int(rng.integers(1, 7)), "bbox": bb,
                        "score": round(float(rng.integers(1, 11)) * 0.1, 1)})
    gt = {"images": images, "annotations": anns,
          "categories": [{"id": c, "name": f"c{c}"} for c in range(1, 8)]}  # category 7: no GT
    order = rng.permutation(len(res))
    return gt, [res[i] for i in order]


def make_raster(rng):
    cases = []
    shapes = [(37, 53), (64, 64), (20, 90)]
    for i in range(40):
        h, w = shapes[i % len(shapes)]
        n = int(rng.integers(3, 15))
        polys = [polygon(rng, rng.uniform(-5, w + 5), rng.uniform(-5, h + 5), rng.uniform(0.3, 40), n)]
        if i % 5 == 0:  # a repeated vertex (zero-length edge)
            polys[0] = polys[0][:2] + polys[0]
        if i % 7 == 0:  # two parts
            polys.append(polygon(rng, rng.uniform(0, w), rng.uniform(0, h), rng.uniform(1, 15), 6))
        if i % 9 == 0:  # integer and half-integer vertices
            polys[0] = [round(v * 2) / 2 for v in polys[0]]
        rle = poly_rle(polys, h, w)
        cases.append({"h": h, "w": w, "polygons": polys, "counts": rle["counts"].decode("ascii"),
                      "area": int(mask_utils.area(rle)), "bbox": [float(v) for v in mask_utils.toBbox(rle)]})
    return cases


def write_bad_files():
    bad = os.path.join(OUT, "bad")
    os.makedirs(bad, exist_ok=True)
    img = {"id": 1, "height": 10, "width": 10}
    cat = {"id": 1, "name": "a"}
    ann = {"id": 4, "image_id": 1, "category_id": 1, "area": 4.0, "bbox": [1, 1, 2, 2], "iscrowd": 0}
    files = {
        "no_images.json": {"annotations": [], "categories": [cat]},
        "ann_missing_area.json": {"images": [img], "categories": [cat],
                                  "annotations": [{k: v for k, v in ann.items() if k != "area"}]},
        "ann_missing_iscrowd.json": {"images": [img], "categories": [cat],
                                     "annotations": [{k: v for k, v in ann.items() if k != "iscrowd"}]},
        "ann_unknown_image.json": {"images": [img], "categories": [cat], "annotations": [dict(ann, image_id=99)]},
        "ann_unknown_category.json": {"images": [img], "categories": [cat],
                                      "annotations": [dict(ann, category_id=42)]},
        "ann_bbox_wrong_type.json": {"images": [img], "categories": [cat], "annotations": [dict(ann, bbox="1,1,2,2")]},
        "ann_rle_wrong_size.json": {"images": [img], "categories": [cat],
                                    "annotations": [dict(ann, segmentation={"size": [10, 12], "counts": [120]})]},
        "ann_rle_bad_counts.json": {"images": [img], "categories": [cat],
                                    "annotations": [dict(ann, segmentation={"size": [10, 10], "counts": [5, 5]})]},
        "image_id_string.json": {"images": [{"id": "1", "height": 10, "width": 10}], "categories": [cat],
                                 "annotations": []},
        "results_unknown_category.json": [{"image_id": 1, "category_id": 42, "bbox": [1, 1, 2, 2], "score": 0.5}],
        "results_unknown_image.json": [{"image_id": 7, "category_id": 1, "bbox": [1, 1, 2, 2], "score": 0.5}],
        "results_missing_score.json": [{"image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2]}],
        "results_not_array.json": {"image_id": 1},
        "good_gt.json": {"images": [img], "categories": [cat], "annotations": [ann]},
    }
    for name, obj in files.items():
        with open(os.path.join(bad, name), "w") as f:
            json.dump(obj, f)
    with open(os.path.join(bad, "truncated.json"), "w") as f:
        f.write('{"images": [{"id": 1, "height"')


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(SEED)
    gt = make_gt(rng)
    results = make_results(rng, gt)
    mask_only = [{k: v for k, v in r.items() if k != "bbox"} for r in results]
    bbox_only = [{k: v for k, v in r.items() if k != "segmentation"} for r in results]

    def dump(name, obj):
        with open(os.path.join(OUT, name), "w") as f:
            json.dump(obj, f, separators=(",", ":"))

    dump("gt.json", gt)
    dump("results_full.json", results)
    expected = {
        "generator": "tools/reference/make_cocoeval_fixtures.py",
        "command": "python3 tools/reference/make_cocoeval_fixtures.py",
        "versions": {"python": sys.version.split()[0], "numpy": np.__version__,
                     "pycocotools": getattr(pycocotools, "__version__", "unknown")},
        "seed": SEED,
        "cases": {
            "full": {"results": "results_full.json",
                     "bbox": run_eval(gt, results, "bbox"),
                     "segm_detectron2": run_eval(gt, results, "segm", drop_bbox=True),
                     "segm_loadres": run_eval(gt, results, "segm")},
            "mask_only": {"results": "results_full.json without bbox",
                          "bbox": run_eval(gt, mask_only, "bbox"), "segm_loadres": run_eval(gt, mask_only, "segm")},
            "bbox_only": {"results": "results_full.json without segmentation",
                          "bbox": run_eval(gt, bbox_only, "bbox"), "segm_loadres": run_eval(gt, bbox_only, "segm")},
            "no_dets": {"results": None, "bbox": run_eval(gt, [], "bbox"), "segm_loadres": run_eval(gt, [], "segm")},
        },
    }
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, separators=(",", ":"))
    dump("raster.json", make_raster(rng))
    gt2, res2 = make_random_set(rng)
    dump("gt_random.json", gt2)
    dump("results_random.json", res2)
    expected["cases"]["random"] = {"gt": "gt_random.json", "results": "results_random.json",
                                   "bbox": run_eval(gt2, res2, "bbox"),
                                   "segm_loadres": run_eval(gt2, res2, "segm")}
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, separators=(",", ":"))
    write_bad_files()
    print("wrote", OUT, "with", len(gt["annotations"]), "GT and", len(results), "results")
    for case, v in expected["cases"].items():
        for t, r in v.items():
            if isinstance(r, dict):
                print(f"{case:10s} {t:16s}", " ".join(f"{s:.3f}" for s in r["stats"]))


if __name__ == "__main__":
    main()
