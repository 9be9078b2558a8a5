#pragma once
// COCO detection / instance-segmentation evaluation, equal to pycocotools' COCOeval (evaluate,
// accumulate, summarize) for iouType "bbox" and "segm" with useCats=1. Independent implementation,
// checked stat by stat against pycocotools by tests/unit/test_coco_eval.cpp.
//
// What is reproduced exactly (see pycocotools/cocoeval.py and COCO.loadRes):
//  - Results preparation (loadRes): result i gets id i+1. If the FIRST result has a bbox, every result
//    needs one, its area is bbox w*h and a result without segmentation is the box polygon; otherwise its
//    area is the mask area and its bbox, when absent, is pycocotools' toBbox of the mask.
//    Detectron2's COCOEvaluator removes "bbox" from results before segm evaluation, so that mask
//    areas decide small/medium/large: EvalParams::segm_drop_result_bbox (default true) does the same.
//  - Ground truth: polygons rasterised like pycocotools frPoly (several parts are merged), RLE used as
//    given; areas from the annotation's "area"; crowd regions (iscrowd) are ignored GT that can absorb
//    any number of detections, with IoU = intersection / detection area.
//  - Per (image, category): detections sorted by score with a stable sort (numpy mergesort on -score:
//    ties keep file order), cut to max_dets.back(); greedy matching per IoU threshold, ties in IoU go to
//    the later GT, non-ignored GT before ignored GT; unmatched detections outside the area range are
//    ignored. A detection matched to a GT whose id is 0 counts as unmatched (pycocotools stores the
//    GT id and tests it for non-zero).
//  - Accumulation: stable score sort over all images (image id order, then per-image order), precision
//    made monotone from the right, sampled at the recall thresholds with searchsorted(side='left');
//    -1 where a category has no non-ignored GT.
//  - Summary: the 12 standard numbers (AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl)
//    as means over entries > -1 (numpy's pairwise summation), -1 when there is none.
// Not supported: useCats=0, keypoints, custom imgIds/catIds subsets (all images and categories of the
// ground truth are evaluated, as COCOeval's defaults).
// Thread safety: evaluate() is reentrant; it uses OpenMP over (image, category) pairs; the result does
// not depend on the thread count.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "eval/coco_dataset.h"

namespace maskrt::eval {

enum class IouType { kBbox, kSegm };
const char* iou_type_name(IouType t);  // "bbox" / "segm"

struct EvalParams {
  std::vector<double> iou_thrs;                    // T, default np.linspace(0.5, 0.95, 10)
  std::vector<double> rec_thrs;                    // R, default np.linspace(0, 1, 101)
  std::vector<int> max_dets;                       // M, ascending, default {1, 10, 100}
  std::vector<std::array<double, 2>> area_rngs;    // A, inclusive [lo, hi] in pixels^2
  std::vector<std::string> area_labels;            // A, default all, small, medium, large
  bool segm_drop_result_bbox = true;               // Detectron2's COCOEvaluator (see above)
  static EvalParams coco_default();                // pycocotools Params(iouType) defaults
};

// The same values as numpy.linspace(start, stop, num) (endpoint included): start + i * step, last = stop.
std::vector<double> linspace(double start, double stop, int num);

struct EvalResult {
  IouType iou_type = IouType::kBbox;
  EvalParams params;
  std::vector<int64_t> image_ids;     // I, ascending (all images of the ground truth)
  std::vector<int64_t> category_ids;  // K, ascending
  // pycocotools eval['precision'], row-major (T, R, K, A, M); -1 where undefined.
  std::vector<double> precision;
  // pycocotools eval['recall'], row-major (T, K, A, M); -1 where undefined.
  std::vector<double> recall;
  // pycocotools COCOeval.stats (fractions in [0, 1], -1 = no data). Needs the default max_dets/area labels.
  std::array<double, 12> stats{};
  // Detectron2's per-category AP: mean of precision[:, :, k, area "all", last max_dets] over entries
  // > -1, as a fraction; NaN when the category has no ground truth. Order of category_ids.
  std::vector<double> per_category_ap;

  double precision_at(int t, int r, int k, int a, int m) const;
  double recall_at(int t, int k, int a, int m) const;
  // pycocotools' 12 summary lines ("Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | ...").
  std::string summary() const;
};

// Errors: kInvalidArgument naming the annotation or result (by id / index) when something that this
// IoU type needs is missing (GT bbox for "bbox", GT segmentation for "segm"; a result without bbox when
// the first result has one), for malformed polygons, and for results that fail validate_coco_results.
EvalResult evaluate(const CocoDataset& gt, const std::vector<CocoDetection>& results, IouType iou_type,
                    const EvalParams& params = EvalParams::coco_default());

}  // namespace maskrt::eval
