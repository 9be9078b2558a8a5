#!/usr/bin/env python3
"""Summarise an Nsight Compute CSV (`ncu --metrics gpu__time_duration.sum --csv --print-units base`)
into GPU time per kernel name and per family, divided by the number of images the profiled process ran.

  python3 tools/profile/ncu_summary.py profile.csv --images 3 [--top 30]

Families are keyword classes of the kernel names (cuDNN/CUTLASS convolution kernels, cuBLAS GEMMs,
maskrt's own kernels by op). Times are GPU durations of each kernel alone: launch gaps and host work
are not in them (compare their sum with the measured latency to see the idle share).
"""
import argparse
import collections
import csv
import io
import re
import sys

FAMILIES = [  # first match wins
    ("cuDNN layout transforms (NCHW<->NHWC, dtype)", r"nchwToNhwc|nhwcToNchw|op_generic_tensor|im2col"),
    ("conv (cuDNN / CUTLASS / xmma)", r"convolve|conv2d|xmma_fprop|fprop|winograd|fft|cudnn"),
    ("GEMM (cuBLAS / cuBLASLt)", r"gemm|gemv|cublas|nvjet|cutlass"),
    ("cub radix sort", r"cub::|RadixSort|Onesweep"),
    ("maskrt nms", r"nms"),
    ("maskrt roi_align", r"roi_align"),
    ("maskrt rpn proposals", r"keys_kernel|decode_kernel|compact_kernel|merge_keys|rpn"),
    ("maskrt box inference", r"rows_kernel|candidates_kernel|gather_kernel|final_keys|box_inference"),
    ("maskrt mask paste", r"paste"),
    ("maskrt preprocess (resize, normalise)", r"preprocess|resize|pillow|normalize"),
    ("maskrt small ops (upsample-add, pool, scatter, ...)", r"upsample|pool|scatter|sigmoid|add"),
]


def family(name):
    for fam, pat in FAMILIES:
        if re.search(pat, name, re.IGNORECASE):
            return fam
    return "other"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("csv")
    ap.add_argument("--images", type=float, default=1.0, help="images the profiled process ran (divides times)")
    ap.add_argument("--top", type=int, default=30)
    a = ap.parse_args()
    text = open(a.csv, encoding="utf-8", errors="replace").read()
    start = text.find('"ID"')
    if start < 0:
        sys.exit(f"{a.csv}: no ncu CSV header found")
    rows = list(csv.DictReader(io.StringIO(text[start:])))
    per = collections.defaultdict(lambda: [0.0, 0])
    fam = collections.defaultdict(lambda: [0.0, 0])
    for r in rows:
        if r.get("Metric Name") != "gpu__time_duration.sum":
            continue
        ns = float(r["Metric Value"].replace(",", ""))
        name = r["Kernel Name"]
        per[name][0] += ns
        per[name][1] += 1
        f = family(name)
        fam[f][0] += ns
        fam[f][1] += 1
    total = sum(v[0] for v in per.values())
    k = a.images
    print(f"{len(rows)} kernel launches, GPU time {total / 1e6 / k:.3f} ms per image ({k:g} images)")
    print("| family | ms/image | share | launches/image |")
    print("|---|---|---|---|")
    for f, (ns, n) in sorted(fam.items(), key=lambda x: -x[1][0]):
        print(f"| {f} | {ns / 1e6 / k:.3f} | {100 * ns / total:.1f}% | {n / k:.0f} |")
    print(f"\n| top {a.top} kernels | ms/image | launches/image | mean us |")
    print("|---|---|---|---|")
    for name, (ns, n) in sorted(per.items(), key=lambda x: -x[1][0])[: a.top]:
        short = name if len(name) < 90 else name[:87] + "..."
        print(f"| `{short}` | {ns / 1e6 / k:.3f} | {n / k:.1f} | {ns / n / 1e3:.1f} |")


if __name__ == "__main__":
    main()
