#pragma once
// IoU helpers shared by the gpu engine tests that match one run's instances against another's
// (test_cuda_parity, test_backbone_batch_cuda, test_stem_s2d_cuda).
#include <algorithm>
#include <cstdint>

#include "maskrt/instances.h"
#include "ops/rle/rle.h"

namespace maskrt::test {

// IoU of two XYXY boxes (original-image pixels); 0 when the union is empty.
inline double box_iou(const float* a, const float* b) {
  const double iw = std::max(0.0, std::min<double>(a[2], b[2]) - std::max<double>(a[0], b[0]));
  const double ih = std::max(0.0, std::min<double>(a[3], b[3]) - std::max<double>(a[1], b[1]));
  const double inter = iw * ih;
  const double u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return u > 0 ? inter / u : 0.0;
}

// Pixel IoU of two full-image COCO RLE masks (decoded); 1 when both are empty.
inline double mask_iou(const RleMask& a, const RleMask& b) {
  const auto da = ops::rle_decode(a), db = ops::rle_decode(b);
  int64_t inter = 0, uni = 0;
  for (size_t i = 0; i < da.size() && i < db.size(); ++i) {
    inter += da[i] && db[i];
    uni += da[i] || db[i];
  }
  return uni == 0 ? 1.0 : double(inter) / uni;
}

}  // namespace maskrt::test
