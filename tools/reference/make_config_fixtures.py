#!/usr/bin/env python3
"""Generates maskrt's Detectron2-config data and test fixtures by running Detectron2's own config code.

Outputs (paths relative to the repository root):
  src/io/detectron2_defaults.cpp        the canonical dump (see below) of detectron2.config.get_cfg(),
                                        embedded in the library as a raw string literal
  tests/unit/data/config/expected.json  for each yaml chain under tests/unit/data/config/ (+ opts):
                                        Detectron2's merged config (canonical dump, its SHA-256, and the
                                        flat key -> value map), the anchor sizes / aspect ratios after
                                        Detectron2's _broadcast_params, and whether Detectron2 builds
                                        the model; for each error case, the exception Detectron2 raises.

Canonical dump (the text maskrt hashes; src/io/config.cpp produces the same text):
  one line per leaf, "<DOTTED.KEY>: <repr(value)>\n", lines sorted by key (byte order), where repr is
  Python's repr of the value as yacs stores it (int, float, bool, str, None, list, tuple); an empty
  CfgNode is written as "{}".  The config hash is the lowercase hex SHA-256 of this text.

Usage (Detectron2 source tree on PYTHONPATH; fvcore, yacs, PyYAML, torch installed):
  PYTHONPATH=/work/d2src python tools/reference/make_config_fixtures.py
"""
import hashlib
import json
import os
import sys
import traceback

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(REPO, "tests", "unit", "data", "config")
DEFAULTS_CPP = os.path.join(REPO, "src", "io", "detectron2_defaults.cpp")

import logging  # noqa: E402

logging.disable(logging.WARNING)
import warnings  # noqa: E402

warnings.filterwarnings("ignore")

import yaml  # noqa: E402
import yacs  # noqa: E402
import fvcore  # noqa: E402
import detectron2  # noqa: E402
from detectron2.config import CfgNode, get_cfg  # noqa: E402


def flatten(node, prefix, out):
    for k, v in node.items():
        key = prefix + str(k)
        if isinstance(v, dict):
            if len(v) == 0:
                out[key] = "{}"
            else:
                flatten(v, key + ".", out)
        else:
            out[key] = repr(v)
    return out


def canonical(cfg):
    flat = flatten(cfg, "", {})
    return "".join("{}: {}\n".format(k, flat[k]) for k in sorted(flat))


