#pragma once
// Validation and region helpers shared by paste_mask_ref.cpp and paste_mask_cpu.cpp. Private.
// The float arithmetic (bounds, grid coordinates, taps, the sample) lives in paste_mask_math.h,
// shared with the CUDA paste (paste_mask_cuda.cu).
#include "core/check.h"
#include "ops/paste_mask/paste_mask.h"
#include "ops/paste_mask/paste_mask_math.h"

namespace maskrt::ops::paste_detail {

using paste_math::axis_bounds;
using paste_math::axis_tap;
using paste_math::AxisTap;
using paste_math::grid_coord;
using paste_math::sample;

inline void validate(const float* mask, int mask_size, const float* box, int img_h, int img_w, const char* fn) {
  MASKRT_CHECK(mask != nullptr && mask_size >= 1, ErrorCode::kInvalidArgument, fn, ": mask must be a non-empty ",
               "M x M array, got M = ", mask_size);
  MASKRT_CHECK(box != nullptr, ErrorCode::kInvalidArgument, fn, ": box is null");
  MASKRT_CHECK(img_h >= 0 && img_w >= 0, ErrorCode::kInvalidArgument, fn, ": negative image size ", img_h, "x",
               img_w);
}

inline MaskRegion make_region(const float* box, int img_h, int img_w) {
  MaskRegion r;
  r.img_h = img_h;
  r.img_w = img_w;
  paste_math::region_bounds(box, img_h, img_w, r.x0, r.y0, r.w, r.h);
  r.bits.assign(static_cast<size_t>(r.w) * r.h, 0);
  return r;
}

}  // namespace maskrt::ops::paste_detail
