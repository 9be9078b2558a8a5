// Scalar reference NMS: a direct transcription of the semantics in nms.h (all pairs, in score order).
#include <algorithm>

#include "ops/nms/nms_common.h"

namespace maskrt::ops {
namespace {

// NMS over `coords` (R*4 floats) restricted to `subset`; returns kept indices in processing order.
std::vector<int64_t> nms_on(const float* coords, const std::vector<float>& scores, const std::vector<int64_t>& subset,
                            float thr) {
  const std::vector<int64_t> order = nms_detail::score_order(scores, subset);
  std::vector<float> areas(scores.size());
  for (int64_t i : subset) areas[i] = nms_detail::area(coords + i * 4);
  std::vector<char> suppressed(scores.size(), 0);
  std::vector<int64_t> keep;
  for (size_t a = 0; a < order.size(); ++a) {
    const int64_t i = order[a];
    if (suppressed[i]) continue;
    keep.push_back(i);
    for (size_t b = a + 1; b < order.size(); ++b) {
      const int64_t j = order[b];
      if (suppressed[j]) continue;
      if (nms_detail::suppresses(coords + i * 4, areas[i], coords + j * 4, areas[j], thr)) suppressed[j] = 1;
    }
  }
  return keep;
}

std::vector<int64_t> all_indices(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

}  // namespace

std::vector<int64_t> nms_ref(const Tensor& boxes, const std::vector<float>& scores, float iou_threshold) {
  nms_detail::validate(boxes, scores.size(), nullptr, "nms_ref");
  if (boxes.size(0) == 0) return {};
  return nms_on(boxes.data(), scores, all_indices(boxes.size(0)), iou_threshold);
}

std::vector<int64_t> batched_nms_ref(const Tensor& boxes, const std::vector<float>& scores,
                                     const std::vector<int64_t>& idxs, float iou_threshold) {
  const size_t n_idxs = idxs.size();
  nms_detail::validate(boxes, scores.size(), &n_idxs, "batched_nms_ref");
  const int64_t R = boxes.size(0);
  if (R == 0) return {};
  if (boxes.numel() <= kBatchedNmsCoordinateTrickMaxNumel) {
    const std::vector<float> shifted = nms_detail::coordinate_trick_boxes(boxes, idxs);
    return nms_on(shifted.data(), scores, all_indices(R), iou_threshold);
  }
  // Per class on the original coordinates, then all kept boxes by score.
  std::vector<int64_t> classes = idxs;
  std::sort(classes.begin(), classes.end());
  classes.erase(std::unique(classes.begin(), classes.end()), classes.end());
  std::vector<int64_t> kept;
  for (int64_t c : classes) {
    std::vector<int64_t> subset;
    for (int64_t i = 0; i < R; ++i)
      if (idxs[i] == c) subset.push_back(i);
    for (int64_t k : nms_on(boxes.data(), scores, subset, iou_threshold)) kept.push_back(k);
  }
  std::sort(kept.begin(), kept.end());
  return nms_detail::score_order(scores, kept);
}

}  // namespace maskrt::ops

