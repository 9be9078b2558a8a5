#!/usr/bin/env python3
"""Put Detectron2's and maskrt's benchmark reports in one table, with ratios.

Inputs: JSON written by tools/reference/bench_detectron2.py (Detectron2) and by
`maskrt bench --format json` (maskrt; every run of the report becomes a row).
The first Detectron2 report given is the baseline for the ratio columns.

  python3 tools/reference/compare_reports.py --d2 docs/bench/h200-2026-11-29/d2_cuda_fp32.json \
      --d2 docs/bench/h200-2026-11-29/d2_cuda_fp16.json --maskrt docs/bench/h200-2026-11-29/mrt_cuda_*.json
"""
import argparse
import json
import os


def d2_rows(path):
    j = json.load(open(path))
    name = "Detectron2 %s %s" % ("cuda" if "H200" in j.get("device", "") or "NVIDIA" in j.get("device", "") else "cpu",
                                 j.get("precision", ""))
    return [(name, os.path.basename(path), j["median_ms"], j["p90_ms"], 1000.0 / j["median_ms"])]


def maskrt_rows(path):
    j = json.load(open(path))
    prec = j["metadata"]["options"].get("precision", "")
    rows = []
    for r in j["runs"]:
        s = r["stats"]
        rows.append(("maskrt %s %s %s" % (j["metadata"]["device"].split(" (")[0], prec, r["label"]),
                     os.path.basename(path), s["median"], s["p90"], r["throughput_img_s"]))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--d2", action="append", default=[], help="bench_detectron2.py JSON (first = baseline)")
    ap.add_argument("--maskrt", nargs="*", default=[], help="maskrt bench JSON reports")
    a = ap.parse_args()
    rows = [r for p in a.d2 for r in d2_rows(p)] + [r for p in a.maskrt for r in maskrt_rows(p)]
    if not rows:
        raise SystemExit("no reports given")
    base = rows[0] if a.d2 else None
    print("| run | report | median ms | p90 ms | images/s | speed-up vs %s |" % (base[0] if base else "-"))
    print("|---|---|---|---|---|---|")
    for name, src, med, p90, thr in rows:
        ratio = "%.2fx" % (thr / base[4]) if base else "-"
        print("| %s | %s | %.2f | %.2f | %.1f | %s |" % (name, src, med, p90, thr, ratio))


if __name__ == "__main__":
    main()
