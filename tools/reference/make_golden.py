#!/usr/bin/env python3
"""Generate maskrt's Detectron2 golden fixtures (tests/golden/<case>/) by running REAL Detectron2.

For each case: write config.yaml (+ the shared base), the input image, build the Detectron2 model from
that config, give it seeded calibrated weights (d2_env.init_weights + d2_env.calibrate, measured on the
image), save them (model.pkl model-zoo pickle and/or model.pth), then build a fresh
detectron2.engine.DefaultPredictor from config.yaml with MODEL.WEIGHTS = the saved file (so Detectron2
reads exactly the fixture files), run it on detection_utils.read_image(input, format="BGR") and record
the instances (expected.json) and intermediate tensors (tensors/*.npy) via forward hooks.

Usage (from the repository root):
    D2_SRC=/work/d2src python tools/reference/make_golden.py [--out tests/golden] [--cases a,b]
See tools/reference/README.md and tests/golden/README.md.
"""
import argparse
import io
import json
import os
import pickle
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import d2_env  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BASE_NAME = "Base-RCNN-FPN-small.yaml"

# Shared base config (our own small-width variant of an FPN Mask R-CNN).
BASE_YAML = """\
# Shared base of maskrt's golden fixtures: an FPN Mask R-CNN with small widths so that the
# fixtures stay small. Cases override what they vary. Read by Detectron2's get_cfg().merge_from_file.
MODEL:
  META_ARCHITECTURE: "GeneralizedRCNN"
  DEVICE: "cpu"
  PIXEL_MEAN: [103.530, 116.280, 123.675]
  PIXEL_STD: [1.0, 1.0, 1.0]
  BACKBONE:
    NAME: "build_resnet_fpn_backbone"
    FREEZE_AT: 2
  RESNETS:
    DEPTH: 50
    OUT_FEATURES: ["res2", "res3", "res4", "res5"]
    NORM: "FrozenBN"
    NUM_GROUPS: 1
    WIDTH_PER_GROUP: 4
    STRIDE_IN_1X1: True
    STEM_OUT_CHANNELS: 16
    RES2_OUT_CHANNELS: 16
  FPN:
    IN_FEATURES: ["res2", "res3", "res4", "res5"]
    OUT_CHANNELS: 32
  ANCHOR_GENERATOR:
    SIZES: [[32], [64], [128], [256], [512]]
    ASPECT_RATIOS: [[0.5, 1.0, 2.0]]
  RPN:
    IN_FEATURES: ["p2", "p3", "p4", "p5", "p6"]
    PRE_NMS_TOPK_TEST: 1000
    POST_NMS_TOPK_TEST: 1000
  ROI_HEADS:
    NAME: "StandardROIHeads"
    IN_FEATURES: ["p2", "p3", "p4", "p5"]
    NUM_CLASSES: 20
  ROI_BOX_HEAD:
    NAME: "FastRCNNConvFCHead"
    NUM_FC: 2
    FC_DIM: 64
    POOLER_RESOLUTION: 7
    POOLER_TYPE: "ROIAlignV2"
    POOLER_SAMPLING_RATIO: 0
  ROI_MASK_HEAD:
    NAME: "MaskRCNNConvUpsampleHead"
    NUM_CONV: 4
    CONV_DIM: 32
    POOLER_RESOLUTION: 14
    POOLER_TYPE: "ROIAlignV2"
    POOLER_SAMPLING_RATIO: 0
  MASK_ON: True
INPUT:
  MIN_SIZE_TEST: 256
  MAX_SIZE_TEST: 448
  FORMAT: "BGR"
DATASETS:
  TRAIN: ()
  TEST: ()
VERSION: 2
"""

TORCHVISION_MEAN_RGB = [123.675, 116.280, 103.530]
TORCHVISION_STD_RGB = [58.395, 57.120, 57.375]

