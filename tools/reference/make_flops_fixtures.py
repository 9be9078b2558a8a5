#!/usr/bin/env python3
"""Counts the cost of Detectron2 Mask R-CNN models with Detectron2 + fvcore: the oracle of
tests/unit/test_flops.cpp (src/bench/flops.h).

Output: tests/unit/data/flops/expected.json. For each case (a yaml under tests/unit/data/flops/ and an
image size), Detectron2 builds the model on the CPU with seeded random weights and runs it once on a
seeded random image of that size (the image is fed to the model directly, so with INPUT.MIN_SIZE_TEST 0
the network input is that image zero-padded to a multiple of 32 by Detectron2's ImageList). Recorded:

  padded_h/w     the backbone's input size (forward pre-hook on model.backbone)
  proposals      rows entering the box head (the real post-NMS proposal count of this run)
  detections     rows entering the mask head (the real detection count; 0 when MASK_ON is false)
  macs           per stage, fvcore.nn.FlopCountAnalysis (Detectron2's wrapper,
                 detectron2.utils.analysis.FlopCountAnalysis) by module and operator, summing the
                 operators that are multiply-accumulates: "conv" (aten::_convolution, which covers
                 transposed convolutions) and "linear"/"addmm"/"matmul"/"bmm"/"einsum". fvcore counts
                 ONE "flop" per multiply-accumulate and ignores the bias. Other operators fvcore
                 reports (e.g. upsample_nearest2d) are listed in `other_ops` and NOT in macs;
                 torchvision::roi_align has no fvcore handle (listed in `unsupported_ops`), so
                 ROIAlign counts 0 MACs.
  weight_elems   per stage, counted with forward hooks on a plain (untraced) run: every Conv2d /
                 Linear / ConvTranspose2d module once, weight.numel() + out_channels (a bias, or the
                 FrozenBN folded into one value per output channel).
  act_elems      per stage, same hooks, every call: input numel + output numel of each Conv2d / Linear /
                 ConvTranspose2d; output numel of each ROIAlign (its feature reads are a data-dependent
                 gather and not counted); input + output numel of the stem max-pool and of the
                 LastLevelMaxPool (p6).
Stages by module name: backbone.bottom_up -> backbone; the rest of backbone -> fpn; proposal_generator
-> rpn; roi_heads.box_* -> box_head; roi_heads.mask_* -> mask_head.

The ROI counts are forced, not left to chance: SCORE_THRESH_TEST 0 keeps every candidate, so the model
returns exactly TEST.DETECTIONS_PER_IMAGE detections, and POST_NMS_TOPK_TEST is far below the number
of anchors surviving NMS, so the box head gets exactly that many proposals; the generator checks both
and records the counts Detectron2 actually ran.

Usage:  D2_SRC=/work/d2src python tools/reference/make_flops_fixtures.py
"""
import json
import os
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DATA = os.path.join(REPO, "tests", "unit", "data", "flops")
sys.path.insert(0, HERE)

import d2_env  # noqa: E402

d2_env.setup()
warnings.filterwarnings("ignore")
import logging  # noqa: E402

logging.disable(logging.WARNING)

import torch  # noqa: E402
import fvcore  # noqa: E402
from torch import nn  # noqa: E402
from detectron2.config import get_cfg  # noqa: E402
from detectron2.layers import ROIAlign  # noqa: E402
from detectron2.modeling import build_model  # noqa: E402
from detectron2.modeling.backbone.fpn import LastLevelMaxPool  # noqa: E402
from detectron2.modeling.backbone.resnet import BasicStem  # noqa: E402
from detectron2.utils.analysis import FlopCountAnalysis  # noqa: E402

CASES = [
    # name, yaml, image (h, w), seed
    ("r50_mask_200x300", "r50_mask.yaml", (200, 300), 1),
    ("r18_small_heads_170x250", "r18_small_heads.yaml", (170, 250), 2),
    ("x50_groups_res3_288x352", "x50_groups_res3.yaml", (288, 352), 3),
]
STAGES = ["backbone", "fpn", "rpn", "box_head", "mask_head"]
MAC_OPS = {"conv", "linear", "addmm", "matmul", "bmm", "einsum"}


def stage_of(name):
    name = name[len("model."):] if name.startswith("model.") else name  # TracingAdapter prefix
    if name.startswith("backbone.bottom_up"):
        return "backbone"
    if name.startswith("backbone"):
        return "fpn"
    if name.startswith("proposal_generator"):
        return "rpn"
    if name.startswith("roi_heads.box"):
        return "box_head"
    if name.startswith("roi_heads.mask"):
        return "mask_head"
    return None


def numel(x):
    if isinstance(x, (list, tuple)):
        return sum(numel(v) for v in x)
    return x.numel() if torch.is_tensor(x) else 0


