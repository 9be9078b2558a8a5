#include "model/roi_heads/poolers.h"

#include <cmath>

#include "ops/roi_align/roi_align.h"

namespace maskrt {

ROIPooler::ROIPooler(int resolution, const std::vector<int>& strides, int sampling_ratio, const std::string& pooler_type)
    : resolution_(resolution), strides_(strides), sampling_ratio_(sampling_ratio) {
  MASKRT_CHECK(pooler_type == "ROIAlignV2" || pooler_type == "ROIAlign", ErrorCode::kUnsupported, "POOLER_TYPE: '",
               pooler_type, "' is not supported (ROIAlignV2 or ROIAlign)");
  aligned_ = pooler_type == "ROIAlignV2";
  min_level_ = static_cast<int>(std::lround(std::log2(strides.front())));
  max_level_ = static_cast<int>(std::lround(std::log2(strides.back())));
  MASKRT_CHECK(max_level_ - min_level_ + 1 == static_cast<int>(strides.size()), ErrorCode::kBadConfig,
               "ROI_HEADS.IN_FEATURES: pooled levels must be consecutive");
}

std::vector<int> ROIPooler::assign_levels(const Tensor& boxes) const {
  const int64_t R = boxes.size(0);
  std::vector<int> lv(R);
  for (int64_t i = 0; i < R; ++i) {
    const float* b = boxes.data() + i * 4;
    // float32 like Detectron2: sqrt(Boxes.area()), then log2(size / 224 + 1e-8).
    const float area = (b[2] - b[0]) * (b[3] - b[1]);
    const float size = std::sqrt(area);
    float level = std::floor(4.0f + std::log2(size / 224.0f + 1e-8f));
    if (!(level >= min_level_)) level = static_cast<float>(min_level_);  // NaN (negative area) -> min, like clamp
    if (level > max_level_) level = static_cast<float>(max_level_);
    lv[i] = static_cast<int>(level) - min_level_;
  }
  return lv;
}

Tensor ROIPooler::forward(const std::vector<Tensor>& features, const Tensor& boxes) const {
  MASKRT_ASSERT(features.size() == strides_.size());
  const int64_t R = boxes.size(0);
  const int64_t C = features[0].size(1);
  Tensor out = Tensor::empty({R, C, resolution_, resolution_});
  if (R == 0) return out;
  const std::vector<int> lv = assign_levels(boxes);
  for (size_t l = 0; l < features.size(); ++l) {
    std::vector<int64_t> idx;
    for (int64_t i = 0; i < R; ++i)
      if (lv[i] == static_cast<int>(l)) idx.push_back(i);
    if (idx.empty()) continue;
    Tensor rois = Tensor::empty({static_cast<int64_t>(idx.size()), 4});
    for (size_t j = 0; j < idx.size(); ++j)
      for (int c = 0; c < 4; ++c) rois[j * 4 + c] = boxes[idx[j] * 4 + c];
    ops::RoiAlignParams p;
    p.out_h = p.out_w = resolution_;
    p.spatial_scale = 1.0f / static_cast<float>(strides_[l]);
    p.sampling_ratio = sampling_ratio_;
    p.aligned = aligned_;
    const Tensor f = features[l].reshape({features[l].size(1), features[l].size(2), features[l].size(3)});
    Tensor pooled = Tensor::empty({static_cast<int64_t>(idx.size()), C, resolution_, resolution_});
    ops::roi_align_cpu(p, f, rois, pooled, 0);
    const int64_t per = C * resolution_ * resolution_;
    for (size_t j = 0; j < idx.size(); ++j)
      std::copy(pooled.data() + j * per, pooled.data() + (j + 1) * per, out.data() + idx[j] * per);
  }
  return out;
}

}  // namespace maskrt
