// conv_transpose2x2 shape logic (shared by every implementation) and the scalar reference.
#include "ops/conv_transpose2d/conv_transpose2d.h"

#include <algorithm>

namespace maskrt::ops {

Shape conv_transpose2x2_output_shape(const Shape& x, const Shape& w, const Tensor& bias) {
  constexpr auto kBad = ErrorCode::kInvalidArgument;
  MASKRT_CHECK(x.size() == 4, kBad, "conv_transpose2x2: input x must be 4-D (N, C, H, W), got ", shape_str(x));
  MASKRT_CHECK(w.size() == 4 && w[0] == x[1] && w[2] == 2 && w[3] == 2, kBad,
               "conv_transpose2x2: weight must be (C, O, 2, 2) with C=", x[1], ", got ", shape_str(w));
  if (bias.defined()) {
    MASKRT_CHECK(bias.dim() == 1 && bias.size(0) == w[1], kBad, "conv_transpose2x2: bias must be (", w[1],
                 ",), got ", shape_str(bias.shape()));
  }
  return {x[0], w[1], 2 * x[2], 2 * x[3]};
}

Tensor conv_transpose2x2_ref(const Tensor& x, const Tensor& w, const Tensor& bias, bool relu) {
  const Shape ys = conv_transpose2x2_output_shape(x.shape(), w.shape(), bias);
  const int64_t n_img = ys[0], oc = ys[1], oh = ys[2], ow = ys[3];
  const int64_t c = x.size(1), h = x.size(2), wd = x.size(3);
  Tensor y(ys);
  for (int64_t n = 0; n < n_img; ++n)
    for (int64_t o = 0; o < oc; ++o)
      for (int64_t yy = 0; yy < oh; ++yy)
        for (int64_t xx = 0; xx < ow; ++xx) {
          const int64_t i = yy / 2, a = yy % 2, j = xx / 2, b = xx % 2;
          double acc = bias.defined() ? static_cast<double>(bias[o]) : 0.0;
          for (int64_t ci = 0; ci < c; ++ci)
            acc += static_cast<double>(x[((n * c + ci) * h + i) * wd + j]) *
                   static_cast<double>(w[((ci * oc + o) * 2 + a) * 2 + b]);
          const float v = static_cast<float>(acc);
          y[((n * oc + o) * oh + yy) * ow + xx] = relu ? std::max(v, 0.0f) : v;
        }
  return y;
}

}  // namespace maskrt::ops
