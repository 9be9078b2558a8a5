#pragma once
// Box2BoxTransform.apply_deltas (detectron2/modeling/box_regression.py) and Boxes.clip
// (detectron2/structures/boxes.py), float32, every step rounded in Detectron2's order:
//   widths = x2 - x1, heights = y2 - y1 (no +1); ctr_x = x1 + 0.5f * widths (likewise y);
//   dx = d0 / wx, dy = d1 / wy (true float division, as torch's tensor / python-float);
//   dw = min(d2 / ww, scale_clamp), dh = min(d3 / wh, scale_clamp) (torch.clamp(max=): NaN stays NaN);
//   pred_ctr_x = dx * widths + ctr_x (a product rounded, then a sum: no fused multiply-add);
//   pred_w = exp(dw) * widths;
//   x1' = pred_ctr_x - 0.5f * pred_w, y1' likewise, x2' = pred_ctr_x + 0.5f * pred_w, y2' likewise.
// The one step that is not bit-exact: torch's float exp (SLEEF, <= 1 ulp) versus ours (exp rounded
// from double, i.e. correctly rounded); about 1% of values differ by 1 ulp in pred_w.
//
// apply_deltas: boxes (R, 4) XYXY and deltas (R, 4*K) (K class-specific boxes per row; delta
// order dx, dy, dw, dh per box) -> (R, 4*K), in the pixel frame of `boxes`. R may be 0.
// clip_boxes (in place): x to [0, width], y to [0, height] for every (x1, y1, x2, y2) group of a
// (R, 4) or (R, 4K) tensor; NaN stays NaN (Detectron2 asserts finiteness before clipping; callers drop
// non-finite boxes first, as Detectron2's find_top_rpn_proposals does).
// Errors: shape mismatch -> maskrt::Error(kInvalidArgument). Non-finite values are not errors.
// Thread safety: pure functions over distinct tensors.
#include <array>

#include "core/tensor.h"

namespace maskrt::ops {
struct BoxTransformParams {
  std::array<float, 4> weights{1.f, 1.f, 1.f, 1.f};  // (wx, wy, ww, wh): RPN (1,1,1,1), ROI heads (10,10,5,5)
  float scale_clamp = 4.135166556742356f;             // log(1000/16), rounded to float as torch.clamp does
};
Tensor apply_deltas(const BoxTransformParams& p, const Tensor& boxes, const Tensor& deltas);
void clip_boxes(Tensor& boxes /* (R, 4) or (R, 4K) */, float height, float width);
}  // namespace maskrt::ops
