#!/usr/bin/env python3
"""Time Detectron2's DefaultPredictor-equivalent inference: the reference that maskrt is measured against.

Model: configs/COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x.yaml from the Detectron2 source tree
(full width R50-FPN Mask R-CNN, 80 classes) with seeded weights calibrated on the benchmark image
(d2_env.init_weights + d2_env.calibrate), so the number of detections (and hence the mask head's
work) is realistic. Image: a 640x480 photo (default: scikit-image's coffee, resized), which
ResizeShortestEdge(800, 1333) turns into 800x1067 (padded 800x1088).

Each timed iteration is one DefaultPredictor.__call__ (d2_env.predict): BGR uint8 -> resize (Pillow)
-> model (normalise, pad, backbone, RPN, ROI heads, paste masks at the original size). Warm-up
iterations are timed and reported apart; CUDA timings synchronise after every image.
Per-stage times (optional, --stages) come from a separate pass with synchronising hooks.

Examples:
  D2_SRC=/work/d2src python tools/reference/bench_detectron2.py --device cpu --threads 2 --iters 5
  D2_SRC=$PWD/d2src python3 tools/reference/bench_detectron2.py --device cuda --precision fp32
  D2_SRC=$PWD/d2src python3 tools/reference/bench_detectron2.py --device cuda --precision fp16 --stages
On a machine without fvcore/iopath/yacs/omegaconf: copy them (pure Python) to $D2_SRC/_pydeps with
d2_env.vendor_pure_python_deps (see tools/reference/README.md).
"""
import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import d2_env  # noqa: E402

CONFIG = "configs/COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x.yaml"


def load_image(path, size):
    """BGR uint8 (H, W, 3) as detection_utils.read_image(format='BGR') gives it."""
    import numpy as np
    from PIL import Image
    if path:
        from detectron2.data.detection_utils import read_image
        return read_image(path, format="BGR"), path
    import skimage.data
    im = Image.fromarray(skimage.data.coffee()).convert("RGB").resize(size, Image.BILINEAR)
    return np.ascontiguousarray(np.asarray(im)[:, :, ::-1]), f"skimage.data.coffee resized to {size}"


