#!/usr/bin/env python3
"""PyTorch counterpart of bench/bench_ops_cpu.cpp: times the same convs (with bias + ReLU) with
torch.nn.functional on the CPU, for comparison. A measurement instrument, not a test.

  python3 bench/bench_ops_torch.py [--threads 2] [--iters 10] [--warmup 2] [--backbone] [--only SUBSTR]
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F

# name, c, o, k, stride, pad, h, w, count -- must match kBackbone / kRepresentative in bench_ops_cpu.cpp
BACKBONE = [
    ("stem 7x7 s2 3->64 @800x1088", 3, 64, 7, 2, 3, 800, 1088, 1),
    ("res2 1x1 64->256 @200x272", 64, 256, 1, 1, 0, 200, 272, 4),
    ("res2 1x1 64->64 @200x272", 64, 64, 1, 1, 0, 200, 272, 1),
    ("res2 1x1 256->64 @200x272", 256, 64, 1, 1, 0, 200, 272, 2),
    ("res2 3x3 64->64 @200x272", 64, 64, 3, 1, 1, 200, 272, 3),
    ("res3 1x1 s2 256->512 @200x272", 256, 512, 1, 2, 0, 200, 272, 1),
    ("res3 1x1 s2 256->128 @200x272", 256, 128, 1, 2, 0, 200, 272, 1),
    ("res3 1x1 512->128 @100x136", 512, 128, 1, 1, 0, 100, 136, 3),
    ("res3 3x3 128->128 @100x136", 128, 128, 3, 1, 1, 100, 136, 4),
    ("res3 1x1 128->512 @100x136", 128, 512, 1, 1, 0, 100, 136, 4),
    ("res4 1x1 s2 512->1024 @100x136", 512, 1024, 1, 2, 0, 100, 136, 1),
    ("res4 1x1 s2 512->256 @100x136", 512, 256, 1, 2, 0, 100, 136, 1),
    ("res4 1x1 1024->256 @50x68", 1024, 256, 1, 1, 0, 50, 68, 5),
    ("res4 3x3 256->256 @50x68", 256, 256, 3, 1, 1, 50, 68, 6),
    ("res4 1x1 256->1024 @50x68", 256, 1024, 1, 1, 0, 50, 68, 6),
    ("res5 1x1 s2 1024->2048 @50x68", 1024, 2048, 1, 2, 0, 50, 68, 1),
    ("res5 1x1 s2 1024->512 @50x68", 1024, 512, 1, 2, 0, 50, 68, 1),
    ("res5 1x1 2048->512 @25x34", 2048, 512, 1, 1, 0, 25, 34, 2),
    ("res5 3x3 512->512 @25x34", 512, 512, 3, 1, 1, 25, 34, 3),
    ("res5 1x1 512->2048 @25x34", 512, 2048, 1, 1, 0, 25, 34, 3),
    ("fpn lateral 1x1 256->256 @200x272", 256, 256, 1, 1, 0, 200, 272, 1),
    ("fpn lateral 1x1 512->256 @100x136", 512, 256, 1, 1, 0, 100, 136, 1),
    ("fpn lateral 1x1 1024->256 @50x68", 1024, 256, 1, 1, 0, 50, 68, 1),
    ("fpn lateral 1x1 2048->256 @25x34", 2048, 256, 1, 1, 0, 25, 34, 1),
    ("fpn output 3x3 256->256 @200x272", 256, 256, 3, 1, 1, 200, 272, 1),
    ("fpn output 3x3 256->256 @100x136", 256, 256, 3, 1, 1, 100, 136, 1),
    ("fpn output 3x3 256->256 @50x68", 256, 256, 3, 1, 1, 50, 68, 1),
    ("fpn output 3x3 256->256 @25x34", 256, 256, 3, 1, 1, 25, 34, 1),
]
REPRESENTATIVE = [
    ("3x3 256->256 @200x268", 256, 256, 3, 1, 1, 200, 268, 1),
    ("1x1 1024->256 @50x67", 1024, 256, 1, 1, 0, 50, 67, 1),
    ("7x7 s2 3->64 @800x1088", 3, 64, 7, 2, 3, 800, 1088, 1),
]


def time_it(fn, warmup, iters):
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e3)
    s = sorted(samples)
    q = lambda f: s[min(len(s) - 1, int(f * (len(s) - 1) + 0.5))]
    return statistics.median(samples), q(0.1), q(0.9), samples


def report(name, st):
    med, p10, p90, samples = st
    print(f"{name:<40} median {med:9.3f} ms  p10 {p10:9.3f}  p90 {p90:9.3f}  samples [{' '.join(f'{v:.3f}' for v in samples)}]")
    return med


def run_conv(case, warmup, iters):
    name, c, o, k, s, p, h, w, _ = case
    x = torch.randn(1, c, h, w)
    wt = torch.randn(o, c, k, k) * 0.05
    b = torch.randn(o) * 0.1
    return report(name, time_it(lambda: F.relu(F.conv2d(x, wt, b, stride=s, padding=p)), warmup, iters))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--backbone", action="store_true")
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    print(f"# bench_ops_torch  torch {torch.__version__}  threads {torch.get_num_threads()}  mkldnn {torch.backends.mkldnn.is_available()}")
    print(f"# warmup {a.warmup} iters {a.iters}; conv cases include bias + ReLU")
    with torch.inference_mode():
        for case in REPRESENTATIVE:
            if a.only in case[0]:
                run_conv(case, a.warmup, a.iters)
        if a.only in "grouped 3x3 g32":
            x, w = torch.randn(1, 512, 100, 136), torch.randn(512, 16, 3, 3) * 0.05
            report("grouped 3x3 g32 512->512 @100x136", time_it(lambda: F.conv2d(x, w, padding=1, groups=32), a.warmup, a.iters))
        if a.only in "maxpool":
            x = torch.randn(1, 64, 400, 544)
            report("maxpool k3 s2 p1 64 @400x544", time_it(lambda: F.max_pool2d(x, 3, 2, 1), a.warmup, a.iters))
        if a.only in "upsample":
            top, lat = torch.randn(1, 256, 100, 136), torch.randn(1, 256, 200, 272)
            report("upsample2x_add 256 @100x136",
                   time_it(lambda: lat + F.interpolate(top, scale_factor=2.0, mode="nearest"), a.warmup, a.iters))
        if a.only in "linear":
            x, w, b = torch.randn(1000, 12544), torch.randn(1024, 12544) * 0.01, torch.randn(1024)
            report("linear fc6 1000x12544 -> 1024", time_it(lambda: F.relu(F.linear(x, w, b)), a.warmup, a.iters))
        if a.only in "deconv":
            x, w, b = torch.randn(100, 256, 14, 14), torch.randn(256, 256, 2, 2) * 0.05, torch.randn(256)
            report("deconv 100x256x14x14 -> 256x28x28",
                   time_it(lambda: F.relu(F.conv_transpose2d(x, w, b, stride=2)), a.warmup, a.iters))
        if a.backbone:
            total = sum(case[8] * run_conv(case, a.warmup, a.iters) for case in BACKBONE)
            print(f"R50-FPN backbone convs at 800x1088: sum(median * count) = {total:.1f} ms")


if __name__ == "__main__":
    main()