# image: (skimage sample, crop box in the sample (x0, y0, x1, y1) or None, resize to (w, h) or None,
#         file name, EXIF orientation written into the file or None)
CASES = {
    "r50_bgr_80cls": dict(
        desc="R50-FPN Mask R-CNN, BGR, MSRA means/std 1, STRIDE_IN_1X1, 80 classes, RPN POST_NMS_TOPK_TEST 500",
        yaml={"MODEL": {"RESNETS": {"WIDTH_PER_GROUP": 8, "RES2_OUT_CHANNELS": 32},
                        "RPN": {"POST_NMS_TOPK_TEST": 500},
                        "ROI_HEADS": {"NUM_CLASSES": 80}}},
        image=("astronaut", (0, 40, 512, 424), (320, 240), "input.png", None),
        seed=1, det_range=(40, 80)),
    "r50_rgb_1cls": dict(
        desc="R50-FPN, RGB, torchvision mean/std, stride in 3x3, 1 class; weights rounded to fp16 and "
             "stored as float16 in model.pth (torch.save's stored zip entries)",
        yaml={"MODEL": {"PIXEL_MEAN": TORCHVISION_MEAN_RGB, "PIXEL_STD": TORCHVISION_STD_RGB,
                        "RESNETS": {"STRIDE_IN_1X1": False},
                        "ROI_HEADS": {"NUM_CLASSES": 1}},
              "INPUT": {"FORMAT": "RGB"}},
        image=("chelsea", (0, 0, 451, 300), (320, 213), "input.png", None),
        seed=2, det_range=(15, 50), weights=("pth16",)),
    # BasicBlock (R18/R34): Detectron2 requires RES2_OUT_CHANNELS 64 there, so these are full width
    # (~11M / ~21M parameters); their backbone conv weights are sparse k/32 values (low entropy) and
    # model.pth is re-packed with DEFLATE'd zip entries, so the files stay ~1-2 MB.
    "r18_rgb_1cls": dict(
        desc="R18-FPN (BasicBlock, full width as Detectron2 requires), RGB, torchvision mean/std, "
             "1 class, MIN/MAX_SIZE_TEST 200/320; fp16 model.pth with DEFLATE'd zip entries, sparse "
             "low-entropy backbone weights (Detectron2 ran on the fp16 values)",
        yaml={"MODEL": {"PIXEL_MEAN": TORCHVISION_MEAN_RGB, "PIXEL_STD": TORCHVISION_STD_RGB,
                        "RESNETS": {"DEPTH": 18, "RES2_OUT_CHANNELS": 64, "STRIDE_IN_1X1": False},
                        "ROI_HEADS": {"NUM_CLASSES": 1}},
              "INPUT": {"FORMAT": "RGB", "MIN_SIZE_TEST": 200, "MAX_SIZE_TEST": 320}},
        image=("chelsea", (0, 0, 451, 300), (320, 213), "input.png", None),
        seed=8, det_range=(15, 50), weights=("pth16z",), sparse_backbone=0.93),
    "r34_faster": dict(
        desc="R34-FPN Faster R-CNN (BasicBlock, full width, MASK_ON False), BGR, MIN/MAX_SIZE_TEST "
             "232/320; fp32 model.pth with DEFLATE'd zip entries, sparse low-entropy backbone weights",
        yaml={"MODEL": {"MASK_ON": False,
                        "RESNETS": {"DEPTH": 34, "RES2_OUT_CHANNELS": 64}},
              "INPUT": {"MIN_SIZE_TEST": 232, "MAX_SIZE_TEST": 320}},
        image=("astronaut", (40, 0, 490, 338), (320, 240), "input.jpg", None),
        seed=9, det_range=(20, 60), weights=("pth32z",), sparse_backbone=0.98),
    "x101_groups": dict(
        desc="X101-FPN (NUM_GROUPS 4, WIDTH_PER_GROUP 2, stride in 3x3), FAIR std, "
             "class-agnostic box regression and mask",
        yaml={"MODEL": {"PIXEL_STD": [57.375, 57.120, 58.395],
                        "RESNETS": {"DEPTH": 101, "NUM_GROUPS": 4, "WIDTH_PER_GROUP": 2,
                                    "STRIDE_IN_1X1": False},
                        "ROI_BOX_HEAD": {"CLS_AGNOSTIC_BBOX_REG": True},
                        "ROI_MASK_HEAD": {"CLS_AGNOSTIC_MASK": True}}},
        image=("coffee", (0, 0, 600, 400), (300, 200), "input.png", None),
        seed=3, det_range=(30, 70)),
    "r50_faster": dict(
        desc="R50-FPN Faster R-CNN (MASK_ON False); JPEG with EXIF orientation 6 (stored rotated); "
             "weights as fp32 model.pth with DEFLATE'd zip entries",
        yaml={"MODEL": {"MASK_ON": False, "ROI_BOX_HEAD": {"FC_DIM": 128}}},
        image=("rocket", (100, 0, 420, 427), (180, 240), "input.jpg", 6),
        seed=4, det_range=(30, 70), weights=("pth32z",)),
    "r50_thresholds": dict(
        desc="non-default test thresholds: SCORE 0.3, NMS 0.6, 20 detections, MIN/MAX 288/400 "
             "(the max clamps this wide image), RPN pre/post NMS top-k 300/200",
        yaml={"MODEL": {"RPN": {"PRE_NMS_TOPK_TEST": 300, "POST_NMS_TOPK_TEST": 200},
                        "ROI_HEADS": {"SCORE_THRESH_TEST": 0.3, "NMS_THRESH_TEST": 0.6}},
              "TEST": {"DETECTIONS_PER_IMAGE": 20},
              "INPUT": {"MIN_SIZE_TEST": 288, "MAX_SIZE_TEST": 400}},
        image=("coffee", (0, 60, 600, 360), (320, 160), "input.png", None),
        seed=5, det_range=(20, 20)),
    "r50_noresize": dict(
        desc="MIN_SIZE_TEST 0 (no resize); odd image size so padding to 32 matters",
        yaml={"INPUT": {"MIN_SIZE_TEST": 0}},
        image=("chelsea", (60, 20, 397, 285), (253, 199), "input.png", None),
        seed=6, det_range=(20, 60)),
    "r152": dict(
        desc="R152-FPN, narrow (the base's WIDTH_PER_GROUP 4, RES2_OUT_CHANNELS 16)",
        yaml={"MODEL": {"RESNETS": {"DEPTH": 152}}},
        image=("astronaut", (100, 0, 500, 300), (256, 192), "input.jpg", None),
        seed=7, det_range=(20, 60)),
    # Full-HD photo at the default test scale: 1920x1080 -> short side 800 -> 1422x800, whose long
    # side exceeds 1333, so Detectron2 rescales it to 1333x750 (padded 768x1344). Boxes and masks come
    # back in 1920x1080 pixels. Only the cheap tensors are written (the case would be ~10 MB with
    # resized.npy and p2..p6); tests/e2e/test_golden_parity.cpp treats every tensor file as optional.
    "r50_1080p": dict(
        desc="1920x1080 JPEG at the default test scale MIN/MAX_SIZE_TEST 800/1333 (resized 750x1333); "
             "boxes and masks in original pixels; only proposals, objectness_logits, box_scores stored",
        yaml={"INPUT": {"MIN_SIZE_TEST": 800, "MAX_SIZE_TEST": 1333}},
        image=("astronaut", (0, 112, 512, 400), (1920, 1080), "input.jpg", None),
        seed=10, det_range=(20, 80), jpeg_quality=85,
        tensors=("proposals", "objectness_logits", "box_scores")),
}
DEFAULT_CASES = list(CASES)


