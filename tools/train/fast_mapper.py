"""A faster drop-in for Detectron2's training DatasetMapper on RLE (bitmask) data sets, same output.

Dev-time tool (used by tools/train/train_shapes.py --fast-mapper; not shipped with maskrt).

What Detectron2's DatasetMapper (is_train=True, INPUT.MASK_FORMAT "bitmask", COCO RLE segmentations)
does per instance: decode the RLE to a full-size HxW uint8 mask (pycocotools), resize it with PIL
NEAREST to the augmented size, flip it (np.flip), copy it contiguous, then torch.stack all of them,
convert to bool (BitMasks), and filter_empty_instances runs .any() over every full mask and indexes
the stack again. For an image with N objects that is ~5 full-size passes over N masks.

FastDatasetMapper keeps everything that decides the result and only changes how the masks are built:
* the image path is Detectron2's own code (read_image, check_image_size, AugInput, the mapper's
  AugmentationList — so ResizeShortestEdge's size choice and RandomFlip's coin use the global numpy
  random state exactly as the default mapper does, in the same order);
* boxes go through the same functions (BoxMode.convert per box — float32 arithmetic as Detectron2 —
  then TransformList.apply_box on the stacked Nx4 float64 array, which is elementwise, clip,
  np.minimum), classes likewise;
* masks: PIL's NEAREST resize is separable: output pixel (y, x) = source pixel (ymap[y], xmap[x]) for
  two monotone index maps that depend only on (h, new_h) and (w, new_w). The maps are obtained from
  PIL itself (resizing a 1-pixel-high int32 image whose values are the column indices, mode "I",
  which goes through the same nearest-neighbour scale code as mode "L"), cached per size pair, and
  composed with the flip (xmap reversed). Each mask is then produced only inside the output rectangle
  whose source indices fall in the object's RLE bounding box (pycocotools toBbox, plus a 1-pixel
  margin), decoded from the compressed RLE only there (decode_crop, a numpy RLE decoder checked
  against pycocotools.mask.decode): one integer gather of the crop, written into a zeroed bool (N, new_h, new_w)
  tensor. Outside that rectangle the default's mask is 0 too (its source pixels are outside the
  object's extent). Emptiness is taken from the crops.
Anything else (polygons, keypoints, proposals, sem_seg, cropping/recompute_boxes, other transforms,
non-float or non-XYWH/XYXY boxes) falls back to Detectron2's code with the transforms already sampled,
so the result is still the default's.

check(): runs both mappers on the same dataset dicts with the same numpy seed and compares
image, image size, gt_boxes, gt_classes, gt_masks (dtype, shape, exact values) and the other keys.
"""
import copy
import functools

import numpy as np
import torch
from PIL import Image

from detectron2.data import DatasetMapper
from detectron2.data import detection_utils as utils
from detectron2.data import transforms as T
from detectron2.structures import BitMasks, Boxes, BoxMode, Instances
import pycocotools.mask as mask_util


@functools.lru_cache(maxsize=4096)
def pil_nearest_index_map(size, new_size):
    """Source index of each of the new_size output pixels of a PIL NEAREST resize of an axis of
    `size` pixels, as PIL computes it (obtained by resizing an index image with PIL)."""
    idx = np.arange(size, dtype=np.int32)[None, :]
    out = np.asarray(Image.fromarray(idx, mode="I").resize((new_size, 1), Image.NEAREST))
    m = out[0].astype(np.int64)
    m.setflags(write=False)
    return m


def _index_maps(transforms, h, w):
    """(ymap, xmap) of a list of Resize/HFlip/NoOp transforms applied to an (h, w) segmentation, or
    None when some transform is of another kind."""
    ymap = np.arange(h)
    xmap = np.arange(w)
    for t in getattr(transforms, "transforms", transforms):
        if isinstance(t, T.NoOpTransform):
            continue
        if isinstance(t, T.ResizeTransform):
            if (t.h, t.w) != (len(ymap), len(xmap)):
                return None
            ymap = ymap[pil_nearest_index_map(t.h, t.new_h)]
            xmap = xmap[pil_nearest_index_map(t.w, t.new_w)]
        elif isinstance(t, T.HFlipTransform):
            if t.width != len(xmap):
                return None
            xmap = xmap[::-1]
        else:
            return None
    return ymap, xmap


