#pragma once
// CUDA multi-level ROIAlign (Detectron2 ROIPooler with ROIAlign / ROIAlignV2) for ONE image:
// the GPU twin of ROIPooler::forward (src/model/roi_heads/poolers.cpp) + roi_align_cpu
// (roi_align.h: torchvision semantics, aligned and non-aligned, adaptive sampling grid looped
// inside the kernel, degenerate / inverted / out-of-image boxes as documented there).
// Level of a box: floor(4 + log2(sqrt(area) / 224 + 1e-8)) in float32 (log2 in double rounded to
// float), clamped to [min_level, max_level] (NaN -> min_level), index = level - min_level.
// For fp32 NCHW features the per-value arithmetic is torchvision's order with no fused multiply-add,
// so results match roi_align_ref to float rounding of the same operations.
//
// Inputs (device):
//   features[l]: layout kNchwFp32 -> (C, H_l, W_l) float32; kNhwcFp16 -> (H_l, W_l, c_stride) __half;
//     kNhwcFp32 -> (H_l, W_l, c_stride) float32 (the tf32 pipeline under MASKRT_TF32_NHWC=1).
//   d_rois (roi_capacity, 4) XYXY resized-image pixels; d_count: number of valid rows (device int;
//   nullptr means all roi_capacity rows).
// Output d_out: out_layout kNchwFp32 -> (roi_capacity, C, res, res) float32;
//   kNhwcFp16 -> (roi_capacity, res, res, out_c_stride) __half (channels >= C written 0);
//   kNhwcFp32 -> the same as float32 (channels >= C written 0); the values are exactly kNchwFp32's
//   (same arithmetic, channels-last order). NHWC in and out with channel strides % 8 (fp16) or % 4
//   (fp32) == 0 and 16-byte aligned buffers: one thread per 8 (4) channels, same bits.
//   Rows >= *d_count are written 0. Accumulation is float32 in every layout.
// Requirements (validate_roi_align_multilevel, kInvalidArgument): 1 <= num_levels <= kRoiAlignMaxLevels,
// max_level - min_level + 1 == num_levels, channels >= 1, c_stride >= channels, res >= 1,
// sampling_ratio >= 0, feature sizes >= 1, spatial_scale > 0.
// No workspace, no allocation, no host synchronisation. Thread safety: reentrant.
#include <cstddef>

#include <cuda_runtime_api.h>

#include "ops/small_cuda/cuda_layout.h"

namespace maskrt::ops {

inline constexpr int kRoiAlignMaxLevels = 8;

struct RoiAlignMultiLevelCudaParams {
  int num_levels = 0;
  int min_level = 2, max_level = 5;  // log2 of the first / last pooled stride (p2..p5: 2, 5)
  int channels = 0;                  // C
  int feat_h[kRoiAlignMaxLevels] = {};
  int feat_w[kRoiAlignMaxLevels] = {};
  float spatial_scale[kRoiAlignMaxLevels] = {};  // 1 / stride, rounded to float
  int resolution = 7;      // POOLER_RESOLUTION (out_h = out_w)
  int sampling_ratio = 0;  // POOLER_SAMPLING_RATIO (0 = adaptive)
  bool aligned = true;     // ROIAlignV2
  int roi_capacity = 0;
  CudaLayout in_layout = CudaLayout::kNchwFp32;
  int in_c_stride = 0;  // kNhwcFp16 / kNhwcFp32 only (>= channels)
  CudaLayout out_layout = CudaLayout::kNchwFp32;
  int out_c_stride = 0;  // kNhwcFp16 / kNhwcFp32 only (>= channels)
};

struct RoiAlignLevelInputs {
  const void* features[kRoiAlignMaxLevels] = {};
};

void validate_roi_align_multilevel(const RoiAlignMultiLevelCudaParams& p);
void roi_align_multilevel_cuda(const RoiAlignMultiLevelCudaParams& p, const RoiAlignLevelInputs& in,
                               const float* d_rois, const int* d_count, void* d_out, cudaStream_t stream);

}  // namespace maskrt::ops