def log(*a):
    print(*a, flush=True)


def to_yaml(d, indent=0):
    out = []
    for k, v in d.items():
        if isinstance(v, dict):
            out.append(" " * indent + f"{k}:")
            out.append(to_yaml(v, indent + 2))
        else:
            out.append(" " * indent + f"{k}: {json.dumps(v)}")
    return "\n".join(out)


def make_image(spec, path, jpeg_quality=92):
    """Crop/resize a scikit-image sample photo; write it (optionally with an EXIF orientation)."""
    import numpy as np
    import skimage.data
    from PIL import Image
    name, crop, size, _, orientation = spec
    arr = getattr(skimage.data, name)()
    im = Image.fromarray(np.ascontiguousarray(arr)).convert("RGB")
    if crop:
        im = im.crop(crop)
    if size:
        im = im.resize(size, Image.LANCZOS)
    if orientation == 6:
        # Orientation 6: the viewer rotates the stored pixels 90 degrees clockwise. Store the
        # displayed image rotated 90 degrees counter-clockwise.
        stored = im.transpose(Image.Transpose.ROTATE_90)
        exif = Image.Exif()
        exif[0x0112] = 6
        stored.save(path, quality=92, exif=exif.tobytes())
    elif orientation is None:
        if path.endswith(".jpg"):
            im.save(path, quality=jpeg_quality)
        else:
            im.save(path, optimize=True)
    else:
        raise ValueError(orientation)


