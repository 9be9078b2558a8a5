#pragma once
// Helpers shared by the gpu engine tests that compare one run's instances with another's
// (test_cuda_parity, test_backbone_batch_cuda, test_stem_s2d_cuda): IoUs, bit equality of two
// results, and a scoped environment variable for the engine switches.
#include <algorithm>
#include <cstdint>
#include <cstdlib>

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

// Two results with the same bits: size, and per instance class, score, box and mask RLE.
inline bool same_bits(const ImageResult& a, const ImageResult& b) {
  if (a.instances.size() != b.instances.size() || a.height != b.height || a.width != b.width) return false;
  for (size_t i = 0; i < a.instances.size(); ++i) {
    const auto &x = a.instances[i], &y = b.instances[i];
    if (x.pred_class != y.pred_class || x.score != y.score || !std::equal(x.box, x.box + 4, y.box) ||
        x.mask.counts != y.mask.counts)
      return false;
  }
  return true;
}

// Sets an environment variable for a scope (restores unset on every exit path).
struct ScopedEnv {
  const char* name;
  ScopedEnv(const char* n, const char* v) : name(n) { setenv(n, v, 1); }
  ~ScopedEnv() { unsetenv(name); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
};

}  // namespace maskrt::test
