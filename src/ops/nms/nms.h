#pragma once
// Non-maximum suppression as torchvision.ops.nms / batched_nms (used by Detectron2):
//   - boxes XYXY float32, area = (x2-x1)*(y2-y1) (no +1); IoU = inter / (area_i + area_j - inter);
//   - a box is suppressed when IoU with a kept, higher-scored box is > iou_threshold (strictly);
//   - processing order: scores descending; ties broken by lower index first (stable sort);
//   - batched: boxes with different `idxs` never suppress each other (coordinate-offset trick is not
//     needed; we compare idxs directly, which gives the same result).
// Returns kept indices into the input, sorted by score descending.
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace maskrt::ops {
std::vector<int64_t> nms_ref(const Tensor& boxes /* (R,4) */, const std::vector<float>& scores, float iou_threshold);
std::vector<int64_t> batched_nms_ref(const Tensor& boxes, const std::vector<float>& scores,
                                     const std::vector<int64_t>& idxs, float iou_threshold);
// CPU: same results, faster (per-class buckets).
std::vector<int64_t> batched_nms_cpu(const Tensor& boxes, const std::vector<float>& scores,
                                     const std::vector<int64_t>& idxs, float iou_threshold);
}  // namespace maskrt::ops