def save_weights(model, case_dir, kinds):
    """kinds: 'pkl' (model-zoo pickle, float32 numpy), 'pth32' / 'pth16' (torch.save)."""
    import numpy as np
    import torch
    sd = model.state_dict()
    files = {}
    for kind in kinds:
        if kind == "pkl":
            data = {"model": {k: np.ascontiguousarray(v.detach().cpu().numpy().astype(np.float32))
                              for k, v in sd.items()}, "__author__": "maskrt-golden"}
            p = os.path.join(case_dir, "model.pkl")
            with open(p, "wb") as f:
                pickle.dump(data, f, protocol=4)
        else:
            half = kind.startswith("pth16")
            data = {"model": {k: (v.detach().cpu().half() if half else v.detach().cpu().clone())
                              for k, v in sd.items()}}
            p = os.path.join(case_dir, "model.pth")
            torch.save(data, p)
            if kind.endswith("z"):
                deflate_zip(p)
                back = torch.load(p, map_location="cpu", weights_only=True)["model"]
                assert all(torch.equal(back[k], v) for k, v in data["model"].items()), p
        files[kind] = p
    return files


def deflate_zip(path):
    """Re-pack a torch.save zip with every entry DEFLATE-compressed (torch.save stores them), same
    entry names and order; torch.load reads both."""
    import zipfile
    with zipfile.ZipFile(path) as zin:
        entries = [(i, zin.read(i.filename)) for i in zin.infolist()]
    tmp = path + ".tmp"
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zout:
        for info, data in entries:
            zi = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = info.external_attr
            zout.writestr(zi, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    os.replace(tmp, path)


def run_predictor(cfg_path, weights_path):
    """Fresh DefaultPredictor from the fixture files, with capture hooks.

    Returns (predictor, cfg, captured-tensor dict filled by the next call, hook handles)."""
    import torch
    import torch.nn.functional as F
    from detectron2.config import get_cfg
    from detectron2.engine import DefaultPredictor

    cfg = get_cfg()
    cfg.merge_from_file(cfg_path)
    cfg.MODEL.WEIGHTS = weights_path
    cfg.MODEL.DEVICE = "cpu"
    cfg.freeze()
    predictor = DefaultPredictor(cfg)
    model = predictor.model
    cap = {}

    def pre_model(mod, args):
        img = args[0][0]["image"]  # (3, H, W) float32 of integer pixel values, INPUT.FORMAT order
        cap["resized"] = img.permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()

    def bb_hook(mod, args, out):
        cap["padded"] = list(args[0].shape[-2:])
        for k, v in out.items():
            cap[k] = v.detach().clone().numpy()

    def pg_hook(mod, args, out):
        p = out[0][0]
        cap["proposals"] = p.proposal_boxes.tensor.detach().clone().numpy()
        cap["objectness_logits"] = p.objectness_logits.detach().clone().numpy()

    def bp_hook(mod, args, out):
        scores, deltas = out
        cap["box_scores"] = F.softmax(scores, dim=-1).detach().clone().numpy()
        cap["box_deltas"] = deltas.detach().clone().numpy()

    def mh_hook(mod, args, out):
        cap["mask_probs"] = out[0].pred_masks.detach().clone().numpy()

    def rh_hook(mod, args, out):  # detections before detector_postprocess (resized-image pixels)
        inst = out[0][0]
        cap["det_boxes"] = inst.pred_boxes.tensor.detach().clone().numpy()
        cap["det_scores"] = inst.scores.detach().clone().numpy()
        cap["det_classes"] = inst.pred_classes.detach().clone().numpy()

    hs = [model.register_forward_pre_hook(pre_model),
          model.backbone.register_forward_hook(bb_hook),
          model.proposal_generator.register_forward_hook(pg_hook),
          model.roi_heads.box_predictor.register_forward_hook(bp_hook),
          model.roi_heads.register_forward_hook(rh_hook)]
    if cfg.MODEL.MASK_ON:
        hs.append(model.roi_heads.mask_head.register_forward_hook(mh_hook))
    return predictor, cfg, cap, hs


def instances_json(inst):
    import numpy as np
    import pycocotools.mask as mask_util
    out = []
    boxes = inst.pred_boxes.tensor.numpy().astype(np.float64)
    scores = inst.scores.numpy().astype(np.float64)
    classes = inst.pred_classes.numpy()
    masks = inst.pred_masks.numpy() if inst.has("pred_masks") else None
    for i in range(len(inst)):
        d = {"box": [float(x) for x in boxes[i]], "score": float(scores[i]), "class": int(classes[i])}
        if masks is not None:
            rle = mask_util.encode(np.asfortranarray(masks[i].astype(np.uint8)))
            d["mask"] = {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}
        out.append(d)
    return out


def checks(cfg, inst, cap):
    """Numerical health of a fixture; returned dict goes into expected.json['checks']."""
    import numpy as np
    res = {}
    finite = all(np.isfinite(v).all() for k, v in cap.items() if isinstance(v, np.ndarray)
                 and v.dtype != np.uint8)
    res["all_finite"] = bool(finite)
    scores = inst.scores.numpy().astype(np.float64)
    classes = inst.pred_classes.numpy()
    s = np.sort(scores)
    res["num_instances"] = int(len(scores))
    res["min_score_gap"] = float(np.diff(s).min()) if len(s) > 1 else None
    gaps = []
    for c in np.unique(classes):
        sc = np.sort(scores[classes == c])
        if len(sc) > 1:
            gaps.append(float(np.diff(sc).min()))
    res["min_score_gap_same_class"] = min(gaps) if gaps else None
    fg = cap["box_scores"][:, :-1].astype(np.float64)
    thr = cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST
    res["min_abs_candidate_score_minus_thresh"] = float(np.abs(fg - thr).min())
    res["candidates_within_1e-5_of_thresh"] = int((np.abs(fg - thr) < 1e-5).sum())
    ol = np.sort(cap["objectness_logits"].astype(np.float64))
    res["min_objectness_gap"] = float(np.diff(ol).min()) if len(ol) > 1 else None
    res["objectness_logit_std"] = float(ol.std())
    res["box_deltas_std"] = float(cap["box_deltas"].std())
    res["fpn_std"] = {k: float(cap[k].std()) for k in ["p2", "p3", "p4", "p5", "p6"]}
    import torch
    pm = d2_env.box_pooler_margins(cfg, torch.as_tensor(cap["proposals"]))
    res["proposal_box_pooler_margin_px"] = float(pm.min())
    res["proposals_within_0.03px_of_box_pooler_jump"] = int((pm < 0.03).sum())
    if cfg.MODEL.MASK_ON and len(cap["det_boxes"]):
        dm = d2_env.mask_pooler_margins(cfg, torch.as_tensor(cap["det_boxes"]))
        res["detection_mask_pooler_margin_px"] = float(dm.min())
    if inst.has("pred_masks"):
        m = inst.pred_masks.numpy()
        area = m.reshape(len(m), -1).sum(1)
        box = inst.pred_boxes.tensor.numpy()
        barea = np.maximum((box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1]), 1e-6)
        res["empty_masks"] = int((area == 0).sum())
        res["mask_fill_fraction_min_median_max"] = (
            [float(x) for x in np.percentile(area / barea, [0, 50, 100])] if len(m) else None)
        mp = cap["mask_probs"]
        res["mask_probs_within_1e-3_of_half"] = int((np.abs(mp - 0.5) < 1e-3).sum())
        res["mask_probs_fraction_above_half"] = float((mp >= 0.5).mean()) if mp.size else None
    return res


