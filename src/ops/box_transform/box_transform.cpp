// Box2BoxTransform.apply_deltas and Boxes.clip (see box_transform.h). One implementation: it is
// elementwise and already the scalar form.
#include "ops/box_transform/box_transform.h"

#include <algorithm>
#include <cmath>

namespace maskrt::ops {

Tensor apply_deltas(const BoxTransformParams& p, const Tensor& boxes, const Tensor& deltas) {
  MASKRT_CHECK(boxes.dim() == 2 && boxes.size(1) == 4, ErrorCode::kInvalidArgument,
               "apply_deltas: boxes must be (R, 4), got ", shape_str(boxes.shape()));
  MASKRT_CHECK(deltas.dim() == 2 && deltas.size(1) % 4 == 0 && deltas.size(1) > 0 && deltas.size(0) == boxes.size(0),
               ErrorCode::kInvalidArgument, "apply_deltas: deltas must be (R, 4*K) with R = ", boxes.size(0),
               ", got ", shape_str(deltas.shape()));
  const int64_t R = boxes.size(0), K = deltas.size(1) / 4;
  Tensor out = Tensor::empty(deltas.shape());
  const float* b = boxes.data();
  const float* d = deltas.data();
  float* o = out.data();
  const float wx = p.weights[0], wy = p.weights[1], ww = p.weights[2], wh = p.weights[3];
  for (int64_t r = 0; r < R; ++r) {
    const float* br = b + r * 4;
    const float widths = br[2] - br[0];
    const float heights = br[3] - br[1];
    const float ctr_x = br[0] + 0.5f * widths;
    const float ctr_y = br[1] + 0.5f * heights;
    for (int64_t k = 0; k < K; ++k) {
      const float* dk = d + (r * K + k) * 4;
      float* ok = o + (r * K + k) * 4;
      const float dx = dk[0] / wx;
      const float dy = dk[1] / wy;
      const float dw = std::min(dk[2] / ww, p.scale_clamp);  // NaN stays NaN, like torch.clamp
      const float dh = std::min(dk[3] / wh, p.scale_clamp);
      const float pred_ctr_x = dx * widths + ctr_x;
      const float pred_ctr_y = dy * heights + ctr_y;
      const float pred_w = static_cast<float>(std::exp(static_cast<double>(dw))) * widths;
      const float pred_h = static_cast<float>(std::exp(static_cast<double>(dh))) * heights;
      ok[0] = pred_ctr_x - 0.5f * pred_w;
      ok[1] = pred_ctr_y - 0.5f * pred_h;
      ok[2] = pred_ctr_x + 0.5f * pred_w;
      ok[3] = pred_ctr_y + 0.5f * pred_h;
    }
  }
  return out;
}

void clip_boxes(Tensor& boxes, float height, float width) {
  MASKRT_CHECK(boxes.dim() == 2 && boxes.size(1) % 4 == 0, ErrorCode::kInvalidArgument,
               "clip_boxes: boxes must be (R, 4*K), got ", shape_str(boxes.shape()));
  float* b = boxes.data();
  const int64_t n = boxes.numel() / 4;
  // torch.clamp(min=0, max=w) = min(max(v, 0), w); std::max/min keep a NaN first argument.
  for (int64_t i = 0; i < n; ++i) {
    float* q = b + i * 4;
    q[0] = std::min(std::max(q[0], 0.f), width);
    q[1] = std::min(std::max(q[1], 0.f), height);
    q[2] = std::min(std::max(q[2], 0.f), width);
    q[3] = std::min(std::max(q[3], 0.f), height);
  }
}

}  // namespace maskrt::ops

