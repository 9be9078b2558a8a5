#pragma once
// Non-maximum suppression as torchvision.ops.nms / batched_nms (torchvision 0.29, CPU kernel
// torchvision/csrc/ops/cpu/nms_kernel.cpp; Detectron2's layers/nms.py batched_nms calls it on float32):
//   - boxes XYXY float32, area = (x2-x1)*(y2-y1) (no +1); w = max(0, min(x2)-max(x1)) (likewise h);
//     IoU = inter / (area_i + area_j - inter), every step rounded to float32;
//   - a box is suppressed when its IoU with a kept, higher-ranked box is > iou_threshold (strictly;
//     equality keeps). torchvision compares the float IoU with the threshold as a double; we get the
//     threshold as float, so thresholds whose float rounding lies above the decimal value (0.3, 0.6)
//     could differ from torchvision for an IoU exactly equal to float(threshold). 0.5 and 0.7 are safe.
//   - processing order: scores descending, NaN scores first (torch's descending sort).
//     Ties: torchvision sorts with scores.sort(descending=True), which is NOT stable on CPU (std::sort
//     for more than 16 elements), so its order among equal scores is an accident of the sort. We
//     break ties by lower index first (stable), deterministically; results can differ from
//     torchvision only when equal-scored boxes overlap above the threshold.
//   - batched: boxes with different idxs never suppress each other. torchvision 0.29 picks one of two
//     implementations by size, and the IoU values differ in float rounding between them; we follow
//     the same choice so that the float results agree:
//       boxes.numel() <= 4000 (R <= 1000): "coordinate trick": every box is shifted by
//         float(idx) * (max_coordinate + 1) (float32 arithmetic; max over all box coordinates) and a
//         single NMS runs on the shifted boxes (IoUs are computed from the shifted coordinates);
//       otherwise: a plain NMS per class on the unshifted boxes.
// Returns kept indices into the input, sorted by score descending (ties by index). Empty input -> {}.
// Errors: boxes not (R, 4), scores/idxs length != R -> maskrt::Error(kInvalidArgument).
// Thread safety: pure functions.
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace maskrt::ops {
inline constexpr int64_t kBatchedNmsCoordinateTrickMaxNumel = 4000;  // torchvision 0.29, CPU

std::vector<int64_t> nms_ref(const Tensor& boxes /* (R,4) */, const std::vector<float>& scores, float iou_threshold);
std::vector<int64_t> batched_nms_ref(const Tensor& boxes, const std::vector<float>& scores,
                                     const std::vector<int64_t>& idxs, float iou_threshold);
// CPU: same results, faster (per-class buckets; with the coordinate trick only boxes with all
// coordinates >= -1 can be bucketed safely, so other inputs fall back to the reference).
std::vector<int64_t> batched_nms_cpu(const Tensor& boxes, const std::vector<float>& scores,
                                     const std::vector<int64_t>& idxs, float iou_threshold);
}  // namespace maskrt::ops
