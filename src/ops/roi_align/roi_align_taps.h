#pragma once
// The bilinear taps of one ROIAlign sample point (torchvision's roi_align bilinear_interpolate: the
// [-1, H] x [-1, W] validity test, clamping to the last row / column, the four corner weights),
// written once for the host (roi_align_ref.cpp, roi_align_cpu.cpp via roi_align_common.h) and the
// device (roi_align_cuda.cu), so both produce the same bits. Only subtractions and products whose
// results are stored, so nvcc has nothing to contract into an FMA. Private to src/ops/roi_align.
// Thread safety: pure functions.

#if defined(__CUDACC__)
#define MASKRT_ROI_HD __host__ __device__ __forceinline__
#else
#define MASKRT_ROI_HD inline
#endif

namespace maskrt::ops::roi_align_detail {

// Pixel indices y*W+x of the corners (low,low) (low,high) (high,low) (high,high) and their weights.
struct Taps {
  int p1, p2, p3, p4;
  float w1, w2, w3, w4;
};

// Fills t for the sample (y, x) on an H x W feature map and returns true; returns false (t untouched)
// when the sample lies outside [-1, H] x [-1, W], where its value is 0.
MASKRT_ROI_HD bool bilinear_taps_into(int H, int W, float y, float x, Taps& t) {
  if (!(y >= -1.0f && y <= static_cast<float>(H) && x >= -1.0f && x <= static_cast<float>(W))) return false;
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
  const float ly = y - static_cast<float>(y_low), lx = x - static_cast<float>(x_low);
  const float hy = 1.f - ly, hx = 1.f - lx;
  t.p1 = y_low * W + x_low;
  t.p2 = y_low * W + x_high;
  t.p3 = y_high * W + x_low;
  t.p4 = y_high * W + x_high;
  t.w1 = hy * hx;
  t.w2 = hy * lx;
  t.w3 = ly * hx;
  t.w4 = ly * lx;
  return true;
}

}  // namespace maskrt::ops::roi_align_detail
