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
    try:
        # only a checkout whose top level IS the source folder: a copy inside another repository
        # (./d2src in maskrt's tree) must not report that repository's commit
        top = subprocess.run(["git", "-C", src, "rev-parse", "--show-toplevel"], capture_output=True, text=True,
                             check=True).stdout.strip()
        if top and os.path.realpath(top) == os.path.realpath(src):
            out = subprocess.run(["git", "-C", src, "rev-parse", "HEAD"], capture_output=True, text=True,
                                 check=True).stdout.strip()
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

def residual_branch_norms(model):
    """The FrozenBN closing each residual branch (conv3.norm of bottlenecks, conv2.norm of basic blocks)."""
    from detectron2.modeling.backbone.resnet import BasicBlock, BottleneckBlock
    out = []
    for m in model.modules():
        if isinstance(m, BottleneckBlock):
            out.append(m.conv3.norm)
        elif isinstance(m, BasicBlock):
            out.append(m.conv2.norm)
    return out


def init_weights(model, seed, residual_gamma=(0.1, 0.3), sparse_backbone=None):
    """Seeded init of every parameter and FrozenBN buffer (independent of Detectron2's own init).

    Conv/Linear/ConvTranspose weights ~ N(0, 2/fan_in) (He init; fan_in per output of the layer),
    biases ~ N(0, 0.05^2); FrozenBN weight ~ U(0.5, 1.5), bias ~ U(-0.2, 0.2), running stats are set
    later by calibrate(). The FrozenBN closing each residual branch gets weight ~ U(*residual_gamma)
    and bias ~ U(-0.05, 0.05) (as in zero-init-residual training: each block stays close to its
    shortcut, so float32 rounding is not amplified through depth).

    sparse_backbone=p0: every backbone (bottom_up) conv weight, all of which are followed by a FrozenBN
    that absorbs their scale, is k/32 with k = 0 with probability p0, else uniform in {+-1..+-4}:
    a low-entropy tensor (a few bits per weight) that compresses well in a DEFLATE'd .pth.
    """
    import torch
    from detectron2.layers import FrozenBatchNorm2d
    g = torch.Generator().manual_seed(seed)
    bottom_up = set(id(m) for m in model.backbone.bottom_up.modules()) if sparse_backbone else set()
    with torch.no_grad():
        for name, m in model.named_modules():
            if id(m) in bottom_up and isinstance(m, torch.nn.Conv2d):
                w = m.weight
                k = torch.randint(1, 5, w.shape, generator=g) * (torch.randint(0, 2, w.shape, generator=g) * 2 - 1)
                k[torch.rand(w.shape, generator=g) < sparse_backbone] = 0
                w.copy_(k.float() / 32.0)
                assert m.bias is None and m.norm is not None, name
            elif isinstance(m, (torch.nn.Conv2d, torch.nn.Linear, torch.nn.ConvTranspose2d)):
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
        lo, hi = residual_gamma
        for m in residual_branch_norms(model):
            n = m.num_features
            m.weight.copy_(torch.rand(n, generator=g) * (hi - lo) + lo)
            m.bias.copy_((torch.rand(n, generator=g) - 0.5) * 0.1)


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


def roi_margins(boxes, bins, min_level, max_level, adaptive_sampling, canonical_size=224,
                canonical_level=4):
    """Per box (x1, y1, x2, y2): distance, in input pixels of width / height / sqrt(area), to the
    nearest size at which ROIPooler output jumps: the FPN level assignment changes
    (sqrt(area) = 224 * 2^k) or, with POOLER_SAMPLING_RATIO 0, ROIAlign's adaptive sample count
    ceil(roi_size / stride / bins) changes (size = stride * bins * n). Two implementations whose
    boxes differ by float32 rounding can fall on different sides of such a point."""
    import torch
    b = boxes.detach().double()
    w = b[:, 2] - b[:, 0]
    h = b[:, 3] - b[:, 1]
    size = torch.sqrt(w * h)
    out = torch.full_like(w, float("inf"))
    for lv in range(min_level + 1, max_level + 1):
        out = torch.minimum(out, (size - canonical_size * 2.0 ** (lv - canonical_level)).abs())
    if adaptive_sampling:
        lvl = torch.floor(canonical_level + torch.log2(size / canonical_size + 1e-8))
        period = 2.0 ** lvl.clamp(min_level, max_level) * bins
        for x in (w, h):
            n = torch.round(x / period)
            m = (x - n * period).abs()
            out = torch.minimum(out, torch.where(n > 0, m, torch.full_like(m, float("inf"))))
    # Exactly on a jump only happens for boxes clipped on both sides to an image size that is a
    # multiple of the period; clipping is exact in every implementation, so that is no hazard.
    return torch.where(out == 0, torch.full_like(out, float("inf")), out)


def box_pooler_margins(cfg, boxes):
    levels = [int(f[1:]) for f in cfg.MODEL.ROI_HEADS.IN_FEATURES]
    return roi_margins(boxes, cfg.MODEL.ROI_BOX_HEAD.POOLER_RESOLUTION, min(levels), max(levels),
                       cfg.MODEL.ROI_BOX_HEAD.POOLER_SAMPLING_RATIO == 0)


def mask_pooler_margins(cfg, boxes):
    levels = [int(f[1:]) for f in cfg.MODEL.ROI_HEADS.IN_FEATURES]
    return roi_margins(boxes, cfg.MODEL.ROI_MASK_HEAD.POOLER_RESOLUTION, min(levels), max(levels),
                       cfg.MODEL.ROI_MASK_HEAD.POOLER_SAMPLING_RATIO == 0)