def hook_counts(model, inputs):
    """weight_elems / act_elems per stage, and the ROI counts, from one plain forward."""
    weights = {s: 0 for s in STAGES}
    acts = {s: 0 for s in STAGES}
    seen = set()
    info = {"proposals": 0, "detections": 0, "padded": None}
    stem_conv_out = {}
    handles = []
    for name, m in model.named_modules():
        st = stage_of(name)
        if isinstance(m, (nn.Conv2d, nn.Linear, nn.ConvTranspose2d)):
            def h(mod, inp, out, st=st, name=name):
                if name not in seen:
                    seen.add(name)
                    outc = mod.out_features if isinstance(mod, nn.Linear) else mod.out_channels
                    weights[st] += mod.weight.numel() + outc
                acts[st] += numel(inp[0]) + numel(out)
                if name.endswith("stem.conv1"):
                    stem_conv_out["n"] = numel(out)
            handles.append(m.register_forward_hook(h))
        elif isinstance(m, ROIAlign):
            handles.append(m.register_forward_hook(lambda mod, inp, out, st=st: acts.__setitem__(st, acts[st] + numel(out))))
        elif isinstance(m, LastLevelMaxPool):
            handles.append(m.register_forward_hook(
                lambda mod, inp, out, st=st: acts.__setitem__(st, acts[st] + numel(inp[0]) + numel(out))))
        elif isinstance(m, BasicStem):
            # F.max_pool2d inside the stem: input = conv1's output, output = the stem's output.
            handles.append(m.register_forward_hook(
                lambda mod, inp, out, st=st: acts.__setitem__(st, acts[st] + stem_conv_out["n"] + numel(out))))
    handles.append(model.backbone.register_forward_pre_hook(
        lambda mod, inp: info.__setitem__("padded", list(inp[0].shape[-2:]))))
    handles.append(model.roi_heads.box_head.register_forward_pre_hook(
        lambda mod, inp: info.__setitem__("proposals", info["proposals"] + inp[0].shape[0])))
    if model.roi_heads.mask_on:
        handles.append(model.roi_heads.mask_head.register_forward_pre_hook(
            lambda mod, inp: info.__setitem__("detections", info["detections"] + inp[0].shape[0])))
    with torch.no_grad():
        out = model(inputs)
    for h in handles:
        h.remove()
    info["instances"] = len(out[0]["instances"])
    return weights, acts, info


def fvcore_macs(model, inputs):
    with torch.no_grad():
        fca = FlopCountAnalysis(model, inputs)
        fca.unsupported_ops_warnings(False)
        fca.uncalled_modules_warnings(False)
        by_mod_op = fca.by_module_and_operator()
        by_op = dict(fca.by_operator())
        unsupported = dict(fca.unsupported_ops())
        total = fca.total()
    macs = {s: 0 for s in STAGES}
    other = {op: n for op, n in by_op.items() if op not in MAC_OPS and n}
    # by_module_and_operator lists every module with its subtree's counts: take the stage roots.
    roots = {"backbone": ["backbone.bottom_up"], "fpn": ["backbone"], "rpn": ["proposal_generator"],
             "box_head": ["roi_heads.box_pooler", "roi_heads.box_head", "roi_heads.box_predictor"],
             "mask_head": ["roi_heads.mask_pooler", "roi_heads.mask_head"]}
    prefix = "model." if any(k.startswith("model.") for k in by_mod_op) else ""

    def mac_of(mod):
        ops = by_mod_op.get(prefix + mod, {})
        return sum(n for op, n in ops.items() if op in MAC_OPS)

    for s in STAGES:
        macs[s] = sum(mac_of(m) for m in roots[s])
    macs["fpn"] -= macs["backbone"]  # "backbone" holds bottom_up + fpn
    # Every MAC-type operator fvcore counted belongs to one of the stages.
    assert sum(macs.values()) + sum(other.values()) == total, (macs, other, total)
    return macs, other, unsupported, total


def run_case(name, yaml_name, size, seed):
    cfg = get_cfg()
    cfg.merge_from_file(os.path.join(DATA, yaml_name))
    cfg.MODEL.DEVICE = "cpu"
    torch.manual_seed(seed)
    model = build_model(cfg).eval()
    # Tame random weights: FrozenBN scaled so activations stay finite through the residual stages.
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if type(m).__name__ == "FrozenBatchNorm2d":
            m.weight.copy_(torch.rand(m.weight.shape, generator=g) * 0.5 + 0.25)
    h, w = size
    image = (torch.rand(3, h, w, generator=g) * 255).float()
    inputs = [{"image": image}]
    weights, acts, info = hook_counts(model, inputs)
    exp_props = cfg.MODEL.RPN.POST_NMS_TOPK_TEST
    exp_dets = cfg.TEST.DETECTIONS_PER_IMAGE if cfg.MODEL.MASK_ON else 0
    assert info["proposals"] == exp_props, (name, info)
    assert info["detections"] == exp_dets, (name, info)
    assert info["instances"] == cfg.TEST.DETECTIONS_PER_IMAGE, (name, info)
    macs, other, unsupported, total = fvcore_macs(model, inputs)
    print(f"{name}: padded {info['padded']} proposals {info['proposals']} detections {info['detections']} "
          f"MACs {macs} (fvcore total {total}); other ops {other}; unsupported {unsupported}")
    return {
        "config": yaml_name,
        "image_h": h,
        "image_w": w,
        "padded_h": info["padded"][0],
        "padded_w": info["padded"][1],
        "proposals": info["proposals"],
        "detections": info["detections"],
        "macs": macs,
        "weight_elems": weights,
        "act_elems": acts,
        "fvcore_total": total,
        "other_ops": other,
        "unsupported_ops": unsupported,
    }


def main():
    out = {
        "generator": "tools/reference/make_flops_fixtures.py",
        "command": "D2_SRC=/work/d2src python tools/reference/make_flops_fixtures.py",
        "versions": dict(d2_env.versions(), fvcore=getattr(fvcore, "__version__", "unknown")),
        "macs_note": "fvcore counts one flop per multiply-accumulate of conv/linear/deconv, bias ignored",
        "cases": {},
    }
    for name, yaml_name, size, seed in CASES:
        out["cases"][name] = run_case(name, yaml_name, size, seed)
    path = os.path.join(DATA, "expected.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
