"""Import Detectron2 from a source checkout and build seeded, calibrated models.

Dev-time helper for tools/reference/make_golden.py and bench_detectron2.py; not used by maskrt.

* setup(): puts the Detectron2 source tree (env var D2_SRC, default /work/d2src) on sys.path,
  plus an optional folder of pure-Python dependencies (env var D2_DEPS, default
  $D2_SRC/_pydeps when it exists: fvcore, iopath, yacs, omegaconf, antlr4, termcolor copied from a
  machine that has them). Modules that only matter at import time and are absent (the compiled
  detectron2._C, pycocotools on a machine without it) are replaced by minimal stubs, so that the
  pure-Python model code (ResNet, FPN, RPN, ROI heads; ROIAlign/NMS come from torchvision) runs.
* predict(): what detectron2.engine.DefaultPredictor.__call__ does, on an image that
  detectron2.data.detection_utils.read_image(format="BGR") decoded (EXIF orientation applied).
* init_weights() + calibrate(): seeded random weights whose activations stay O(1) on the given
  image and whose scores are spread out (see calibrate()).
"""
import math
import os
import subprocess
import sys
import types

DEFAULT_D2_SRC = "/work/d2src"
# Commit of the Detectron2 source the fixtures were made with (checked by make_golden against the
# mirror when that is available). Used only when D2_SRC is not a git checkout and D2_COMMIT is unset.
KNOWN_D2_COMMIT = "02b5c4e295e990042a714712c21dc79b731e8833"
D2_MIRROR_GIT = "/work/.mirror/facebookresearch+detectron2/repo"


def d2_src():
    return os.path.abspath(os.environ.get("D2_SRC", DEFAULT_D2_SRC))


def _stub(name, **attrs):
    mod = types.ModuleType(name)
    mod.__dict__.update(attrs)
    mod.__maskrt_stub__ = True
    sys.modules[name] = mod
    return mod


def setup():
    """Make `import detectron2` work from the source checkout. Returns the source path."""
    src = d2_src()
    if not os.path.isdir(os.path.join(src, "detectron2")):
        raise SystemExit(f"D2_SRC={src} has no detectron2/ package folder (set D2_SRC)")
    if src not in sys.path:
        sys.path.insert(0, src)
    deps = os.environ.get("D2_DEPS", os.path.join(src, "_pydeps"))
    if os.path.isdir(deps) and deps not in sys.path:
        sys.path.insert(1, deps)
    # The compiled extension only serves deformable/rotated ops and a version check.
    try:
        import detectron2._C  # noqa: F401
    except ImportError:
        _stub("detectron2._C")
    # detectron2.structures.masks imports pycocotools.mask at import time (polygon masks only).
    try:
        import pycocotools.mask  # noqa: F401
    except ImportError:
        def _missing(*a, **k):
            raise RuntimeError("pycocotools is not installed (stubbed by d2_env)")
        pkg = _stub("pycocotools")
        pkg.__path__ = []
        pkg.mask = _stub("pycocotools.mask", encode=_missing, decode=_missing, merge=_missing,
                         frPyObjects=_missing, area=_missing, toBbox=_missing, iou=_missing)
    return src


def d2_commit():
    if os.environ.get("D2_COMMIT"):
        return os.environ["D2_COMMIT"]
    src = d2_src()
    for args in (["git", "-C", src, "rev-parse", "HEAD"],):
        try:
            out = subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip()
            if out:
                return out
        except (OSError, subprocess.CalledProcessError):
            pass
    return KNOWN_D2_COMMIT


def check_src_matches_mirror():
    """True/False when the mirror's git dir exists (work tree == HEAD for detectron2/), else None."""
    if not os.path.isdir(D2_MIRROR_GIT):
        return None
    r = subprocess.run(["git", "--git-dir", D2_MIRROR_GIT, "--work-tree", d2_src(), "diff",
                        "--quiet", "HEAD", "--", "detectron2"], capture_output=True)
    return r.returncode == 0


