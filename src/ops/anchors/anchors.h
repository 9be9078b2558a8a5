#pragma once
// Anchor generation as detectron2/modeling/anchor_generator.py DefaultAnchorGenerator.
//
// cell_anchors: for size s in sizes, for aspect ratio a in aspect_ratios (size-major, then ratio):
//   w = sqrt(s*s / a), h = a * w, anchor = (-w/2, -h/2, w/2, h/2)
// computed in double (Detectron2 uses Python floats) and rounded to float32 once at the end
// (torch.tensor(...).float()). The float arguments are widened exactly; Detectron2 gets them as
// Python doubles from the config, so values that float cannot hold exactly (e.g. aspect ratio 0.3)
// can differ by one float rounding. The standard sizes (32..512) and ratios (0.5, 1, 2) are exact.
//   -> (A, 4), A = sizes.size() * aspect_ratios.size(). Errors: empty lists, sizes <= 0 or ratios <= 0.
//
// grid_anchors: shift_x[j] = float(offset*stride + j*stride) for j in [0, feat_w) (torch.arange in
// float32; computed in double and rounded once, exact for integer strides and offset 0 or 0.5),
// shift_y likewise; anchor = shift + cell anchor (one float32 add per coordinate). Flattened order is
// row-major over (H, W), then the A cell anchors: index = (y * feat_w + x) * A + a.
//   cell_anchors (A, 4) -> (feat_h * feat_w * A, 4) XYXY, in resized-image pixels, float32.
//   feat_h or feat_w == 0 gives (0, 4). Errors: negative sizes, stride <= 0, offset outside [0, 1),
//   cell_anchors not (A, 4).
// Thread safety: pure functions.
#include <vector>

#include "core/tensor.h"

namespace maskrt::ops {
Tensor cell_anchors(const std::vector<float>& sizes, const std::vector<float>& aspect_ratios);  // (A, 4)
Tensor grid_anchors(const Tensor& cell_anchors, int feat_h, int feat_w, float stride, float offset);
}  // namespace maskrt::ops
