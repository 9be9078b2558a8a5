// ROIAlign. Oracles: hand-derived values (failure-cases.md example), properties (degenerate ROIs give
// finite zeros, translation), torchvision.ops.roi_align outputs (tests/unit/data/detops/roi_align.json,
// bit-exact), and CPU vs reference over seeded random sweeps (bit-exact).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "support/hex_floats.h"
#include "ops/roi_align/roi_align.h"

using namespace maskrt;
using namespace maskrt::ops;

namespace {
using maskrt::testing::hex_floats;
Tensor ramp_5x5() {
  std::vector<float> v(25);
  for (int i = 0; i < 25; ++i) v[i] = static_cast<float>(i);
  return Tensor({1, 5, 5}, v);
}
Tensor run_cpu(const RoiAlignParams& p, const Tensor& f, const Tensor& rois) {
  Tensor out({rois.size(0), f.size(0), p.out_h, p.out_w});
  roi_align_cpu(p, f, rois, out, 0);
  return out;
}
}  // namespace

TEST(RoiAlign, FailureCaseExampleHandDerived) {
  // aligned: start -0.5, bin 0.5, 2 samples per bin at -0.375,-0.125 | 0.125,0.375 | ... ; y <= 0 clamps
  // to 0. The map is linear (5y + x), so each output is 5*c[i] + c[j] with c = mean clamped coordinate.
  RoiAlignParams p{4, 4, 1.f, 2, true};
  Tensor rois({1, 4}, {0, 0, 2, 2});
  const float c[4] = {0.f, 0.25f, 0.75f, 1.25f};
  for (const Tensor& out : {roi_align_ref(p, ramp_5x5(), rois), run_cpu(p, ramp_5x5(), rois)})
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) EXPECT_FLOAT_EQ(out[i * 4 + j], 5 * c[i] + c[j]) << i << "," << j;
}

TEST(RoiAlign, DegenerateRoisAreFiniteZeros) {
  std::mt19937 rng(3);
  Tensor f({2, 6, 7});
  for (int64_t i = 0; i < f.numel(); ++i) f[i] = std::uniform_real_distribution<float>(-2, 2)(rng);
  Tensor rois({5, 4}, {3, 3, 3, 5,            // zero width
                       4, 4, 2, 2,            // inverted x and y
                       4, 1, 2, 5,            // inverted x only (torchvision would allocate a negative buffer)
                       NAN, 1, 2, 3,          // NaN
                       1, 1, 1, 1});          // point
  RoiAlignParams p{3, 3, 1.f, 0, true};
  Tensor a = roi_align_ref(p, f, rois), b = run_cpu(p, f, rois);
  for (int64_t i = 0; i < a.numel(); ++i) {
    EXPECT_EQ(a[i], 0.f) << i;
    EXPECT_EQ(b[i], 0.f) << i;
  }
  // Same ROIs with a fixed sampling ratio and with aligned=false: finite, no crash.
  for (RoiAlignParams q : {RoiAlignParams{3, 3, 1.f, 2, true}, RoiAlignParams{3, 3, 1.f, 0, false}}) {
    Tensor c = roi_align_ref(q, f, rois), d = run_cpu(q, f, rois);
    for (int64_t i = 0; i < c.numel(); ++i) {
      if (i / (2 * 9) == 3 && !q.aligned) continue;  // NaN box, unaligned: max(NaN,1) keeps NaN -> grid 0 -> 0
      EXPECT_TRUE(std::isfinite(c[i])) << i;
      EXPECT_EQ(std::memcmp(&c[i], &d[i], 4), 0) << i;
    }
  }
}

TEST(RoiAlign, TranslationProperty) {
  // Shifting the map by (2, 3) cells and the ROI by (2, 3) * stride gives the same output (inside).
  std::mt19937 rng(9);
  Tensor f({1, 12, 14}), g({1, 12, 14});
  for (int64_t i = 0; i < f.numel(); ++i) f[i] = std::uniform_real_distribution<float>(-1, 1)(rng);
  for (int y = 0; y < 12; ++y)
    for (int x = 0; x < 14; ++x) g[y * 14 + x] = (y >= 3 && x >= 2) ? f[(y - 3) * 14 + (x - 2)] : 0.f;
  RoiAlignParams p{4, 4, 0.25f, 2, true};
  Tensor r1({1, 4}, {6.f, 7.f, 30.f, 26.f}), r2({1, 4}, {6.f + 8, 7.f + 12, 30.f + 8, 26.f + 12});
  Tensor a = roi_align_ref(p, f, r1), b = roi_align_ref(p, g, r2);
  for (int i = 0; i < 16; ++i) EXPECT_NEAR(a[i], b[i], 1e-5) << i;
}

