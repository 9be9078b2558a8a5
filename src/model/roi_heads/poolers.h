#pragma once
// Multi-level ROI pooler, as detectron2/modeling/poolers.py ROIPooler with ROIAlignV2 / ROIAlign:
// each box goes to level floor(4 + log2(sqrt(area) / 224 + 1e-8)) clamped to the pooled levels
// (p2..p5 for the standard config), area computed on the box in resized-image pixels.
#include <string>
#include <vector>

#include "core/tensor.h"

namespace maskrt {

class ROIPooler {
 public:
  // strides: of the pooled levels, consecutive powers of two (e.g. 4, 8, 16, 32).
  // pooler_type: "ROIAlignV2" (aligned=True) or "ROIAlign" (aligned=False).
  ROIPooler(int resolution, const std::vector<int>& strides, int sampling_ratio, const std::string& pooler_type);
  // features: per level (1, C, H_l, W_l) of ONE image; boxes (R, 4) XYXY resized-image pixels.
  // Returns (R, C, resolution, resolution).
  Tensor forward(const std::vector<Tensor>& features, const Tensor& boxes) const;
  // Level index (0-based into `strides`) for each box (exposed for tests).
  std::vector<int> assign_levels(const Tensor& boxes) const;

 private:
  int resolution_;
  std::vector<int> strides_;
  int sampling_ratio_;
  bool aligned_;
  int min_level_, max_level_;
};

}  // namespace maskrt
