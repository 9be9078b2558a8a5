#pragma once
// Paste one soft mask (M x M probabilities, already sigmoid-ed, for the predicted class) into the
// original image, as detectron2/layers/mask_ops.py `_do_paste_mask` + threshold:
//   pixel centre (x + 0.5, y + 0.5); gx = (px - x0) / (x1 - x0) * 2 - 1 (same for y);
//   F.grid_sample(bilinear, align_corners=False, padding_mode="zeros") on the M x M mask, i.e. sample
//   at mask coordinate u = ((gx + 1) * M - 1) / 2 with zero outside; mask pixel = value >= threshold.
// Pixels far outside the box sample 0, so only the box region expanded by 1 px can be set; we evaluate
// only there (Detectron2's CPU path also restricts to the box, skip_empty=True, with floor/ceil bounds).
// box: x0, y0, x1, y1 in ORIGINAL image pixels (float32 as Detectron2 has them after rescale/clip).
// The result is stored compactly as a region; rle_encode turns it into a full-image COCO RLE.
#include <cstdint>
#include <vector>

namespace maskrt::ops {
struct MaskRegion {
  int img_h = 0, img_w = 0;  // full image size
  int x0 = 0, y0 = 0;        // region origin in image pixels
  int w = 0, h = 0;          // region size (may be 0)
  std::vector<uint8_t> bits; // h * w, row-major, 0/1
};
MaskRegion paste_mask_ref(const float* mask, int mask_size, const float box[4], int img_h, int img_w, float threshold);
MaskRegion paste_mask_cpu(const float* mask, int mask_size, const float box[4], int img_h, int img_w, float threshold);
}  // namespace maskrt::ops
