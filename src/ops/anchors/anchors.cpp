// DefaultAnchorGenerator (see anchors.h).
#include "ops/anchors/anchors.h"

#include <cmath>

namespace maskrt::ops {

Tensor cell_anchors(const std::vector<float>& sizes, const std::vector<float>& aspect_ratios) {
  MASKRT_CHECK(!sizes.empty() && !aspect_ratios.empty(), ErrorCode::kInvalidArgument,
               "cell_anchors: MODEL.ANCHOR_GENERATOR.SIZES and ASPECT_RATIOS must not be empty");
  const int64_t A = static_cast<int64_t>(sizes.size() * aspect_ratios.size());
  Tensor out = Tensor::empty({A, 4});
  float* o = out.data();
  for (float s : sizes) {
    MASKRT_CHECK(s > 0 && std::isfinite(s), ErrorCode::kInvalidArgument, "cell_anchors: anchor size ", s,
                 " must be positive");
    const double area = static_cast<double>(s) * static_cast<double>(s);  // size ** 2.0
    for (float a : aspect_ratios) {
      MASKRT_CHECK(a > 0 && std::isfinite(a), ErrorCode::kInvalidArgument, "cell_anchors: aspect ratio ", a,
                   " must be positive");
      const double w = std::sqrt(area / static_cast<double>(a));
      const double h = static_cast<double>(a) * w;
      *o++ = static_cast<float>(-w / 2.0);
      *o++ = static_cast<float>(-h / 2.0);
      *o++ = static_cast<float>(w / 2.0);
      *o++ = static_cast<float>(h / 2.0);
    }
  }
  return out;
}

Tensor grid_anchors(const Tensor& cell, int feat_h, int feat_w, float stride, float offset) {
  MASKRT_CHECK(cell.dim() == 2 && cell.size(1) == 4, ErrorCode::kInvalidArgument,
               "grid_anchors: cell anchors must be (A, 4), got ", shape_str(cell.shape()));
  MASKRT_CHECK(feat_h >= 0 && feat_w >= 0, ErrorCode::kInvalidArgument, "grid_anchors: negative feature size ",
               feat_h, "x", feat_w);
  MASKRT_CHECK(stride > 0 && std::isfinite(stride), ErrorCode::kInvalidArgument, "grid_anchors: stride ", stride,
               " must be positive");
  MASKRT_CHECK(offset >= 0.f && offset < 1.f, ErrorCode::kInvalidArgument,
               "grid_anchors: MODEL.ANCHOR_GENERATOR.OFFSET ", offset, " must be in [0, 1)");
  const int64_t A = cell.size(0);
  Tensor out = Tensor::empty({int64_t{feat_h} * feat_w * A, 4});
  const float* c = cell.data();
  float* o = out.data();
  const double start = static_cast<double>(offset) * static_cast<double>(stride);
  std::vector<float> shift_x(static_cast<size_t>(feat_w));
  for (int x = 0; x < feat_w; ++x) shift_x[x] = static_cast<float>(start + static_cast<double>(stride) * x);
  for (int y = 0; y < feat_h; ++y) {
    const float sy = static_cast<float>(start + static_cast<double>(stride) * y);
    for (int x = 0; x < feat_w; ++x) {
      const float sx = shift_x[x];
      for (int64_t a = 0; a < A; ++a) {
        *o++ = sx + c[a * 4 + 0];
        *o++ = sy + c[a * 4 + 1];
        *o++ = sx + c[a * 4 + 2];
        *o++ = sy + c[a * 4 + 3];
      }
    }
  }
  return out;
}

}  // namespace maskrt::ops
