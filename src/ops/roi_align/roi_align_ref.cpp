// Scalar reference ROIAlign: one output value at a time, straight from the definition in roi_align.h.
#include "ops/roi_align/roi_align_common.h"

namespace maskrt::ops {

Tensor roi_align_ref(const RoiAlignParams& p, const Tensor& features, const Tensor& rois) {
  using namespace roi_align_detail;
  validate(p, features, rois, "roi_align_ref");
  const int64_t C = features.size(0), R = rois.size(0);
  const int H = static_cast<int>(features.size(1)), W = static_cast<int>(features.size(2));
  Tensor out({R, C, p.out_h, p.out_w});
  for (int64_t r = 0; r < R; ++r) {
    const RoiGeometry g = geometry(p, rois.data() + r * 4);
    for (int64_t c = 0; c < C; ++c) {
      const float* f = features.data() + c * H * W;
      for (int ph = 0; ph < p.out_h; ++ph)
        for (int pw = 0; pw < p.out_w; ++pw) {
          float acc = 0.f;
          for (int iy = 0; iy < g.grid_h; ++iy) {
            const float y = sample_coord(g.start_y, ph, g.bin_h, iy, g.grid_h);
            for (int ix = 0; ix < g.grid_w; ++ix) {
              const float x = sample_coord(g.start_x, pw, g.bin_w, ix, g.grid_w);
              const Taps t = bilinear_taps(H, W, y, x);
              acc += t.w1 * f[t.p1] + t.w2 * f[t.p2] + t.w3 * f[t.p3] + t.w4 * f[t.p4];
            }
          }
          out[((r * C + c) * p.out_h + ph) * p.out_w + pw] = acc / g.count;
        }
    }
  }
  return out;
}

}  // namespace maskrt::ops

