#!/usr/bin/env python3
"""Generates tests/unit/data/resize/: Pillow bilinear resize fixtures for tests/unit/test_resize.cpp.

Oracle: PIL.Image.resize((new_w, new_h), Image.BILINEAR), the call Detectron2's ResizeTransform makes
for uint8 images, and Detectron2's ResizeShortestEdge.get_output_shape formula (re-typed below from
detectron2/data/transforms/augmentation_impl.py, and cross-checked against the installed detectron2
if it is importable).

Files:
  manifest.json         versions, the command, and one entry per case
  <name>.in.bin         input pixels, uint8 HWC, row-major
  <name>.out.bin        Pillow's output pixels, uint8 HWC
  shapes.json           get_output_shape cases: [h, w, min_size, max_size, new_h, new_w]

Run from the repository root:  python3 tools/reference/make_resize_fixtures.py
"""
import json
import os
import sys
import zlib

import numpy as np
import PIL
from PIL import Image

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "unit", "data", "resize")
MODES = {1: "L", 3: "RGB"}


def smooth(rng, h, w, c):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    chans = []
    for _ in range(c):
        fy, fx, ph = rng.uniform(0.02, 0.4), rng.uniform(0.02, 0.4), rng.uniform(0, 6.3)
        chans.append(127.5 + 127.5 * np.sin(fx * xx + ph) * np.cos(fy * yy + ph / 2))
    return np.clip(np.rint(np.stack(chans, -1)), 0, 255).astype(np.uint8)


