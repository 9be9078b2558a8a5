#include "model/postprocessing.h"

#include <algorithm>

#include "ops/paste_mask/paste_mask.h"
#include "ops/rle/rle.h"

namespace maskrt {

std::vector<Instance> detector_postprocess(const Detections& det, int resized_h, int resized_w, int orig_h, int orig_w,
                                           bool mask_on, float mask_threshold) {
  const float scale_x = static_cast<float>(orig_w) / static_cast<float>(resized_w);
  const float scale_y = static_cast<float>(orig_h) / static_cast<float>(resized_h);
  const float fw = static_cast<float>(orig_w), fh = static_cast<float>(orig_h);
  const int64_t D = det.pred_boxes.size(0);
  std::vector<Instance> kept;
  std::vector<int64_t> src;
  for (int64_t i = 0; i < D; ++i) {
    Instance inst;
    const float* b = det.pred_boxes.data() + i * 4;
    inst.box[0] = std::clamp(b[0] * scale_x, 0.f, fw);
    inst.box[1] = std::clamp(b[1] * scale_y, 0.f, fh);
    inst.box[2] = std::clamp(b[2] * scale_x, 0.f, fw);
    inst.box[3] = std::clamp(b[3] * scale_y, 0.f, fh);
    if (!(inst.box[2] - inst.box[0] > 0.f && inst.box[3] - inst.box[1] > 0.f)) continue;
    inst.score = det.scores[i];
    inst.pred_class = det.pred_classes[i];
    kept.push_back(inst);
    src.push_back(i);
  }
  if (mask_on) {
    const int M = static_cast<int>(det.mask_probs.size(1));
#pragma omp parallel for schedule(dynamic)
    for (int64_t j = 0; j < static_cast<int64_t>(kept.size()); ++j) {
      const float* m = det.mask_probs.data() + src[j] * M * M;
      const ops::MaskRegion region = ops::paste_mask_cpu(m, M, kept[j].box, orig_h, orig_w, mask_threshold);
      kept[j].mask = ops::rle_encode(region);
      kept[j].has_mask = true;
    }
  }
  return kept;
}

}  // namespace maskrt
