// conv_transpose2x2 on the CPU: sgemm into a per-thread buffer, then scatter (see conv_transpose2d.h).
#include <omp.h>

#include <algorithm>
#include <vector>

#include "ops/conv_transpose2d/conv_transpose2d.h"
#include "ops/linear/blas_threading.h"

namespace maskrt::ops {

Tensor conv_transpose2x2_cpu(const Tensor& x, const Tensor& w, const Tensor& bias, bool relu) {
  const Shape ys = conv_transpose2x2_output_shape(x.shape(), w.shape(), bias);
  const int64_t n_img = ys[0], oc = ys[1], ow = ys[3];
  const int64_t c = x.size(1), h = x.size(2), wd = x.size(3), hw = h * wd;
  Tensor y = Tensor::empty(ys);
  if (y.numel() == 0) return y;
  const float* bp = bias.defined() ? bias.data() : nullptr;
  float* yp = y.data();
  if (c == 0) {  // empty reduction: y = bias (then ReLU)
    for (int64_t n = 0; n < n_img; ++n)
      for (int64_t o = 0; o < oc; ++o)
        for (int64_t q = 0; q < 4 * hw; ++q) {
          const float v = bp ? bp[o] : 0.0f;
          yp[(n * oc + o) * 4 * hw + q] = relu ? std::max(v, 0.0f) : v;
        }
    return y;
  }
  detail::blas_prepare();
  const int num_threads = omp_get_max_threads();
  // Output-channel blocks so that there are at least ~2 items per thread even for a single image.
  int64_t oblk = oc;
  if (n_img < 2 * num_threads) {
    const int64_t want = (2 * num_threads + n_img - 1) / n_img;
    oblk = std::max<int64_t>(16, (oc + want - 1) / want);
  }
  const int64_t oblocks = (oc + oblk - 1) / oblk;
  const int64_t items = n_img * oblocks;
  const float* xp = x.data();
  const float* wp = w.data();

#pragma omp parallel num_threads(num_threads) if (items > 1)
  {
    std::vector<float> z(static_cast<size_t>(4 * oblk * hw));  // (4*oblk, H*W): row o*4 + a*2 + b
#pragma omp for schedule(dynamic, 1)
    for (int64_t item = 0; item < items; ++item) {
      const int64_t n = item / oblocks, o0 = (item % oblocks) * oblk, olen = std::min(oblk, oc - o0);
      // Z = (W[:, o0:o0+olen] as (C, 4*olen))^T X, W rows have stride 4*O.
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, static_cast<int>(4 * olen), static_cast<int>(hw),
                  static_cast<int>(c), 1.0f, wp + 4 * o0, static_cast<int>(4 * oc), xp + n * c * hw,
                  static_cast<int>(hw), 0.0f, z.data(), static_cast<int>(hw));
      for (int64_t ol = 0; ol < olen; ++ol) {
        const int64_t o = o0 + ol;
        const float bv = bp ? bp[o] : 0.0f;
        float* yo = yp + (n * oc + o) * 4 * hw;  // (2H, 2W)
        for (int64_t a = 0; a < 2; ++a) {
          const float* z0 = z.data() + (ol * 4 + a * 2) * hw;  // b = 0
          const float* z1 = z0 + hw;                           // b = 1
          for (int64_t i = 0; i < h; ++i) {
            float* row = yo + (2 * i + a) * ow;
            for (int64_t j = 0; j < wd; ++j) {
              float v0 = z0[i * wd + j] + bv, v1 = z1[i * wd + j] + bv;
              if (relu) v0 = std::max(v0, 0.0f), v1 = std::max(v1, 0.0f);
              row[2 * j] = v0;
              row[2 * j + 1] = v1;
            }
          }
        }
      }
    }
  }
  return y;
}

}  // namespace maskrt::ops
