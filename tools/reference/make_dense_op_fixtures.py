#!/usr/bin/env python3
"""Writes tests/unit/data/dense_ops/<op>.json: small fixed cases for maskrt's dense ops, computed by
torch.nn.functional (the independent oracle for the scalar references in src/ops/*/<op>_ref.cpp).

Usage (from the repository root):  python3 tools/reference/make_dense_op_fixtures.py
Deterministic (torch.manual_seed per case). Inputs are quantised to multiples of 1/32 so that the JSON
stays small and parses back to exactly the float32 values torch used; outputs are float32 printed with
9 significant digits (round-trips float32). Each file records the torch version and this command.

File format: {"meta": {...}, "cases": [{"name", "params": {...}, "inputs": {name: {"shape", "data"}},
"expected": {"shape", "data"}}]}; data are flat C-order lists.
"""
import json
import os
import platform

import torch
import torch.nn.functional as F

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "unit", "data", "dense_ops")


def rand(*shape, scale=1.0):
    return torch.round(torch.randn(*shape, dtype=torch.float32) * scale * 32.0) / 32.0


def enc(t):
    t = t.detach().to(torch.float32).contiguous()
    return {"shape": list(t.shape), "data": [float(f"{v:.9g}") for v in t.flatten().tolist()]}


def write(op, cases):
    meta = {
        "generator": "tools/reference/make_dense_op_fixtures.py",
        "command": "python3 tools/reference/make_dense_op_fixtures.py",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "oracle": "torch.nn.functional (CPU, float32)",
    }
    path = os.path.join(OUT_DIR, f"{op}.json")
    with open(path, "w") as f:
        json.dump({"meta": meta, "cases": cases}, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path} ({os.path.getsize(path)} bytes, {len(cases)} cases)")


def conv2d_cases():
    specs = [
        # name, x shape, w shape, stride, pad, dilation, groups, bias, relu
        ("3x3_pad1", (1, 3, 5, 6), (4, 3, 3, 3), (1, 1), (1, 1), (1, 1), 1, True, False),
        ("groups2_stride21_pad12_dil12_relu_batch2", (2, 4, 7, 5), (6, 2, 3, 3), (2, 1), (1, 2), (1, 2), 2, True, True),
        ("1x1_stride2_nonsquare", (1, 5, 5, 4), (3, 5, 1, 1), (2, 2), (0, 0), (1, 1), 1, False, False),
        ("7x7_stride2_pad3_stem_like", (1, 2, 9, 11), (3, 2, 7, 7), (2, 2), (3, 3), (1, 1), 1, False, True),
        ("stride_gt_kernel", (1, 2, 7, 7), (2, 2, 2, 2), (3, 3), (0, 0), (1, 1), 1, True, False),
        ("1x1_spatial_input_pad1", (2, 3, 1, 1), (2, 3, 3, 3), (1, 1), (1, 1), (1, 1), 1, True, False),
        ("depthwise_groups4", (1, 4, 4, 4), (4, 1, 3, 3), (1, 1), (1, 1), (1, 1), 4, False, False),
        ("1x1_stride1_bias_relu", (1, 6, 3, 4), (5, 6, 1, 1), (1, 1), (0, 0), (1, 1), 1, True, True),
    ]
    cases = []
    for i, (name, xs, ws, s, p, d, g, has_b, relu) in enumerate(specs):
        torch.manual_seed(1000 + i)
        x, w = rand(*xs), rand(*ws, scale=0.5)
        b = rand(ws[0]) if has_b else None
        y = F.conv2d(x, w, b, stride=s, padding=p, dilation=d, groups=g)
        if relu:
            y = F.relu(y)
        inputs = {"x": enc(x), "w": enc(w)}
        if has_b:
            inputs["bias"] = enc(b)
        params = {"stride": list(s), "pad": list(p), "dilation": list(d), "groups": g, "relu": relu}
        cases.append({"name": name, "params": params, "inputs": inputs, "expected": enc(y)})
    write("conv2d", cases)


def linear_cases():
    specs = [("bias_relu", 3, 7, 5, True, True), ("no_bias", 1, 4, 2, False, False), ("bias_only", 4, 9, 3, True, False)]
    cases = []
    for i, (name, n, k, m, has_b, relu) in enumerate(specs):
        torch.manual_seed(2000 + i)
        x, w = rand(n, k), rand(m, k, scale=0.5)
        b = rand(m) if has_b else None
        y = F.linear(x, w, b)
        if relu:
            y = F.relu(y)
        inputs = {"x": enc(x), "w": enc(w)}
        if has_b:
            inputs["bias"] = enc(b)
        cases.append({"name": name, "params": {"relu": relu}, "inputs": inputs, "expected": enc(y)})
    write("linear", cases)


def pooling_cases():
    specs = [
        ("k3_s2_p1_stem_batch2", (2, 2, 5, 7), 3, 2, 1, 0.0),
        ("k1_s2_p0_p6", (1, 2, 5, 5), 1, 2, 0, 0.0),
        ("k2_s2_p1_all_negative", (1, 1, 4, 5), 2, 2, 1, -10.0),
        ("k3_s1_p1_all_negative", (1, 2, 3, 3), 3, 1, 1, -5.0),
        ("k3_s2_p1_1x1_input", (1, 3, 1, 1), 3, 2, 1, -3.0),
    ]
    cases = []
    for i, (name, xs, k, s, p, shift) in enumerate(specs):
        torch.manual_seed(3000 + i)
        x = rand(*xs) + shift  # shift < 0: every value negative, so a zero pad would win if used
        y = F.max_pool2d(x, kernel_size=k, stride=s, padding=p)
        cases.append({"name": name, "params": {"kernel": k, "stride": s, "pad": p}, "inputs": {"x": enc(x)},
                      "expected": enc(y)})
    write("pooling", cases)


def upsample_cases():
    specs = [("nonsquare", (1, 2, 2, 3)), ("batch2", (2, 3, 3, 2)), ("1x1_top", (1, 2, 1, 1))]
    cases = []
    for i, (name, ts) in enumerate(specs):
        torch.manual_seed(4000 + i)
        top = rand(*ts)
        lat = rand(ts[0], ts[1], 2 * ts[2], 2 * ts[3])
        y = lat + F.interpolate(top, scale_factor=2.0, mode="nearest")
        cases.append({"name": name, "params": {}, "inputs": {"top": enc(top), "lateral": enc(lat)}, "expected": enc(y)})
    write("upsample", cases)


def conv_transpose2d_cases():
    specs = [("bias_relu_batch2", (2, 3, 2, 3), 4, True, True), ("no_bias", (1, 2, 3, 2), 3, False, False),
             ("1x1_input", (1, 5, 1, 1), 2, True, False)]
    cases = []
    for i, (name, xs, o, has_b, relu) in enumerate(specs):
        torch.manual_seed(5000 + i)
        x, w = rand(*xs), rand(xs[1], o, 2, 2, scale=0.5)
        b = rand(o) if has_b else None
        y = F.conv_transpose2d(x, w, b, stride=2)
        if relu:
            y = F.relu(y)
        inputs = {"x": enc(x), "w": enc(w)}
        if has_b:
            inputs["bias"] = enc(b)
        cases.append({"name": name, "params": {"relu": relu}, "inputs": inputs, "expected": enc(y)})
    write("conv_transpose2d", cases)


if __name__ == "__main__":
    os.makedirs(OUT_DIR, exist_ok=True)
    torch.set_num_threads(1)
    conv2d_cases()
    linear_cases()
    pooling_cases()
    upsample_cases()
    conv_transpose2d_cases()