def _range_in(sorted_or_reversed, lo, hi):
    """[a, b) of the positions p with lo <= map[p] < hi, for a monotone (ascending or descending) map."""
    m = sorted_or_reversed
    if len(m) == 0:
        return 0, 0
    if m[0] <= m[-1]:
        return int(np.searchsorted(m, lo, "left")), int(np.searchsorted(m, hi, "left"))
    n = len(m)
    r = m[::-1]
    a, b = int(np.searchsorted(r, lo, "left")), int(np.searchsorted(r, hi, "left"))
    return n - b, n - a


def rle_counts(counts):
    """Run lengths of a compressed COCO RLE string (bytes), decoded as pycocotools does (5-bit
    chunks with a continuation bit and a sign bit; runs from the fourth on are stored as the
    difference to the run two before), vectorised with numpy. int64 array."""
    c = np.frombuffer(counts, dtype=np.uint8).astype(np.int64) - 48
    if len(c) == 0:
        return np.zeros(0, dtype=np.int64)
    last = (c & 0x20) == 0                      # last chunk of each value
    ends = np.flatnonzero(last)
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    group = np.zeros(len(c), dtype=np.int64)
    group[ends[:-1] + 1] = 1
    group = np.cumsum(group)
    k = np.arange(len(c)) - starts[group]      # chunk number within its value
    vals = np.add.reduceat((c & 0x1F) << (5 * k), starts)
    neg = (c[ends] & 0x10) != 0
    vals[neg] |= np.left_shift(np.int64(-1), 5 * (k[ends][neg] + 1))
    if len(vals) > 3:                           # x[i] += x[i-2] for i > 2, sequentially
        vals[3::2] = np.cumsum(vals[1::2])[1:]
    if len(vals) > 4:
        vals[4::2] = np.cumsum(vals[2::2])[1:]
    return vals


def decode_crop(counts, h, y0, y1, x0, x1):
    """Rows y0:y1, columns x0:x1 of the (h, w) mask of a compressed COCO RLE, without decoding the
    rest: uint8 (y1 - y0, x1 - x0). The RLE runs go down columns (flat index x * h + y), starting
    with a run of 0s."""
    ends = np.cumsum(rle_counts(counts))
    on_start, on_end = ends[0:-1:2], ends[1::2]  # runs of 1s: [ends[2j], ends[2j+1])
    base, n = x0 * h, (x1 - x0) * h
    a = np.clip(on_start - base, 0, n)
    b = np.clip(on_end - base, 0, n)
    d = np.bincount(a, minlength=n + 1)[:n + 1] - np.bincount(b, minlength=n + 1)[:n + 1]
    cols = np.cumsum(d[:n]).astype(np.uint8).reshape(x1 - x0, h)
    return cols[:, y0:y1].T


