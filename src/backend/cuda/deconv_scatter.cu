#include <cuda_fp16.h>

#include <cstdint>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/deconv_scatter.h"
#include "backend/cuda/launch_util.h"
#include "core/check.h"

namespace maskrt::cuda {
namespace {

__global__ void scatter_nchw_f32(int total, int O, int H, int W, bool relu, const float* __restrict__ g,
                                 const float* __restrict__ bias, float* __restrict__ out) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;  // output index (n, o, oy, ox)
  if (i >= total) return;
  const int OW = 2 * W, OH = 2 * H;
  const int ox = i % OW, oy = (i / OW) % OH;
  const int o = (i / (OW * OH)) % O, n = i / (OW * OH * O);
  const int y = oy >> 1, x = ox >> 1, k = (oy & 1) * 2 + (ox & 1);
  float v = g[(static_cast<long long>(n) * O * 4 + o * 4 + k) * H * W + y * W + x] + bias[o];
  out[i] = relu ? fmaxf(v, 0.f) : v;
}

__global__ void scatter_nhwc_f16(int total, int O, int H, int W, bool relu, const __half* __restrict__ g,
                                 const __half* __restrict__ bias, __half* __restrict__ out) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;  // output index (n, oy, ox, o)
  if (i >= total) return;
  const int OW = 2 * W, OH = 2 * H;
  const int o = i % O, ox = (i / O) % OW, oy = (i / (O * OW)) % OH, n = i / (O * OW * OH);
  const int y = oy >> 1, x = ox >> 1, k = (oy & 1) * 2 + (ox & 1);
  float v = __half2float(g[((static_cast<long long>(n) * H * W + y * W + x) * 4 + k) * O + o]) + __half2float(bias[o]);
  out[i] = __float2half_rn(relu ? fmaxf(v, 0.f) : v);
}

// As scatter_nhwc_f16, 8 channels per thread (O % 8 == 0, 16-byte aligned g, out); same arithmetic.
__global__ void scatter_nhwc_f16x8(int vectors, int O, int H, int W, bool relu, const uint4* __restrict__ g,
                                   const __half* __restrict__ bias, uint4* __restrict__ out) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;  // (n, oy, ox, o/8)
  if (j >= vectors) return;
  const int O8 = O / 8, OW = 2 * W, OH = 2 * H;
  const int ov = j % O8, ox = (j / O8) % OW, oy = (j / (O8 * OW)) % OH, n = j / (O8 * OW * OH);
  const int y = oy >> 1, x = ox >> 1, k = (oy & 1) * 2 + (ox & 1);
  uint4 raw = g[((static_cast<long long>(n) * H * W + y * W + x) * 4 + k) * O8 + ov];
  __half* h = reinterpret_cast<__half*>(&raw);
  for (int t = 0; t < 8; ++t) {
    const float v = __half2float(h[t]) + __half2float(bias[ov * 8 + t]);
    h[t] = __float2half_rn(relu ? fmaxf(v, 0.f) : v);
  }
  out[j] = raw;
}

// fp32 NHWC (tf32 with MASKRT_TF32_NHWC=1): G as scatter_nhwc_f16's (taps outer, channels contiguous)
// in float, out (N, 2H, 2W, O) float; the sum is scatter_nchw_f32's (one float32 add).
__global__ void scatter_nhwc_f32(int total, int O, int H, int W, bool relu, const float* __restrict__ g,
                                 const float* __restrict__ bias, float* __restrict__ out) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;  // output index (n, oy, ox, o)
  if (i >= total) return;
  const int OW = 2 * W, OH = 2 * H;
  const int o = i % O, ox = (i / O) % OW, oy = (i / (O * OW)) % OH, n = i / (O * OW * OH);
  const int y = oy >> 1, x = ox >> 1, k = (oy & 1) * 2 + (ox & 1);
  const float v = g[((static_cast<long long>(n) * H * W + y * W + x) * 4 + k) * O + o] + bias[o];
  out[i] = relu ? fmaxf(v, 0.f) : v;
}