COMPARED = ["p2", "p3", "p4", "p5", "p6", "objectness_logits", "proposal_boxes", "box_scores", "box_deltas"]


def rel_err(a, ref):
    import numpy as np
    a = np.asarray(a, np.float64)
    ref = np.asarray(ref, np.float64)
    den = np.sqrt((ref * ref).sum())
    num = np.sqrt(((a - ref) ** 2).sum())
    return float(num / den) if den > 0 else float(num)


def pair_proposals(boxes_a, logits_a, boxes_b, logits_b, box_tol=0.05, logit_tol=1e-2):
    """Row i of a -> row of b (or -1): greedy in a's order, box within box_tol px (max abs coordinate
    difference), logit within logit_tol, closest box first. The same rule as tests/e2e/test_golden_parity."""
    import numpy as np
    a = np.asarray(boxes_a, np.float64)
    b = np.asarray(boxes_b, np.float64)
    la = np.asarray(logits_a, np.float64)
    lb = np.asarray(logits_b, np.float64)
    perm = np.full(len(a), -1)
    taken = np.zeros(len(b), bool)
    for i in range(len(a)):
        d = np.abs(b - a[i]).max(1)
        ok = (d < box_tol) & (np.abs(lb - la[i]) < logit_tol) & ~taken
        if ok.any():
            j = int(np.argmin(np.where(ok, d, np.inf)))
            perm[i] = j
            taken[j] = True
    return perm