class FastDatasetMapper(DatasetMapper):
    """DatasetMapper with the same output, faster for RLE bitmask training data (see module doc)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fast_ok = (self.is_train and self.use_instance_mask and self.instance_mask_format == "bitmask"
                        and not self.use_keypoint and self.proposal_topk is None
                        and not self.recompute_boxes)
        self.stats = {"fast": 0, "fallback": 0}

    def _fast_annos_ok(self, annos):
        for a in annos:
            s = a.get("segmentation")
            if (not isinstance(s, dict) or not isinstance(s.get("counts"), (str, bytes))
                    or "keypoints" in a):
                return False
            if a["bbox_mode"] not in (BoxMode.XYWH_ABS, BoxMode.XYXY_ABS):
                return False
            if not all(type(v) is float for v in a["bbox"]) or len(a["bbox"]) != 4:
                return False
        return True

    def __call__(self, dataset_dict):
        annos_in = dataset_dict.get("annotations")
        if (not self.fast_ok or "sem_seg_file_name" in dataset_dict or annos_in is None
                or not self._fast_annos_ok(annos_in)):
            self.stats["fallback"] += 1
            return super().__call__(dataset_dict)
        # Same keys as the default's deepcopy, without deep-copying the annotations we only read.
        out = {k: copy.deepcopy(v) for k, v in dataset_dict.items() if k != "annotations"}
        image = utils.read_image(out["file_name"], format=self.image_format)
        utils.check_image_size(out, image)
        aug_input = T.AugInput(image, sem_seg=None)
        transforms = self.augmentations(aug_input)
        image = aug_input.image
        image_shape = image.shape[:2]
        out["image"] = torch.as_tensor(np.ascontiguousarray(image.transpose(2, 0, 1)))

        annos = [a for a in annos_in if a.get("iscrowd", 0) == 0]
        maps = _index_maps(transforms, dataset_dict.get("height", -1), dataset_dict.get("width", -1)) \
            if annos else None
        if annos and (maps is None or any(tuple(map(int, a["segmentation"]["size"])) !=
                                          (dataset_dict["height"], dataset_dict["width"]) for a in annos)):
            # Not a case the fast path knows: Detectron2's own annotation code, same transforms.
            self.stats["fallback"] += 1
            out["annotations"] = copy.deepcopy(annos_in)
            self._transform_annotations(out, transforms, image_shape)
            return out
        self.stats["fast"] += 1

        # Boxes: Detectron2's per-box conversion (float32 for float lists), then the elementwise
        # transform of all boxes at once, exactly as transform_instance_annotations does per box.
        if annos:
            b = np.array([BoxMode.convert(a["bbox"], a["bbox_mode"], BoxMode.XYXY_ABS) for a in annos],
                         dtype=np.float64)
            b = transforms.apply_box(b).clip(min=0)
            boxes = np.minimum(b, list(image_shape + image_shape)[::-1])
        else:
            boxes = np.zeros((0, 4))
        target = Instances(image_shape)
        target.gt_boxes = Boxes(boxes)
        target.gt_classes = torch.tensor([int(a["category_id"]) for a in annos], dtype=torch.int64)
        n = len(annos)
        nh, nw = image_shape
        if n:
            ymap, xmap = maps
            assert len(ymap) == nh and len(xmap) == nw
            rles = [a["segmentation"] for a in annos]
            rles = [r if not isinstance(r["counts"], str) else
                    {"size": r["size"], "counts": r["counts"].encode("ascii")} for r in rles]
            ext = mask_util.toBbox(rles)  # x, y, w, h of each mask's pixels (0s when empty)
            masks = torch.zeros((n, nh, nw), dtype=torch.bool)
            mnp = masks.numpy()
            h, w = dataset_dict["height"], dataset_dict["width"]
            mask_nonempty = np.zeros(n, dtype=bool)
            for i in range(n):
                ex, ey, ew, eh = ext[i]
                if ew <= 0 or eh <= 0:
                    continue
                sx0, sy0 = max(0, int(ex) - 1), max(0, int(ey) - 1)
                sx1, sy1 = min(w, int(ex + ew) + 1), min(h, int(ey + eh) + 1)
                y0, y1 = _range_in(ymap, sy0, sy1)
                x0, x1 = _range_in(xmap, sx0, sx1)
                if y0 >= y1 or x0 >= x1:
                    continue
                crop = decode_crop(rles[i]["counts"], h, sy0, sy1, sx0, sx1)
                reg = crop[np.ix_(ymap[y0:y1] - sy0, xmap[x0:x1] - sx0)]
                mnp[i, y0:y1, x0:x1] = reg
                mask_nonempty[i] = reg.any()
            target.gt_masks = BitMasks(masks)
            keep = target.gt_boxes.nonempty(threshold=1e-5) & torch.from_numpy(mask_nonempty)
        else:
            keep = target.gt_boxes.nonempty(threshold=1e-5)
        # filter_empty_instances: by box (and by mask when there are masks)
        out["instances"] = target if bool(keep.all()) else target[keep]
        return out


def _same(a, b):
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)
    return type(a) is type(b) and a == b


def compare_outputs(ref, got):
    """List of differences between two mapped dicts (empty when equal)."""
    diffs = []
    if set(ref) != set(got):
        return [f"keys {sorted(ref)} vs {sorted(got)}"]
    for k in ref:
        if k == "instances":
            ri, gi = ref[k], got[k]
            if tuple(ri.image_size) != tuple(gi.image_size):
                diffs.append(f"image_size {ri.image_size} vs {gi.image_size}")
            rf, gf = ri.get_fields(), gi.get_fields()
            if list(rf) != list(gf):
                diffs.append(f"fields {list(rf)} vs {list(gf)}")
                continue
            for f in rf:
                rv = getattr(rf[f], "tensor", rf[f])
                gv = getattr(gf[f], "tensor", gf[f])
                if type(rf[f]) is not type(gf[f]) or not _same(rv, gv):
                    diffs.append(f"{f}: {type(rf[f]).__name__}{tuple(rv.shape)} {rv.dtype} vs "
                                 f"{type(gf[f]).__name__}{tuple(gv.shape)} {gv.dtype}"
                                 + ("" if rv.shape != gv.shape else
                                    f", {int((rv != gv).sum())} elements differ"))
        elif not _same(ref[k], got[k]):
            diffs.append(f"{k} differs")
    return diffs


def check(cfg, dataset_dicts, rounds=2, seed=0, log=print):
    """Map every dict with Detectron2's DatasetMapper and with FastDatasetMapper, each starting from
    np.random.seed(seed + round) (the mappers' only randomness), and compare. Returns (ok, report)."""
    import time
    ref_m = DatasetMapper(cfg, is_train=True)
    fast_m = FastDatasetMapper(cfg, is_train=True)
    t_ref, t_fast, bad, counts = [], [], [], []
    for r in range(rounds):
        for i, d in enumerate(dataset_dicts):
            np.random.seed(seed + 1000 * r + i)
            t0 = time.perf_counter()
            ref = ref_m(d)
            t1 = time.perf_counter()
            np.random.seed(seed + 1000 * r + i)
            got = fast_m(d)
            t2 = time.perf_counter()
            t_ref.append(t1 - t0)
            t_fast.append(t2 - t1)
            counts.append(len(d.get("annotations", [])))
            diffs = compare_outputs(ref, got)
            if diffs:
                bad.append((d["file_name"], r, diffs))
                log(f"DIFFERENT: {d['file_name']} round {r}: {'; '.join(diffs)}")
    t_ref, t_fast, counts = np.array(t_ref) * 1e3, np.array(t_fast) * 1e3, np.array(counts)
    crowd = counts >= 50
    rep = {"mapped": len(t_ref), "different": len(bad), "fast_path": fast_m.stats["fast"],
           "fallback": fast_m.stats["fallback"],
           "ms_default_mean": round(float(t_ref.mean()), 2), "ms_fast_mean": round(float(t_fast.mean()), 2),
           "speedup_mean": round(float(t_ref.mean() / t_fast.mean()), 2)}
    if crowd.any():
        rep.update(crowded_images=int(crowd.sum()),
                   ms_default_crowded=round(float(t_ref[crowd].mean()), 2),
                   ms_fast_crowded=round(float(t_fast[crowd].mean()), 2),
                   speedup_crowded=round(float(t_ref[crowd].mean() / t_fast[crowd].mean()), 2))
    return not bad, rep