// As scatter_nhwc_f32, 4 channels per thread (O % 4 == 0, 16-byte aligned g, out); same arithmetic.
__global__ void scatter_nhwc_f32x4(int vectors, int O, int H, int W, bool relu, const float4* __restrict__ g,
                                   const float* __restrict__ bias, float4* __restrict__ out) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;  // (n, oy, ox, o/4)
  if (j >= vectors) return;
  const int O4 = O / 4, OW = 2 * W, OH = 2 * H;
  const int ov = j % O4, ox = (j / O4) % OW, oy = (j / (O4 * OW)) % OH, n = j / (O4 * OW * OH);
  const int y = oy >> 1, x = ox >> 1, k = (oy & 1) * 2 + (ox & 1);
  float4 v = g[((static_cast<long long>(n) * H * W + y * W + x) * 4 + k) * O4 + ov];
  const float* b = bias + ov * 4;
  v.x = v.x + b[0];
  v.y = v.y + b[1];
  v.z = v.z + b[2];
  v.w = v.w + b[3];
  if (relu) {
    v.x = fmaxf(v.x, 0.f);
    v.y = fmaxf(v.y, 0.f);
    v.z = fmaxf(v.z, 0.f);
    v.w = fmaxf(v.w, 0.f);
  }
  out[j] = v;
}

}  // namespace

void deconv2x2_scatter(const DeconvScatterParams& p, const void* gemm_out, const void* bias, void* out,
                       cudaStream_t stream) {
  const long long total = 4LL * p.n * p.out_channels * p.in_h * p.in_w;
  if (total == 0) return;
  // The kernels index with int (thread index up to total + 255).
  MASKRT_CHECK(total <= (1LL << 31) - 256, ErrorCode::kInvalidArgument, "deconv2x2_scatter: output of ", p.n, " x ",
               p.out_channels, " x ", 2 * p.in_h, " x ", 2 * p.in_w, " = ", total,
               " values exceeds 2^31 - 256 (for the mask head: fewer TEST.DETECTIONS_PER_IMAGE)");
  const int threads = 256;
  const int blocks = static_cast<int>((total + threads - 1) / threads);
  MASKRT_CHECK(!(p.nhwc_fp16 && p.nhwc_fp32), ErrorCode::kInvalidArgument,
               "deconv2x2_scatter: nhwc_fp16 and nhwc_fp32 are exclusive");
  const bool vec8 = p.nhwc_fp16 && p.out_channels % 8 == 0 && is_aligned16(gemm_out) && is_aligned16(out);
  const bool vec4 = p.nhwc_fp32 && p.out_channels % 4 == 0 && is_aligned16(gemm_out) && is_aligned16(out);
  if (vec4)
    scatter_nhwc_f32x4<<<static_cast<int>((total / 4 + threads - 1) / threads), threads, 0, stream>>>(
        static_cast<int>(total / 4), p.out_channels, p.in_h, p.in_w, p.relu, static_cast<const float4*>(gemm_out),
        static_cast<const float*>(bias), static_cast<float4*>(out));
  else if (p.nhwc_fp32)
    scatter_nhwc_f32<<<blocks, threads, 0, stream>>>(static_cast<int>(total), p.out_channels, p.in_h, p.in_w, p.relu,
                                                     static_cast<const float*>(gemm_out),
                                                     static_cast<const float*>(bias), static_cast<float*>(out));
  else if (vec8)
    scatter_nhwc_f16x8<<<static_cast<int>((total / 8 + threads - 1) / threads), threads, 0, stream>>>(
        static_cast<int>(total / 8), p.out_channels, p.in_h, p.in_w, p.relu, static_cast<const uint4*>(gemm_out),
        static_cast<const __half*>(bias), static_cast<uint4*>(out));
  else if (p.nhwc_fp16)
    scatter_nhwc_f16<<<blocks, threads, 0, stream>>>(static_cast<int>(total), p.out_channels, p.in_h, p.in_w, p.relu,
                                                     static_cast<const __half*>(gemm_out),
                                                     static_cast<const __half*>(bias), static_cast<__half*>(out));
  else
    scatter_nchw_f32<<<blocks, threads, 0, stream>>>(static_cast<int>(total), p.out_channels, p.in_h, p.in_w, p.relu,
                                                     static_cast<const float*>(gemm_out),
                                                     static_cast<const float*>(bias), static_cast<float*>(out));
  MASKRT_CUDA_CHECK_LAST();
}

}  // namespace maskrt::cuda
