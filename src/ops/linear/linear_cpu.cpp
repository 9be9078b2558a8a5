// linear on the CPU: OpenBLAS sgemm on OpenMP-parallel blocks (see linear.h).
#include <omp.h>

#include <algorithm>

#include "ops/linear/blas_threading.h"
#include "ops/linear/linear.h"

namespace maskrt::ops {

Tensor linear_cpu(const Tensor& x, const Tensor& w, const Tensor& bias, bool relu) {
  const Shape ys = linear_output_shape(x.shape(), w.shape(), bias);
  const int64_t n = ys[0], m = ys[1], k = x.size(1);
  Tensor y = Tensor::empty(ys);
  if (y.numel() == 0) return y;
  if (k == 0) {  // empty reduction: y = bias (then ReLU)
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < m; ++j) {
        const float v = bias.defined() ? bias[j] : 0.0f;
        y[i * m + j] = relu ? std::max(v, 0.0f) : v;
      }
    return y;
  }
  detail::blas_prepare();
  const int num_threads = omp_get_max_threads();
  // Block rows of x when there are enough of them, else rows of w (output columns); blocks are
  // multiples of 16 so OpenBLAS's micro-kernels stay full.
  const bool split_rows = n >= 16 * num_threads || n >= m;
  const int64_t extent = split_rows ? n : m;
  int64_t block = (extent + num_threads - 1) / std::max(1, num_threads);
  block = std::max<int64_t>(16, (block + 15) / 16 * 16);
  const int64_t blocks = (extent + block - 1) / block;
  const float* xp = x.data();
  const float* wp = w.data();
  const float* bp = bias.defined() ? bias.data() : nullptr;
  float* yp = y.data();

#pragma omp parallel for schedule(static, 1) num_threads(num_threads) if (blocks > 1)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t lo = b * block, len = std::min(block, extent - lo);
    const int64_t rn = split_rows ? len : n, rm = split_rows ? m : len;
    const float* xb = split_rows ? xp + lo * k : xp;
    const float* wb = split_rows ? wp : wp + lo * k;
    float* yb = split_rows ? yp + lo * m : yp + lo;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(rn), static_cast<int>(rm),
                static_cast<int>(k), 1.0f, xb, static_cast<int>(k), wb, static_cast<int>(k), 0.0f, yb,
                static_cast<int>(m));
    if (bp || relu) {
      const float* bb = bp ? (split_rows ? bp : bp + lo) : nullptr;
      for (int64_t i = 0; i < rn; ++i) {
        float* row = yb + i * m;
        for (int64_t j = 0; j < rm; ++j) {
          const float v = row[j] + (bb ? bb[j] : 0.0f);
          row[j] = relu ? std::max(v, 0.0f) : v;
        }
      }
    }
  }
  return y;
}

}  // namespace maskrt::ops
