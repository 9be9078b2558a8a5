#!/usr/bin/env python3
"""Synthetic COCO-format instance segmentation data set: circles, rectangles, triangles, stars, rings.

Deterministic: every image is drawn from its own generator seeded by (--seed, split, index), so the
output does not depend on the number of worker processes. See tools/dataset/README.md.

  python3 tools/dataset/make_shapes_dataset.py --out /tmp/shapes --num-train 2000 --num-val 200 --seed 0

Writes <out>/train/*.jpg|png, <out>/val/*.jpg|png and <out>/annotations/{train,val}.json. Masks are
COCO RLE (compressed strings) of the VISIBLE pixels of each object: later objects occlude earlier ones,
the hole of a ring shows what lies behind it, and objects cut by the image border keep only their
inside part. Objects with fewer than --min-visible visible pixels are not annotated.
"""
import argparse
import io
import json
import math
import os
import sys
import time
from multiprocessing import Pool

import numpy as np
from PIL import Image, ImageDraw
from pycocotools import mask as mask_utils

CATEGORIES = ["circle", "rectangle", "triangle", "star", "ring"]
SPLIT_SALT = {"train": 1, "val": 2}
# (width, height) aspect families: landscape, portrait, square, wide, tall
ASPECTS = [(4, 3), (3, 4), (1, 1), (16, 9), (9, 16), (3, 2), (2, 3)]

_PHOTOS = None  # per-process cache of background photos


def load_photos():
    """Real photos from scikit-image's bundled data, if scikit-image is installed; else []."""
    global _PHOTOS
    if _PHOTOS is not None:
        return _PHOTOS
    _PHOTOS = []
    try:
        import skimage.data as data
    except Exception:
        return _PHOTOS
    for name in ["astronaut", "coffee", "chelsea", "rocket", "camera", "coins", "brick", "grass", "gravel",
                 "hubble_deep_field", "immunohistochemistry", "moon", "colorwheel"]:
        try:
            a = getattr(data, name)()
        except Exception:
            continue
        if a.ndim == 2:
            a = np.stack([a] * 3, -1)
        _PHOTOS.append(np.ascontiguousarray(a[..., :3].astype(np.uint8)))
    return _PHOTOS


# ---------------------------------------------------------------- backgrounds
def gauss(rng, sigma, shape):
    return rng.standard_normal(shape, dtype=np.float32) * np.float32(sigma)


def ramp(h, w, ang):
    """x cos(ang) + y sin(ang) over the image, normalised to [0, 1], float32 (h, w)."""
    xx = np.arange(w, dtype=np.float32)[None, :] * np.float32(math.cos(ang))
    yy = np.arange(h, dtype=np.float32)[:, None] * np.float32(math.sin(ang))
    t = xx + yy
    lo, hi = float(t.min()), float(t.max())
    return (t - np.float32(lo)) / np.float32(max(1e-6, hi - lo))


def smooth_noise(rng, h, w, cells, channels=3):
    small = rng.uniform(0, 255, size=(max(2, int(h / w * cells)), cells, channels)).astype(np.uint8)
    return np.asarray(Image.fromarray(small).resize((w, h), Image.BICUBIC), dtype=np.float32)


def background(rng, h, w):
    kind = rng.choice(["noise", "gradient", "photo", "stripes", "flat_noise"], p=[0.25, 0.2, 0.35, 0.1, 0.1])
    photos = load_photos()
    if kind == "photo" and not photos:
        kind = "noise"
    if kind == "noise":
        img = smooth_noise(rng, h, w, int(rng.integers(3, 24))) * np.float32(0.8) + gauss(rng, 8, (h, w, 1))
    elif kind == "gradient":
        c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
        t = ramp(h, w, rng.uniform(0, 2 * np.pi))
        img = c0.astype(np.float32) + (c1 - c0).astype(np.float32) * t[..., None] + gauss(rng, 4, (h, w, 1))
    elif kind == "photo":
        p = photos[int(rng.integers(len(photos)))]
        ph, pw = p.shape[:2]
        scale = rng.uniform(0.35, 1.0)
        ch, cw = max(16, int(ph * scale)), max(16, int(pw * scale))
        y0, x0 = int(rng.integers(0, ph - ch + 1)), int(rng.integers(0, pw - cw + 1))
        crop = Image.fromarray(p[y0:y0 + ch, x0:x0 + cw])
        if rng.uniform() < 0.5:
            crop = crop.transpose(Image.FLIP_LEFT_RIGHT)
        img = np.asarray(crop.resize((w, h), Image.BILINEAR), dtype=np.float32)
        img = img * np.float32(rng.uniform(0.6, 1.1)) + rng.uniform(-20, 20, 3).astype(np.float32)
    elif kind == "stripes":
        c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
        ang, period = rng.uniform(0, np.pi), rng.uniform(6, 60)
        xx = np.arange(w, dtype=np.float32)[None, :] * np.float32(math.cos(ang))
        yy = np.arange(h, dtype=np.float32)[:, None] * np.float32(math.sin(ang))
        t = (np.sin((xx + yy) * np.float32(2 * np.pi / period)) > 0).astype(np.float32)
        img = c0.astype(np.float32) + (c1 - c0).astype(np.float32) * t[..., None] + gauss(rng, 6, (h, w, 1))
    else:
        img = rng.uniform(0, 255, 3).astype(np.float32) + gauss(rng, 18, (h, w, 3))
    return np.ascontiguousarray(img, dtype=np.float32)