def compare_runs(cap, ref):
    """Relative errors ||cap - ref|| / ||ref|| of the tensors the C++ test compares (proposal rows
    paired as the test pairs them), plus how many proposals / detections pair up."""
    import numpy as np
    out = {k: rel_err(cap[k], ref[k]) for k in ["p2", "p3", "p4", "p5", "p6"]}
    perm = pair_proposals(cap["proposals"], cap["objectness_logits"], ref["proposals"], ref["objectness_logits"])
    i = np.nonzero(perm >= 0)[0]
    j = perm[i]
    out["proposals_paired"] = float(len(i) / max(len(perm), 1))
    out["objectness_logits"] = rel_err(cap["objectness_logits"][i], ref["objectness_logits"][j])
    out["proposal_boxes"] = rel_err(cap["proposals"][i], ref["proposals"][j])
    out["box_scores"] = rel_err(cap["box_scores"][i], ref["box_scores"][j])
    out["box_deltas"] = rel_err(cap["box_deltas"][i], ref["box_deltas"][j])
    # detections: same class, |dscore| <= 1e-3, box IoU >= 0.99 (greedy in cap's order)
    used = np.zeros(len(ref["det_scores"]), bool)
    matched, max_ds = 0, 0.0
    for k in range(len(cap["det_scores"])):
        best, best_iou = -1, 0.0
        for m in range(len(ref["det_scores"])):
            if used[m] or ref["det_classes"][m] != cap["det_classes"][k]:
                continue
            if abs(float(ref["det_scores"][m]) - float(cap["det_scores"][k])) > 1e-3:
                continue
            x, y = cap["det_boxes"][k].astype(np.float64), ref["det_boxes"][m].astype(np.float64)
            iw = max(0.0, min(x[2], y[2]) - max(x[0], y[0]))
            ih = max(0.0, min(x[3], y[3]) - max(x[1], y[1]))
            u = (x[2] - x[0]) * (x[3] - x[1]) + (y[2] - y[0]) * (y[3] - y[1]) - iw * ih
            iou = iw * ih / u if u > 0 else 0.0
            if iou > best_iou:
                best, best_iou = m, iou
        if best >= 0 and best_iou >= 0.99:
            used[best] = True
            matched += 1
            max_ds = max(max_ds, abs(float(ref["det_scores"][best]) - float(cap["det_scores"][k])))
    out["detections_matched"] = f"{matched}/{len(cap['det_scores'])} (other run {len(ref['det_scores'])})"
    out["max_matched_score_diff"] = max_ds
    out["max_rel_error"] = max(out[k] for k in COMPARED)
    return out


def run_fp64(cfg_path, weights_path, img_path):
    """Detectron2 on the same files and image, with the model and its input in float64.

    Detectron2 itself decodes box deltas in float32 (Box2BoxTransform.apply_deltas casts), so the
    proposals and detections of this run are float32-rounded; every network tensor is float64.
    Returns the captured tensors (same keys as the float32 run, float64 arrays)."""
    import torch
    from detectron2.data.detection_utils import read_image
    predictor, cfg, cap, hooks = run_predictor(cfg_path, weights_path)
    model = predictor.model.double()
    inputs = d2_env.prepare_inputs(cfg, read_image(img_path, format="BGR"))
    inputs["image"] = inputs["image"].double()
    # detectron2.layers.batched_nms casts the boxes to float32; torchvision's NMS wants boxes and
    # scores of one dtype, so give it the (exactly widened) boxes in float64 for this run.
    import torchvision.ops.boxes as tv_boxes
    nms = tv_boxes.nms
    tv_boxes.nms = lambda b, sc, t: nms(b.to(sc.dtype), sc, t)
    try:
        with torch.no_grad():
            model.inference([inputs], do_postprocess=False)  # pasting masks needs float32; not compared
    finally:
        tv_boxes.nms = nms
        for h in hooks:
            h.remove()
    return cap


def save_npy(path, arr):
    import numpy as np
    arr = np.ascontiguousarray(arr)
    if arr.dtype != np.uint8:
        arr = arr.astype("<f4")
    np.save(path, arr, allow_pickle=False)


