#include "backend/cuda/im2col.h"

#include <cuda_fp16.h>

#include "backend/cuda/cuda_check.h"

namespace maskrt::cuda {
namespace {

// fp16 NHWC, c % 8 == 0: one thread per (row, ky, kx, 8 channels): one 16-byte load and store.
template <typename I>
__global__ void im2col_nhwc8_kernel(Im2colShape s, const uint4* x, uint4* col, I total) {
  const int c8 = s.c / 8;
  for (I i = I(blockIdx.x) * I(blockDim.x) + I(threadIdx.x); i < total; i += I(gridDim.x) * I(blockDim.x)) {
    const int cv = static_cast<int>(i % c8);
    I t = i / c8;
    const int kx = static_cast<int>(t % s.k);
    t /= s.k;
    const int ky = static_cast<int>(t % s.k);
    t /= s.k;
    const int ox = static_cast<int>(t % s.ow);
    t /= s.ow;
    const int oy = static_cast<int>(t % s.oh);
    const int img = static_cast<int>(t / s.oh);
    const int iy = oy * s.stride - s.pad + ky, ix = ox * s.stride - s.pad + kx;
    uint4 v{0u, 0u, 0u, 0u};
    if (iy >= 0 && iy < s.h && ix >= 0 && ix < s.w) v = x[((int64_t{img} * s.h + iy) * s.w + ix) * c8 + cv];
    col[i] = v;
  }
}

// fp16 NHWC, any c: one thread per element.
template <typename I>
__global__ void im2col_nhwc1_kernel(Im2colShape s, const __half* x, __half* col, I total) {
  for (I i = I(blockIdx.x) * I(blockDim.x) + I(threadIdx.x); i < total; i += I(gridDim.x) * I(blockDim.x)) {
    const int ch = static_cast<int>(i % s.c);
    I t = i / s.c;
    const int kx = static_cast<int>(t % s.k);
    t /= s.k;
    const int ky = static_cast<int>(t % s.k);
    t /= s.k;
    const int ox = static_cast<int>(t % s.ow);
    t /= s.ow;
    const int oy = static_cast<int>(t % s.oh);
    const int img = static_cast<int>(t / s.oh);
    const int iy = oy * s.stride - s.pad + ky, ix = ox * s.stride - s.pad + kx;
    col[i] = (iy >= 0 && iy < s.h && ix >= 0 && ix < s.w) ? x[((int64_t{img} * s.h + iy) * s.w + ix) * s.c + ch]
                                                           : __float2half(0.f);
  }
}

int grid_for(int64_t work) {
  const int64_t want = (work + 255) / 256;
  return static_cast<int>(want < 132 * 32 ? want : 132 * 32);
}

}  // namespace

void im2col_nhwc_half(const Im2colShape& s, const void* x, void* col, cudaStream_t stream) {
  const int64_t total = im2col_elements(s);
  if (total == 0) return;
  // int32 indexing only while i + the grid stride (< 2^21) cannot pass INT32_MAX.
  const bool small = total < (int64_t{1} << 30);
  if (s.c % 8 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0 && reinterpret_cast<uintptr_t>(col) % 16 == 0) {
    const auto* xv = static_cast<const uint4*>(x);
    auto* cv = static_cast<uint4*>(col);
    if (small)
      im2col_nhwc8_kernel<int><<<grid_for(total / 8), 256, 0, stream>>>(s, xv, cv, static_cast<int>(total / 8));
    else
      im2col_nhwc8_kernel<int64_t><<<grid_for(total / 8), 256, 0, stream>>>(s, xv, cv, total / 8);
  } else {
    const auto* xh = static_cast<const __half*>(x);
    auto* ch = static_cast<__half*>(col);
    if (small)
      im2col_nhwc1_kernel<int><<<grid_for(total), 256, 0, stream>>>(s, xh, ch, static_cast<int>(total));
    else
      im2col_nhwc1_kernel<int64_t><<<grid_for(total), 256, 0, stream>>>(s, xh, ch, total);
  }
  MASKRT_CUDA_CHECK_LAST();
}

}  // namespace maskrt::cuda