# ---------------------------------------------------------------- shapes
def shape_geometry(rng, cls, cx, cy, size):
    """Returns ('ellipse', bbox) / ('polygon', points) / ('ring', outer_bbox, inner_bbox) in image pixels."""
    r = size / 2.0
    if cls == "circle":
        return ("ellipse", (cx - r, cy - r, cx + r, cy + r))
    if cls == "ring":
        ri = r * rng.uniform(0.35, 0.7)
        return ("ring", (cx - r, cy - r, cx + r, cy + r), (cx - ri, cy - ri, cx + ri, cy + ri))
    rot = rng.uniform(0, 2 * np.pi)
    if cls == "rectangle":
        aspect = rng.uniform(0.3, 1.0)
        hw, hh = r, r * aspect
        pts = [(-hw, -hh), (hw, -hh), (hw, hh), (-hw, hh)]
    elif cls == "triangle":
        angs = rot + np.array([0, 2 * np.pi / 3, 4 * np.pi / 3]) + rng.uniform(-0.35, 0.35, 3)
        return ("polygon", [(cx + r * math.cos(a), cy + r * math.sin(a)) for a in angs])
    else:  # star
        n = int(rng.integers(4, 8))
        inner = rng.uniform(0.35, 0.6)
        pts = []
        for i in range(2 * n):
            rad = r if i % 2 == 0 else r * inner
            a = np.pi * i / n
            pts.append((rad * math.cos(a), rad * math.sin(a)))
    c, s = math.cos(rot), math.sin(rot)
    return ("polygon", [(cx + x * c - y * s, cy + x * s + y * c) for x, y in pts])


def rasterize(geom, x0, y0, cw, ch):
    """Binary mask of the shape over the crop [x0, x0+cw) x [y0, y0+ch)."""
    im = Image.new("L", (cw, ch), 0)
    d = ImageDraw.Draw(im)
    if geom[0] == "ellipse":
        b = geom[1]
        d.ellipse((b[0] - x0, b[1] - y0, b[2] - x0 - 1, b[3] - y0 - 1), fill=1)
    elif geom[0] == "ring":
        b, bi = geom[1], geom[2]
        d.ellipse((b[0] - x0, b[1] - y0, b[2] - x0 - 1, b[3] - y0 - 1), fill=1)
        d.ellipse((bi[0] - x0, bi[1] - y0, bi[2] - x0 - 1, bi[3] - y0 - 1), fill=0)
    else:
        d.polygon([(x - x0, y - y0) for x, y in geom[1]], fill=1)
    return np.asarray(im, dtype=bool)


def geom_bounds(geom):
    if geom[0] in ("ellipse", "ring"):
        return geom[1]
    xs, ys = [p[0] for p in geom[1]], [p[1] for p in geom[1]]
    return (min(xs), min(ys), max(xs), max(ys))


def texture(rng, ch, cw):
    base = rng.uniform(0, 255, 3)
    kind = rng.choice(["flat", "stripes", "checker", "noise", "gradient"], p=[0.4, 0.15, 0.15, 0.15, 0.15])
    if kind == "flat":
        return np.broadcast_to(base.astype(np.float32), (ch, cw, 3))
    other = rng.uniform(0, 255, 3)
    yy, xx = np.mgrid[0:ch, 0:cw].astype(np.float32)
    if kind == "stripes":
        ang, period = rng.uniform(0, np.pi), rng.uniform(3, 16)
        t = (np.sin((xx * math.cos(ang) + yy * math.sin(ang)) * 2 * np.pi / period) > 0).astype(np.float32)
    elif kind == "checker":
        p = rng.uniform(3, 14)
        t = ((np.floor(xx / p) + np.floor(yy / p)) % 2).astype(np.float32)
    elif kind == "noise":
        t = rng.uniform(0, 1, (ch, cw)).astype(np.float32) * 0.6
    else:
        t = xx / max(1, cw - 1)
    return base + (other - base) * t[..., None]


