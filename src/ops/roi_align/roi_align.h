#pragma once
// ROIAlign as torchvision.ops.roi_align, CPU kernel (torchvision/csrc/ops/cpu/roi_align_kernel.cpp),
// the op behind Detectron2's ROIAlign (aligned=false) and ROIAlignV2 (aligned=true). float32, every
// step rounded in torchvision's order (no fused multiply-add).
//
// Pixel model: a box coordinate x maps to feature coordinate x * spatial_scale - offset with
// offset = 0.5 when aligned (half-pixel shift), 0 otherwise.
//   roi_w = end_x - start_x, roi_h likewise; when !aligned both are clamped to >= 1 (so degenerate
//   boxes become 1x1); when aligned they are NOT clamped (zero or negative sizes are kept).
//   bin_h = roi_h / out_h, bin_w = roi_w / out_w.
//   grid_h = sampling_ratio if > 0 else ceil(roi_h / out_h) (likewise grid_w); count = max(grid_h*grid_w, 1).
//   Sample (iy, ix) of bin (ph, pw): y = start_y + ph*bin_h + (iy + 0.5)*bin_h/grid_h (likewise x).
//   Bilinear sample of one channel: if !(y >= -1 && y <= H && x >= -1 && x <= W) it is 0 (NaN too);
//   else y <= 0 -> 0; y_low = int(y); if y_low >= H-1 both taps are row H-1 (y = H-1), else y_low+1;
//   same for x; value = ((w1*v1 + w2*v2) + w3*v3) + w4*v4 with w1 = (1-ly)(1-lx), w2 = (1-ly)lx,
//   w3 = ly(1-lx), w4 = ly*lx. Output = (sum over the grid, in iy-major order) / count.
// Degenerate ROIs: a zero, negative (inverted x2 < x1) or NaN extent with sampling_ratio 0 gives
// grid <= 0, no samples, output 0 (torchvision allocates a negative-size buffer and can crash when
// exactly one of grid_h, grid_w is negative; we give 0). Sub-pixel and out-of-image boxes are
// sampled by the rule above (samples beyond the -1 / H border read 0). No NaN/Inf unless the
// features hold them. Adaptive grids are capped at 1<<20 samples per axis (torchvision: unbounded).
//
//   features (C, H, W) of ONE image (H, W >= 1), rois (R, 4) XYXY in image pixels -> (R, C, out_h, out_w)
// Errors (maskrt::Error kInvalidArgument): wrong ranks/shapes, out_h/out_w < 1, spatial_scale <= 0,
// out not (total_R, C, out_h, out_w) with row0 + R <= total_R.
// Thread safety: pure functions; roi_align_cpu writes only rows [row0, row0+R) of `out` (callers may
// fill disjoint row ranges concurrently).
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