def make_case(name, spec, out_root, command, fp64_dump=None, max_noise=2e-5):
    import numpy as np
    import torch
    from detectron2.config import get_cfg
    from detectron2.data.detection_utils import read_image
    from detectron2.modeling import build_model

    t0 = time.time()
    case_dir = os.path.join(out_root, name)
    if os.path.isdir(case_dir):
        shutil.rmtree(case_dir)
    os.makedirs(os.path.join(case_dir, "tensors"))
    cfg_path = os.path.join(case_dir, "config.yaml")
    with open(cfg_path, "w") as f:
        f.write(f"# maskrt golden case '{name}': {spec['desc']}\n")
        f.write(f"_BASE_: \"../base/{BASE_NAME}\"\n")
        f.write(to_yaml(spec["yaml"]) + "\n")
    img_file = spec["image"][3]
    img_path = os.path.join(case_dir, img_file)
    make_image(spec["image"], img_path, spec.get("jpeg_quality", 92))
    original_bgr = read_image(img_path, format="BGR")  # EXIF orientation applied

    cfg = get_cfg()
    cfg.merge_from_file(cfg_path)
    cfg.MODEL.DEVICE = "cpu"
    cfg.freeze()
    torch.manual_seed(spec["seed"])
    model = build_model(cfg).eval()
    d2_env.init_weights(model, spec["seed"], sparse_backbone=spec.get("sparse_backbone"))
    stats = d2_env.calibrate(model, cfg, original_bgr, spec["seed"], spec["det_range"], log=log)
    kinds = spec.get("weights", ("pkl",))
    fp16 = any(k.startswith("pth16") for k in kinds)
    if fp16:
        d2_env.round_weights_fp16_(model)
    files = save_weights(model, case_dir, kinds)
    del model

    # Detectron2 itself reads the fixture files; every stored weight file must give the same result.
    results = {}
    for kind, wpath in files.items():
        predictor, pcfg, cap, hooks = run_predictor(cfg_path, wpath)
        pred = predictor(read_image(img_path, format="BGR"))
        for h in hooks:
            h.remove()
        results[kind] = (pred["instances"].to("cpu"), cap, pcfg)
    first = list(results)[0]
    inst, cap, pcfg = results[first]
    for kind in list(results)[1:]:
        other = results[kind][0]
        assert len(other) == len(inst) and torch.equal(other.pred_boxes.tensor, inst.pred_boxes.tensor) \
            and torch.equal(other.scores, inst.scores), f"{name}: {kind} and {first} differ"

    stored = spec.get("tensors") or (["resized", "p2", "p3", "p4", "p5", "p6", "proposals",
                                      "objectness_logits", "box_scores", "box_deltas"]
                                     + (["mask_probs"] if pcfg.MODEL.MASK_ON else []))
    for k in stored:
        save_npy(os.path.join(case_dir, "tensors", f"{k}.npy"), cap[k])

    ch = checks(pcfg, inst, cap)
    ch["calibration"] = stats
    # Noise floor: Detectron2's own float32 tensors against the same model run in float64.
    cap64 = run_fp64(cfg_path, files[first], img_path)
    ch["d2_fp32_vs_fp64"] = compare_runs(cap, cap64)
    if fp64_dump:
        save_fp64(os.path.join(fp64_dump, name), cap64)
    ch["weight_files_agree"] = sorted(os.path.basename(p) for p in files.values())
    exp = d2_env.versions()
    exp.update({
        "command": command,
        "case": {"name": name, "description": spec["desc"], "config_overrides": spec["yaml"],
                 "seed": spec["seed"], "image_source": f"skimage.data.{spec['image'][0]}",
                 "image_crop": spec["image"][1], "image_resize": spec["image"][2],
                 "exif_orientation": spec["image"][4],
                 "weights": os.path.basename(files[first]),
                 "weights_dtype": "float16" if fp16 else "float32",
                 "weights_zip_entries": "deflate" if any(k.endswith("z") for k in kinds) else
                 ("stored" if any(k.startswith("pth") for k in kinds) else None),
                 "sparse_backbone": spec.get("sparse_backbone"),
                 "jpeg_quality": spec.get("jpeg_quality", 92) if img_file.endswith(".jpg") else None,
                 "tensors_stored": sorted(stored)},
        "image": {"file": img_file, "height": int(original_bgr.shape[0]),
                  "width": int(original_bgr.shape[1])},
        "resized": [int(x) for x in cap["resized"].shape[:2]],
        "padded": [int(x) for x in cap["padded"]],
        "num_proposals": int(cap["proposals"].shape[0]),
        "instances": instances_json(inst),
        "checks": ch,
    })
    with open(os.path.join(case_dir, "expected.json"), "w") as f:
        json.dump(exp, f, indent=1)
        f.write("\n")
    nf = ch["d2_fp32_vs_fp64"]
    log(f"  fp32 vs fp64: " + ", ".join(f"{k} {nf[k]:.1e}" for k in COMPARED) +
        f", proposals paired {nf['proposals_paired']:.4f}, detections {nf['detections_matched']}")
    log(f"{name}: {len(inst)} instances, {exp['num_proposals']} proposals, resized {exp['resized']}, "
        f"padded {exp['padded']}, min score gap {ch['min_score_gap']}, "
        f"thresh margin {ch['min_abs_candidate_score_minus_thresh']:.2e}, "
        f"empty masks {ch.get('empty_masks')}, {time.time() - t0:.1f}s")
    problems = []
    if not ch["all_finite"]:
        problems.append("non-finite tensors")
    lo, hi = spec["det_range"]
    if not (min(lo, 10) <= len(inst) <= max(hi, 100)):
        problems.append(f"{len(inst)} detections")
    if ch["min_score_gap_same_class"] is not None and ch["min_score_gap_same_class"] < 1e-5:
        # Kept same-class instances overlap by at most NMS_THRESH_TEST, so a near tie between two
        # of them only makes their output order arbitrary (the C++ test matches by box, not index).
        log(f"  note: same-class score gap {ch['min_score_gap_same_class']:.2e} (output order of that pair)")
    if ch.get("empty_masks"):
        problems.append(f"{ch['empty_masks']} empty masks")
    if nf["max_rel_error"] > max_noise:
        problems.append(f"fp32-vs-fp64 noise {nf['max_rel_error']:.2e} > {max_noise:g}")
    if nf["proposals_paired"] < 1.0:
        problems.append(f"fp32-vs-fp64 proposals paired {nf['proposals_paired']}")
    return problems