# ---------------------------------------------------------------- one image
def image_size(rng):
    aw, ah = ASPECTS[int(rng.integers(len(ASPECTS)))]
    long_side = int(rng.integers(256, 801))
    if aw >= ah:
        w, h = long_side, max(256, int(round(long_side * ah / aw)))
    else:
        h, w = long_side, max(256, int(round(long_side * aw / ah)))
    return h, w


def make_image(args):
    split, index, seed, min_visible = args
    rng = np.random.default_rng([seed, SPLIT_SALT[split], index])
    h, w = image_size(rng)
    img = background(rng, h, w)
    inst = np.zeros((h, w), np.int32)  # painter's label map: last object drawn at each pixel
    crowded = rng.uniform() < 0.08
    n = int(rng.integers(140, 221)) if crowded else int(rng.integers(0, 16))
    max_size = 0.9 * min(h, w)
    objects = []
    for k in range(n):
        cls = CATEGORIES[int(rng.integers(len(CATEGORIES)))]
        if crowded:
            size = float(np.exp(rng.uniform(np.log(8), np.log(48))))
        else:
            size = float(np.exp(rng.uniform(np.log(8), np.log(max_size))))
        if cls == "ring":
            size = max(size, 12.0)
        # centres slightly outside the image as well, so that some objects are cut by the border
        cx = rng.uniform(-0.15, 1.15) * w
        cy = rng.uniform(-0.15, 1.15) * h
        geom = shape_geometry(rng, cls, cx, cy, size)
        bx0, by0, bx1, by1 = geom_bounds(geom)
        x0, y0 = max(0, int(math.floor(bx0))), max(0, int(math.floor(by0)))
        x1, y1 = min(w, int(math.ceil(bx1)) + 1), min(h, int(math.ceil(by1)) + 1)
        tex = texture(rng, max(1, y1 - y0), max(1, x1 - x0))
        if x1 <= x0 or y1 <= y0:
            continue
        m = rasterize(geom, x0, y0, x1 - x0, y1 - y0)
        if not m.any():
            continue
        label = len(objects) + 1
        inst[y0:y1, x0:x1][m] = label
        img[y0:y1, x0:x1][m] = tex[m]
        objects.append((cls, x0, y0, x1, y1))
    img += gauss(rng, 3, (h, w, 1))
    np.clip(img, 0, 255, out=img)
    img = img.astype(np.uint8)

    anns = []
    if objects:
        # visible mask of every object = pixels (inside its box) where it is the last one drawn
        full = np.zeros((h, w), np.uint8, order="F")
        for label, (cls, x0, y0, x1, y1) in enumerate(objects, start=1):
            m = inst[y0:y1, x0:x1] == label
            area = int(np.count_nonzero(m))
            if area < min_visible:
                continue
            full[y0:y1, x0:x1] = m
            rle = mask_utils.encode(full)
            full[y0:y1, x0:x1] = 0
            bbox = [float(v) for v in mask_utils.toBbox(rle)]
            anns.append({"category_id": CATEGORIES.index(cls) + 1, "iscrowd": 0, "area": float(area),
                         "bbox": bbox, "segmentation": {"size": [h, w], "counts": rle["counts"].decode("ascii")}})
    fmt = "png" if rng.uniform() < 0.1 else "jpg"
    quality = int(rng.integers(80, 96))
    buf = io.BytesIO()
    if fmt == "png":
        Image.fromarray(img).save(buf, format="PNG", compress_level=1)
    else:
        Image.fromarray(img).save(buf, format="JPEG", quality=quality)
    return index, h, w, fmt, buf.getvalue(), anns


