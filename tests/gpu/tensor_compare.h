#pragma once
// Host-side helpers of the gpu op tests: seeded random tensors and the relative L2 error against a
// scalar reference (test_conv_cudnn, test_stem_s2d_cuda, test_tf32_nhwc_cuda).
#include <algorithm>
#include <cmath>
#include <random>

#include "core/tensor.h"

namespace maskrt::test {

// A float32 tensor of shape `s` with N(0, scale^2) entries drawn from `rng`.
inline Tensor random_tensor(Shape s, std::mt19937& rng, float scale = 1.f) {
  Tensor t(s);
  std::normal_distribution<float> d(0.f, scale);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = d(rng);
  return t;
}

// ||a - ref||_2 / ||ref||_2 over all elements (ref's element count; a must have at least as many).
inline double rel_l2(const Tensor& a, const Tensor& ref) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    const double d = double(a[i]) - ref[i];
    num += d * d;
    den += double(ref[i]) * ref[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

}  // namespace maskrt::test
