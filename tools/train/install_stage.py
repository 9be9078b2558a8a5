#!/usr/bin/env python3
"""Install one training stage's output (device_stage4.sh's $OUT) into models/default.

  python3 tools/train/install_stage.py --from /work/.device/N --stage 7 [--note TEXT] [--test-size 704 1333]

Copies model_final.pkl -> model.pkl and config.yaml -> config.yaml, appends train_log.txt to the model's
train_log.txt and adds metrics.json under the key "stageN" of the model's metrics.json (refused if the key
exists, so a stage is never installed twice). The shipped test size (INPUT.MIN_SIZE_TEST / MAX_SIZE_TEST)
is kept from the current config unless --test-size gives a new one: it is chosen on the tuning split, not
by training (tools/train/README.md). Checks before writing anything: the four files exist, the metrics
name the same val split as the installed model's last stage (val_json_sha256 / val_images_sha256), and the
new config has the same model structure keys (MODEL.RESNETS, MODEL.FPN, MODEL.ROI_HEADS.NUM_CLASSES, ...).
--dry-run prints what would change. Afterwards re-run the evaluations named in docs/ACCURACY.md.
"""
import argparse
import json
import os
import re
import shutil
import sys

import yaml  # PyYAML (a Detectron2 / yacs dependency)

MODEL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "models", "default")
NEEDED = ("model_final.pkl", "config.yaml", "metrics.json", "train_log.txt")
# Top-level config blocks whose contents must not change between stages (the network's structure).
STRUCTURE_KEYS = ("RESNETS", "FPN", "ANCHOR_GENERATOR", "ROI_BOX_HEAD", "ROI_MASK_HEAD")


def fail(msg):
    sys.exit(f"install_stage.py: {msg}")


def set_test_size(text, min_size, max_size):
    text, n1 = re.subn(r"(?m)^(  MIN_SIZE_TEST: )\d+$", rf"\g<1>{min_size}", text)
    text, n2 = re.subn(r"(?m)^(  MAX_SIZE_TEST: )\d+$", rf"\g<1>{max_size}", text)
    if n1 != 1 or n2 != 1:
        fail("config.yaml: expected one INPUT.MIN_SIZE_TEST and one INPUT.MAX_SIZE_TEST line")
    return text


def get_test_size(text):
    mn = re.search(r"(?m)^  MIN_SIZE_TEST: (\d+)$", text)
    mx = re.search(r"(?m)^  MAX_SIZE_TEST: (\d+)$", text)
    if not mn or not mx:
        fail("config.yaml: INPUT.MIN_SIZE_TEST / MAX_SIZE_TEST not found")
    return int(mn.group(1)), int(mx.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--from", dest="src", required=True, help="the stage's output folder")
    ap.add_argument("--stage", type=int, required=True, help="stage number (metrics.json key stageN)")
    ap.add_argument("--model-dir", default=MODEL_DIR, help="default: models/default")
    ap.add_argument("--test-size", type=int, nargs=2, metavar=("MIN", "MAX"), help="new shipped test size")
    ap.add_argument("--note", help="free text stored as metrics.json stageN.note")
    ap.add_argument("--dry-run", action="store_true")
    a = ap.parse_args()

    for f in NEEDED:
        if not os.path.isfile(os.path.join(a.src, f)):
            fail(f"{os.path.join(a.src, f)}: missing (a stage's output has {', '.join(NEEDED)})")
    key = f"stage{a.stage}"
    metrics_path = os.path.join(a.model_dir, "metrics.json")
    with open(metrics_path) as f:
        metrics = json.load(f)
    if key in metrics:
        fail(f"{metrics_path}: key {key} exists already (stage installed before?)")
    with open(os.path.join(a.src, "metrics.json")) as f:
        new = json.load(f)
    last = metrics[sorted(metrics, key=lambda k: int(k[5:]))[-1]] if metrics else {}
    for h in ("val_json_sha256", "val_images_sha256"):
        if last.get(h) and new.get(h) != last.get(h):
            fail(f"{a.src}/metrics.json: {h} {str(new.get(h))[:12]}... differs from the installed model's "
                 f"{last[h][:12]}...: not the same val split")

    with open(os.path.join(a.model_dir, "config.yaml")) as f:
        old_cfg = f.read()
    with open(os.path.join(a.src, "config.yaml")) as f:
        new_cfg = f.read()
    old_model, new_model = yaml.safe_load(old_cfg)["MODEL"], yaml.safe_load(new_cfg)["MODEL"]
    for k in STRUCTURE_KEYS:
        if old_model.get(k) != new_model.get(k):
            fail(f"{a.src}/config.yaml: MODEL.{k} differs from the installed model's (a different network)")
    if old_model["ROI_HEADS"]["NUM_CLASSES"] != new_model["ROI_HEADS"]["NUM_CLASSES"]:
        fail(f"{a.src}/config.yaml: MODEL.ROI_HEADS.NUM_CLASSES {new_model['ROI_HEADS']['NUM_CLASSES']} != installed "
             f"{old_model['ROI_HEADS']['NUM_CLASSES']}")
    size = tuple(a.test_size) if a.test_size else get_test_size(old_cfg)
    new_cfg = set_test_size(new_cfg, *size)
    if a.note:
        new["note"] = a.note
    metrics[key] = new

    print(f"install {a.src} as {key} into {os.path.normpath(a.model_dir)}: test size {size[0]} / {size[1]}"
          f" ({'new' if a.test_size else 'kept'}), iterations {new.get('iterations')}, images {new.get('images_seen')}")
    if a.dry_run:
        return
    shutil.copyfile(os.path.join(a.src, "model_final.pkl"), os.path.join(a.model_dir, "model.pkl"))
    with open(os.path.join(a.model_dir, "config.yaml"), "w") as f:
        f.write(new_cfg)
    with open(os.path.join(a.src, "train_log.txt")) as src, open(os.path.join(a.model_dir, "train_log.txt"), "a") as dst:
        dst.write(src.read())
    with open(metrics_path, "w") as f:
        json.dump(metrics, f, indent=1)
    print("done: now re-run the evaluations named in docs/ACCURACY.md and update MODEL_CARD.md")


if __name__ == "__main__":
    main()
