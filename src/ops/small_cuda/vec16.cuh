#pragma once
// 16-byte channel vectors of NHWC activations, for the vectorised kernels (ROIAlign, upsample-add):
// HalfVec8 = 8 fp16 channels (the fp16 pipeline, CudaLayout::kNhwcFp16), FloatVec4 = 4 fp32 channels
// (MASKRT_TF32_NHWC=1, CudaLayout::kNhwcFp32). load() widens to float, store() rounds to T (half:
// __float2half_rn). Pointers must be 16-byte aligned. Device code only.
#include <cuda_fp16.h>

namespace maskrt::ops {

struct HalfVec8 {
  using T = __half;
  static constexpr int V = 8;
  __device__ static void load(const T* p, float (&v)[V]) {
    const uint4 raw = *reinterpret_cast<const uint4*>(p);
    const __half2* h = reinterpret_cast<const __half2*>(&raw);
    for (int i = 0; i < V / 2; ++i) {
      const float2 f2 = __half22float2(h[i]);
      v[2 * i] = f2.x;
      v[2 * i + 1] = f2.y;
    }
  }
  __device__ static void store(T* p, const float (&o)[V]) {
    __align__(16) __half h[V];
    for (int i = 0; i < V; ++i) h[i] = __float2half_rn(o[i]);
    *reinterpret_cast<uint4*>(p) = *reinterpret_cast<const uint4*>(h);
  }
};

struct FloatVec4 {
  using T = float;
  static constexpr int V = 4;
  __device__ static void load(const T* p, float (&v)[V]) {
    const float4 f = *reinterpret_cast<const float4*>(p);
    v[0] = f.x;
    v[1] = f.y;
    v[2] = f.z;
    v[3] = f.w;
  }
  __device__ static void store(T* p, const float (&o)[V]) {
    *reinterpret_cast<float4*>(p) = make_float4(o[0], o[1], o[2], o[3]);
  }
};

}  // namespace maskrt::ops
