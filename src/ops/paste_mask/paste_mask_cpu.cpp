// CPU paste: the grid is separable (gx depends on the column only, gy on the row only), so the axis
// taps are computed once per column and once per row; the per-pixel products and FMAs are the same
// operations as paste_mask_ref, so the bits are identical.
#include <vector>

#include "ops/paste_mask/paste_mask_common.h"

namespace maskrt::ops {

MaskRegion paste_mask_cpu(const float* mask, int M, const float box[4], int img_h, int img_w, float threshold) {
  using namespace paste_detail;
  validate(mask, M, box, img_h, img_w, "paste_mask_cpu");
  MaskRegion r = make_region(box, img_h, img_w);
  if (r.w == 0) return r;
  const float ex = box[2] - box[0], ey = box[3] - box[1];
  std::vector<AxisTap> cols(static_cast<size_t>(r.w));
  for (int x = 0; x < r.w; ++x) cols[x] = axis_tap(grid_coord(r.x0 + x, box[0], ex), M);
  for (int y = 0; y < r.h; ++y) {
    const AxisTap ty = axis_tap(grid_coord(r.y0 + y, box[1], ey), M);
    uint8_t* out = r.bits.data() + static_cast<size_t>(y) * r.w;
    if (!ty.ok0 && !ty.ok1 && !(0.f >= threshold)) continue;  // the whole row samples 0 (< threshold)
    for (int x = 0; x < r.w; ++x) out[x] = sample(mask, M, cols[x], ty) >= threshold ? 1 : 0;
  }
  return r;
}

}  // namespace maskrt::ops

