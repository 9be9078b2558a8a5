#pragma once
// Per-ROI geometry shared by roi_align_ref.cpp and roi_align_cpu.cpp. Private to src/ops/roi_align.
#include <algorithm>
#include <cmath>

#include "ops/roi_align/roi_align.h"
#include "ops/roi_align/roi_align_taps.h"

namespace maskrt::ops::roi_align_detail {

inline void validate(const RoiAlignParams& p, const Tensor& features, const Tensor& rois, const char* fn) {
  MASKRT_CHECK(features.dim() == 3 && features.size(1) >= 1 && features.size(2) >= 1, ErrorCode::kInvalidArgument,
               fn, ": features must be (C, H, W) with H, W >= 1, got ", shape_str(features.shape()));
  MASKRT_CHECK(rois.dim() == 2 && rois.size(1) == 4, ErrorCode::kInvalidArgument, fn,
               ": rois must be (R, 4), got ", shape_str(rois.shape()));
  MASKRT_CHECK(p.out_h >= 1 && p.out_w >= 1, ErrorCode::kInvalidArgument, fn, ": output size ", p.out_h, "x",
               p.out_w, " must be positive");
  MASKRT_CHECK(p.spatial_scale > 0 && std::isfinite(p.spatial_scale), ErrorCode::kInvalidArgument, fn,
               ": spatial_scale ", p.spatial_scale, " must be positive");
  MASKRT_CHECK(p.sampling_ratio >= 0, ErrorCode::kInvalidArgument, fn, ": sampling_ratio ", p.sampling_ratio,
               " must be >= 0");
}

struct RoiGeometry {
  float start_x, start_y, bin_w, bin_h;
  int grid_w, grid_h;  // <= 0: no samples
  float count;
};

inline int adaptive_grid(float roi_extent, int out) {
  const float g = std::ceil(roi_extent / static_cast<float>(out));
  if (!(g > 0.f)) return 0;  // zero, negative, NaN
  return g > float(1 << 20) ? (1 << 20) : static_cast<int>(g);
}

inline RoiGeometry geometry(const RoiAlignParams& p, const float* roi) {
  RoiGeometry g;
  const float offset = p.aligned ? 0.5f : 0.f;
  const float scale = p.spatial_scale;
  g.start_x = roi[0] * scale - offset;
  g.start_y = roi[1] * scale - offset;
  const float end_x = roi[2] * scale - offset;
  const float end_y = roi[3] * scale - offset;
  float roi_w = end_x - g.start_x;
  float roi_h = end_y - g.start_y;
  if (!p.aligned) {
    roi_w = std::max(roi_w, 1.f);
    roi_h = std::max(roi_h, 1.f);
  }
  g.bin_h = roi_h / static_cast<float>(p.out_h);
  g.bin_w = roi_w / static_cast<float>(p.out_w);
  g.grid_h = p.sampling_ratio > 0 ? p.sampling_ratio : adaptive_grid(roi_h, p.out_h);
  g.grid_w = p.sampling_ratio > 0 ? p.sampling_ratio : adaptive_grid(roi_w, p.out_w);
  g.count = static_cast<float>(std::max(g.grid_h * g.grid_w, 1));
  return g;
}

// Sample coordinate of sub-sample i of bin b (torchvision's expression order).
inline float sample_coord(float start, int b, float bin, int i, int grid) {
  return start + static_cast<float>(b) * bin + static_cast<float>(i + .5f) * bin / static_cast<float>(grid);
}

// Zero taps (value 0) outside [-1, H] x [-1, W]; see roi_align_taps.h.
inline Taps bilinear_taps(int H, int W, float y, float x) {
  Taps t{0, 0, 0, 0, 0.f, 0.f, 0.f, 0.f};
  bilinear_taps_into(H, W, y, x, t);
  return t;
}

}  // namespace maskrt::ops::roi_align_detail