def random(rng, h, w, c):
    img = rng.integers(0, 256, size=(h, w, c), dtype=np.uint8)
    # Saturated patches exercise the clipping between and after the passes.
    img[: max(1, h // 4), : max(1, w // 4)] = 255
    img[h - max(1, h // 5):, w - max(1, w // 3):] = 0
    return img


def pattern(h, w):
    """Closed-form uint8 test image, regenerated bit-for-bit by test_resize.cpp."""
    y, x, c = np.mgrid[0:h, 0:w, 0:3].astype(np.int64)
    return ((3 * x + 5 * y + 85 * c + ((x * y) >> 4)) & 255).astype(np.uint8)


def get_output_shape(oldh, oldw, short_edge_length, max_size):
    # Detectron2's formula (ResizeShortestEdge.get_output_shape), Python floats.
    h, w = oldh, oldw
    size = short_edge_length * 1.0
    scale = size / min(h, w)
    if h < w:
        newh, neww = size, scale * w
    else:
        newh, neww = scale * h, size
    if max(newh, neww) > max_size:
        scale = max_size * 1.0 / max(newh, neww)
        newh = newh * scale
        neww = neww * scale
    return int(newh + 0.5), int(neww + 0.5)


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if f.endswith(".bin") or f.endswith(".json"):
            os.remove(os.path.join(OUT, f))
    rng = np.random.default_rng(20240601)
    # (in_h, in_w, out_h, out_w, channels, kind)
    cases = [
        (13, 17, 29, 41, 3, "random"),        # upscale, odd
        (41, 29, 13, 17, 3, "random"),        # downscale, odd (antialias support)
        (37, 53, 11, 7, 3, "random"),         # strong downscale
        (64, 48, 21, 16, 3, "smooth"),        # 3x downscale
        (25, 25, 25, 60, 3, "random"),        # horizontal only (upscale)
        (25, 25, 60, 25, 3, "random"),        # vertical only (upscale)
        (31, 50, 31, 9, 3, "random"),         # horizontal only (downscale)
        (50, 31, 9, 31, 3, "random"),         # vertical only (downscale)
        (1, 1, 5, 7, 3, "random"),            # 1-pixel input
        (9, 11, 1, 1, 3, "random"),           # 1-pixel output
        (1, 40, 3, 13, 3, "random"),          # 1-row input
        (40, 1, 13, 3, 3, "random"),          # 1-column input
        (2, 300, 5, 120, 3, "random"),        # extreme aspect ratio, wide
        (300, 2, 120, 5, 3, "random"),        # extreme aspect ratio, tall
        (250, 2, 40, 3, 3, "random"),         # tall, downscaled 6x vertically
        (19, 23, 19, 23, 3, "random"),        # same size (copy)
        (20, 30, 33, 19, 3, "random"),        # up in one axis, down in the other
        (30, 20, 19, 33, 3, "smooth"),
        (24, 36, 17, 25, 1, "random"),        # grayscale ("L")
        (17, 25, 40, 51, 1, "smooth"),
        (101, 67, 35, 97, 3, "smooth"),
        (8, 8, 1000, 3, 3, "random"),         # large upscale factor
        # Pillow 13 pass order: vertical first iff oh < h and (h - oh) > 2 * (w - ow).
        (40, 30, 21, 21, 3, "random"),        # dh = 19, dw = 9: 19 > 18 -> vertical first
        (40, 30, 22, 21, 3, "random"),        # dh = 18 = 2 * dw -> horizontal first
        (40, 30, 23, 21, 3, "random"),        # dh = 17 -> horizontal first
        (30, 20, 19, 33, 3, "random"),        # height down, width up -> vertical first
        (20, 30, 33, 19, 3, "random"),        # height up, width down -> horizontal first
    ]
    for i in range(30):  # seeded random sweep
        ih, iw = int(rng.integers(1, 48)), int(rng.integers(1, 48))
        oh, ow = int(rng.integers(1, 60)), int(rng.integers(1, 60))
        cases.append((ih, iw, oh, ow, 3, "random" if i % 2 else "smooth"))

    entries = []
    total = 0
    for idx, (ih, iw, oh, ow, c, kind) in enumerate(cases):
        img = (smooth if kind == "smooth" else random)(rng, ih, iw, c)
        pil = Image.fromarray(img[:, :, 0] if c == 1 else img)
        assert pil.mode == MODES[c]
        res = np.asarray(pil.resize((ow, oh), Image.BILINEAR))
        if c == 1:
            res = res[:, :, None]
        assert res.shape == (oh, ow, c), res.shape
        name = f"case{idx:02d}_{ih}x{iw}_to_{oh}x{ow}_c{c}"
        img.tofile(os.path.join(OUT, name + ".in.bin"))
        res.tofile(os.path.join(OUT, name + ".out.bin"))
        total += img.nbytes + res.nbytes
        entries.append(dict(name=name, in_h=ih, in_w=iw, out_h=oh, out_w=ow, channels=c, kind=kind))

    # Full-size cases (Detectron2's default 800/1333 on common photo sizes). Too big to store, so the
    # input is a closed-form integer pattern that the C++ test regenerates, and only the CRC-32 of
    # Pillow's output is stored.
    big = []
    for (ih, iw) in [(480, 640), (1080, 1920), (3000, 4000), (500, 375)]:
        oh, ow = get_output_shape(ih, iw, 800, 1333)
        img = pattern(ih, iw)
        res = np.ascontiguousarray(np.asarray(Image.fromarray(img).resize((ow, oh), Image.BILINEAR)))
        big.append(dict(in_h=ih, in_w=iw, out_h=oh, out_w=ow, channels=3,
                        out_crc32=zlib.crc32(res.tobytes()) & 0xFFFFFFFF))

    shapes = []
    for (h, w) in [(480, 640), (640, 480), (1080, 1920), (1920, 1080), (3000, 4000), (427, 640),
                   (500, 375), (1, 1), (1, 5000), (5000, 1), (799, 800), (333, 500), (612, 612),
                   (481, 640), (479, 639), (2, 3)]:
        for (mn, mx) in [(800, 1333), (640, 1000), (1024, 1024), (600, 1000000), (1, 1), (37, 51)]:
            shapes.append([h, w, mn, mx, *get_output_shape(h, w, mn, mx)])
    try:  # cross-check the re-typed formula against the real detectron2 when it is importable
        sys.path.insert(0, "/work/d2src")
        from detectron2.data.transforms import ResizeShortestEdge
        for h, w, mn, mx, nh, nw in shapes:
            assert tuple(ResizeShortestEdge.get_output_shape(h, w, mn, mx)) == (nh, nw)
        checked = "detectron2 ResizeShortestEdge.get_output_shape (cross-checked)"
    except ImportError:
        checked = "re-typed formula only (detectron2 not importable)"

    with open(os.path.join(OUT, "shapes.json"), "w") as f:
        json.dump(dict(source=checked, cases=shapes), f)
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(dict(generator="tools/reference/make_resize_fixtures.py",
                       command="python3 tools/reference/make_resize_fixtures.py",
                       pillow=PIL.__version__, numpy=np.__version__,
                       call="Image.fromarray(x).resize((out_w, out_h), Image.BILINEAR)",
                       layout="uint8 HWC row-major raw", cases=entries,
                       pattern="v(y,x,c) = (3*x + 5*y + 85*c + ((x*y) >> 4)) & 255",
                       pattern_cases=big), f, indent=1)
    print(f"{len(entries)} resize cases, {total / 1024:.0f} KiB of pixels, {len(shapes)} shape cases")


if __name__ == "__main__":
    main()
