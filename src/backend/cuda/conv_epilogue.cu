#include "backend/cuda/conv_epilogue.h"

#include <cuda_fp16.h>

#include <cstdint>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/launch_util.h"

namespace maskrt::cuda {
namespace {

// Detectron2's order for one element: (conv + bias) + shortcut, then ReLU (NaN propagates, as torch's).
__device__ __forceinline__ float epilogue_value(float y, float b, const float* z, bool relu) {
  float v = __fadd_rn(y, b);
  if (z) v = __fadd_rn(v, *z);
  if (relu) v = v < 0.f ? 0.f : v;
  return v;
}

// Any shape: one element per step (grid-stride); Index is int32 when the tensor has < 2^31 elements.
template <bool kHalf, typename Index>
__global__ void epilogue_kernel(void* y_, const void* z_, const float* bias, Index total, int c, Index hw, bool relu) {
  for (Index i = Index(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += Index(gridDim.x) * blockDim.x) {
    const int ch = kHalf ? static_cast<int>(i % c) : static_cast<int>((i / hw) % c);
    float v, zv;
    if constexpr (kHalf) {
      v = __half2float(static_cast<__half*>(y_)[i]);
      if (z_) zv = __half2float(static_cast<const __half*>(z_)[i]);
    } else {
      v = static_cast<float*>(y_)[i];
      if (z_) zv = static_cast<const float*>(z_)[i];
    }
    v = epilogue_value(v, bias[ch], z_ ? &zv : nullptr, relu);
    if constexpr (kHalf)
      static_cast<__half*>(y_)[i] = __float2half_rn(v);
    else
      static_cast<float*>(y_)[i] = v;
  }
}

// fp16 NHWC, c % 8 == 0, 16-byte aligned: 8 channels of one pixel per step (one 16-byte load/store).
__global__ void epilogue_half8_kernel(uint4* y, const uint4* z, const float* bias, int vectors, int c, bool relu) {
  for (int j = blockIdx.x * blockDim.x + threadIdx.x; j < vectors; j += gridDim.x * blockDim.x) {
    const int ch0 = (j * 8) % c;
    uint4 yr = y[j];
    uint4 zr = z ? z[j] : uint4{};
    __half2* yh = reinterpret_cast<__half2*>(&yr);
    const __half2* zh = reinterpret_cast<const __half2*>(&zr);
    for (int k = 0; k < 4; ++k) {
      const float2 yf = __half22float2(yh[k]);
      float2 zf{};
      if (z) zf = __half22float2(zh[k]);
      const float a = epilogue_value(yf.x, bias[ch0 + 2 * k], z ? &zf.x : nullptr, relu);
      const float b = epilogue_value(yf.y, bias[ch0 + 2 * k + 1], z ? &zf.y : nullptr, relu);
      yh[k] = __halves2half2(__float2half_rn(a), __float2half_rn(b));
    }
    y[j] = yr;
  }
}

// fp32 NCHW, hw % 4 == 0, 16-byte aligned: 4 pixels of one channel per step.
__global__ void epilogue_float4_kernel(float4* y, const float4* z, const float* bias, int vectors, int c, int hw4,
                                       bool relu) {
  for (int j = blockIdx.x * blockDim.x + threadIdx.x; j < vectors; j += gridDim.x * blockDim.x) {
    const float b = bias[(j / hw4) % c];
    float4 v = y[j];
    float4 zv = z ? z[j] : float4{};
    v.x = epilogue_value(v.x, b, z ? &zv.x : nullptr, relu);
    v.y = epilogue_value(v.y, b, z ? &zv.y : nullptr, relu);
    v.z = epilogue_value(v.z, b, z ? &zv.z : nullptr, relu);
    v.w = epilogue_value(v.w, b, z ? &zv.w : nullptr, relu);
    y[j] = v;
  }
}

// fp32 NHWC (MASKRT_TF32_NHWC=1): channel = index % c. Scalar (any shape) and, for c % 4 == 0 with
// 16-byte aligned buffers, 4 channels of one pixel per step; the same arithmetic as the NCHW kernels.
template <typename Index>
__global__ void epilogue_nhwc_f32_kernel(float* y, const float* z, const float* bias, Index total, int c, bool relu) {
  for (Index i = Index(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += Index(gridDim.x) * blockDim.x)
    y[i] = epilogue_value(y[i], bias[static_cast<int>(i % c)], z ? &z[i] : nullptr, relu);
}

__global__ void epilogue_nhwc_float4_kernel(float4* y, const float4* z, const float* bias, int vectors, int c,
                                            bool relu) {
  for (int j = blockIdx.x * blockDim.x + threadIdx.x; j < vectors; j += gridDim.x * blockDim.x) {
    const int ch0 = (j * 4) % c;
    float4 v = y[j];
    float4 zv = z ? z[j] : float4{};
    v.x = epilogue_value(v.x, bias[ch0], z ? &zv.x : nullptr, relu);
    v.y = epilogue_value(v.y, bias[ch0 + 1], z ? &zv.y : nullptr, relu);
    v.z = epilogue_value(v.z, bias[ch0 + 2], z ? &zv.z : nullptr, relu);
    v.w = epilogue_value(v.w, bias[ch0 + 3], z ? &zv.w : nullptr, relu);
    y[j] = v;
  }
}

}  // namespace

void conv_epilogue_nhwc_float(float* y, const float* z, const float* bias, int64_t n, int c, int64_t hw, bool relu,
                              cudaStream_t stream) {
  const int64_t total = n * c * hw;
  if (total == 0) return;
  constexpr int kThreads = 256;
  const bool aligned = is_aligned16(y) && (!z || is_aligned16(z));
  if (total < (int64_t{1} << 31) && aligned && c % 4 == 0) {
    const int vectors = static_cast<int>(total / 4);
    epilogue_nhwc_float4_kernel<<<grid_stride_blocks(vectors, kThreads), kThreads, 0, stream>>>(
        reinterpret_cast<float4*>(y), reinterpret_cast<const float4*>(z), bias, vectors, c, relu);
  } else if (total < (int64_t{1} << 30)) {
    epilogue_nhwc_f32_kernel<int><<<grid_stride_blocks(total, kThreads), kThreads, 0, stream>>>(
        y, z, bias, static_cast<int>(total), c, relu);
  } else {
    epilogue_nhwc_f32_kernel<int64_t><<<grid_stride_blocks(total, kThreads), kThreads, 0, stream>>>(y, z, bias, total,
                                                                                                  c, relu);
  }
  MASKRT_CUDA_CHECK_LAST();
}

void conv_epilogue(bool half_nhwc, void* y, const void* z, const float* bias, int64_t n, int c, int64_t hw,
                   bool relu, cudaStream_t stream) {
  const int64_t total = n * c * hw;
  if (total == 0) return;
  constexpr int kThreads = 256;
  const bool small = total < (int64_t{1} << 31);
  // The scalar int32 kernels: i + the grid stride (< 2^21) must not pass INT32_MAX.
  const bool small_scalar = total < (int64_t{1} << 30);
  const bool aligned = is_aligned16(y) && (!z || is_aligned16(z));
  if (half_nhwc && small && aligned && c % 8 == 0) {
    const int vectors = static_cast<int>(total / 8);
    epilogue_half8_kernel<<<grid_stride_blocks(vectors, kThreads), kThreads, 0, stream>>>(
        static_cast<uint4*>(y), static_cast<const uint4*>(z), bias, vectors, c, relu);
  } else if (!half_nhwc && small && aligned && hw % 4 == 0) {
    const int vectors = static_cast<int>(total / 4);
    epilogue_float4_kernel<<<grid_stride_blocks(vectors, kThreads), kThreads, 0, stream>>>(
        static_cast<float4*>(y), static_cast<const float4*>(z), bias, vectors, c, static_cast<int>(hw / 4), relu);
  } else if (half_nhwc) {
    if (small_scalar)
      epilogue_kernel<true, int><<<grid_stride_blocks(total, kThreads), kThreads, 0, stream>>>(
          y, z, bias, static_cast<int>(total), c, static_cast<int>(hw), relu);
    else
      epilogue_kernel<true, int64_t><<<grid_stride_blocks(total, kThreads), kThreads, 0, stream>>>(y, z, bias, total, c, hw, relu);
  } else {
    if (small_scalar)
      epilogue_kernel<false, int><<<grid_stride_blocks(total, kThreads), kThreads, 0, stream>>>(
          y, z, bias, static_cast<int>(total), c, static_cast<int>(hw), relu);
    else
      epilogue_kernel<false, int64_t><<<grid_stride_blocks(total, kThreads), kThreads, 0, stream>>>(y, z, bias, total, c, hw,
                                                                                         relu);
  }
  MASKRT_CUDA_CHECK_LAST();
}

}  // namespace maskrt::cuda
