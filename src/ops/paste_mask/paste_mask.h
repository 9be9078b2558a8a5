#pragma once
// Paste one soft mask (M x M probabilities, already sigmoid-ed, for the predicted class) into the
// original image and threshold it, as Detectron2's CPU path of detectron2/layers/mask_ops.py
// `paste_masks_in_image` (one mask at a time, `_do_paste_mask(..., skip_empty=True)`, then
// `>= threshold`). The result equals Detectron2's full-image bool mask (zero outside the region).
//
// Region (skip_empty, one box): x0_int = max(floor(x0) - 1, 0), x1_int = min(ceil(x1) + 1, img_w),
// y likewise; pixels outside [x0_int, x1_int) x [y0_int, y1_int) are 0.
// Inside, float32 in Detectron2's / torch's operation order:
//   px = float(x) + 0.5f;  gx = ((px - x0) / (x1 - x0)) * 2 - 1   (y likewise)
//   F.grid_sample(bilinear, padding zeros, align_corners=False), as torch's vectorised CPU kernel
//   (GridSamplerKernel.cpp) runs on AVX2/AVX512 machines, which fuses two steps into FMAs:
//     u = fma(gx + 1, M/2, -0.5);  u0 = floor(u), fu = u - u0, (v likewise, rows)
//     nw = (1-fv)(1-fu), ne = (1-fv)fu, sw = fv(1-fu), se = fv*fu  (plain products)
//     value = fma(v_se, se, fma(v_sw, sw, fma(v_ne, ne, v_nw * nw)))   taps outside the mask read 0
//   pixel = value >= threshold   (Detectron2: 0.5)
// (torch's non-vectorised "default" CPU capability and the CUDA kernel round differently; values
// exactly at the threshold can then decide differently. We match the AVX2/AVX512 CPU kernel.)
//
// box: x0, y0, x1, y1 in ORIGINAL image pixels (float32 as Detectron2 has them after rescale and
// clip). Degenerate boxes (x1 <= x0, y1 <= y0, NaN), which Detectron2 drops before pasting
// (detector_postprocess keeps only nonempty boxes), give an empty region (w = h = 0). A box partly
// or wholly outside the image is clamped to it (Detectron2 clips boxes first, so only the former occurs).
// The result is stored compactly as the region (never a dense full-image plane); rle_encode turns it
// into a full-image COCO RLE.
// Errors (maskrt::Error kInvalidArgument): mask null or mask_size < 1, negative image size.
// Thread safety: pure functions.
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
