#pragma once
// Region and coordinate helpers shared by paste_mask_ref.cpp and paste_mask_cpu.cpp. Private.
#include <algorithm>
#include <cmath>

#include "core/check.h"
#include "ops/paste_mask/paste_mask.h"

namespace maskrt::ops::paste_detail {

inline void validate(const float* mask, int mask_size, const float* box, int img_h, int img_w, const char* fn) {
  MASKRT_CHECK(mask != nullptr && mask_size >= 1, ErrorCode::kInvalidArgument, fn, ": mask must be a non-empty ",
               "M x M array, got M = ", mask_size);
  MASKRT_CHECK(box != nullptr, ErrorCode::kInvalidArgument, fn, ": box is null");
  MASKRT_CHECK(img_h >= 0 && img_w >= 0, ErrorCode::kInvalidArgument, fn, ": negative image size ", img_h, "x",
               img_w);
}

// Detectron2's skip_empty bounds for one box along one axis: [lo, hi) within [0, size].
inline void axis_bounds(float a0, float a1, int size, int& lo, int& hi) {
  const double l = std::max(static_cast<double>(std::floor(a0) - 1.f), 0.0);
  const double h = std::min(static_cast<double>(std::ceil(a1) + 1.f), static_cast<double>(size));
  lo = static_cast<int>(std::min(l, static_cast<double>(size)));
  hi = static_cast<int>(std::max(h, static_cast<double>(lo)));
}

inline MaskRegion make_region(const float* box, int img_h, int img_w) {
  MaskRegion r;
  r.img_h = img_h;
  r.img_w = img_w;
  if (!(box[2] > box[0]) || !(box[3] > box[1])) return r;  // degenerate or NaN: empty
  int x0, x1, y0, y1;
  axis_bounds(box[0], box[2], img_w, x0, x1);
  axis_bounds(box[1], box[3], img_h, y0, y1);
  r.x0 = x0;
  r.y0 = y0;
  r.w = x1 - x0;
  r.h = y1 - y0;
  if (r.w == 0 || r.h == 0) r.w = r.h = 0;
  r.bits.assign(static_cast<size_t>(r.w) * r.h, 0);
  return r;
}

// Normalised grid coordinate of pixel index p (torch: arange float32 + 0.5, then (p - a0)/(a1 - a0)*2 - 1).
inline float grid_coord(int p, float a0, float extent) {
  const float centre = static_cast<float>(p) + 0.5f;
  return (centre - a0) / extent * 2.f - 1.f;
}

// One axis of the bilinear sample: the lower tap index (valid flags) and the two distances.
struct AxisTap {
  int i0;
  bool ok0, ok1;  // taps i0 and i0 + 1 inside [0, M)
  float d, rd;    // d = u - floor(u) (weight of i0 + 1), rd = 1 - d (weight of i0)
};

inline AxisTap axis_tap(float g, int M) {
  const float u = std::fma(g + 1.f, static_cast<float>(M) / 2.f, -0.5f);
  const float u0 = std::floor(u);
  AxisTap t;
  t.d = u - u0;
  t.rd = 1.f - t.d;
  t.ok0 = u0 >= 0.f && u0 < static_cast<float>(M);
  t.ok1 = u0 + 1.f >= 0.f && u0 + 1.f < static_cast<float>(M);
  t.i0 = (t.ok0 || t.ok1) ? static_cast<int>(u0) : 0;
  return t;
}

inline float sample(const float* mask, int M, const AxisTap& tx, const AxisTap& ty) {
  const float nw = ty.rd * tx.rd, ne = ty.rd * tx.d, sw = ty.d * tx.rd, se = ty.d * tx.d;
  const int64_t r0 = static_cast<int64_t>(ty.i0) * M, r1 = r0 + M;  // rows i0, i0 + 1 (read only when valid)
  const float v_nw = (ty.ok0 && tx.ok0) ? mask[r0 + tx.i0] : 0.f;
  const float v_ne = (ty.ok0 && tx.ok1) ? mask[r0 + tx.i0 + 1] : 0.f;
  const float v_sw = (ty.ok1 && tx.ok0) ? mask[r1 + tx.i0] : 0.f;
  const float v_se = (ty.ok1 && tx.ok1) ? mask[r1 + tx.i0 + 1] : 0.f;
  return std::fma(v_se, se, std::fma(v_sw, sw, std::fma(v_ne, ne, v_nw * nw)));
}

}  // namespace maskrt::ops::paste_detail

