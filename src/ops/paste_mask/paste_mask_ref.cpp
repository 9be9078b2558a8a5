// Scalar reference paste: every pixel of the region from scratch (see paste_mask.h).
#include "ops/paste_mask/paste_mask_common.h"

namespace maskrt::ops {

MaskRegion paste_mask_ref(const float* mask, int M, const float box[4], int img_h, int img_w, float threshold) {
  using namespace paste_detail;
  validate(mask, M, box, img_h, img_w, "paste_mask_ref");
  MaskRegion r = make_region(box, img_h, img_w);
  const float ex = box[2] - box[0], ey = box[3] - box[1];
  for (int y = 0; y < r.h; ++y)
    for (int x = 0; x < r.w; ++x) {
      const AxisTap tx = axis_tap(grid_coord(r.x0 + x, box[0], ex), M);
      const AxisTap ty = axis_tap(grid_coord(r.y0 + y, box[1], ey), M);
      r.bits[static_cast<size_t>(y) * r.w + x] = sample(mask, M, tx, ty) >= threshold ? 1 : 0;
    }
  return r;
}

}  // namespace maskrt::ops

