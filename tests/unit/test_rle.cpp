// RLE tests. Oracles: hand-derived counts/strings, properties (round trips, region == dense), and
// pycocotools.mask.encode outputs recorded by tools/reference/make_detops_fixtures.py.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "core/check.h"
#include "ops/rle/rle.h"

using namespace maskrt;
using namespace maskrt::ops;

namespace {
std::vector<uint8_t> random_blob_mask(std::mt19937& rng, int h, int w) {
  std::vector<uint8_t> m(static_cast<size_t>(h) * w, 0);
  if (m.empty()) return m;
  std::uniform_int_distribution<int> k(0, 3);
  for (int r = 0; r < k(rng) + 1; ++r) {  // a few rectangles plus speckle
    std::uniform_int_distribution<int> ux(0, std::max(0, w - 1)), uy(0, std::max(0, h - 1));
    int x0 = ux(rng), x1 = ux(rng), y0 = uy(rng), y1 = uy(rng);
    for (int y = std::min(y0, y1); y <= std::max(y0, y1); ++y)
      for (int x = std::min(x0, x1); x <= std::max(x0, x1); ++x) m[static_cast<size_t>(y) * w + x] = 1;
  }
  std::bernoulli_distribution flip(0.05);
  for (auto& v : m)
    if (flip(rng)) v ^= 1;
  return m;
}
}  // namespace

TEST(Rle, HandDerivedSmall) {
  // h=3, w=2, row-major [[0,1],[1,1],[0,0]] -> column-major 0 1 0 | 1 1 0 -> runs 1,1,1,2,1
  const uint8_t m[] = {0, 1, 1, 1, 0, 0};
  RleMask r = rle_encode_dense(m, 3, 2);
  EXPECT_EQ(r.height, 3);
  EXPECT_EQ(r.width, 2);
  EXPECT_EQ(r.counts, (std::vector<uint32_t>{1, 1, 1, 2, 1}));
  // values written: 1, 1, 1, 2-1=1, 1-1=0
  EXPECT_EQ(r.to_coco_string(), "11110");
  EXPECT_EQ(r.area(), 3);
  EXPECT_EQ(rle_decode(r), std::vector<uint8_t>(m, m + 6));
}

TEST(Rle, AllZeroAllOneEmpty) {
  std::vector<uint8_t> z(12, 0), o(12, 1);
  EXPECT_EQ(rle_encode_dense(z.data(), 3, 4).counts, (std::vector<uint32_t>{12}));
  EXPECT_EQ(rle_encode_dense(o.data(), 3, 4).counts, (std::vector<uint32_t>{0, 12}));
  EXPECT_EQ(rle_encode_dense(nullptr, 0, 5).counts, (std::vector<uint32_t>{0}));
  EXPECT_EQ(rle_encode_dense(o.data(), 3, 4).area(), 12);
  EXPECT_EQ(rle_encode_dense(z.data(), 3, 4).area(), 0);
}

TEST(Rle, StringEncodingHandDerived) {
  // 100 = 0b11_00100: low group 4 with continuation -> 48+4+32='T', then 3 -> '3'.
  EXPECT_EQ(rle_to_string({100}), "T3");
  // counts {5, 7, 2, 3}: values 5, 7, 2, 3-7=-4. -4 & 31 = 28 (sign bit set), rest -1 -> one char 48+28='L'.
  EXPECT_EQ(rle_to_string({5, 7, 2, 3}), "572L");
  EXPECT_EQ(rle_from_string("572L"), (std::vector<uint32_t>{5, 7, 2, 3}));
  EXPECT_EQ(rle_from_string("T3"), (std::vector<uint32_t>{100}));
  // 16 needs two groups: its low group 16 has the sign bit set but the rest (0) is not -1, so a
  // continuation follows: (16 | 0x20) + 48 = 96 = '`', then 0 -> '0'.
  EXPECT_EQ(rle_to_string({16}), "`0");
  EXPECT_EQ(rle_from_string("`0"), (std::vector<uint32_t>{16}));
  EXPECT_EQ(rle_to_string({}), "");
  EXPECT_TRUE(rle_from_string("").empty());
}

TEST(Rle, StringRoundTripLargeAndNegativeDeltas) {
  std::mt19937 rng(7);
  for (int t = 0; t < 200; ++t) {
    std::vector<uint32_t> c(1 + rng() % 20);
    for (auto& v : c) v = (t % 3 == 0) ? rng() : rng() % (t < 100 ? 64 : 20000000);
    EXPECT_EQ(rle_from_string(rle_to_string(c)), c);
  }
  const std::vector<uint32_t> extreme{0xFFFFFFFFu, 0, 0, 0xFFFFFFFFu, 0xFFFFFFFFu, 0};
  EXPECT_EQ(rle_from_string(rle_to_string(extreme)), extreme);
}