def nudge_rpn_for_margins(model, cfg, image_bgr, g, margin_px, tries=200, log=print):
    """Shift the RPN anchor-delta bias by a small seeded amount until no proposal is within
    margin_px of a box-pooler jump (see roi_margins). The RPN head output is captured once and
    the proposals re-derived with Detectron2's own predict_proposals for each candidate shift."""
    import torch
    rpn = model.proposal_generator
    got = {}
    orig = rpn.predict_proposals

    def wrapped(anchors, logits, deltas, image_sizes):
        got["args"] = (anchors, logits, deltas, image_sizes)
        return orig(anchors, logits, deltas, image_sizes)
    rpn.predict_proposals = wrapped
    try:
        predict(model, cfg, image_bgr)
    finally:
        del rpn.predict_proposals
    anchors, logits, deltas, image_sizes = got["args"]
    a = rpn.anchor_generator.num_cell_anchors[0]
    bdim = rpn.anchor_generator.box_dim
    best = None
    for t in range(tries):
        shift = torch.zeros(a, bdim) if t == 0 else torch.randn(a, bdim, generator=g) * 0.02
        d2 = [d.view(d.shape[0], -1, a, bdim).add(shift.to(device=d.device, dtype=d.dtype)).flatten(1, 2) for d in deltas]
        with torch.no_grad():
            props = orig(anchors, logits, d2, image_sizes)
        m = float(box_pooler_margins(cfg, props[0].proposal_boxes.tensor).min())
        if best is None or m > best[0]:
            best = (m, t, shift)
        if m >= margin_px:
            break
    m, t, shift = best
    with torch.no_grad():
        rpn.rpn_head.anchor_deltas.bias.add_(shift.flatten().to(device=rpn.rpn_head.anchor_deltas.bias.device, dtype=rpn.rpn_head.anchor_deltas.bias.dtype))
    log(f"  calibrate: RPN delta shift try {t}: min proposal box-pooler margin {m:.3g} px")
    return {"rpn_shift_try": t, "proposal_box_pooler_margin_px": m}


def calibrate(model, cfg, image_bgr, seed, det_range=(20, 60), log=print, bn_rms_floor=0.3,
              delta_bias=0.3, roi_margin_px=0.03):
    """Make a randomly initialised Detectron2 R-CNN numerically tame on image_bgr.

    Forward order, one stage at a time, each measured on the real image:
      1. backbone: every FrozenBN gets running_mean/var = per-channel mean/var of its input
         (forward pre-hooks, so later layers see already-calibrated earlier ones), the variance
         floored at (bn_rms_floor * rms)^2 per channel so that no channel divides float32 rounding
         by a tiny spread; FPN lateral and output convs are rescaled to output mean 0, std 1.
      2. RPN head: conv -> mean 0 std 1 (pre-ReLU); objectness logits -> mean -1, std 3 (spread, so
         top-k and NMS are not decided by near ties); anchor deltas -> mean 0, std 0.2; then the
         anchor-delta bias is nudged (seeded, ~N(0, 0.02)) until no proposal is within
         roi_margin_px of a ROIPooler jump (level change or adaptive sample-count change).
      3. box head fc1/fc2 -> mean 0.2, std 1 (pre-ReLU); cls_score -> std 3 plus a per-class offset
         ~N(0, 1); bbox_pred -> mean 0, std 0.3 (raw deltas, before the 10/10/5/5 weights) plus a
         per-output bias ~N(0, delta_bias^2).
      4. background logit bias chosen by bisection so the number of detections lies in det_range,
         then moved by at most 0.2 to maximise the distance of every candidate score from
         SCORE_THRESH_TEST.
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
        # A channel whose spread is tiny next to its magnitude would turn float32 rounding of x into
        # O(1) output noise after (x - mean) / std; keep std >= bn_rms_floor * rms(x) per channel.
        ms = (x * x).mean(dim=(0, 2, 3))
        floor = max(float(var.mean()) * 1e-3, 1e-6)
        var = torch.maximum(var.clamp(min=floor), ms * bn_rms_floor ** 2)
        mod.running_mean.copy_(mean.float())
        mod.running_var.copy_(var.float())

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
    if roi_margin_px:
        stats.update(nudge_rpn_for_margins(model, cfg, image_bgr, g, roi_margin_px, log=log))

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
        # A per-output offset (as trained regressors have) so that the deltas are not all small
        # sums of cancelling terms, whose relative rounding error would be large.
        bp = rh.box_predictor.bbox_pred
        bp.bias.add_(torch.randn(bp.bias.shape, generator=g).to(bp.bias.device) * delta_bias)

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
    # Fine-tune the background bias (within +-0.2) so that no (proposal, class) score lies close
    # to SCORE_THRESH_TEST: the box-predictor logits are captured once and re-softmaxed.
    with torch.no_grad():
        cls.bias[-1] = bg
    outs, _ = _capture(model, cfg, image_bgr, {"cls": cls})
    logits = outs["cls"].double().view(-1, cls.out_features)
    thr = cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST
    best = None
    for i in range(201):
        d = (i - 100) * 0.002
        z = logits.clone()
        z[:, -1] += d
        m = float((torch.softmax(z, dim=1)[:, :-1] - thr).abs().min())
        if best is None or m > best[0] + 1e-12:
            best = (m, d)
    bg += best[1]
    stats["score_thresh_margin_at_calibration"] = best[0]
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
