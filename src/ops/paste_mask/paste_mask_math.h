#pragma once
// The float32 arithmetic of the mask paste (paste_mask.h), written once for the host (paste_mask_ref,
// paste_mask_cpu, detector_postprocess's box rescale) and the device (paste_mask_cuda.cu), so both
// produce the same bits. Private to src/ops/paste_mask and its callers.
//
// Every operation is an explicit rounding step: on the device the _rn intrinsics (nvcc contracts
// a * b + c into an FMA by default, -fmad=true; the intrinsics are never contracted), on the host
// plain operators (the library is compiled with -ffp-contract=off). fused() is the one FMA the
// operation order asks for (torch's vectorised grid_sample kernel; see paste_mask.h).
// No CUDA headers are needed: the device branches exist only when nvcc compiles for the device.
// Thread safety: pure functions.
#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define MASKRT_PASTE_HD __host__ __device__ __forceinline__
#else
#define MASKRT_PASTE_HD inline
#endif

namespace maskrt::ops::paste_math {

MASKRT_PASTE_HD float add(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
MASKRT_PASTE_HD float sub(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}
MASKRT_PASTE_HD float mul(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
MASKRT_PASTE_HD float div(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}
MASKRT_PASTE_HD float fused(float a, float b, float c) {  // a * b + c, one rounding
#ifdef __CUDA_ARCH__
  return __fmaf_rn(a, b, c);
#else
  return std::fma(a, b, c);
#endif
}
MASKRT_PASTE_HD float floor_f(float a) {
#ifdef __CUDA_ARCH__
  return floorf(a);
#else
  return std::floor(a);
#endif
}
MASKRT_PASTE_HD float ceil_f(float a) {
#ifdef __CUDA_ARCH__
  return ceilf(a);
#else
  return std::ceil(a);
#endif
}

// std::clamp(v, lo, hi) exactly (NaN passes through, as std::clamp's comparisons leave it).
MASKRT_PASTE_HD float clamp_f(float v, float lo, float hi) { return v < lo ? lo : (hi < v ? hi : v); }

// detector_postprocess's box step for one box (detectron2/modeling/postprocessing.py): scale from
// resized to original pixels (scale_x = float(orig_w) / float(resized_w), scale_y likewise), clip to
// [0, orig_w] x [0, orig_h]; returns whether the box is nonempty (x1 - x0 > 0 and y1 - y0 > 0; NaN
// boxes are dropped).
MASKRT_PASTE_HD bool rescale_clip_box(const float in[4], float scale_x, float scale_y, float fw, float fh,
                                      float out[4]) {
  out[0] = clamp_f(mul(in[0], scale_x), 0.f, fw);
  out[1] = clamp_f(mul(in[1], scale_y), 0.f, fh);
  out[2] = clamp_f(mul(in[2], scale_x), 0.f, fw);
  out[3] = clamp_f(mul(in[3], scale_y), 0.f, fh);
  return sub(out[2], out[0]) > 0.f && sub(out[3], out[1]) > 0.f;
}

// Detectron2's skip_empty bounds for one box along one axis: [lo, hi) within [0, size]
// (x0_int = max(floor(a0) - 1, 0) and x1_int = min(ceil(a1) + 1, size), compared in double as
// torch's clamp of a float tensor against Python ints; lo <= hi <= size).
MASKRT_PASTE_HD void axis_bounds(float a0, float a1, int size, int& lo, int& hi) {
  const double fsize = static_cast<double>(size);
  const double l0 = static_cast<double>(sub(floor_f(a0), 1.f));
  const double h0 = static_cast<double>(add(ceil_f(a1), 1.f));
  const double l = l0 < 0.0 ? 0.0 : l0;       // std::max(l0, 0.0)
  const double h = fsize < h0 ? fsize : h0;   // std::min(h0, size)
  const double lc = fsize < l ? fsize : l;    // std::min(l, size)
  lo = static_cast<int>(lc);
  const double lod = static_cast<double>(lo);
  hi = static_cast<int>(h < lod ? lod : h);   // std::max(h, lo)
}

// The region of one box (paste_mask.h): false and w = h = 0 for degenerate / NaN boxes or an empty
// region.
MASKRT_PASTE_HD bool region_bounds(const float box[4], int img_h, int img_w, int& x0, int& y0, int& w, int& h) {
  x0 = y0 = w = h = 0;
  if (!(box[2] > box[0]) || !(box[3] > box[1])) return false;
  int x1, y1;
  axis_bounds(box[0], box[2], img_w, x0, x1);
  axis_bounds(box[1], box[3], img_h, y0, y1);
  w = x1 - x0;
  h = y1 - y0;
  if (w == 0 || h == 0) {
    w = h = 0;
    return false;
  }
  return true;
}

// Normalised grid coordinate of pixel index p (torch: arange float32 + 0.5, then (p - a0)/(a1 - a0)*2 - 1).
MASKRT_PASTE_HD float grid_coord(int p, float a0, float extent) {
  const float centre = add(static_cast<float>(p), 0.5f);
  return sub(mul(div(sub(centre, a0), extent), 2.f), 1.f);
}

// One axis of the bilinear sample: the lower tap index (valid flags) and the two distances.
struct AxisTap {
  int i0;
  bool ok0, ok1;  // taps i0 and i0 + 1 inside [0, M)
  float d, rd;    // d = u - floor(u) (weight of i0 + 1), rd = 1 - d (weight of i0)
};

MASKRT_PASTE_HD AxisTap axis_tap(float g, int M) {
  const float fm = static_cast<float>(M);
  const float u = fused(add(g, 1.f), div(fm, 2.f), -0.5f);
  const float u0 = floor_f(u);
  const float u1 = add(u0, 1.f);
  AxisTap t;
  t.d = sub(u, u0);
  t.rd = sub(1.f, t.d);
  t.ok0 = u0 >= 0.f && u0 < fm;
  t.ok1 = u1 >= 0.f && u1 < fm;
  t.i0 = (t.ok0 || t.ok1) ? static_cast<int>(u0) : 0;
  return t;
}

// Bilinear sample of the M x M mask at (tx, ty); taps outside the mask read 0.
MASKRT_PASTE_HD float sample(const float* mask, int M, const AxisTap& tx, const AxisTap& ty) {
  const float nw = mul(ty.rd, tx.rd), ne = mul(ty.rd, tx.d), sw = mul(ty.d, tx.rd), se = mul(ty.d, tx.d);
  const int64_t r0 = static_cast<int64_t>(ty.i0) * M, r1 = r0 + M;  // rows i0, i0 + 1 (read only when valid)
  const float v_nw = (ty.ok0 && tx.ok0) ? mask[r0 + tx.i0] : 0.f;
  const float v_ne = (ty.ok0 && tx.ok1) ? mask[r0 + tx.i0 + 1] : 0.f;
  const float v_sw = (ty.ok1 && tx.ok0) ? mask[r1 + tx.i0] : 0.f;
  const float v_se = (ty.ok1 && tx.ok1) ? mask[r1 + tx.i0 + 1] : 0.f;
  return fused(v_se, se, fused(v_sw, sw, fused(v_ne, ne, mul(v_nw, nw))));
}

}  // namespace maskrt::ops::paste_math
