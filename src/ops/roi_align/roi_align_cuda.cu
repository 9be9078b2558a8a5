// CUDA multi-level ROIAlign (see roi_align_cuda.h). One thread per output value (or, for fp16 NHWC
// with channel strides that are multiples of 8, per 8 channels of one output position); the level,
// the ROI geometry and the (data-dependent) sampling grid are computed in the thread, in the float
// order of roi_align_common.h (explicitly rounded ops, no fused multiply-add).
#include "ops/roi_align/roi_align_cuda.h"

#include <cuda_fp16.h>

#include <cstdint>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/launch_util.h"
#include "core/check.h"
#include "ops/nms/nms_cuda.cuh"
#include "ops/roi_align/roi_align_taps.h"
#include "ops/small_cuda/vec16.cuh"

namespace maskrt::ops {
namespace {
using namespace cuda_detail;

__device__ __forceinline__ int assign_level(const RoiAlignMultiLevelCudaParams& p, float4 b) {
  const float area = fmul(fsub(b.z, b.x), fsub(b.w, b.y));
  const float size = __fsqrt_rn(area);
  const float lg = static_cast<float>(log2(static_cast<double>(fadd(fdiv(size, 224.0f), 1e-8f))));
  float level = floorf(fadd(4.0f, lg));
  if (!(level >= static_cast<float>(p.min_level))) level = static_cast<float>(p.min_level);
  if (level > static_cast<float>(p.max_level)) level = static_cast<float>(p.max_level);
  return static_cast<int>(level) - p.min_level;
}

__device__ __forceinline__ int adaptive_grid(float extent, int out) {
  const float g = ceilf(fdiv(extent, static_cast<float>(out)));
  if (!(g > 0.f)) return 0;
  return g > float(1 << 20) ? (1 << 20) : static_cast<int>(g);
}

__device__ __forceinline__ float load_feature(const RoiAlignMultiLevelCudaParams& p, const void* f, int c, int H,
                                              int W, int pix) {
  if (p.in_layout == CudaLayout::kNchwFp32)
    return static_cast<const float*>(f)[(static_cast<int64_t>(c) * H * W) + pix];
  if (p.in_layout == CudaLayout::kNhwcFp32)
    return static_cast<const float*>(f)[static_cast<int64_t>(pix) * p.in_c_stride + c];
  return __half2float(static_cast<const __half*>(f)[static_cast<int64_t>(pix) * p.in_c_stride + c]);
}

// The per-ROI part of the computation: level, scaled box, bins and sampling grid (torchvision order).
struct RoiGeometry {
  const void* f;
  int H, W;
  float start_x, start_y, bin_w, bin_h;
  int grid_h, grid_w;
  float cnt;
};

__device__ __forceinline__ RoiGeometry roi_geometry(const RoiAlignMultiLevelCudaParams& p,
                                                    const RoiAlignLevelInputs& in, const float* rois, int r) {
  const float4 b = make_float4(rois[int64_t{r} * 4], rois[int64_t{r} * 4 + 1], rois[int64_t{r} * 4 + 2],
                               rois[int64_t{r} * 4 + 3]);
  const int lv = assign_level(p, b);
  RoiGeometry g;
  g.H = p.feat_h[lv];
  g.W = p.feat_w[lv];
  g.f = in.features[lv];
  const float scale = p.spatial_scale[lv];
  const float offset = p.aligned ? 0.5f : 0.f;
  g.start_x = fsub(fmul(b.x, scale), offset);
  g.start_y = fsub(fmul(b.y, scale), offset);
  const float end_x = fsub(fmul(b.z, scale), offset);
  const float end_y = fsub(fmul(b.w, scale), offset);
  float roi_w = fsub(end_x, g.start_x), roi_h = fsub(end_y, g.start_y);
  if (!p.aligned) {
    roi_w = std_max(roi_w, 1.f);
    roi_h = std_max(roi_h, 1.f);
  }
  const int res = p.resolution;
  g.bin_h = fdiv(roi_h, static_cast<float>(res));
  g.bin_w = fdiv(roi_w, static_cast<float>(res));
  g.grid_h = p.sampling_ratio > 0 ? p.sampling_ratio : adaptive_grid(roi_h, res);
  g.grid_w = p.sampling_ratio > 0 ? p.sampling_ratio : adaptive_grid(roi_w, res);
  g.cnt = static_cast<float>(max(g.grid_h * g.grid_w, 1));
  return g;
}

// Bilinear corners of one sample point (roi_align_taps.h, shared with the host ops); false when the
// sample lies outside [-1, H] x [-1, W] (value 0).
using Corners = roi_align_detail::Taps;

__device__ __forceinline__ bool sample_corners(const RoiGeometry& g, int ph, int pw, int iy, int ix, Corners& k) {
  const float y = fadd(fadd(g.start_y, fmul(static_cast<float>(ph), g.bin_h)),
                       fdiv(fmul(static_cast<float>(iy + .5f), g.bin_h), static_cast<float>(g.grid_h)));
  const float x = fadd(fadd(g.start_x, fmul(static_cast<float>(pw), g.bin_w)),
                       fdiv(fmul(static_cast<float>(ix + .5f), g.bin_w), static_cast<float>(g.grid_w)));
  return roi_align_detail::bilinear_taps_into(g.H, g.W, y, x, k);
}

__device__ __forceinline__ float bilinear(const Corners& k, float v1, float v2, float v3, float v4) {
  return fadd(fadd(fadd(fmul(k.w1, v1), fmul(k.w2, v2)), fmul(k.w3, v3)), fmul(k.w4, v4));
}

// One thread per output value (any layout). Index is int32 when the output has < 2^31 values.
template <typename Index>
__global__ void roi_align_kernel(RoiAlignMultiLevelCudaParams p, RoiAlignLevelInputs in, const float* rois,
                                 const int* d_count, void* out) {
  const Index res = p.resolution;
  const Index C = p.out_layout == CudaLayout::kNchwFp32 ? p.channels : p.out_c_stride;
  const Index total = Index(p.roi_capacity) * C * res * res;
  const Index idx = Index(blockIdx.x) * Index(blockDim.x) + Index(threadIdx.x);
  if (idx >= total) return;
  int r, c, ph, pw;
  if (p.out_layout == CudaLayout::kNchwFp32) {  // (R, C, res, res)
    pw = static_cast<int>(idx % res);
    ph = static_cast<int>((idx / res) % res);
    c = static_cast<int>((idx / (res * res)) % C);
    r = static_cast<int>(idx / (res * res * C));
  } else {  // (R, res, res, c_stride)
    c = static_cast<int>(idx % C);
    pw = static_cast<int>((idx / C) % res);
    ph = static_cast<int>((idx / (C * res)) % res);
    r = static_cast<int>(idx / (C * res * res));
  }
  const int count = d_count ? *d_count : p.roi_capacity;
  float value = 0.f;
  if (r < count && c < p.channels) {
    const RoiGeometry g = roi_geometry(p, in, rois, r);
    float acc = 0.f;
    for (int iy = 0; iy < g.grid_h; ++iy)
      for (int ix = 0; ix < g.grid_w; ++ix) {
        Corners k;
        if (!sample_corners(g, ph, pw, iy, ix, k)) continue;  // the sample is 0 (finite features)
        acc = fadd(acc, bilinear(k, load_feature(p, g.f, c, g.H, g.W, k.p1), load_feature(p, g.f, c, g.H, g.W, k.p2),
                                 load_feature(p, g.f, c, g.H, g.W, k.p3), load_feature(p, g.f, c, g.H, g.W, k.p4)));
      }
    value = fdiv(acc, g.cnt);
  }
  if (!is_half(p.out_layout))
    static_cast<float*>(out)[idx] = value;  // kNhwcFp32: channels >= C are 0 (value stays 0)
  else
    static_cast<__half*>(out)[idx] = __float2half_rn(value);
}

// NHWC in and out with one 16-byte vector (vec16.cuh) per (r, ph, pw, V channels): fp16 (V = 8,
// channel strides multiples of 8) or fp32 (V = 4, multiples of 4), 16-byte aligned. The geometry is computed once for
// the V channels and each corner is one 16-byte load. Every channel's arithmetic is the scalar
// kernel's, in the same order (same bits).
template <typename Vec>
__global__ void roi_align_nhwc_vec_kernel(RoiAlignMultiLevelCudaParams p, RoiAlignLevelInputs in, const float* rois,
                                          const int* d_count, typename Vec::T* out) {
  constexpr int V = Vec::V;
  const int res = p.resolution;
  const int chunks = p.out_c_stride / V;
  const int total = p.roi_capacity * res * res * chunks;
  const int idx = blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= total) return;
  const int chunk = idx % chunks;
  const int pw = (idx / chunks) % res;
  const int ph = (idx / (chunks * res)) % res;
  const int r = idx / (chunks * res * res);
  const int c0 = chunk * V;
  const int count = d_count ? *d_count : p.roi_capacity;
  float acc[V] = {};
  float cnt = 1.f;
  if (r < count && c0 < p.channels) {
    const RoiGeometry g = roi_geometry(p, in, rois, r);
    const auto* f = static_cast<const typename Vec::T*>(g.f);
    const auto at = [&](int pix) { return f + static_cast<int64_t>(pix) * p.in_c_stride + c0; };
    for (int iy = 0; iy < g.grid_h; ++iy)
      for (int ix = 0; ix < g.grid_w; ++ix) {
        Corners k;
        if (!sample_corners(g, ph, pw, iy, ix, k)) continue;
        float v1[V], v2[V], v3[V], v4[V];
        Vec::load(at(k.p1), v1);
        Vec::load(at(k.p2), v2);
        Vec::load(at(k.p3), v3);
        Vec::load(at(k.p4), v4);
        for (int i = 0; i < V; ++i) acc[i] = fadd(acc[i], bilinear(k, v1[i], v2[i], v3[i], v4[i]));
      }
    cnt = g.cnt;
  }
  float o[V];
  for (int i = 0; i < V; ++i) o[i] = r < count && c0 + i < p.channels ? fdiv(acc[i], cnt) : 0.f;
  Vec::store(out + static_cast<int64_t>(idx) * V, o);
}

}  // namespace

