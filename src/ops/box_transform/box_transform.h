#pragma once
// Box2BoxTransform.apply_deltas (detectron2/modeling/box_regression.py), float32:
//   widths = x2 - x1, heights = y2 - y1 (no +1), ctr = x1 + 0.5*w;
//   dx = d0/wx, dy = d1/wy, dw = min(d2/ww, scale_clamp), dh = min(d3/wh, scale_clamp);
//   pred_ctr = dx*w + ctr, pred_w = exp(dw)*w; box = (ctr - 0.5*pw, ..., ctr + 0.5*pw, ...)
//   (Detectron2 computes x2 as pred_ctr_x + 0.5*pred_w.)
// deltas (R, 4*K) with K boxes per row -> (R, 4*K). boxes (R, 4).
// clip_boxes: x to [0, width], y to [0, height] (Boxes.clip).
#include <array>

#include "core/tensor.h"

namespace maskrt::ops {
struct BoxTransformParams {
  std::array<float, 4> weights{1.f, 1.f, 1.f, 1.f};  // (wx, wy, ww, wh)
  float scale_clamp = 4.135166556742356f;             // log(1000/16)
};
Tensor apply_deltas(const BoxTransformParams& p, const Tensor& boxes, const Tensor& deltas);
void clip_boxes(Tensor& boxes /* (R, 4) or (R, 4K) */, float height, float width);
}  // namespace maskrt::ops
