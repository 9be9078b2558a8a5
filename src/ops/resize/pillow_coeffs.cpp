// Pillow's bilinear coefficients per axis (see pillow_coeffs.h / resize.h).
#include "ops/resize/pillow_coeffs.h"

#include <cmath>

#include "core/check.h"

namespace maskrt::ops {

PillowCoeffs make_pillow_coeffs(int in_size, int out_size) {
  MASKRT_CHECK(in_size >= 1 && out_size >= 1, ErrorCode::kInvalidArgument, "make_pillow_coeffs: sizes ", in_size,
               " -> ", out_size, " must be >= 1");
  PillowCoeffs a;
  a.in_size = in_size;
  a.out_size = out_size;
  const double scale = static_cast<double>(in_size) / out_size;
  const double filter_scale = scale < 1.0 ? 1.0 : scale;
  const double support = filter_scale;  // bilinear support 1.0, widened when downscaling
  a.max_taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  a.first.resize(out_size);
  a.count.resize(out_size);
  a.weights.assign(size_t(out_size) * a.max_taps, 0);
  const double inv_filter_scale = 1.0 / filter_scale;
  std::vector<double> w(a.max_taps);
  for (int i = 0; i < out_size; ++i) {
    const double center = (i + 0.5) * scale;
    int lo = static_cast<int>(center - support + 0.5);
    if (lo < 0) lo = 0;
    int hi = static_cast<int>(center + support + 0.5);
    if (hi > in_size) hi = in_size;
    const int n = hi - lo;
    MASKRT_ASSERT(n >= 1 && n <= a.max_taps);
    double sum = 0.0;
    for (int k = 0; k < n; ++k) {
      const double x = std::fabs((k + lo - center + 0.5) * inv_filter_scale);
      w[k] = x < 1.0 ? 1.0 - x : 0.0;
      sum += w[k];
    }
    int32_t* dst = &a.weights[size_t(i) * a.max_taps];
    for (int k = 0; k < n; ++k) {
      const double v = sum != 0.0 ? w[k] / sum : w[k];
      const double f = v * (1 << kPillowPrecisionBits);
      dst[k] = static_cast<int32_t>(v < 0 ? f - 0.5 : f + 0.5);
    }
    a.first[i] = lo;
    a.count[i] = n;
  }
  return a;
}

}  // namespace maskrt::ops
