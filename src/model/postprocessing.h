#pragma once
// detector_postprocess + mask pasting (detectron2/modeling/postprocessing.py, layers/mask_ops.py):
// boxes scaled from the resized image to the original with independent scale_x = W/resized_w and
// scale_y = H/resized_h (float32), clipped to the original image, instances with empty boxes dropped
// (width or height <= 0), then each soft mask pasted at full original resolution (threshold >= 0.5)
// and encoded as COCO RLE.
#include "maskrt/instances.h"
#include "model/roi_heads/roi_heads.h"

namespace maskrt {

// det: detections in resized pixels (resized_h x resized_w); out: results in original pixels.
std::vector<Instance> detector_postprocess(const Detections& det, int resized_h, int resized_w, int orig_h, int orig_w,
                                           bool mask_on, float mask_threshold = 0.5f);

}  // namespace maskrt
