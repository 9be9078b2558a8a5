// Box2BoxTransform.apply_deltas / Boxes.clip. Oracles: hand-derived cases and properties; Detectron2's
// own functions (tests/unit/data/detops/box_transform.json). All steps are bit-exact except exp
// (torch uses SLEEF), so the fixture comparison allows a few ulp and requires most values bit-exact.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/hex_floats.h"
#include "ops/box_transform/box_transform.h"

using namespace maskrt;
using namespace maskrt::ops;

namespace {
using maskrt::testing::hex_floats;
}  // namespace

TEST(BoxTransform, ZeroDeltasAreIdentity) {
  BoxTransformParams p;
  p.weights = {10.f, 10.f, 5.f, 5.f};
  Tensor boxes({2, 4}, {0.f, 0.f, 10.f, 20.f, 3.5f, 4.25f, 7.75f, 100.f});
  Tensor out = apply_deltas(p, boxes, Tensor({2, 8}));
  for (int r = 0; r < 2; ++r)
    for (int k = 0; k < 2; ++k)
      for (int i = 0; i < 4; ++i) EXPECT_EQ(out[r * 8 + k * 4 + i], boxes[r * 4 + i]);
}

TEST(BoxTransform, HandDerivedShiftAndScale) {
  BoxTransformParams p;  // weights 1
  Tensor boxes({1, 4}, {0.f, 0.f, 10.f, 20.f});
  // dx = 0.5 -> centre moves by 5; dh = ln 2 -> height doubles (exp rounds to ~2)
  Tensor out = apply_deltas(p, boxes, Tensor({1, 4}, {0.5f, 0.f, 0.f, std::log(2.f)}));
  EXPECT_EQ(out[0], 5.f);
  EXPECT_EQ(out[2], 15.f);
  EXPECT_NEAR(out[1], -10.f, 1e-5);
  EXPECT_NEAR(out[3], 30.f, 1e-5);
}

TEST(BoxTransform, DecodeAtTheClamp) {
  BoxTransformParams p;
  p.weights = {10.f, 10.f, 5.f, 5.f};
  Tensor boxes({1, 4}, {10.f, 20.f, 26.f, 52.f});
  const float at = p.scale_clamp * 5.f;
  Tensor a = apply_deltas(p, boxes, Tensor({1, 4}, {0.f, 0.f, 1000.f, 1e30f}));
  Tensor b = apply_deltas(p, boxes, Tensor({1, 4}, {0.f, 0.f, at, at}));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(a[i], b[i]) << i;
  // exp(log(1000/16)) * 16 = 1000 (within float rounding)
  EXPECT_NEAR(a[2] - a[0], 1000.f, 1e-2);
  EXPECT_NEAR(a[3] - a[1], 2000.f, 2e-2);
  EXPECT_TRUE(std::isfinite(a[3]));
  // Negative deltas are not clamped from below.
  Tensor c = apply_deltas(p, boxes, Tensor({1, 4}, {0.f, 0.f, -500.f, -500.f}));
  EXPECT_EQ(c[2] - c[0], 0.f);
}

TEST(BoxTransform, ZeroWidthBoxAndEmpty) {
  BoxTransformParams p;
  Tensor out = apply_deltas(p, Tensor({1, 4}, {5.f, 5.f, 5.f, 9.f}), Tensor({1, 4}, {3.f, 0.f, 2.f, 0.f}));
  EXPECT_EQ(out[0], 5.f);
  EXPECT_EQ(out[2], 5.f);
  EXPECT_EQ(apply_deltas(p, Tensor({0, 4}), Tensor({0, 8})).shape(), (Shape{0, 8}));
  EXPECT_THROW(apply_deltas(p, Tensor({2, 4}), Tensor({2, 6})), maskrt::Error);
  EXPECT_THROW(apply_deltas(p, Tensor({2, 4}), Tensor({3, 4})), maskrt::Error);
}

TEST(BoxTransform, TranslationProperty) {
  BoxTransformParams p;
  p.weights = {10.f, 10.f, 5.f, 5.f};
  Tensor boxes({1, 4}, {16.f, 32.f, 48.f, 96.f}), moved({1, 4}, {16.f + 64, 32.f + 128, 48.f + 64, 96.f + 128});
  Tensor d({1, 4}, {1.25f, -2.5f, 0.75f, -1.5f});
  Tensor a = apply_deltas(p, boxes, d), b = apply_deltas(p, moved, d);
  EXPECT_NEAR(b[0] - a[0], 64.f, 1e-4);
  EXPECT_NEAR(b[1] - a[1], 128.f, 1e-4);
  EXPECT_NEAR(b[2] - a[2], 64.f, 1e-4);
  EXPECT_NEAR(b[3] - a[3], 128.f, 1e-4);
}

TEST(BoxTransform, ClipHandDerived) {
  Tensor b({2, 4}, {-5.f, 3.f, 900.f, 700.f, 10.f, -1.f, 20.f, NAN});
  clip_boxes(b, 600.f, 800.f);
  EXPECT_EQ(b[0], 0.f);
  EXPECT_EQ(b[1], 3.f);
  EXPECT_EQ(b[2], 800.f);
  EXPECT_EQ(b[3], 600.f);
  EXPECT_EQ(b[5], 0.f);
  EXPECT_TRUE(std::isnan(b[7]));
}

TEST(BoxTransform, MatchDetectron2) {
  std::ifstream f(std::string(MASKRT_TEST_DATA) + "/unit/data/detops/box_transform.json");
  ASSERT_TRUE(f.good()) << "run tools/reference/make_detops_fixtures.py";
  nlohmann::json j = nlohmann::json::parse(f);
  size_t total = 0, exact = 0;
  for (const auto& c : j["cases"]) {
    const int64_t R = c["R"], K = c["K"];
    BoxTransformParams p;
    for (int i = 0; i < 4; ++i) p.weights[i] = c["weights"][i].get<float>();
    Tensor boxes({R, 4}, hex_floats(c["boxes"]));
    Tensor deltas({R, 4 * K}, hex_floats(c["deltas"]));
    Tensor out = apply_deltas(p, boxes, deltas);
    const std::vector<float> expect = hex_floats(c["out"]);
    ASSERT_EQ(static_cast<size_t>(out.numel()), expect.size());
    for (size_t i = 0; i < expect.size(); ++i) {
      // pred_w may differ by 1 ulp (exp); x = ctr -/+ 0.5*pred_w then differs by ~1 ulp of the box size.
      const int64_t box = static_cast<int64_t>(i) / 4;
      const float* o = out.data() + box * 4;
      const float scale = std::fabs(o[2] - o[0]) + std::fabs(o[3] - o[1]) + std::fabs(expect[i]);
      EXPECT_NEAR(out[i], expect[i], 4e-7f * scale + 1e-30f) << c["name"] << " element " << i;
      ++total;
      exact += out[i] == expect[i];
    }
    Tensor clipped = out.reshape({R * K, 4}).clone();
    clip_boxes(clipped, c["clip_hw"][0].get<float>(), c["clip_hw"][1].get<float>());
    const std::vector<float> ce = hex_floats(c["clipped"]);
    for (size_t i = 0; i < ce.size(); ++i) {
      if (out[i] == expect[i]) EXPECT_EQ(clipped[i], ce[i]) << c["name"] << " clipped " << i;
    }
  }
  EXPECT_GE(exact * 100, total * 95) << exact << " of " << total << " bit-exact";
}
