#include "backend/cuda/conv_epilogue.h"

#include <cuda_fp16.h>

#include "backend/cuda/cuda_check.h"

namespace maskrt::cuda {
namespace {

template <bool kHalf>
__global__ void epilogue_kernel(void* y_, const void* z_, const float* bias, int64_t total, int c, int64_t hw,
                                bool relu) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    const int ch = kHalf ? static_cast<int>(i % c) : static_cast<int>((i / hw) % c);
    // Detectron2's order: (conv + bias) + shortcut, then ReLU (NaN propagates, as torch's ReLU).
    float v;
    if constexpr (kHalf) {
      v = __fadd_rn(__half2float(static_cast<__half*>(y_)[i]), bias[ch]);
      if (z_) v = __fadd_rn(v, __half2float(static_cast<const __half*>(z_)[i]));
    } else {
      v = __fadd_rn(static_cast<float*>(y_)[i], bias[ch]);
      if (z_) v = __fadd_rn(v, static_cast<const float*>(z_)[i]);
    }
    if (relu) v = v < 0.f ? 0.f : v;
    if constexpr (kHalf)
      static_cast<__half*>(y_)[i] = __float2half_rn(v);
    else
      static_cast<float*>(y_)[i] = v;
  }
}

}  // namespace

void conv_epilogue(bool half_nhwc, void* y, const void* z, const float* bias, int64_t n, int c, int64_t hw,
                   bool relu, cudaStream_t stream) {
  const int64_t total = n * c * hw;
  if (total == 0) return;
  constexpr int kThreads = 256;
  const int64_t want = (total + kThreads - 1) / kThreads;
  const int blocks = static_cast<int>(want < 132 * 32 ? want : 132 * 32);  // grid-stride beyond ~32 blocks/SM
  if (half_nhwc)
    epilogue_kernel<true><<<blocks, kThreads, 0, stream>>>(y, z, bias, total, c, hw, relu);
  else
    epilogue_kernel<false><<<blocks, kThreads, 0, stream>>>(y, z, bias, total, c, hw, relu);
  MASKRT_CUDA_CHECK_LAST();
}

}  // namespace maskrt::cuda
