#include "model/postprocessing.h"

#include <algorithm>

#include "ops/paste_mask/paste_mask.h"
#include "ops/paste_mask/paste_mask_math.h"
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
    // the same function the CUDA paste runs (paste_mask_math.h), so both keep the same boxes
    if (!ops::paste_math::rescale_clip_box(det.pred_boxes.data() + i * 4, scale_x, scale_y, fw, fh, inst.box)) continue;
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
