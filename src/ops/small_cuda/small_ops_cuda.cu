// Small dense CUDA ops (see small_ops_cuda.h). Grid-stride-free: one thread per output element (the
// RPN head split: one per input pixel).
#include "ops/small_cuda/small_ops_cuda.h"

#include <cuda_fp16.h>

#include <cstdint>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/launch_util.h"
#include "core/check.h"
#include "ops/small_cuda/vec16.cuh"

namespace maskrt::ops {
namespace {

constexpr int kThreads = 256;
unsigned blocks_for(int64_t n) { return static_cast<unsigned>((n + kThreads - 1) / kThreads); }

int64_t numel(const CudaTensorDesc& d) {
  const int cs = d.layout == CudaLayout::kNchwFp32 ? d.c : d.c_stride;
  return int64_t{d.n} * cs * d.h * d.w;
}

void validate_desc(const CudaTensorDesc& d, const char* fn) {
  MASKRT_CHECK(d.n >= 0 && d.c >= 1 && d.h >= 1 && d.w >= 1, ErrorCode::kInvalidArgument, fn, ": bad shape (", d.n,
               ", ", d.c, ", ", d.h, ", ", d.w, ")");
  if (is_nhwc(d.layout))
    MASKRT_CHECK(d.c_stride >= d.c, ErrorCode::kInvalidArgument, fn, ": channel stride ", d.c_stride, " < ", d.c);
}

// Element (n, c, y, x) offset for a layout with per-plane sizes h, w.
__device__ __forceinline__ int64_t offset_of(CudaLayout layout, int C, int h, int w, int n, int c, int y, int x) {
  if (layout == CudaLayout::kNchwFp32) return ((int64_t{n} * C + c) * h + y) * w + x;
  return ((int64_t{n} * h + y) * w + x) * C + c;  // C = c_stride
}

// Decompose a linear index of the layout into (n, c, y, x).
__device__ __forceinline__ void coords_of(CudaLayout layout, int C, int h, int w, int64_t i, int& n, int& c, int& y,
                                          int& x) {
  if (layout == CudaLayout::kNchwFp32) {
    x = static_cast<int>(i % w);
    y = static_cast<int>((i / w) % h);
    c = static_cast<int>((i / (int64_t{w} * h)) % C);
    n = static_cast<int>(i / (int64_t{w} * h * C));
  } else {
    c = static_cast<int>(i % C);
    x = static_cast<int>((i / C) % w);
    y = static_cast<int>((i / (int64_t{C} * w)) % h);
    n = static_cast<int>(i / (int64_t{C} * w * h));
  }
}

__device__ __forceinline__ float load(CudaLayout layout, const void* p, int64_t i) {
  return is_half(layout) ? __half2float(static_cast<const __half*>(p)[i]) : static_cast<const float*>(p)[i];
}

__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(__half v) { return __half2float(v); }

// rpn_head_split_kernel's level boundaries in pixels (prefix sums of n * h_l * w_l).
struct RpnHeadSplitBegin {
  int64_t at[kRpnHeadSplitMaxLevels + 1];
};

__global__ void max_pool_k1s2_kernel(CudaTensorDesc in, int oh, int ow, const void* src, void* dst) {
  const int C = in.layout == CudaLayout::kNchwFp32 ? in.c : in.c_stride;
  const int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (i >= int64_t{in.n} * C * oh * ow) return;
  int n, c, y, x;
  coords_of(in.layout, C, oh, ow, i, n, c, y, x);
  const int64_t s = offset_of(in.layout, C, in.h, in.w, n, c, 2 * y, 2 * x);
  if (is_half(in.layout))
    static_cast<__half*>(dst)[i] = static_cast<const __half*>(src)[s];
  else
    static_cast<float*>(dst)[i] = static_cast<const float*>(src)[s];
}

__global__ void upsample_add_kernel(CudaTensorDesc lat, const void* lateral, const void* top, void* out) {
  const int C = lat.layout == CudaLayout::kNchwFp32 ? lat.c : lat.c_stride;
  const int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (i >= int64_t{lat.n} * C * lat.h * lat.w) return;
  int n, c, y, x;
  coords_of(lat.layout, C, lat.h, lat.w, i, n, c, y, x);
  const int64_t t = offset_of(lat.layout, C, lat.h / 2, lat.w / 2, n, c, y / 2, x / 2);
  const float v = __fadd_rn(load(lat.layout, lateral, i), load(lat.layout, top, t));
  if (lat.layout == CudaLayout::kNchwFp32)
    static_cast<float*>(out)[i] = v;
  else if (lat.layout == CudaLayout::kNhwcFp32)
    static_cast<float*>(out)[i] = c < lat.c ? v : 0.f;
  else
    static_cast<__half*>(out)[i] = (c < lat.c) ? __float2half_rn(v) : __float2half_rn(0.f);
}

// NHWC with one 16-byte vector of V channels per thread (vec16.cuh: fp16 V = 8, fp32 V = 4; c_stride
// % V == 0, 16-byte aligned buffers); the same arithmetic as upsample_add_kernel per channel.
template <typename Vec>
__global__ void upsample_add_nhwc_vec_kernel(CudaTensorDesc lat, const typename Vec::T* lateral,
                                             const typename Vec::T* top, typename Vec::T* out, int vectors) {
  constexpr int V = Vec::V;
  const int j = blockIdx.x * blockDim.x + threadIdx.x;  // (n, y, x, c/V)
  if (j >= vectors) return;
  const int cs = lat.c_stride / V;
  const int cv = j % cs, x = (j / cs) % lat.w, y = (j / (cs * lat.w)) % lat.h, n = j / (cs * lat.w * lat.h);
  const int th = lat.h / 2, tw = lat.w / 2;
  float a[V], b[V], o[V];
  Vec::load(lateral + int64_t{j} * V, a);
  Vec::load(top + int64_t{((n * th + y / 2) * tw + x / 2) * cs + cv} * V, b);
  for (int t = 0; t < V; ++t) o[t] = cv * V + t < lat.c ? __fadd_rn(a[t], b[t]) : 0.f;
  Vec::store(out + int64_t{j} * V, o);
}

__global__ void mask_select_sigmoid_kernel(CudaTensorDesc d, const void* logits, const int* classes, const int* count,
                                           float* out) {
  const int M = d.h;
  const int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (i >= int64_t{d.n} * M * d.w) return;
  const int r = static_cast<int>(i / (int64_t{M} * d.w));
  const int yx = static_cast<int>(i % (int64_t{M} * d.w));
  float v = 0.f;
  if (r < *count) {
    const int ch = d.c == 1 ? 0 : classes[r];
    const int C = is_nhwc(d.layout) ? d.c_stride : d.c;
    const int64_t s = offset_of(d.layout, C, d.h, d.w, r, ch, yx / d.w, yx % d.w);
    const float x = load(d.layout, logits, s);
    v = __fdiv_rn(1.0f, __fadd_rn(1.0f, static_cast<float>(exp(static_cast<double>(-x)))));
  }
  out[i] = v;
}

__global__ void f32_to_f16_kernel(const float* in, __half* out, int64_t n) {
  const int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (i < n) out[i] = __float2half_rn(in[i]);
}
__global__ void f16_to_f32_kernel(const __half* in, float* out, int64_t n) {
  const int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (i < n) out[i] = __half2float(in[i]);
}

__global__ void nchw_to_nhwc_kernel(CudaTensorDesc d, const float* in, __half* out) {
  const int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (i >= int64_t{d.n} * d.c_stride * d.h * d.w) return;
  int n, c, y, x;
  coords_of(CudaLayout::kNhwcFp16, d.c_stride, d.h, d.w, i, n, c, y, x);
  out[i] = c < d.c ? __float2half_rn(in[offset_of(CudaLayout::kNchwFp32, d.c, d.h, d.w, n, c, y, x)])
                   : __float2half_rn(0.f);
}

__global__ void nhwc_to_nchw_kernel(CudaTensorDesc d, const __half* in, float* out) {
  const int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (i >= int64_t{d.n} * d.c * d.h * d.w) return;
  int n, c, y, x;
  coords_of(CudaLayout::kNchwFp32, d.c, d.h, d.w, i, n, c, y, x);
  out[i] = __half2float(in[offset_of(CudaLayout::kNhwcFp16, d.c_stride, d.h, d.w, n, c, y, x)]);
}

__global__ void nhwc_f32_to_nchw_kernel(CudaTensorDesc d, const float* in, float* out) {
  const int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (i >= int64_t{d.n} * d.c * d.h * d.w) return;
  int n, c, y, x;
  coords_of(CudaLayout::kNchwFp32, d.c, d.h, d.w, i, n, c, y, x);
  out[i] = in[offset_of(CudaLayout::kNhwcFp32, d.c_stride, d.h, d.w, n, c, y, x)];
}

// One thread per pixel of every level and image (levels back to back: [begin[l], begin[l+1]) are
// level l's n*h*w pixels, image-major): reads the pixel's 5A channels, writes channel a to plane a of
// logits (a < A) or plane a - A of deltas. Threads of a warp hold consecutive pixels, so each plane's
// writes are coalesced.
template <typename T>
__global__ void rpn_head_split_kernel(RpnHeadSplitParams p, RpnHeadSplitBegin begin) {
  const int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (i >= begin.at[p.num_levels]) return;
  int l = 0;
  while (i >= begin.at[l + 1]) ++l;
  const RpnHeadSplitLevel& lv = p.levels[l];
  const int64_t hw = int64_t{lv.h} * lv.w;
  const int64_t j = i - begin.at[l];  // b * hw + pixel
  const int64_t b = j / hw, pix = j - b * hw;
  const int A = p.num_anchors;
  const T* src = static_cast<const T*>(lv.head) + j * p.c_stride;
  for (int a = 0; a < A; ++a) lv.logits[(b * A + a) * hw + pix] = to_float(src[a]);
  for (int d = 0; d < 4 * A; ++d) lv.deltas[(b * 4 * A + d) * hw + pix] = to_float(src[A + d]);
}

}  // namespace

void max_pool2d_k1s2_cuda(const CudaTensorDesc& in, const void* d_in, void* d_out, cudaStream_t stream) {
  validate_desc(in, "max_pool2d_k1s2_cuda");
  const int oh = (in.h - 1) / 2 + 1, ow = (in.w - 1) / 2 + 1;
  CudaTensorDesc o = in;
  o.h = oh;
  o.w = ow;
  const int64_t n = numel(o);
  if (n == 0) return;
  max_pool_k1s2_kernel<<<blocks_for(n), kThreads, 0, stream>>>(in, oh, ow, d_in, d_out);
  MASKRT_CUDA_CHECK_LAST();
}

void upsample_nearest2x_add_cuda(const CudaTensorDesc& lateral, const void* d_lateral, const void* d_top, void* d_out,
                                 cudaStream_t stream) {
  validate_desc(lateral, "upsample_nearest2x_add_cuda");
  MASKRT_CHECK(lateral.h % 2 == 0 && lateral.w % 2 == 0, ErrorCode::kInvalidArgument,
               "upsample_nearest2x_add_cuda: lateral size ", lateral.h, "x", lateral.w, " must be even");
  const int64_t n = numel(lateral);
  if (n == 0) return;
  const auto vec_ok = [&](CudaLayout layout, int V) {
    return lateral.layout == layout && lateral.c_stride % V == 0 && n < (int64_t{1} << 31) &&
           cuda::is_aligned16(d_lateral) && cuda::is_aligned16(d_top) && cuda::is_aligned16(d_out);
  };
  const auto launch_vec = [&](auto vec_tag) {
    using Vec = decltype(vec_tag);
    using T = typename Vec::T;
    const int vectors = static_cast<int>(n / Vec::V);
    upsample_add_nhwc_vec_kernel<Vec><<<blocks_for(vectors), kThreads, 0, stream>>>(
        lateral, static_cast<const T*>(d_lateral), static_cast<const T*>(d_top), static_cast<T*>(d_out), vectors);
  };
  if (vec_ok(CudaLayout::kNhwcFp16, HalfVec8::V)) {
    launch_vec(HalfVec8{});
  } else if (vec_ok(CudaLayout::kNhwcFp32, FloatVec4::V)) {
    launch_vec(FloatVec4{});
  } else {
    upsample_add_kernel<<<blocks_for(n), kThreads, 0, stream>>>(lateral, d_lateral, d_top, d_out);
  }
  MASKRT_CUDA_CHECK_LAST();
}

void mask_select_sigmoid_cuda(const CudaTensorDesc& logits, const void* d_logits, const int* d_classes,
                              const int* d_count, float* d_out, cudaStream_t stream) {
  validate_desc(logits, "mask_select_sigmoid_cuda");
  const int64_t n = int64_t{logits.n} * logits.h * logits.w;
  if (n == 0) return;
  mask_select_sigmoid_kernel<<<blocks_for(n), kThreads, 0, stream>>>(logits, d_logits, d_classes, d_count, d_out);
  MASKRT_CUDA_CHECK_LAST();
}

void fp32_to_fp16_cuda(const float* d_in, void* d_out_half, int64_t n, cudaStream_t stream) {
  if (n <= 0) return;
  f32_to_f16_kernel<<<blocks_for(n), kThreads, 0, stream>>>(d_in, static_cast<__half*>(d_out_half), n);
  MASKRT_CUDA_CHECK_LAST();
}

void fp16_to_fp32_cuda(const void* d_in_half, float* d_out, int64_t n, cudaStream_t stream) {
  if (n <= 0) return;
  f16_to_f32_kernel<<<blocks_for(n), kThreads, 0, stream>>>(static_cast<const __half*>(d_in_half), d_out, n);
  MASKRT_CUDA_CHECK_LAST();
}

void nchw_fp32_to_nhwc_fp16_cuda(const CudaTensorDesc& nhwc, const float* d_in, void* d_out, cudaStream_t stream) {
  validate_desc(nhwc, "nchw_fp32_to_nhwc_fp16_cuda");
  MASKRT_CHECK(nhwc.layout == CudaLayout::kNhwcFp16, ErrorCode::kInvalidArgument,
               "nchw_fp32_to_nhwc_fp16_cuda: desc must describe the NHWC side");
  const int64_t n = numel(nhwc);
  if (n == 0) return;
  nchw_to_nhwc_kernel<<<blocks_for(n), kThreads, 0, stream>>>(nhwc, d_in, static_cast<__half*>(d_out));
  MASKRT_CUDA_CHECK_LAST();
}

void nhwc_fp16_to_nchw_fp32_cuda(const CudaTensorDesc& nhwc, const void* d_in, float* d_out, cudaStream_t stream) {
  validate_desc(nhwc, "nhwc_fp16_to_nchw_fp32_cuda");
  MASKRT_CHECK(nhwc.layout == CudaLayout::kNhwcFp16, ErrorCode::kInvalidArgument,
               "nhwc_fp16_to_nchw_fp32_cuda: desc must describe the NHWC side");
  const int64_t n = int64_t{nhwc.n} * nhwc.c * nhwc.h * nhwc.w;
  if (n == 0) return;
  nhwc_to_nchw_kernel<<<blocks_for(n), kThreads, 0, stream>>>(nhwc, static_cast<const __half*>(d_in), d_out);
  MASKRT_CUDA_CHECK_LAST();
}

void nhwc_fp32_to_nchw_fp32_cuda(const CudaTensorDesc& nhwc, const float* d_in, float* d_out, cudaStream_t stream) {
  validate_desc(nhwc, "nhwc_fp32_to_nchw_fp32_cuda");
  MASKRT_CHECK(nhwc.layout == CudaLayout::kNhwcFp32, ErrorCode::kInvalidArgument,
               "nhwc_fp32_to_nchw_fp32_cuda: desc must describe the NHWC float side");
  const int64_t n = int64_t{nhwc.n} * nhwc.c * nhwc.h * nhwc.w;
  if (n == 0) return;
  nhwc_f32_to_nchw_kernel<<<blocks_for(n), kThreads, 0, stream>>>(nhwc, d_in, d_out);
  MASKRT_CUDA_CHECK_LAST();
}

void rpn_head_split_nhwc_cuda(const RpnHeadSplitParams& p, cudaStream_t stream) {
  constexpr auto kBad = ErrorCode::kInvalidArgument;
  const char* fn = "rpn_head_split_nhwc_cuda";
  MASKRT_CHECK(p.num_levels >= 1 && p.num_levels <= kRpnHeadSplitMaxLevels, kBad, fn, ": num_levels ", p.num_levels,
               " not in [1, ", kRpnHeadSplitMaxLevels, "]");
  MASKRT_CHECK(p.n >= 0 && p.num_anchors >= 1, kBad, fn, ": bad n ", p.n, " or num_anchors ", p.num_anchors);
  MASKRT_CHECK(p.c_stride >= 5 * p.num_anchors, kBad, fn, ": channel stride ", p.c_stride, " < 5 * num_anchors (",
               5 * p.num_anchors, ")");
  MASKRT_CHECK(is_nhwc(p.layout), kBad, fn, ": the head output must be NHWC (kNhwcFp16 or kNhwcFp32)");
  RpnHeadSplitBegin begin{};
  for (int l = 0; l < p.num_levels; ++l) {
    const RpnHeadSplitLevel& lv = p.levels[l];
    MASKRT_CHECK(lv.h >= 1 && lv.w >= 1, kBad, fn, ": level ", l, " has size ", lv.h, "x", lv.w);
    MASKRT_CHECK(p.n == 0 || (lv.head && lv.logits && lv.deltas), kBad, fn, ": level ", l, " has a null pointer");
    begin.at[l + 1] = begin.at[l] + int64_t{p.n} * lv.h * lv.w;
  }
  const int64_t total = begin.at[p.num_levels];
  if (total == 0) return;
  if (is_half(p.layout))
    rpn_head_split_kernel<__half><<<blocks_for(total), kThreads, 0, stream>>>(p, begin);
  else
    rpn_head_split_kernel<float><<<blocks_for(total), kThreads, 0, stream>>>(p, begin);
  MASKRT_CUDA_CHECK_LAST();
}

}  // namespace maskrt::ops
