// CUDA multi-level ROIAlign (see roi_align_cuda.h). One thread per output value; the level, the ROI
// geometry and the (data-dependent) sampling grid are computed in the thread, in the float order of
// roi_align_common.h (explicitly rounded ops, no fused multiply-add).
#include "ops/roi_align/roi_align_cuda.h"

#include <cuda_fp16.h>

#include "backend/cuda/cuda_check.h"
#include "core/check.h"
#include "ops/nms/nms_cuda.cuh"

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
  return __half2float(static_cast<const __half*>(f)[static_cast<int64_t>(pix) * p.in_c_stride + c]);
}

__global__ void roi_align_kernel(RoiAlignMultiLevelCudaParams p, RoiAlignLevelInputs in, const float* rois,
                                 const int* d_count, void* out) {
  const int res = p.resolution;
  const int C = p.out_layout == CudaLayout::kNchwFp32 ? p.channels : p.out_c_stride;
  const int64_t total = int64_t{p.roi_capacity} * C * res * res;
  const int64_t idx = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (idx >= total) return;
  int r, c, ph, pw;
  if (p.out_layout == CudaLayout::kNchwFp32) {  // (R, C, res, res)
    pw = static_cast<int>(idx % res);
    ph = static_cast<int>((idx / res) % res);
    c = static_cast<int>((idx / (res * res)) % C);
    r = static_cast<int>(idx / (int64_t{res} * res * C));
  } else {  // (R, res, res, c_stride)
    c = static_cast<int>(idx % C);
    pw = static_cast<int>((idx / C) % res);
    ph = static_cast<int>((idx / (int64_t{C} * res)) % res);
    r = static_cast<int>(idx / (int64_t{C} * res * res));
  }
  const int count = d_count ? *d_count : p.roi_capacity;
  float value = 0.f;
  if (r < count && c < p.channels) {
    const float4 b = make_float4(rois[int64_t{r} * 4], rois[int64_t{r} * 4 + 1], rois[int64_t{r} * 4 + 2],
                                 rois[int64_t{r} * 4 + 3]);
    const int lv = assign_level(p, b);
    const int H = p.feat_h[lv], W = p.feat_w[lv];
    const float scale = p.spatial_scale[lv];
    const float offset = p.aligned ? 0.5f : 0.f;
    const float start_x = fsub(fmul(b.x, scale), offset);
    const float start_y = fsub(fmul(b.y, scale), offset);
    const float end_x = fsub(fmul(b.z, scale), offset);
    const float end_y = fsub(fmul(b.w, scale), offset);
    float roi_w = fsub(end_x, start_x), roi_h = fsub(end_y, start_y);
    if (!p.aligned) {
      roi_w = std_max(roi_w, 1.f);
      roi_h = std_max(roi_h, 1.f);
    }
    const float bin_h = fdiv(roi_h, static_cast<float>(res));
    const float bin_w = fdiv(roi_w, static_cast<float>(res));
    const int grid_h = p.sampling_ratio > 0 ? p.sampling_ratio : adaptive_grid(roi_h, res);
    const int grid_w = p.sampling_ratio > 0 ? p.sampling_ratio : adaptive_grid(roi_w, res);
    const float cnt = static_cast<float>(max(grid_h * grid_w, 1));
    const void* f = in.features[lv];
    float acc = 0.f;
    for (int iy = 0; iy < grid_h; ++iy) {
      const float y0 = fadd(fadd(start_y, fmul(static_cast<float>(ph), bin_h)),
                            fdiv(fmul(static_cast<float>(iy + .5f), bin_h), static_cast<float>(grid_h)));
      for (int ix = 0; ix < grid_w; ++ix) {
        const float x0 = fadd(fadd(start_x, fmul(static_cast<float>(pw), bin_w)),
                              fdiv(fmul(static_cast<float>(ix + .5f), bin_w), static_cast<float>(grid_w)));
        float y = y0, x = x0;
        if (!(y >= -1.0f && y <= static_cast<float>(H) && x >= -1.0f && x <= static_cast<float>(W))) {
          continue;  // the sample is 0 (finite features)
        }
        if (y <= 0) y = 0;
        if (x <= 0) x = 0;
        int y_low = static_cast<int>(y), x_low = static_cast<int>(x), y_high, x_high;
        if (y_low >= H - 1) {
          y_high = y_low = H - 1;
          y = static_cast<float>(y_low);
        } else {
          y_high = y_low + 1;
        }
        if (x_low >= W - 1) {
          x_high = x_low = W - 1;
          x = static_cast<float>(x_low);
        } else {
          x_high = x_low + 1;
        }
        const float ly = fsub(y, static_cast<float>(y_low)), lx = fsub(x, static_cast<float>(x_low));
        const float hy = fsub(1.f, ly), hx = fsub(1.f, lx);
        const float w1 = fmul(hy, hx), w2 = fmul(hy, lx), w3 = fmul(ly, hx), w4 = fmul(ly, lx);
        const float v1 = load_feature(p, f, c, H, W, y_low * W + x_low);
        const float v2 = load_feature(p, f, c, H, W, y_low * W + x_high);
        const float v3 = load_feature(p, f, c, H, W, y_high * W + x_low);
        const float v4 = load_feature(p, f, c, H, W, y_high * W + x_high);
        const float v = fadd(fadd(fadd(fmul(w1, v1), fmul(w2, v2)), fmul(w3, v3)), fmul(w4, v4));
        acc = fadd(acc, v);
      }
    }
    value = fdiv(acc, cnt);
  }
  if (p.out_layout == CudaLayout::kNchwFp32)
    static_cast<float*>(out)[idx] = value;
  else
    static_cast<__half*>(out)[idx] = __float2half_rn(value);
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
  if (p.in_layout == CudaLayout::kNhwcFp16)
    MASKRT_CHECK(p.in_c_stride >= p.channels, ErrorCode::kInvalidArgument,
                 "roi_align_multilevel_cuda: input channel stride ", p.in_c_stride, " < channels ", p.channels);
  if (p.out_layout == CudaLayout::kNhwcFp16)
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
  roi_align_kernel<<<static_cast<unsigned>((total + T - 1) / T), T, 0, stream>>>(p, in, d_rois, d_count, d_out);
  MASKRT_CUDA_CHECK_LAST();
}

}  // namespace maskrt::ops
