#pragma once
// ROIAlign as torchvision.ops.roi_align (the op behind Detectron2's ROIAlignV2 = aligned=True).
// Pixel model: with aligned=true a box coordinate x maps to feature coordinate x*spatial_scale - 0.5
// (half-pixel shift); roi sizes are NOT clamped to >= 1 when aligned (they are clamped when
// aligned=false). Bins: bin_h = roi_h / out_h. Sampling grid per bin: sampling_ratio if > 0 else
// ceil(roi_h / out_h) (and likewise for w), at least... exactly as torchvision (0 samples -> count
// max(grid_h*grid_w, 1)). Bilinear sample: y < -1 or y > H -> 0; y <= 0 -> 0; y >= H-1 -> H-1 with
// both taps on the last row. Output is the mean over the grid.
//   features (C, H, W) of ONE image, rois (R, 4) XYXY in image pixels -> (R, C, out_h, out_w)
#include "core/tensor.h"

namespace maskrt::ops {
struct RoiAlignParams {
  int out_h = 7, out_w = 7;
  float spatial_scale = 1.f;  // 1 / stride of the feature level
  int sampling_ratio = 0;     // 0 = adaptive
  bool aligned = true;
};
Tensor roi_align_ref(const RoiAlignParams& p, const Tensor& features, const Tensor& rois);
// CPU: same math, OpenMP over ROIs, writes into out rows [row0, row0 + R) of a preallocated
// (total_R, C, out_h, out_w) tensor (the multi-level pooler fills one output from several levels).
void roi_align_cpu(const RoiAlignParams& p, const Tensor& features, const Tensor& rois, Tensor& out, int64_t row0);
}  // namespace maskrt::ops
