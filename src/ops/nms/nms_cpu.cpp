// CPU batched NMS: boxes bucketed by class, each bucket sorted once; same float IoU test as the
// reference, so the kept set and order are identical (see nms.h for when it defers to the reference).
#include <algorithm>
#include <unordered_map>

#include "ops/nms/nms_common.h"

namespace maskrt::ops {

std::vector<int64_t> batched_nms_cpu(const Tensor& boxes, const std::vector<float>& scores,
                                     const std::vector<int64_t>& idxs, float iou_threshold) {
  const size_t n_idxs = idxs.size();
  nms_detail::validate(boxes, scores.size(), &n_idxs, "batched_nms_cpu");
  const int64_t R = boxes.size(0);
  if (R == 0) return {};
  const float* coords = boxes.data();
  std::vector<float> shifted;
  if (boxes.numel() <= kBatchedNmsCoordinateTrickMaxNumel) {
    // Shifted boxes of different classes can only overlap when a coordinate is below -1 (or NaN):
    // then torchvision's single NMS may suppress across classes; let the reference reproduce that.
    for (int64_t i = 0; i < R * 4; ++i)
      if (!(coords[i] >= -1.f)) return batched_nms_ref(boxes, scores, idxs, iou_threshold);
    shifted = nms_detail::coordinate_trick_boxes(boxes, idxs);
    coords = shifted.data();
  }
  // Global order once; buckets keep it.
  std::vector<int64_t> all(static_cast<size_t>(R));
  std::iota(all.begin(), all.end(), 0);
  const std::vector<int64_t> order = nms_detail::score_order(scores, all);
  std::unordered_map<int64_t, std::vector<int64_t>> buckets;
  for (int64_t i : order) buckets[idxs[i]].push_back(i);

  std::vector<float> areas(static_cast<size_t>(R));
  for (int64_t i = 0; i < R; ++i) areas[i] = nms_detail::area(coords + i * 4);
  std::vector<char> keep_flag(static_cast<size_t>(R), 0);
  std::vector<char> suppressed(static_cast<size_t>(R), 0);
  for (auto& kv : buckets) {
    const std::vector<int64_t>& b = kv.second;
    for (size_t a = 0; a < b.size(); ++a) {
      const int64_t i = b[a];
      if (suppressed[i]) continue;
      keep_flag[i] = 1;
      const float* bi = coords + i * 4;
      const float ai = areas[i];
      for (size_t c = a + 1; c < b.size(); ++c) {
        const int64_t j = b[c];
        if (!suppressed[j] && nms_detail::suppresses(bi, ai, coords + j * 4, areas[j], iou_threshold))
          suppressed[j] = 1;
      }
    }
  }
  std::vector<int64_t> keep;
  for (int64_t i : order)
    if (keep_flag[i]) keep.push_back(i);
  return keep;
}

}  // namespace maskrt::ops

