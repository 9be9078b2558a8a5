// max_pool2d shape logic (shared by every implementation) and the scalar reference.
#include <cmath>
#include <limits>

#include "ops/pooling/pooling.h"

namespace maskrt::ops {

Shape max_pool2d_output_shape(const MaxPool2dParams& p, const Shape& x) {
  constexpr auto kBad = ErrorCode::kInvalidArgument;
  MASKRT_CHECK(x.size() == 4, kBad, "max_pool2d: input must be 4-D (N, C, H, W), got ", shape_str(x));
  MASKRT_CHECK(p.kernel >= 1 && p.stride >= 1 && p.pad >= 0, kBad, "max_pool2d: need kernel >= 1, stride >= 1, pad >= 0, got kernel=",
               p.kernel, " stride=", p.stride, " pad=", p.pad);
  MASKRT_CHECK(p.pad <= p.kernel / 2, kBad, "max_pool2d: pad ", p.pad, " must be at most half the kernel ", p.kernel);
  const int64_t ih = x[2] + 2 * p.pad, iw = x[3] + 2 * p.pad;
  MASKRT_CHECK(ih >= p.kernel && iw >= p.kernel, kBad, "max_pool2d: padded input ", ih, "x", iw, " of ", shape_str(x),
               " is smaller than the kernel ", p.kernel);
  return {x[0], x[1], (ih - p.kernel) / p.stride + 1, (iw - p.kernel) / p.stride + 1};
}

Tensor max_pool2d_ref(const MaxPool2dParams& p, const Tensor& x) {
  const Shape ys = max_pool2d_output_shape(p, x.shape());
  const int64_t planes = ys[0] * ys[1], oh = ys[2], ow = ys[3], h = x.size(2), w = x.size(3);
  Tensor y(ys);
  for (int64_t pl = 0; pl < planes; ++pl) {
    for (int64_t i = 0; i < oh; ++i) {
      for (int64_t j = 0; j < ow; ++j) {
        float m = -std::numeric_limits<float>::infinity();
        for (int64_t a = 0; a < p.kernel; ++a) {
          for (int64_t b = 0; b < p.kernel; ++b) {
            const int64_t yy = i * p.stride - p.pad + a, xx = j * p.stride - p.pad + b;
            if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;  // padding is -inf: never wins
            const float v = x[(pl * h + yy) * w + xx];
            if (v > m || std::isnan(v)) m = v;
            if (std::isnan(m)) break;
          }
          if (std::isnan(m)) break;
        }
        y[(pl * oh + i) * ow + j] = m;
      }
    }
  }
  return y;
}

}  // namespace maskrt::ops