def percentile(xs, q):
    xs = sorted(xs)
    if not xs:
        return None
    k = (len(xs) - 1) * q / 100.0
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def summary(ms):
    return {"median_ms": statistics.median(ms), "p90_ms": percentile(ms, 90), "min_ms": min(ms),
            "max_ms": max(ms), "images_per_s": 1000.0 / statistics.median(ms)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: leave as is)")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "fp16"],
                    help="fp32 (TF32 off) or fp16 autocast (CUDA only)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--stages", action="store_true", help="also time backbone/RPN/ROI heads (synchronising hooks)")
    ap.add_argument("--image", default="", help="image file; default: a 640x480 sample photo")
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cudnn-benchmark", action="store_true")
    ap.add_argument("--out", default="", help="also write the JSON here")
    ap.add_argument("--det-min", type=int, default=100,
                    help="calibrate the background bias so at least this many detections come out (100 = the cap)")
    ap.add_argument("--save-model", default="",
                    help="write config.yaml, model.pkl and image.png (the exact model and image timed) to this "
                         "folder, so maskrt can be timed on the same weights and input")
    ap.add_argument("--load-model", default="",
                    help="time the model saved by --save-model instead of seeding and calibrating a new one")
    args = ap.parse_args()

    src = d2_env.setup()
    import torch
    from detectron2.config import get_cfg
    from detectron2.modeling import build_model

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = args.cudnn_benchmark
    elif args.precision != "fp32":
        raise SystemExit("--precision fp16 needs --device cuda")

    cfg = get_cfg()
    cfg.merge_from_file(os.path.join(src, CONFIG))
    cfg.MODEL.DEVICE = args.device
    cfg.freeze()
    if args.load_model and not args.image:
        args.image = os.path.join(args.load_model, "image.png")
    image, image_desc = load_image(args.image, (args.width, args.height))

    t0 = time.perf_counter()
    torch.manual_seed(args.seed)
    model = build_model(cfg).eval()
    if args.load_model:
        import pickle
        with open(os.path.join(args.load_model, "model.pkl"), "rb") as f:
            sd = pickle.load(f)["model"]
        model.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()}, strict=True)
        model.to(args.device)
        calib = {"loaded": args.load_model}
    else:
        d2_env.init_weights(model.cpu(), args.seed)
        # Calibrate on the CPU (the calibration code is written for it), then move the model.
        model.cpu()
        cfg.defrost()
        cfg.MODEL.DEVICE = "cpu"
        calib = d2_env.calibrate(model, cfg, image, args.seed, det_range=(args.det_min, 100), log=lambda *a: None)
        cfg.MODEL.DEVICE = args.device
        cfg.freeze()
        model.to(args.device)
    if args.save_model:
        import pickle
        from PIL import Image as PILImage
        os.makedirs(args.save_model, exist_ok=True)
        sd = {k: v.detach().float().cpu().numpy() for k, v in model.state_dict().items()
              if not k.endswith("num_batches_tracked")}
        with open(os.path.join(args.save_model, "model.pkl"), "wb") as f:
            pickle.dump({"model": sd, "__author__": "maskrt bench (seeded, calibrated)"}, f, protocol=4)
        with open(os.path.join(args.save_model, "config.yaml"), "w") as f:
            f.write(cfg.dump())
        PILImage.fromarray(image[:, :, ::-1].copy()).save(os.path.join(args.save_model, "image.png"))
    setup_s = time.perf_counter() - t0

    sync = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)
    amp = (torch.autocast("cuda", dtype=torch.float16) if args.precision == "fp16"
           else contextlib.nullcontext())
    aug = d2_env.make_resize(cfg)

    def once():
        sync()
        t = time.perf_counter()
        with amp:
            out = d2_env.predict(model, cfg, image, aug)
        sync()
        return (time.perf_counter() - t) * 1000.0, out

    warm = [once()[0] for _ in range(args.warmup)]
    samples, n_inst = [], None
    for _ in range(args.iters):
        ms, out = once()
        samples.append(ms)
        n_inst = len(out["instances"])

    stages = None
    if args.stages:
        mods = {"backbone": model.backbone, "proposal_generator": model.proposal_generator,
                "roi_heads": model.roi_heads}
        acc = {k: [] for k in mods}
        start = {}
        hs = []
        for k, m in mods.items():
            def pre(mod, a, k=k):
                sync()
                start[k] = time.perf_counter()

            def post(mod, a, o, k=k):
                sync()
                acc[k].append((time.perf_counter() - start[k]) * 1000.0)
            hs += [m.register_forward_pre_hook(pre), m.register_forward_hook(post)]
        totals = []
        for _ in range(max(3, args.iters // 2)):
            totals.append(once()[0])
        for h in hs:
            h.remove()
        stages = {k: statistics.median(v) for k, v in acc.items()}
        stages["rest_ms (resize, normalise+pad, mask paste, postprocess)"] = (
            statistics.median(totals) - sum(stages.values()))
        stages = {"median_ms": stages, "total_median_ms_with_hooks": statistics.median(totals)}

    inp = d2_env.prepare_inputs(cfg, image)
    res = {
        "what": "Detectron2 DefaultPredictor-equivalent inference, batch 1",
        "versions": d2_env.versions(),
        "device": (torch.cuda.get_device_name() if args.device == "cuda"
                   else f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs"),
        "torch_threads": torch.get_num_threads(),
        "precision": args.precision + (" (TF32 off)" if args.device == "cuda" and args.precision == "fp32"
                                       else " autocast" if args.precision == "fp16" else ""),
        "cudnn_benchmark": bool(args.cudnn_benchmark) if args.device == "cuda" else None,
        "config": CONFIG, "weights": f"seeded (seed {args.seed}) and calibrated on the image",
        "image": image_desc, "original_hw": list(image.shape[:2]),
        "resized_hw": list(inp["image"].shape[-2:]),
        "instances": n_inst, "calibration": calib, "setup_s": setup_s,
        "warmup_ms": warm, "samples_ms": samples, **summary(samples), "stages": stages,
        "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
    }
    text = json.dumps(res, indent=1)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
