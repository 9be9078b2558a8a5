#pragma once
// Anchor generation as detectron2/modeling/anchor_generator.py DefaultAnchorGenerator.
// Cell anchors for one level: for size s in sizes, for aspect ratio a in ratios (size-major):
//   w = sqrt(s*s / a), h = a * w, anchor = (-w/2, -h/2, w/2, h/2).
// Grid: shift_x = offset*stride + j*stride for j in [0, W), shift_y likewise; the flattened order is
// row-major over (H, W), then the A cell anchors: index = (y * W + x) * A + a.
// Output: (H * W * A, 4) boxes XYXY in resized-image pixels, float32 (computed in float like D2).
#include <vector>

#include "core/tensor.h"

namespace maskrt::ops {
Tensor cell_anchors(const std::vector<float>& sizes, const std::vector<float>& aspect_ratios);  // (A, 4)
Tensor grid_anchors(const Tensor& cell_anchors, int feat_h, int feat_w, float stride, float offset);
}  // namespace maskrt::ops