def generate_split(out, split, num, seed, workers, min_visible):
    os.makedirs(os.path.join(out, split), exist_ok=True)
    images, annotations = [], []
    jobs = [(split, i, seed, min_visible) for i in range(num)]
    ann_id = 1
    with Pool(workers) as pool:
        for index, h, w, fmt, data, anns in pool.imap(make_image, jobs, chunksize=4):
            image_id = index + 1
            name = f"{image_id:06d}.{fmt}"
            with open(os.path.join(out, split, name), "wb") as f:
                f.write(data)
            images.append({"id": image_id, "file_name": name, "height": h, "width": w})
            for a in anns:
                annotations.append(dict(id=ann_id, image_id=image_id, **a))
                ann_id += 1
    coco = {
        "info": {"description": "maskrt synthetic shapes", "version": "1", "seed": seed, "split": split,
                 "generator": "tools/dataset/make_shapes_dataset.py"},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": [{"id": i + 1, "name": n, "supercategory": "shape"} for i, n in enumerate(CATEGORIES)],
    }
    os.makedirs(os.path.join(out, "annotations"), exist_ok=True)
    with open(os.path.join(out, "annotations", f"{split}.json"), "w") as f:
        json.dump(coco, f, separators=(",", ":"))
    return len(images), len(annotations)


def write_sample(out, sample_dir, count, max_bytes):
    """Copies `count` small val JPEGs (at most max_bytes in total, one crowded image if it fits) and their
    annotations to sample_dir/{val, annotations/val.json}."""
    with open(os.path.join(out, "annotations", "val.json")) as f:
        coco = json.load(f)
    per_image = {}
    for a in coco["annotations"]:
        per_image.setdefault(a["image_id"], []).append(a)
    sizes = {im["id"]: os.path.getsize(os.path.join(out, "val", im["file_name"])) for im in coco["images"]}
    jpgs = [im for im in coco["images"] if im["file_name"].endswith(".jpg") and per_image.get(im["id"])]
    budget = max_bytes
    chosen = []
    crowded = [im for im in jpgs if len(per_image[im["id"]]) >= 100]
    crowded.sort(key=lambda im: sizes[im["id"]])
    if crowded and sizes[crowded[0]["id"]] <= budget // 3:
        chosen.append(crowded[0])
        budget -= sizes[crowded[0]["id"]]
    for im in jpgs:  # id order: a mix of backgrounds and sizes
        if len(chosen) >= count:
            break
        if im in chosen or len(per_image[im["id"]]) >= 100 or sizes[im["id"]] > budget // max(1, count - len(chosen)):
            continue
        chosen.append(im)
        budget -= sizes[im["id"]]
    chosen.sort(key=lambda im: im["id"])
    ids = {im["id"] for im in chosen}
    os.makedirs(os.path.join(sample_dir, "val"), exist_ok=True)
    os.makedirs(os.path.join(sample_dir, "annotations"), exist_ok=True)
    for im in chosen:
        with open(os.path.join(out, "val", im["file_name"]), "rb") as src, \
                open(os.path.join(sample_dir, "val", im["file_name"]), "wb") as dst:
            dst.write(src.read())
    sample = dict(coco, images=chosen, annotations=[a for a in coco["annotations"] if a["image_id"] in ids])
    sample["info"] = dict(coco["info"], sample_of="val split")
    with open(os.path.join(sample_dir, "annotations", "val.json"), "w") as f:
        json.dump(sample, f, separators=(",", ":"))
    print(f"sample: {len(chosen)} images, {len(sample['annotations'])} instances, "
          f"{sum(sizes[i] for i in ids)} bytes of images -> {sample_dir}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--num-train", type=int, default=2000)
    ap.add_argument("--num-val", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (output does not depend on it)")
    ap.add_argument("--min-visible", type=int, default=8, help="smallest visible area (pixels) that is annotated")
    ap.add_argument("--sample", metavar="DIR", help="also copy a few small val images + annotations to DIR")
    ap.add_argument("--sample-count", type=int, default=5)
    ap.add_argument("--sample-bytes", type=int, default=210_000, help="image bytes budget of the sample")
    a = ap.parse_args(argv)
    t0 = time.time()
    for split, num in (("train", a.num_train), ("val", a.num_val)):
        if num > 0:
            ni, na = generate_split(a.out, split, num, a.seed, a.workers, a.min_visible)
            print(f"{split}: {ni} images, {na} instances ({time.time() - t0:.1f} s)", flush=True)
    print("photo backgrounds:", "scikit-image" if load_photos() else "unavailable (procedural only)")
    if a.sample:
        write_sample(a.out, a.sample, a.sample_count, a.sample_bytes)


if __name__ == "__main__":
    sys.exit(main())
