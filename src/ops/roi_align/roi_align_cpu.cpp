// CPU ROIAlign: per ROI, the bilinear taps of every sample are computed once and reused for all
// channels (as torchvision's CPU kernel does); ROIs run in parallel (OpenMP). Same float operations
// in the same order as roi_align_ref, so results are bit-identical.
#include <vector>

#include "ops/roi_align/roi_align_common.h"

namespace maskrt::ops {
namespace {
constexpr int64_t kMaxTaps = int64_t{1} << 18;  // 8 MiB of precomputed taps per thread at most
}

void roi_align_cpu(const RoiAlignParams& p, const Tensor& features, const Tensor& rois, Tensor& out, int64_t row0) {
  using namespace roi_align_detail;
  validate(p, features, rois, "roi_align_cpu");
  const int64_t C = features.size(0), R = rois.size(0);
  const int H = static_cast<int>(features.size(1)), W = static_cast<int>(features.size(2));
  MASKRT_CHECK(out.dim() == 4 && out.size(1) == C && out.size(2) == p.out_h && out.size(3) == p.out_w && row0 >= 0 &&
                   row0 + R <= out.size(0),
               ErrorCode::kInvalidArgument, "roi_align_cpu: out ", shape_str(out.shape()), " cannot take rows [", row0,
               ", ", row0 + R, ") of (", C, ", ", p.out_h, ", ", p.out_w, ")");
  const float* fdata = features.data();
  const float* rdata = rois.data();
  float* odata = out.data();
  const int64_t plane = int64_t{p.out_h} * p.out_w;
#pragma omp parallel
  {
    std::vector<Taps> taps;
#pragma omp for schedule(dynamic, 4)
    for (int64_t r = 0; r < R; ++r) {
      const RoiGeometry g = geometry(p, rdata + r * 4);
      float* o = odata + (row0 + r) * C * plane;
      const int64_t per_bin = int64_t{std::max(g.grid_h, 0)} * std::max(g.grid_w, 0);
      if (per_bin == 0) {
        std::fill(o, o + C * plane, 0.f);
        continue;
      }
      if (plane * per_bin > kMaxTaps) {  // huge adaptive grid: stream the taps instead of storing them
        for (int64_t c = 0; c < C; ++c) {
          const float* f = fdata + c * H * W;
          for (int ph = 0; ph < p.out_h; ++ph)
            for (int pw = 0; pw < p.out_w; ++pw) {
              float acc = 0.f;
              for (int iy = 0; iy < g.grid_h; ++iy) {
                const float y = sample_coord(g.start_y, ph, g.bin_h, iy, g.grid_h);
                for (int ix = 0; ix < g.grid_w; ++ix) {
                  const Taps t = bilinear_taps(H, W, y, sample_coord(g.start_x, pw, g.bin_w, ix, g.grid_w));
                  acc += t.w1 * f[t.p1] + t.w2 * f[t.p2] + t.w3 * f[t.p3] + t.w4 * f[t.p4];
                }
              }
              o[c * plane + int64_t{ph} * p.out_w + pw] = acc / g.count;
            }
        }
        continue;
      }
      taps.resize(static_cast<size_t>(plane * per_bin));
      size_t k = 0;
      for (int ph = 0; ph < p.out_h; ++ph)
        for (int pw = 0; pw < p.out_w; ++pw)
          for (int iy = 0; iy < g.grid_h; ++iy) {
            const float y = sample_coord(g.start_y, ph, g.bin_h, iy, g.grid_h);
            for (int ix = 0; ix < g.grid_w; ++ix)
              taps[k++] = bilinear_taps(H, W, y, sample_coord(g.start_x, pw, g.bin_w, ix, g.grid_w));
          }
      for (int64_t c = 0; c < C; ++c) {
        const float* f = fdata + c * H * W;
        float* oc = o + c * plane;
        const Taps* t = taps.data();
        for (int64_t b = 0; b < plane; ++b) {
          float acc = 0.f;
          for (int64_t s = 0; s < per_bin; ++s, ++t)
            acc += t->w1 * f[t->p1] + t->w2 * f[t->p2] + t->w3 * f[t->p3] + t->w4 * f[t->p4];
          oc[b] = acc / g.count;
        }
      }
    }
  }
}

}  // namespace maskrt::ops

