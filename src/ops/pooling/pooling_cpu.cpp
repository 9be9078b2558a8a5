// max_pool2d on the CPU: OpenMP over (N*C) planes, window bounds clamped once per output pixel.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/pooling/pooling.h"

namespace maskrt::ops {

Tensor max_pool2d_cpu(const MaxPool2dParams& p, const Tensor& x) {
  const Shape ys = max_pool2d_output_shape(p, x.shape());
  const int64_t planes = ys[0] * ys[1], oh = ys[2], ow = ys[3], h = x.size(2), w = x.size(3);
  Tensor y = Tensor::empty(ys);
  if (y.numel() == 0) return y;
  const float* xp = x.data();
  float* yp = y.data();
  const int64_t k = p.kernel, s = p.stride, pad = p.pad;
#pragma omp parallel for schedule(static) if (planes * oh * ow > 4096)
  for (int64_t pl = 0; pl < planes; ++pl) {
    const float* xc = xp + pl * h * w;
    float* yc = yp + pl * oh * ow;
    for (int64_t i = 0; i < oh; ++i) {
      const int64_t y0 = std::max<int64_t>(i * s - pad, 0), y1 = std::min<int64_t>(i * s - pad + k, h);
      for (int64_t j = 0; j < ow; ++j) {
        const int64_t x0 = std::max<int64_t>(j * s - pad, 0), x1 = std::min<int64_t>(j * s - pad + k, w);
        float m = -std::numeric_limits<float>::infinity();
        bool nan = false;
        for (int64_t yy = y0; yy < y1; ++yy) {
          const float* row = xc + yy * w;
          for (int64_t xx = x0; xx < x1; ++xx) {
            const float v = row[xx];
            m = v > m ? v : m;
            nan |= std::isnan(v);
          }
        }
        yc[i * ow + j] = nan ? std::numeric_limits<float>::quiet_NaN() : m;
      }
    }
  }
  return y;
}

}  // namespace maskrt::ops
