#pragma once
// Mask and box primitives of the COCO evaluator, reproducing pycocotools' maskApi.c semantics
// (rleFrPoly, rleFrBbox, rleMerge, rleArea, rleToBbox, rleIou, bbIou). Independent implementation;
// checked against pycocotools by tests/unit/test_coco_eval.cpp (fixtures from
// tools/reference/make_cocoeval_fixtures.py).
//
// Masks are maskrt::RleMask: column-major (Fortran order) run lengths over the full height x width
// image, alternating 0-runs and 1-runs, starting with a (possibly empty) 0-run. Boxes are COCO XYWH in
// continuous pixel coordinates (x, y of the top-left corner, width, height; no "+1").
// All functions are pure and thread-safe.
#include <array>
#include <cstdint>
#include <vector>

#include "maskrt/instances.h"

namespace maskrt::eval {

// pycocotools frPoly: rasterise one closed polygon [x0, y0, x1, y1, ...] (pixels, COCO convention: pixel
// (i, j) covers [i, i+1) x [j, j+1)). Like pycocotools it rounds the vertices to a 5x finer grid, walks
// every edge on that grid, keeps the points where the boundary crosses a pixel-column centre and fills
// each column between successive crossings. Uses floor(xy.size() / 2) vertices.
// Errors: kInvalidArgument when xy has fewer than 2 values or h, w are not positive.
RleMask polygon_to_rle(const std::vector<double>& xy, int h, int w);

// pycocotools frBbox: the polygon (x, y), (x, y + bh), (x + bw, y + bh), (x + bw, y) rasterised as above.
RleMask box_to_rle(const std::array<double, 4>& xywh, int h, int w);

// Union of masks of equal size (pycocotools merge(..., intersect=0)). The result is canonical
// (no empty runs except possibly the first). Errors: kInvalidArgument when sizes differ or the list is empty.
RleMask rle_union(const std::vector<RleMask>& masks);

// Number of foreground pixels (sum of the odd runs).
int64_t rle_area(const RleMask& m);

// pycocotools toBbox: XYWH of the foreground in whole pixels; [0,0,0,0] for an empty mask. Like
// pycocotools, a foreground run that crosses a column boundary makes the box span the full height.
std::array<double, 4> rle_to_bbox(const RleMask& m);

// pycocotools rleIou for one (detection, ground truth) pair: |d & g| / |d | g|, or |d & g| / |d| when the
// ground truth is a crowd region; 0 when the masks do not intersect. Errors: kInvalidArgument when
// sizes differ.
double rle_iou(const RleMask& dt, const RleMask& gt, bool gt_is_crowd);

// pycocotools bbIou for one pair of XYWH boxes; crowd: intersection / detection area.
double box_iou(const std::array<double, 4>& dt, const std::array<double, 4>& gt, bool gt_is_crowd);

// Checks that the runs of m cover exactly height * width pixels (pycocotools loops forever otherwise).
// Errors: kInvalidArgument naming `what`.
void check_rle(const RleMask& m, const char* what);

}  // namespace maskrt::eval