void validate_roi_align_multilevel(const RoiAlignMultiLevelCudaParams& p) {
  MASKRT_CHECK(p.num_levels >= 1 && p.num_levels <= kRoiAlignMaxLevels &&
                   p.max_level - p.min_level + 1 == p.num_levels,
               ErrorCode::kInvalidArgument, "roi_align_multilevel_cuda: ", p.num_levels, " levels for levels ",
               p.min_level, "..", p.max_level);
  MASKRT_CHECK(p.channels >= 1 && p.resolution >= 1 && p.sampling_ratio >= 0 && p.roi_capacity >= 0,
               ErrorCode::kInvalidArgument, "roi_align_multilevel_cuda: channels ", p.channels, ", resolution ",
               p.resolution, ", sampling_ratio ", p.sampling_ratio, ", roi_capacity ", p.roi_capacity);
  if (is_nhwc(p.in_layout))
    MASKRT_CHECK(p.in_c_stride >= p.channels, ErrorCode::kInvalidArgument,
                 "roi_align_multilevel_cuda: input channel stride ", p.in_c_stride, " < channels ", p.channels);
  if (is_nhwc(p.out_layout))
    MASKRT_CHECK(p.out_c_stride >= p.channels, ErrorCode::kInvalidArgument,
                 "roi_align_multilevel_cuda: output channel stride ", p.out_c_stride, " < channels ", p.channels);
  for (int l = 0; l < p.num_levels; ++l)
    MASKRT_CHECK(p.feat_h[l] >= 1 && p.feat_w[l] >= 1 && p.spatial_scale[l] > 0, ErrorCode::kInvalidArgument,
                 "roi_align_multilevel_cuda: level ", l, " has size ", p.feat_h[l], "x", p.feat_w[l],
                 " and spatial_scale ", p.spatial_scale[l]);
}

