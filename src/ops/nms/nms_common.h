#pragma once
// Pieces shared by nms_ref.cpp and nms_cpu.cpp (validation, score order, the IoU test, the
// coordinate-trick shift). Private to src/ops/nms.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "ops/nms/nms.h"

namespace maskrt::ops::nms_detail {

inline void validate(const Tensor& boxes, size_t n_scores, const size_t* n_idxs, const char* fn) {
  MASKRT_CHECK(boxes.dim() == 2 && boxes.size(1) == 4, ErrorCode::kInvalidArgument, fn,
               ": boxes must be (R, 4), got ", shape_str(boxes.shape()));
  MASKRT_CHECK(static_cast<int64_t>(n_scores) == boxes.size(0), ErrorCode::kInvalidArgument, fn, ": ", n_scores,
               " scores for ", boxes.size(0), " boxes");
  if (n_idxs)
    MASKRT_CHECK(static_cast<int64_t>(*n_idxs) == boxes.size(0), ErrorCode::kInvalidArgument, fn, ": ", *n_idxs,
                 " idxs for ", boxes.size(0), " boxes");
}

// torch's descending comparator: NaN ranks first; equal keys keep index order (our stable choice).
inline bool score_before(float a, float b) { return (std::isnan(a) && !std::isnan(b)) || a > b; }

inline std::vector<int64_t> score_order(const std::vector<float>& s, const std::vector<int64_t>& subset) {
  std::vector<int64_t> o = subset;
  std::stable_sort(o.begin(), o.end(), [&](int64_t a, int64_t b) { return score_before(s[a], s[b]); });
  return o;
}

inline float area(const float* b) { return (b[2] - b[0]) * (b[3] - b[1]); }

// torchvision's IoU test, every step in float32 (no fused multiply-add: the library and its users build with -ffp-contract=off, see CMakeLists.txt).
inline bool suppresses(const float* bi, float area_i, const float* bj, float area_j, float thr) {
  const float xx1 = std::max(bi[0], bj[0]);
  const float yy1 = std::max(bi[1], bj[1]);
  const float xx2 = std::min(bi[2], bj[2]);
  const float yy2 = std::min(bi[3], bj[3]);
  const float w = std::max(0.f, xx2 - xx1);
  const float h = std::max(0.f, yy2 - yy1);
  const float inter = w * h;
  const float ovr = inter / (area_i + area_j - inter);
  return ovr > thr;
}

// The shifted copy of boxes used by torchvision's _batched_nms_coordinate_trick.
inline std::vector<float> coordinate_trick_boxes(const Tensor& boxes, const std::vector<int64_t>& idxs) {
  const int64_t R = boxes.size(0);
  const float* b = boxes.data();
  float max_coordinate = -INFINITY;
  bool any_nan = false;
  for (int64_t i = 0; i < R * 4; ++i) {
    if (std::isnan(b[i])) any_nan = true;
    else max_coordinate = std::max(max_coordinate, b[i]);
  }
  if (any_nan) max_coordinate = NAN;  // torch.max propagates NaN
  const float step = max_coordinate + 1.f;
  std::vector<float> out(static_cast<size_t>(R * 4));
  for (int64_t i = 0; i < R; ++i) {
    const float off = static_cast<float>(idxs[i]) * step;
    for (int k = 0; k < 4; ++k) out[i * 4 + k] = b[i * 4 + k] + off;
  }
  return out;
}

}  // namespace maskrt::ops::nms_detail

