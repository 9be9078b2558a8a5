#include "backend/cuda/im2col.h"

#include <cuda_fp16.h>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/launch_util.h"

namespace maskrt::cuda {
namespace {

// fp16 NHWC. One thread per (row, ky, kx, channel group) with T = uint4 (8 channels, one 16-byte load
// and store; c % 8 == 0, aligned) or T = __half (one channel). `cs` = channels in units of T.
template <typename T, typename I>
__global__ void im2col_nhwc_kernel(Im2colShape s, int cs, const T* x, T* col, I total, T zero) {
  for (I i = I(blockIdx.x) * I(blockDim.x) + I(threadIdx.x); i < total; i += I(gridDim.x) * I(blockDim.x)) {
    const int cv = static_cast<int>(i % cs);
    I t = i / cs;
    const int kx = static_cast<int>(t % s.k);
    t /= s.k;
    const int ky = static_cast<int>(t % s.k);
    t /= s.k;
    const int ox = static_cast<int>(t % s.ow);
    t /= s.ow;
    const int oy = static_cast<int>(t % s.oh);
    const int img = static_cast<int>(t / s.oh);
    const int iy = oy * s.stride - s.pad + ky, ix = ox * s.stride - s.pad + kx;
    col[i] = (iy >= 0 && iy < s.h && ix >= 0 && ix < s.w) ? x[((int64_t{img} * s.h + iy) * s.w + ix) * cs + cv] : zero;
  }
}

template <typename T>
void launch(const Im2colShape& s, int cs, const void* x, void* col, int64_t total, T zero, cudaStream_t stream) {
  const auto* xt = static_cast<const T*>(x);
  auto* ct = static_cast<T*>(col);
  const int blocks = grid_stride_blocks(total, 256);
  // int32 indexing only while i + the grid stride (< 2^21) cannot pass INT32_MAX.
  if (total < (int64_t{1} << 30))
    im2col_nhwc_kernel<T, int><<<blocks, 256, 0, stream>>>(s, cs, xt, ct, static_cast<int>(total), zero);
  else
    im2col_nhwc_kernel<T, int64_t><<<blocks, 256, 0, stream>>>(s, cs, xt, ct, total, zero);
}

}  // namespace

void im2col_nhwc_half(const Im2colShape& s, const void* x, void* col, cudaStream_t stream) {
  const int64_t total = im2col_elements(s);
  if (total == 0) return;
  if (s.c % 8 == 0 && is_aligned16(x) && is_aligned16(col))
    launch(s, s.c / 8, x, col, total / 8, uint4{0u, 0u, 0u, 0u}, stream);
  else
    launch(s, s.c, x, col, total, __float2half(0.f), stream);
  MASKRT_CUDA_CHECK_LAST();
}

}  // namespace maskrt::cuda
