#!/usr/bin/env python3
"""Writes the detection-op fixtures in tests/unit/data/detops/ by running the real libraries.

Oracles: pycocotools.mask.encode (rle.json), torchvision.ops.roi_align / nms (roi_align.json,
nms.json), and Detectron2's own code (DefaultAnchorGenerator, Box2BoxTransform, paste_masks_in_image;
anchors.json, box_transform.json, paste_mask.json). Everything is seeded; floats are stored as their
exact float32 bit patterns (hex uint32) so the C++ tests can compare bit-exactly where that is the
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
    """float32 array -> list of 8-hex-digit bit patterns (exact)."""
    a = np.ascontiguousarray(np.asarray(a, dtype=np.float32)).reshape(-1)
    return [format(int(v), "08x") for v in a.view(np.uint32)]


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


MAKERS = {"rle": make_rle}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="", help="comma-separated subset of: " + ",".join(MAKERS))
    args = ap.parse_args()
    names = [n for n in args.only.split(",") if n] or list(MAKERS)
    for n in names:
        MAKERS[n]()


if __name__ == "__main__":
    sys.exit(main())
