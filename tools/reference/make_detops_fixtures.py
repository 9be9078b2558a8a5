#!/usr/bin/env python3
"""Writes the detection-op fixtures in tests/unit/data/detops/ by running the real libraries.

Oracles: pycocotools.mask.encode (rle.json), torchvision.ops.roi_align / nms (roi_align.json,
nms.json), and Detectron2's own code (DefaultAnchorGenerator, Box2BoxTransform, paste_masks_in_image;
anchors.json, box_transform.json, paste_mask.json). Everything is seeded; floats are stored as their
exact float32 bit patterns (one hex string, 8 digits per value) so the C++ tests can compare bit-exactly where that is the
contract.

Run (Detectron2 is read from a source checkout, it need not be installed):
    PYTHONPATH=/work/d2src python3 tools/reference/make_detops_fixtures.py [--only rle,nms,...]
"""
import argparse
import json
import os
import platform
import struct
import sys
import warnings

import numpy as np

warnings.filterwarnings("ignore")

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "unit", "data", "detops")


def f32hex(a):
    """float32 array -> one string of 8-hex-digit bit patterns, C order (exact and compact)."""
    a = np.ascontiguousarray(np.asarray(a, dtype=np.float32)).reshape(-1)
    return "".join(format(int(v), "08x") for v in a.view(np.uint32))