void roi_align_multilevel_cuda(const RoiAlignMultiLevelCudaParams& p, const RoiAlignLevelInputs& in,
                               const float* d_rois, const int* d_count, void* d_out, cudaStream_t stream) {
  validate_roi_align_multilevel(p);
  const int C = p.out_layout == CudaLayout::kNchwFp32 ? p.channels : p.out_c_stride;
  const int64_t total = int64_t{p.roi_capacity} * C * p.resolution * p.resolution;
  if (total == 0) return;
  constexpr int T = 256;
  // The vector kernel applies when both layouts are the same NHWC dtype, the channel strides are
  // multiples of its width and every buffer is 16-byte aligned; idx = block * T + thread stays int32.
  const auto vec_ok = [&](CudaLayout layout, int V) {
    bool ok = p.in_layout == layout && p.out_layout == layout && p.in_c_stride % V == 0 && p.out_c_stride % V == 0 &&
              cuda::is_aligned16(d_out) && total / V < (int64_t{1} << 31) - T;
    for (int l = 0; l < p.num_levels; ++l) ok = ok && cuda::is_aligned16(in.features[l]);
    return ok;
  };
  const auto launch_vec = [&](auto vec_tag) {
    using Vec = decltype(vec_tag);
    const int64_t threads = total / Vec::V;
    roi_align_nhwc_vec_kernel<Vec><<<static_cast<unsigned>((threads + T - 1) / T), T, 0, stream>>>(
        p, in, d_rois, d_count, static_cast<typename Vec::T*>(d_out));
  };
  if (vec_ok(CudaLayout::kNhwcFp32, FloatVec4::V)) {
    launch_vec(FloatVec4{});
  } else if (vec_ok(CudaLayout::kNhwcFp16, HalfVec8::V)) {
    launch_vec(HalfVec8{});
  } else if (total < (int64_t{1} << 31) - T) {
    roi_align_kernel<int><<<static_cast<unsigned>((total + T - 1) / T), T, 0, stream>>>(p, in, d_rois, d_count, d_out);
  } else {
    roi_align_kernel<int64_t><<<static_cast<unsigned>((total + T - 1) / T), T, 0, stream>>>(p, in, d_rois, d_count,
                                                                                           d_out);
  }
  MASKRT_CUDA_CHECK_LAST();
}

}  // namespace maskrt::ops
