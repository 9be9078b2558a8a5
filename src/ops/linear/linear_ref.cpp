// linear shape logic (shared by every implementation) and the scalar reference.
#include "ops/linear/linear.h"

#include <algorithm>

namespace maskrt::ops {

Shape linear_output_shape(const Shape& x, const Shape& w, const Tensor& bias) {
  constexpr auto kBad = ErrorCode::kInvalidArgument;
  MASKRT_CHECK(x.size() == 2, kBad, "linear: input x must be 2-D (N, K), got ", shape_str(x));
  MASKRT_CHECK(w.size() == 2, kBad, "linear: weight must be 2-D (M, K), got ", shape_str(w));
  MASKRT_CHECK(x[1] == w[1], kBad, "linear: x ", shape_str(x), " has K=", x[1], " but weight ", shape_str(w),
               " expects K=", w[1]);
  if (bias.defined()) {
    MASKRT_CHECK(bias.dim() == 1 && bias.size(0) == w[0], kBad, "linear: bias must be (", w[0], ",), got ",
                 shape_str(bias.shape()));
  }
  return {x[0], w[0]};
}

Tensor linear_ref(const Tensor& x, const Tensor& w, const Tensor& bias, bool relu) {
  const Shape ys = linear_output_shape(x.shape(), w.shape(), bias);
  const int64_t n = ys[0], m = ys[1], k = x.size(1);
  Tensor y(ys);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < m; ++j) {
      double acc = bias.defined() ? static_cast<double>(bias[j]) : 0.0;
      for (int64_t q = 0; q < k; ++q) acc += static_cast<double>(x[i * k + q]) * static_cast<double>(w[j * k + q]);
      float v = static_cast<float>(acc);
      y[i * m + j] = relu ? std::max(v, 0.0f) : v;
    }
  }
  return y;
}

}  // namespace maskrt::ops