TEST(RoiAlign, CpuMatchesRefRandomSweep) {
  std::mt19937 rng(11);
  for (int t = 0; t < 60; ++t) {
    const int C = 1 + rng() % 4, H = 1 + rng() % 20, W = 1 + rng() % 20;
    Tensor f({C, H, W});
    for (int64_t i = 0; i < f.numel(); ++i) f[i] = std::uniform_real_distribution<float>(-3, 3)(rng);
    RoiAlignParams p{1 + static_cast<int>(rng() % 7), 1 + static_cast<int>(rng() % 7),
                     (t % 3 == 0) ? 1.f : (t % 3 == 1 ? 0.5f : 0.25f), static_cast<int>(rng() % 3), (t % 2) == 0};
    const int R = rng() % 12;
    const float span = static_cast<float>(std::max(H, W)) / p.spatial_scale;
    std::uniform_real_distribution<float> u(-0.2f * span, 1.2f * span);
    std::vector<float> rv;
    for (int r = 0; r < R; ++r) {
      float x0 = u(rng), y0 = u(rng), x1 = u(rng), y1 = u(rng);
      if (rng() % 4) {  // mostly ordered boxes
        if (x1 < x0) std::swap(x0, x1);
        if (y1 < y0) std::swap(y0, y1);
      }
      rv.insert(rv.end(), {x0, y0, x1, y1});
    }
    Tensor rois({R, 4}, rv);
    Tensor ref = roi_align_ref(p, f, rois);
    // Write into the middle of a larger output; the other rows must stay untouched.
    Tensor out({R + 3, C, p.out_h, p.out_w});
    for (int64_t i = 0; i < out.numel(); ++i) out[i] = 7.f;
    roi_align_cpu(p, f, rois, out, 2);
    const int64_t row = int64_t{C} * p.out_h * p.out_w;
    for (int64_t i = 0; i < out.numel(); ++i) {
      if (i < 2 * row || i >= (2 + R) * row) {
        ASSERT_EQ(out[i], 7.f);
      } else {
        ASSERT_EQ(std::memcmp(&out[i], &ref[i - 2 * row], 4), 0) << "t=" << t << " i=" << i;
        ASSERT_TRUE(std::isfinite(ref[i - 2 * row]));
      }
    }
  }
}

TEST(RoiAlign, Errors) {
  Tensor f({1, 4, 4}), out({1, 1, 2, 2});
  EXPECT_THROW(roi_align_ref(RoiAlignParams{2, 2, 1.f, 0, true}, f, Tensor({1, 5})), maskrt::Error);
  EXPECT_THROW(roi_align_ref(RoiAlignParams{0, 2, 1.f, 0, true}, f, Tensor({1, 4})), maskrt::Error);
  EXPECT_THROW(roi_align_cpu(RoiAlignParams{2, 2, 1.f, 0, true}, f, Tensor({2, 4}), out, 0), maskrt::Error);
  EXPECT_EQ(roi_align_ref(RoiAlignParams{2, 2, 1.f, 0, true}, f, Tensor({0, 4})).shape(), (Shape{0, 1, 2, 2}));
}

TEST(RoiAlign, MatchTorchvisionBitExact) {
  std::ifstream fs(std::string(MASKRT_TEST_DATA) + "/unit/data/detops/roi_align.json");
  ASSERT_TRUE(fs.good()) << "run tools/reference/make_detops_fixtures.py";
  nlohmann::json j = nlohmann::json::parse(fs);
  for (const auto& c : j["cases"]) {
    const auto fshape = c["features_shape"].get<std::vector<int64_t>>();
    Tensor f(Shape(fshape.begin(), fshape.end()), hex_floats(c["features"]));
    std::vector<float> rv = hex_floats(c["rois"]);
    Tensor rois({static_cast<int64_t>(rv.size() / 4), 4}, rv);
    RoiAlignParams p{c["out_h"], c["out_w"], c["spatial_scale"].get<float>(), c["sampling_ratio"], c["aligned"]};
    const std::vector<float> expect = hex_floats(c["out"]);
    Tensor a = roi_align_ref(p, f, rois), b = run_cpu(p, f, rois);
    ASSERT_EQ(static_cast<size_t>(a.numel()), expect.size()) << c["name"];
    for (size_t i = 0; i < expect.size(); ++i) {
      ASSERT_EQ(std::memcmp(&a[i], &expect[i], 4), 0) << c["name"] << " ref element " << i << ": " << a[i] << " vs " << expect[i];
      ASSERT_EQ(std::memcmp(&b[i], &expect[i], 4), 0) << c["name"] << " cpu element " << i;
    }
  }
}