def versions():
    import numpy
    import PIL
    import torch
    import torchvision
    v = {"detectron2_commit": d2_commit(), "torch": torch.__version__,
         "torchvision": torchvision.__version__, "numpy": numpy.__version__,
         "Pillow": PIL.__version__, "python": sys.version.split()[0]}
    from importlib import metadata
    for dist in ("pycocotools", "scikit-image"):
        try:
            v[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return v


# --------------------------------------------------------------------------- inference

def make_resize(cfg):
    import detectron2.data.transforms as T
    return T.ResizeShortestEdge([cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MIN_SIZE_TEST],
                                cfg.INPUT.MAX_SIZE_TEST)


def prepare_inputs(cfg, original_bgr, aug=None):
    """DefaultPredictor.__call__'s pre-processing: BGR uint8 (H, W, 3) -> model input dict."""
    import torch
    aug = aug or make_resize(cfg)
    img = original_bgr
    if cfg.INPUT.FORMAT == "RGB":
        img = img[:, :, ::-1]
    height, width = img.shape[:2]
    image = aug.get_transform(img).apply_image(img)
    image = torch.as_tensor(image.astype("float32").transpose(2, 0, 1))
    return {"image": image, "height": height, "width": width}


def predict(model, cfg, original_bgr, aug=None):
    """Equivalent of DefaultPredictor(cfg)(original_bgr) for an already built model."""
    import torch
    with torch.no_grad():
        inputs = prepare_inputs(cfg, original_bgr, aug)
        inputs["image"] = inputs["image"].to(cfg.MODEL.DEVICE)
        return model([inputs])[0]


# --------------------------------------------------------------------------- weights

def init_weights(model, seed):
    """Seeded init of every parameter and FrozenBN buffer (independent of Detectron2's own init).

    Conv/Linear/ConvTranspose weights ~ N(0, 2/fan_in) (He init; fan_in per output of the layer),
    biases ~ N(0, 0.05^2); FrozenBN weight ~ U(0.5, 1.5), bias ~ U(-0.2, 0.2), running stats are set
    later by calibrate().
    """
    import torch
    from detectron2.layers import FrozenBatchNorm2d
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear, torch.nn.ConvTranspose2d)):
                w = m.weight
                if isinstance(m, torch.nn.ConvTranspose2d):
                    # each output pixel of a stride-k, kernel-k deconv sees one tap per input channel
                    fan_in = w.shape[0] * max(1, (w.shape[2] // m.stride[0]) * (w.shape[3] // m.stride[1]))
                else:
                    fan_in = w[0].numel()
                w.copy_(torch.randn(w.shape, generator=g) * math.sqrt(2.0 / fan_in))
                if m.bias is not None:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.05)
            elif isinstance(m, FrozenBatchNorm2d):
                n = m.num_features
                m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.copy_((torch.rand(n, generator=g) - 0.5) * 0.4)
                m.running_mean.zero_()
                m.running_var.fill_(1.0)


def _standardize_(module, y, target_mean, target_std):
    """Rescale module's weight/bias so that its output y becomes (y - mean) / std * t + m.

    Statistics are scalars over all of y. Returns the adjusted y (same math as re-running).
    """
    import torch
    mu = float(y.double().mean())
    sd = float(y.double().std())
    s = target_std / max(sd, 1e-12)
    with torch.no_grad():
        module.weight.mul_(s)
        module.bias.copy_((module.bias - mu) * s + target_mean)
    return (y - mu) * s + target_mean


class _Hooks:
    """Forward hooks plus temporarily detached activations, undone by close().

    Detectron2's Conv2d applies its `activation` inside forward(); to see (and rescale) the
    pre-activation output, the activation is detached while hooked and applied by the hook.
    """

    def __init__(self):
        self.handles = []
        self.detached = []

    def add(self, h):
        self.handles.append(h)

    def pre_activation(self, m):
        act = getattr(m, "activation", None)
        if act is not None:
            self.detached.append((m, act))
            m.activation = None
        return act or (lambda t: t)

    def close(self):
        for h in self.handles:
            h.remove()
        for m, act in self.detached:
            m.activation = act
        self.handles = []
        self.detached = []


def _capture(model, cfg, image_bgr, modules):
    """Run the model once and return {name: concatenated flattened outputs of that module}."""
    import torch
    outs = {n: [] for n in modules}
    hooks = _Hooks()
    for n, m in modules.items():
        act = hooks.pre_activation(m)

        def cap(mod, inp, out, n=n, act=act):
            outs[n].append(out.detach().flatten())
            return act(out)
        hooks.add(m.register_forward_hook(cap))
    try:
        pred = predict(model, cfg, image_bgr)
    finally:
        hooks.close()
    return {n: torch.cat(v) for n, v in outs.items()}, pred


def calibrate(model, cfg, image_bgr, seed, det_range=(20, 60), log=print):
    """Make a randomly initialised Detectron2 R-CNN numerically tame on image_bgr.

    Forward order, one stage at a time, each measured on the real image:
      1. backbone: every FrozenBN gets running_mean/var = per-channel mean/var of its input
         (forward pre-hooks, so later layers see already-calibrated earlier ones); FPN lateral and
         output convs are rescaled so their outputs have mean 0, std 1.
      2. RPN head: conv -> mean 0 std 1 (pre-ReLU); objectness logits -> mean -1, std 3 (spread, so
         top-k and NMS are not decided by near ties); anchor deltas -> mean 0, std 0.2.
      3. box head fc1/fc2 -> mean 0.2, std 1 (pre-ReLU); cls_score -> std 3 plus a per-class offset
         ~N(0, 1); bbox_pred -> mean 0, std 0.3 (raw deltas, before the 10/10/5/5 weights).
      4. background logit bias chosen by bisection so the number of detections lies in det_range.
      5. mask head convs/deconv -> mean 0.2, std 1 (pre-ReLU); mask predictor -> mean 0, std 2.5.
    Returns a dict of statistics.
    """
    import torch
    from detectron2.layers import FrozenBatchNorm2d
    g = torch.Generator().manual_seed(seed + 1)
    model.eval()
    stats = {}

    # 1. backbone
    hooks = _Hooks()

    def bn_pre(mod, inp):
        x = inp[0].detach().double()
        mean = x.mean(dim=(0, 2, 3))
        var = x.var(dim=(0, 2, 3), unbiased=False)
        floor = max(float(var.mean()) * 1e-3, 1e-6)
        mod.running_mean.copy_(mean.float())
        mod.running_var.copy_(var.clamp(min=floor).float())

    def std_hook(hooks, m, t):
        act = hooks.pre_activation(m)
        return m.register_forward_hook(lambda mod, inp, out: act(_standardize_(mod, out, *t)))

    for name, m in model.backbone.named_modules():
        if isinstance(m, FrozenBatchNorm2d):
            hooks.add(m.register_forward_pre_hook(bn_pre))
        elif name.startswith("fpn_") and isinstance(m, torch.nn.Conv2d):
            hooks.add(std_hook(hooks, m, (0.0, 1.0)))
    try:
        predict(model, cfg, image_bgr)
    finally:
        hooks.close()

    # 2. RPN head
    head = model.proposal_generator.rpn_head
    outs, _ = _capture(model, cfg, image_bgr, {"conv": head.conv})
    _standardize_(head.conv, outs["conv"], 0.0, 1.0)
    outs, _ = _capture(model, cfg, image_bgr, {"obj": head.objectness_logits, "del": head.anchor_deltas})
    _standardize_(head.objectness_logits, outs["obj"], -1.0, 3.0)
    _standardize_(head.anchor_deltas, outs["del"], 0.0, 0.2)

    # 3. box head
    rh = model.roi_heads
    hooks = _Hooks()
    for name, m in rh.box_head.named_modules():
        if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)):
            hooks.add(std_hook(hooks, m, (0.2, 1.0)))
    try:
        outs, _ = _capture(model, cfg, image_bgr, {"cls": rh.box_predictor.cls_score,
                                                  "box": rh.box_predictor.bbox_pred})
    finally:
        hooks.close()
    _standardize_(rh.box_predictor.cls_score, outs["cls"], 0.0, 3.0)
    _standardize_(rh.box_predictor.bbox_pred, outs["box"], 0.0, 0.3)
    cls = rh.box_predictor.cls_score
    with torch.no_grad():
        cls.bias.add_(torch.randn(cls.bias.shape, generator=g).to(cls.bias.device))

    # 4. background bias -> detection count in range
    def count(bg):
        with torch.no_grad():
            cls.bias[-1] = bg
        return len(predict(model, cfg, image_bgr)["instances"])

    lo, hi = -10.0, 15.0
    n_lo, n_hi = count(lo), count(hi)
    target = 0.5 * (det_range[0] + det_range[1])
    bg, n = hi, n_hi
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        n = count(mid)
        bg = mid
        if det_range[0] <= n <= det_range[1]:
            break
        if n > target:
            lo = mid
        else:
            hi = mid
    n = count(bg)
    stats.update({"background_bias": bg, "detections_at_calibration": n,
                  "detections_bg_low_high": [n_lo, n_hi]})
    log(f"  calibrate: background bias {bg:.3f} -> {n} detections (range {det_range})")

    # 5. mask head
    if cfg.MODEL.MASK_ON and n > 0:
        mh = rh.mask_head
        hooks = _Hooks()
        for name, m in mh.named_modules():
            if name != "predictor" and isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
                hooks.add(std_hook(hooks, m, (0.2, 1.0)))
        got = {}

        def mh_pre(mod, args):
            got["classes"] = torch.cat([i.pred_classes for i in args[1]])

        def pred_hook(mod, inp, out):
            got["logits"] = out.detach()

        hooks.add(mh.register_forward_pre_hook(mh_pre))
        hooks.add(mh.predictor.register_forward_hook(pred_hook))
        try:
            predict(model, cfg, image_bgr)
        finally:
            hooks.close()
        # Per output channel (class, or the single agnostic channel): standardise the logits of the
        # detections that select that channel to mean +0.5, std 3, so that every pasted mask is
        # non-trivial (neither empty nor full). Channels no detection selects get the global scale.
        logits, classes = got["logits"], got["classes"]  # (D, K or 1, M, M), (D,)
        k = logits.shape[1]
        sel = classes if k > 1 else torch.zeros_like(classes)
        chosen = logits[torch.arange(len(sel)), sel]  # (D, M, M)
        g_sd = float(chosen.double().std())
        p = mh.predictor
        with torch.no_grad():
            for c in range(k):
                z = chosen[sel == c]
                if z.numel() > 1:
                    mu, sd = float(z.double().mean()), float(z.double().std())
                else:
                    mu, sd = float(logits[:, c].double().mean()), g_sd
                s = 3.0 / max(sd, 1e-12)
                p.weight[c].mul_(s)
                p.bias[c] = (p.bias[c] - mu) * s + 0.5
    return stats


def round_weights_fp16_(model):
    """Round every parameter and buffer of the state dict through float16 (in place)."""
    import torch
    with torch.no_grad():
        for k, v in model.state_dict().items():
            if v.is_floating_point():
                v.copy_(v.half().float())


def vendor_pure_python_deps(dest):
    """Copy the installed pure-Python packages Detectron2 imports (absent on the GPU image) to dest.

    Usage (on a machine that has them): python -c 'import d2_env; d2_env.vendor_pure_python_deps(
    "<D2_SRC>/_pydeps")'. Nothing compiled is copied.
    """
    import importlib
    import shutil
    os.makedirs(dest, exist_ok=True)
    for name in ["fvcore", "iopath", "yacs", "omegaconf", "antlr4", "termcolor", "portalocker",
                 "tabulate", "cloudpickle"]:
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        path = os.path.dirname(mod.__file__) if mod.__file__.endswith("__init__.py") else mod.__file__
        target = os.path.join(dest, os.path.basename(path))
        if os.path.isdir(path):
            shutil.copytree(path, target, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.pyc"))
        else:
            shutil.copy2(path, target)