TEST(Rle, MalformedStringsThrow) {
  EXPECT_THROW(rle_from_string("T"), maskrt::Error);       // ends inside a value (continuation bit set)
  EXPECT_THROW(rle_from_string("1 2"), maskrt::Error);     // space is not a valid char
  EXPECT_THROW(rle_from_string("p"), maskrt::Error);       // 'p' = 112 > 111
}

TEST(Rle, NegativeDecodedCountThrows) {
  // counts[3] = counts[1] + (-4) with counts[1] = 2 -> -2
  EXPECT_THROW(rle_from_string("522L"), maskrt::Error);
  // 'L' as the first value is -4
  EXPECT_THROW(rle_from_string("L"), maskrt::Error);
}

TEST(Rle, DecodeRejectsWrongSum) {
  RleMask r;
  r.height = 2;
  r.width = 2;
  r.counts = {1, 2};
  EXPECT_THROW(rle_decode(r), maskrt::Error);
}

TEST(Rle, RegionEqualsDenseRandom) {
  std::mt19937 rng(123);
  for (int t = 0; t < 300; ++t) {
    MaskRegion g;
    g.img_h = 1 + rng() % 40;
    g.img_w = 1 + rng() % 40;
    g.w = rng() % (g.img_w + 1);
    g.h = rng() % (g.img_h + 1);
    g.x0 = rng() % (g.img_w - g.w + 1);
    g.y0 = rng() % (g.img_h - g.h + 1);
    g.bits = random_blob_mask(rng, g.h, g.w);
    if (t % 10 == 0) std::fill(g.bits.begin(), g.bits.end(), 1);
    std::vector<uint8_t> dense(static_cast<size_t>(g.img_h) * g.img_w, 0);
    for (int y = 0; y < g.h; ++y)
      for (int x = 0; x < g.w; ++x) dense[static_cast<size_t>(g.y0 + y) * g.img_w + g.x0 + x] = g.bits[y * g.w + x];
    RleMask a = rle_encode(g), b = rle_encode_dense(dense.data(), g.img_h, g.img_w);
    ASSERT_EQ(a.counts, b.counts) << "t=" << t;
    ASSERT_EQ(a.height, g.img_h);
    ASSERT_EQ(a.width, g.img_w);
    ASSERT_EQ(rle_decode(a), dense);
    ASSERT_EQ(rle_from_string(a.to_coco_string()), a.counts);
  }
}

TEST(Rle, RegionOutsideImageThrows) {
  MaskRegion g;
  g.img_h = 4;
  g.img_w = 4;
  g.x0 = 3;
  g.w = 2;
  g.h = 1;
  g.bits = {1, 1};
  EXPECT_THROW(rle_encode(g), maskrt::Error);
}

TEST(Rle, LargeImageRegionIsCheap) {
  MaskRegion g;
  g.img_h = 3000;
  g.img_w = 4000;
  g.x0 = 3990;
  g.y0 = 2990;
  g.w = 10;
  g.h = 10;
  g.bits.assign(100, 1);
  RleMask r = rle_encode(g);
  EXPECT_EQ(r.area(), 100);
  ASSERT_EQ(r.counts.size(), 20u);  // 0-run, then 10 one-runs separated by 9 zero-runs (last column ends at the bottom)
  EXPECT_EQ(r.counts[0], 3990u * 3000u + 2990u);
  EXPECT_EQ(r.counts.back(), 10u);
  EXPECT_EQ(r.counts[2], 2990u);
}

// pycocotools fixtures: masks + the string pycocotools.mask.encode produced.
TEST(Rle, MatchesPycocotools) {
  std::ifstream f(std::string(MASKRT_TEST_DATA) + "/unit/data/detops/rle.json");
  ASSERT_TRUE(f.good()) << "missing fixture; run tools/reference/make_detops_fixtures.py";
  nlohmann::json j = nlohmann::json::parse(f);
  ASSERT_GT(j["cases"].size(), 0u);
  for (const auto& c : j["cases"]) {
    const int h = c["h"], w = c["w"];
    const std::string bits = c["mask_rowmajor"];
    ASSERT_EQ(bits.size(), static_cast<size_t>(h) * w);
    std::vector<uint8_t> m(bits.size());
    for (size_t i = 0; i < bits.size(); ++i) m[i] = bits[i] == '1';
    RleMask r = rle_encode_dense(m.data(), h, w);
    const std::string expect = c["counts"];
    EXPECT_EQ(r.to_coco_string(), expect) << c["name"];
    EXPECT_EQ(r.area(), c["area"].get<int64_t>()) << c["name"];
    RleMask back{h, w, rle_from_string(expect)};
    EXPECT_EQ(rle_decode(back), m) << c["name"];
  }
}