def to_json(v):
    if isinstance(v, dict):
        return {str(k): to_json(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [to_json(x) for x in v]
    return v


def flat_values(node, prefix, out):
    for k, v in node.items():
        key = prefix + str(k)
        if isinstance(v, dict) and len(v) > 0:
            flat_values(v, key + ".", out)
        else:
            out[key] = {"type": type(v).__name__, "value": to_json(v)}
    return out


def load(files, opts):
    cfg = get_cfg()
    for f in files:
        cfg.merge_from_file(os.path.join(DATA, f))
    if opts:
        cfg.merge_from_list(list(opts))
    return cfg


def try_build(cfg):
    """Builds the Detectron2 model on CPU; returns "ok" or the exception."""
    from detectron2.modeling import build_model

    c = cfg.clone()
    c.defrost()
    c.MODEL.DEVICE = "cpu"
    try:
        build_model(c)
        return "ok"
    except Exception as e:  # noqa: BLE001 - we record whatever Detectron2 raises
        return "{}: {}".format(type(e).__name__, str(e).splitlines()[0] if str(e) else "")


def broadcast(cfg):
    from detectron2.modeling.anchor_generator import _broadcast_params

    n = len(cfg.MODEL.RPN.IN_FEATURES)
    sizes = _broadcast_params(cfg.MODEL.ANCHOR_GENERATOR.SIZES, n, "sizes")
    ratios = _broadcast_params(cfg.MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS, n, "aspect_ratios")
    return to_json(sizes), to_json(ratios)


# Keys ModelSpec is filled from (their Detectron2 values are stored typed, for the spec checks).
SPEC_KEYS = {
    "INPUT.FORMAT", "INPUT.MIN_SIZE_TEST", "INPUT.MAX_SIZE_TEST", "MODEL.PIXEL_MEAN", "MODEL.PIXEL_STD",
    "MODEL.RESNETS.DEPTH", "MODEL.RESNETS.OUT_FEATURES", "MODEL.RESNETS.NUM_GROUPS",
    "MODEL.RESNETS.WIDTH_PER_GROUP", "MODEL.RESNETS.STRIDE_IN_1X1", "MODEL.RESNETS.RES5_DILATION",
    "MODEL.RESNETS.RES2_OUT_CHANNELS", "MODEL.RESNETS.STEM_OUT_CHANNELS", "MODEL.RESNETS.NORM",
    "MODEL.BACKBONE.FREEZE_AT", "MODEL.FPN.IN_FEATURES", "MODEL.FPN.OUT_CHANNELS", "MODEL.FPN.NORM",
    "MODEL.FPN.FUSE_TYPE", "MODEL.ANCHOR_GENERATOR.OFFSET", "MODEL.RPN.IN_FEATURES",
    "MODEL.RPN.PRE_NMS_TOPK_TEST", "MODEL.RPN.POST_NMS_TOPK_TEST", "MODEL.RPN.NMS_THRESH",
    "MODEL.RPN.BBOX_REG_WEIGHTS", "MODEL.PROPOSAL_GENERATOR.MIN_SIZE", "MODEL.RPN.CONV_DIMS",
    "MODEL.ROI_HEADS.NUM_CLASSES", "MODEL.ROI_HEADS.IN_FEATURES", "MODEL.ROI_HEADS.SCORE_THRESH_TEST",
    "MODEL.ROI_HEADS.NMS_THRESH_TEST", "TEST.DETECTIONS_PER_IMAGE", "MODEL.ROI_BOX_HEAD.NUM_CONV",
    "MODEL.ROI_BOX_HEAD.CONV_DIM", "MODEL.ROI_BOX_HEAD.NUM_FC", "MODEL.ROI_BOX_HEAD.FC_DIM",
    "MODEL.ROI_BOX_HEAD.POOLER_RESOLUTION", "MODEL.ROI_BOX_HEAD.POOLER_SAMPLING_RATIO",
    "MODEL.ROI_BOX_HEAD.POOLER_TYPE", "MODEL.ROI_BOX_HEAD.BBOX_REG_WEIGHTS",
    "MODEL.ROI_BOX_HEAD.CLS_AGNOSTIC_BBOX_REG", "MODEL.MASK_ON", "MODEL.ROI_MASK_HEAD.NUM_CONV",
    "MODEL.ROI_MASK_HEAD.CONV_DIM", "MODEL.ROI_MASK_HEAD.POOLER_RESOLUTION",
    "MODEL.ROI_MASK_HEAD.POOLER_SAMPLING_RATIO", "MODEL.ROI_MASK_HEAD.POOLER_TYPE",
    "MODEL.ROI_MASK_HEAD.CLS_AGNOSTIC_MASK", "MODEL.WEIGHTS",
}

# name -> (file chain merged in order, opts)
CASES = {
    "base": (["base_rcnn_fpn.yaml"], []),
    "r101_child": (["r101_child.yaml"], []),
    "x101": (["nested/x101.yaml"], []),
    "rgb_torchvision": (["rgb_torchvision.yaml"], []),
    "r18": (["r18.yaml"], []),
    "r101_opts": (
        ["r101_child.yaml"],
        [
            "MODEL.ROI_HEADS.NUM_CLASSES", "5",
            "MODEL.PIXEL_MEAN", "[1.5, 2.5, 3.5]",
            "INPUT.MIN_SIZE_TEST", "720",
            "MODEL.WEIGHTS", "/models/x/model_final.pth",
            "DATASETS.TEST", "('coco_2017_val',)",
            "MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0",
            "MODEL.RPN.BBOX_REG_WEIGHTS", "[2.0, 2.0, 1.0, 1.0]",
            "MODEL.MASK_ON", "False",
            "INPUT.FORMAT", "RGB",
            "OUTPUT_DIR", "'quoted string'",
            "SOLVER.BASE_LR", "1e-4",
            "MODEL.DEVICE", "cpu",
        ],
    ),
}

# name -> (file chain, opts); Detectron2's behaviour is recorded, maskrt's error is asserted in C++.
ERROR_CASES = {
    "unknown_key": (["errors/unknown_key.yaml"], []),
    "type_int_for_float": (["errors/type_int_for_float.yaml"], []),
    "type_str_for_int": (["errors/type_str_for_int.yaml"], []),
    "node_replaced_by_scalar": (["errors/node_replaced_by_scalar.yaml"], []),
    "bad_syntax": (["errors/bad_syntax.yaml"], []),
    "truncated": (["errors/truncated.yaml"], []),
    "empty": (["errors/empty.yaml"], []),
    "cycle": (["errors/cycle_a.yaml"], []),
    "missing_base": (["errors/missing_base.yaml"], []),
    "version3": (["errors/version3.yaml"], []),
    "opts_odd": (["base_rcnn_fpn.yaml"], ["MODEL.ROI_HEADS.NUM_CLASSES"]),
    "opts_unknown": (["base_rcnn_fpn.yaml"], ["MODEL.ROI_HEADS.NUM_CLASSE", "3"]),
    "opts_type": (["base_rcnn_fpn.yaml"], ["MODEL.ROI_HEADS.NUM_CLASSES", "3.5"]),
    # valid for Detectron2's config system; maskrt rejects them as kUnsupported / kBadConfig
    "cascade": (["errors/cascade.yaml"], []),
    "resnet_gn": (["errors/resnet_gn.yaml"], []),
    "dc5": (["errors/dc5.yaml"], []),
    "keypoint": (["errors/keypoint.yaml"], []),
    "deform": (["errors/deform.yaml"], []),
    "roipool": (["errors/roipool.yaml"], []),
    "c4_backbone": (["errors/c4_backbone.yaml"], []),
    "depth42": (["errors/depth42.yaml"], []),
    "r34_res2_256": (["errors/r34_res2_256.yaml"], []),
    "zero_classes": (["errors/zero_classes.yaml"], []),
    "score_thresh_1_5": (["errors/score_thresh_1_5.yaml"], []),
    "fpn_in_features": (["errors/fpn_in_features.yaml"], []),
    "r18_resnext": (["errors/r18_resnext.yaml"], []),
    "zero_detections": (["errors/zero_detections.yaml"], []),
    "anchor_levels": (["errors/anchor_levels.yaml"], []),
}


def write_defaults():
    text = canonical(get_cfg())
    assert ")MASKRT\"" not in text
    with open(DEFAULTS_CPP, "w") as f:
        f.write(
            "// GENERATED by tools/reference/make_config_fixtures.py from detectron2.config.get_cfg()\n"
            "// (detectron2 {}). Do not edit: re-run the script.\n"
            "// One line per key: \"DOTTED.KEY: <Python repr of the default value>\", sorted by key.\n"
            '#include "io/detectron2_defaults.h"\n\n'
            "namespace maskrt {{\n\n"
            "const char* detectron2_defaults_canonical() {{\n"
            "  static const char kText[] = R\"MASKRT({})MASKRT\";\n"
            "  return kText;\n"
            "}}\n\n"
            "}}  // namespace maskrt\n".format(detectron2.__version__, text)
        )
    return text


def main():
    defaults = write_defaults()
    out = {
        "generator": "tools/reference/make_config_fixtures.py",
        "command": "PYTHONPATH=/work/d2src python tools/reference/make_config_fixtures.py",
        "versions": {
            "detectron2": detectron2.__version__,
            "fvcore": getattr(fvcore, "__version__", "?"),
            "yacs": getattr(yacs, "__version__", "?"),
            "pyyaml": yaml.__version__,
            "python": sys.version.split()[0],
        },
        "defaults_sha256": hashlib.sha256(defaults.encode()).hexdigest(),
        "cases": {},
        "errors": {},
    }
    for name, (files, opts) in CASES.items():
        cfg = load(files, opts)
        text = canonical(cfg)
        sizes, ratios = broadcast(cfg)
        out["cases"][name] = {
            "files": files,
            "opts": opts,
            "canonical": text,
            "sha256": hashlib.sha256(text.encode()).hexdigest(),
            "values": {k: v for k, v in flat_values(cfg, "", {}).items() if k in SPEC_KEYS},
            "anchor_sizes": sizes,
            "anchor_aspect_ratios": ratios,
            "d2_build_model": try_build(cfg),
        }
        print(name, out["cases"][name]["d2_build_model"])
    for name, (files, opts) in ERROR_CASES.items():
        rec = {"files": files, "opts": opts}
        try:
            cfg = load(files, opts)
            rec["d2_merge"] = "ok"
            rec["d2_build_model"] = try_build(cfg)
        except RecursionError:
            rec["d2_merge"] = "RecursionError"
        except Exception as e:  # noqa: BLE001
            msg = str(e).splitlines()[0] if str(e) else ""
            rec["d2_merge"] = "{}: {}".format(type(e).__name__, msg[:300])
        print(name, rec.get("d2_merge"), rec.get("d2_build_model", ""))
        out["errors"][name] = rec
    with open(os.path.join(DATA, "expected.json"), "w") as f:
        json.dump(out, f, indent=0, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