def save_fp64(d, cap64):
    import numpy as np
    os.makedirs(d, exist_ok=True)
    for k, v in cap64.items():
        if isinstance(v, np.ndarray):
            np.save(os.path.join(d, f"{k}.npy"), np.ascontiguousarray(v), allow_pickle=False)


def measure_case(case_dir, fp64_dump=None):
    """Noise floor of an existing case directory (its files, no regeneration)."""
    with open(os.path.join(case_dir, "expected.json")) as f:
        exp = json.load(f)
    cfg_path = os.path.join(case_dir, "config.yaml")
    img_path = os.path.join(case_dir, exp["image"]["file"])
    from detectron2.data.detection_utils import read_image
    res = {}
    for w in ["model.pkl", "model.pth"]:
        wp = os.path.join(case_dir, w)
        if not os.path.exists(wp):
            continue
        predictor, pcfg, cap, hooks = run_predictor(cfg_path, wp)
        predictor(read_image(img_path, format="BGR"))
        for h in hooks:
            h.remove()
        cap64 = run_fp64(cfg_path, wp, img_path)
        res[w] = compare_runs(cap, cap64)
        if fp64_dump:
            save_fp64(os.path.join(fp64_dump, os.path.basename(case_dir.rstrip("/"))), cap64)
        break
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "golden"))
    ap.add_argument("--cases", default=",".join(DEFAULT_CASES),
                    help="comma-separated, default all; known: " + ",".join(CASES))
    ap.add_argument("--fp64-dump", default=None,
                    help="also write Detectron2's float64 tensors to DIR/<case>/*.npy (debugging)")
    ap.add_argument("--max-noise", type=float, default=2e-5,
                    help="largest accepted fp32-vs-fp64 relative error of a compared tensor")
    ap.add_argument("--measure", nargs="*", default=None, metavar="CASE_DIR",
                    help="only measure the fp32-vs-fp64 noise floor of existing case directories")
    args = ap.parse_args()
    src = d2_env.setup()
    same = d2_env.check_src_matches_mirror()
    if same is False:
        log(f"WARNING: {src} differs from {d2_env.D2_MIRROR_GIT} HEAD; recorded commit may be wrong")
    import torch
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    torch.use_deterministic_algorithms(True)
    if args.measure is not None:
        for d in args.measure:
            log(d + ": " + json.dumps(measure_case(d, args.fp64_dump), indent=1))
        return
    os.makedirs(os.path.join(args.out, "base"), exist_ok=True)
    with open(os.path.join(args.out, "base", BASE_NAME), "w") as f:
        f.write(BASE_YAML)
    command = "D2_SRC=/work/d2src python tools/reference/make_golden.py --cases {}"  # cases are independent
    failed = {}
    for name in args.cases.split(","):
        problems = make_case(name, CASES[name], args.out, command.format(name), args.fp64_dump,
                             args.max_noise)
        if problems:
            failed[name] = problems
    if failed:
        log("CHECKS FAILED: " + json.dumps(failed))
        sys.exit(1)
    log("all checks passed")


if __name__ == "__main__":
    main()