def meta(extra=None):
    import torch
    m = {"generator": "tools/reference/make_detops_fixtures.py",
         "command": "PYTHONPATH=/work/d2src python3 tools/reference/make_detops_fixtures.py",
         "python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__}
    if extra:
        m.update(extra)
    return m


def write(name, obj):
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


# ---------------------------------------------------------------------------------------------- RLE
def make_rle():
    import pycocotools
    from pycocotools import mask as mask_util
    rng = np.random.default_rng(1234)
    cases = []

    def add(name, m):
        m = np.asarray(m, dtype=np.uint8)
        enc = mask_util.encode(np.asfortranarray(m))
        cases.append({"name": name, "h": int(m.shape[0]), "w": int(m.shape[1]),
                      "mask_rowmajor": "".join("1" if v else "0" for v in m.reshape(-1)),
                      "counts": enc["counts"].decode("ascii"), "area": int(mask_util.area(enc))})

    add("zeros_5x7", np.zeros((5, 7)))
    add("ones_5x7", np.ones((5, 7)))
    add("single_pixel_top_left", np.pad(np.ones((1, 1)), ((0, 6), (0, 5))))
    add("single_pixel_bottom_right", np.pad(np.ones((1, 1)), ((6, 0), (5, 0))))
    add("row_1x9", (rng.random((1, 9)) > 0.5))
    add("col_9x1", (rng.random((9, 1)) > 0.5))
    for i, (h, w, p) in enumerate([(8, 8, 0.5), (13, 17, 0.3), (20, 11, 0.9), (31, 29, 0.05)]):
        add(f"random_{h}x{w}_{i}", rng.random((h, w)) < p)
    # Long runs: multi-group values and negative deltas.
    big = np.zeros((70, 45), np.uint8)
    big[10:60, 5:40] = 1
    big[30:32, 10:35] = 0
    big[0, :] = 1
    add("rects_70x45", big)
    blob = np.zeros((40, 60), np.uint8)
    yy, xx = np.mgrid[:40, :60]
    blob[(yy - 18) ** 2 / 200 + (xx - 30) ** 2 / 600 < 1] = 1
    add("ellipse_40x60", blob)
    write("rle.json", {"meta": meta({"pycocotools": getattr(pycocotools, "__version__", "unknown")}), "cases": cases})


def lcg_stream(seed):
    """Integer stream shared with the C++ tests (tests/unit/test_nms.cpp: Lcg): s = s*1664525 + 1013904223 mod 2^32,
    yielding s >> 8. Lets a test rebuild large inputs instead of storing them."""
    s = seed & 0xFFFFFFFF
    while True:
        s = (s * 1664525 + 1013904223) & 0xFFFFFFFF
        yield s >> 8


def lcg_boxes(seed, n, span, max_wh):
    """Boxes with coordinates float32(int)/float32(7) (exact, identical in C++), scores i/n shuffled (distinct)."""
    g = lcg_stream(seed)
    seven = np.float32(7)
    boxes = np.zeros((n, 4), np.float32)
    for i in range(n):
        x = next(g) % span; y = next(g) % span; w = 1 + next(g) % max_wh; h = 1 + next(g) % max_wh
        boxes[i] = [np.float32(x) / seven, np.float32(y) / seven, np.float32(x + w) / seven, np.float32(y + h) / seven]
    perm = list(range(n))
    for i in range(n - 1, 0, -1):  # Fisher-Yates with the same stream
        j = next(g) % (i + 1)
        perm[i], perm[j] = perm[j], perm[i]
    scores = (np.array(perm, np.float32) + np.float32(1)) / np.float32(n)
    return boxes, scores, g


# ---------------------------------------------------------------------------------------------- NMS
def make_nms():
    import torch
    import torchvision
    from torchvision.ops import nms, batched_nms
    cases = []
    # (name, seed, n, span, max_wh, classes, thr, batched)
    specs = [("single_200", 11, 200, 700, 400, 1, 0.5, False),
             ("single_150_thr07", 12, 150, 500, 400, 1, 0.7, False),
             ("batched_trick_300", 13, 300, 3000, 600, 4, 0.5, True),
             ("batched_vanilla_1100", 14, 1100, 3000, 600, 6, 0.7, True)]
    for name, seed, n, span, max_wh, ncls, thr, batched in specs:
        boxes, scores, g = lcg_boxes(seed, n, span, max_wh)
        idxs = np.array([next(g) % ncls for _ in range(n)], np.int64)
        tb, ts, ti = torch.from_numpy(boxes), torch.from_numpy(scores), torch.from_numpy(idxs)
        keep = (batched_nms(tb, ts, ti, thr) if batched else nms(tb, ts, thr)).tolist()
        c = {"name": name, "seed": seed, "n": n, "span": span, "max_wh": max_wh, "classes": ncls,
             "iou_threshold": thr, "batched": batched, "keep": keep,
             "boxes_check": f32hex(boxes[:4]), "scores_check": f32hex(scores[:4])}
        if batched:  # informational: does the coordinate trick change the result for this case?
            per_class = torchvision.ops.boxes._batched_nms_vanilla(tb, ts, ti, thr).tolist()
            c["vanilla_differs"] = per_class != keep
        cases.append(c)
    write("nms.json", {"meta": meta({"torchvision": torchvision.__version__}), "cases": cases})


# ----------------------------------------------------------------------------------------- ROIAlign
def make_roi_align():
    import torch
    import torchvision
    from torchvision.ops import roi_align
    rng = np.random.default_rng(2024)
    cases = []

    def add(name, feat, rois, out_hw, scale, sr, aligned):
        feat = np.asarray(feat, np.float32)
        rois = np.asarray(rois, np.float32).reshape(-1, 4)
        r5 = torch.cat([torch.zeros(len(rois), 1), torch.from_numpy(rois)], 1)
        out = roi_align(torch.from_numpy(feat)[None], r5, out_hw, spatial_scale=scale, sampling_ratio=sr,
                        aligned=aligned).numpy()
        assert np.isfinite(out).all()
        cases.append({"name": name, "features_shape": list(feat.shape), "features": f32hex(feat),
                      "rois": f32hex(rois), "out_h": out_hw[0], "out_w": out_hw[1], "spatial_scale": scale,
                      "sampling_ratio": sr, "aligned": aligned, "out": f32hex(out)})

    # failure-cases.md example: 1x1x5x5 map 0..24, ROI (0,0,2,2), 4x4, scale 1, sampling 2, aligned.
    add("failure_case_5x5", np.arange(25, dtype=np.float32).reshape(1, 5, 5), [[0, 0, 2, 2]], (4, 4), 1.0, 2, True)
    add("failure_case_5x5_unaligned", np.arange(25, dtype=np.float32).reshape(1, 5, 5), [[0, 0, 2, 2]], (4, 4), 1.0, 2,
        False)
    feat = rng.standard_normal((1, 9, 11)).astype(np.float32)
    rois = []
    for _ in range(10):  # ordinary boxes in a 44x36-pixel image (scale 0.25)
        x0, y0 = rng.uniform(-4, 40), rng.uniform(-4, 32)
        rois.append([x0, y0, x0 + rng.uniform(0.5, 30), y0 + rng.uniform(0.5, 25)])
    rois += [[10, 10, 10, 20],       # zero width
             [12.3, 7.1, 12.4, 7.15],  # sub-pixel
             [30, 20, 5, 25],        # inverted x (aligned + adaptive would crash torchvision; only used with sr > 0)
             [30, 30, 5, 5],         # inverted x and y
             [-40, -30, -20, -10],   # outside the image (top-left)
             [50, 40, 90, 80],       # outside (bottom-right)
             [-8, -8, 60, 50],       # covers more than the image
             [43, 35, 44, 36]]       # last pixel
    rois = np.array(rois, np.float32)
    adaptive_ok = np.array([not (r[2] < r[0]) != (r[3] < r[1]) for r in rois])  # avoid torchvision's crash
    add("v2_adaptive_7x7_s4", feat, rois[adaptive_ok], (7, 7), 0.25, 0, True)
    add("v1_sr2_4x4_s4", feat, rois, (4, 4), 0.25, 2, False)
    add("v1_adaptive_3x5_s4", feat, rois[adaptive_ok], (3, 5), 0.25, 0, False)
    add("v2_sr2_3x5_s2", rng.standard_normal((2, 6, 7)).astype(np.float32),
        np.array([[1.3, 2.2, 9.7, 11.1], [0, 0, 14, 12], [5, 5, 5.2, 9], [13, 11, 2, 1]], np.float32), (3, 5), 0.5, 2,
        True)
    write("roi_align.json", {"meta": meta({"torchvision": torchvision.__version__}), "cases": cases})


# -------------------------------------------------------------------------------- anchors (Detectron2)
def make_anchors():
    import torch
    from detectron2.modeling.anchor_generator import DefaultAnchorGenerator
    cases = []
    specs = [("fpn_offset0", [[32], [64], [128], [256], [512]], [[0.5, 1.0, 2.0]], [4, 8, 16, 32, 64], 0.0,
              [(2, 3), (3, 5), (1, 1), (2, 2), (1, 2)]),
             ("offset_half_multi", [[32, 40.5]], [[0.25, 1.0, 1.5]], [8, 16], 0.5, [(2, 3), (3, 2)])]
    for name, sizes, ratios, strides, offset, shapes in specs:
        gen = DefaultAnchorGenerator(sizes=sizes, aspect_ratios=ratios, strides=strides, offset=offset)
        feats = [torch.zeros(1, 1, h, w) for h, w in shapes]
        levels = gen(feats)
        lv = []
        for li, ((h, w), b) in enumerate(zip(shapes, levels)):
            lsizes = sizes[li] if len(sizes) > 1 else sizes[0]
            lratios = ratios[li] if len(ratios) > 1 else ratios[0]
            lv.append({"sizes": lsizes, "aspect_ratios": lratios, "stride": strides[li], "feat_h": h, "feat_w": w,
                       "anchors": f32hex(b.tensor.numpy())})
        cases.append({"name": name, "offset": offset, "levels": lv})
    write("anchors.json", {"meta": meta({"detectron2": "/work/d2src (source checkout)"}), "cases": cases})


# -------------------------------------------------------------------------- box transform (Detectron2)
def make_box_transform():
    import torch
    from detectron2.modeling.box_regression import Box2BoxTransform
    from detectron2.structures import Boxes
    rng = np.random.default_rng(77)
    cases = []
    for name, weights, R, K in [("rpn_w1", (1.0, 1.0, 1.0, 1.0), 40, 1), ("roi_w10_10_5_5", (10.0, 10.0, 5.0, 5.0), 24, 3)]:
        x0 = rng.uniform(-50, 900, R); y0 = rng.uniform(-50, 700, R)
        boxes = np.stack([x0, y0, x0 + rng.uniform(0, 400, R), y0 + rng.uniform(0, 300, R)], 1).astype(np.float32)
        boxes[0, 2] = boxes[0, 0]  # zero width
        deltas = (rng.standard_normal((R, 4 * K)) * np.array([1, 1, 1.5, 1.5] * K) * np.array(weights * K)).astype(np.float32)
        deltas[1, 2] = 60.0 * weights[2]   # far above the clamp
        deltas[2, 3] = 4.135166556742356 * weights[3]  # at the clamp (after the division)
        deltas[3, 2:4] = -30.0 * weights[2]
        t = Box2BoxTransform(weights=weights)
        out = t.apply_deltas(torch.from_numpy(deltas), torch.from_numpy(boxes))
        b = Boxes(out.reshape(-1, 4).clone())
        b.clip((600, 800))
        cases.append({"name": name, "weights": list(weights), "R": R, "K": K, "boxes": f32hex(boxes),
                      "deltas": f32hex(deltas), "out": f32hex(out.numpy()), "clip_hw": [600, 800],
                      "clipped": f32hex(b.tensor.numpy())})
    write("box_transform.json", {"meta": meta({"detectron2": "/work/d2src (source checkout)"}), "cases": cases})


# ---------------------------------------------------------------------------- paste mask (Detectron2)
def make_paste_mask():
    import torch
    from pycocotools import mask as mask_util
    from detectron2.layers.mask_ops import paste_masks_in_image
    rng = np.random.default_rng(99)
    cases = []

    def add(name, m, box, img_hw):
        m = np.asarray(m, np.float32)
        box = np.asarray(box, np.float32).reshape(1, 4)
        full = paste_masks_in_image(torch.from_numpy(m)[None], torch.from_numpy(box), img_hw, threshold=0.5)[0]
        full = full.numpy().astype(np.uint8)
        enc = mask_util.encode(np.asfortranarray(full))
        cases.append({"name": name, "mask_size": int(m.shape[0]), "mask": f32hex(m), "box": f32hex(box),
                      "img_h": img_hw[0], "img_w": img_hw[1], "rle": enc["counts"].decode("ascii"),
                      "area": int(full.sum())})

    def soft(M):
        z = rng.standard_normal((M, M)).astype(np.float32) * 3
        yy, xx = np.mgrid[:M, :M]
        z += (4 - 8 * (((yy - M / 2) / M) ** 2 + ((xx - M / 2) / M) ** 2) * 4).astype(np.float32)
        return (1 / (1 + np.exp(-z))).astype(np.float32)

    M = 14
    add("random_inside", soft(M), [7.3, 5.6, 31.9, 27.2], (40, 50))
    add("touch_right_bottom", soft(M), [30.2, 20.7, 50.0, 40.0], (40, 50))
    add("touch_left_top", soft(M), [0.0, 0.0, 12.6, 9.4], (40, 50))
    add("partly_outside", soft(M), [-6.5, 30.25, 20.75, 55.5], (40, 50))
    add("one_pixel_box", soft(M), [10.0, 11.0, 11.0, 12.0], (40, 50))
    add("sub_pixel_box", np.full((M, M), 0.9, np.float32), [10.2, 11.3, 10.6, 11.9], (40, 50))
    # values exactly 0.5 and neighbours: decisions depend on the float order of the interpolation
    half = np.full((M, M), 0.5, np.float32)
    half[::2, ::3] = 0.5000001
    half[1::3, ::2] = 0.4999999
    add("near_half_a", half, [3.0, 4.0, 33.0, 29.0], (40, 50))
    add("near_half_b", half, [2.37, 1.91, 45.13, 38.77], (40, 50))
    add("constant_half", np.full((M, M), 0.5, np.float32), [5.5, 6.25, 26.75, 30.5], (40, 50))
    add("m28_large_image", soft(28), [120.4, 80.9, 230.2, 201.6], (300, 400))
    write("paste_mask.json", {"meta": meta({"detectron2": "/work/d2src (source checkout)"}), "cases": cases})


MAKERS = {"rle": make_rle, "nms": make_nms, "roi_align": make_roi_align, "anchors": make_anchors,
          "box_transform": make_box_transform, "paste_mask": make_paste_mask}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="", help="comma-separated subset of: " + ",".join(MAKERS))
    args = ap.parse_args()
    names = [n for n in args.only.split(",") if n] or list(MAKERS)
    for n in names:
        MAKERS[n]()


if __name__ == "__main__":
    sys.exit(main())
