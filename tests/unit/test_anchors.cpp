// Anchors. Oracles: hand-derived values and order; Detectron2's DefaultAnchorGenerator outputs
// (tests/unit/data/detops/anchors.json, tools/reference/make_detops_fixtures.py), compared bit-exactly.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/hex_floats.h"
#include "ops/anchors/anchors.h"

using namespace maskrt;
using namespace maskrt::ops;

namespace {
using maskrt::testing::hex_floats;
nlohmann::json load(const char* name) {
  std::ifstream f(std::string(MASKRT_TEST_DATA) + "/unit/data/detops/" + name);
  EXPECT_TRUE(f.good()) << name << " missing; run tools/reference/make_detops_fixtures.py";
  return nlohmann::json::parse(f);
}
}  // namespace

TEST(Anchors, CellAnchorsHandDerived) {
  Tensor c = cell_anchors({32.f}, {0.5f, 1.f, 2.f});
  ASSERT_EQ(c.shape(), (Shape{3, 4}));
  const float a = static_cast<float>(std::sqrt(2048.0) / 2), b = static_cast<float>(std::sqrt(512.0) / 2);
  const float expect[12] = {-a, -b, a, b, -16, -16, 16, 16, -b, -a, b, a};  // ratio = h / w
  for (int i = 0; i < 12; ++i) EXPECT_EQ(c[i], expect[i]) << i;
  // size-major: sizes {16, 32} x ratios {1, 2} -> (16,1), (16,2), (32,1), (32,2)
  Tensor d = cell_anchors({16.f, 32.f}, {1.f, 2.f});
  ASSERT_EQ(d.size(0), 4);
  EXPECT_EQ(d[2], 8.f);
  EXPECT_EQ(d[8 + 2], 16.f);
}

TEST(Anchors, GridOrder2x3) {
  Tensor c = cell_anchors({8.f}, {0.5f, 1.f, 2.f});
  for (float offset : {0.f, 0.5f}) {
    Tensor g = grid_anchors(c, 2, 3, 4.f, offset);
    ASSERT_EQ(g.shape(), (Shape{2 * 3 * 3, 4}));
    for (int y = 0; y < 2; ++y)
      for (int x = 0; x < 3; ++x)
        for (int a = 0; a < 3; ++a) {
          const int i = (y * 3 + x) * 3 + a;
          const float sx = offset * 4 + 4.f * x, sy = offset * 4 + 4.f * y;
          EXPECT_EQ(g[i * 4 + 0], sx + c[a * 4 + 0]);
          EXPECT_EQ(g[i * 4 + 1], sy + c[a * 4 + 1]);
          EXPECT_EQ(g[i * 4 + 2], sx + c[a * 4 + 2]);
          EXPECT_EQ(g[i * 4 + 3], sy + c[a * 4 + 3]);
        }
  }
}

TEST(Anchors, EmptyAndErrors) {
  Tensor c = cell_anchors({32.f}, {1.f});
  EXPECT_EQ(grid_anchors(c, 0, 5, 4.f, 0.f).shape(), (Shape{0, 4}));
  EXPECT_THROW(cell_anchors({}, {1.f}), maskrt::Error);
  EXPECT_THROW(cell_anchors({32.f}, {0.f}), maskrt::Error);
  EXPECT_THROW(grid_anchors(c, 2, 2, 4.f, 1.f), maskrt::Error);
  EXPECT_THROW(grid_anchors(c, 2, 2, 0.f, 0.f), maskrt::Error);
}

TEST(Anchors, MatchDetectron2BitExact) {
  nlohmann::json j = load("anchors.json");
  int levels = 0;
  for (const auto& cs : j["cases"])
    for (const auto& lv : cs["levels"]) {
      Tensor c = cell_anchors(lv["sizes"].get<std::vector<float>>(), lv["aspect_ratios"].get<std::vector<float>>());
      Tensor g = grid_anchors(c, lv["feat_h"], lv["feat_w"], lv["stride"].get<float>(), cs["offset"].get<float>());
      const std::vector<float> expect = hex_floats(lv["anchors"]);
      ASSERT_EQ(static_cast<size_t>(g.numel()), expect.size()) << cs["name"];
      for (size_t i = 0; i < expect.size(); ++i)
        ASSERT_EQ(g[i], expect[i]) << cs["name"] << " stride " << lv["stride"] << " element " << i;
      ++levels;
    }
  EXPECT_EQ(levels, 7);
}
