// upsample_nearest2x_add on the CPU: OpenMP over (N*C) planes, each top row feeds two output rows.
#include "ops/upsample/upsample.h"

namespace maskrt::ops {

Tensor upsample_nearest2x_add_cpu(const Tensor& top, const Tensor& lateral) {
  const Shape ys = upsample_nearest2x_add_output_shape(top.shape(), lateral.shape());
  const int64_t planes = ys[0] * ys[1], h = top.size(2), w = top.size(3), ow = 2 * w;
  Tensor y = Tensor::empty(ys);
  if (y.numel() == 0) return y;
  const float* tp = top.data();
  const float* lp = lateral.data();
  float* yp = y.data();
#pragma omp parallel for schedule(static) if (y.numel() > 16384)
  for (int64_t pl = 0; pl < planes; ++pl) {
    for (int64_t i = 0; i < h; ++i) {
      const float* t = tp + (pl * h + i) * w;
      for (int64_t r = 0; r < 2; ++r) {
        const int64_t off = (pl * 2 * h + 2 * i + r) * ow;
        const float* l = lp + off;
        float* d = yp + off;
        for (int64_t j = 0; j < w; ++j) {
          d[2 * j] = l[2 * j] + t[j];
          d[2 * j + 1] = l[2 * j + 1] + t[j];
        }
      }
    }
  }
  return y;
}

}  // namespace maskrt::ops
