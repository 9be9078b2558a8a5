// Mask paste. Oracles: hand-derived masks (constant masks paste exactly onto integer boxes; image
// borders; partly outside; 1-pixel box); Detectron2's paste_masks_in_image full-image masks
// (tests/unit/data/detops/paste_mask.json, stored as pycocotools RLE strings; includes masks with
// values at and next to 0.5); CPU vs reference over seeded random sweeps (bit-identical).
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "support/hex_floats.h"
#include "maskrt/errors.h"
#include "ops/paste_mask/paste_mask.h"
#include "ops/rle/rle.h"

using namespace maskrt;
using namespace maskrt::ops;

namespace {
using maskrt::testing::hex_floats;
std::vector<uint8_t> dense(const MaskRegion& r) {
  std::vector<uint8_t> d(static_cast<size_t>(r.img_h) * r.img_w, 0);
  for (int y = 0; y < r.h; ++y)
    for (int x = 0; x < r.w; ++x) d[static_cast<size_t>(r.y0 + y) * r.img_w + r.x0 + x] = r.bits[y * r.w + x];
  return d;
}
// Expected dense mask for the axis-aligned pixel rectangle [x0, x1) x [y0, y1).
std::vector<uint8_t> rect(int h, int w, int x0, int y0, int x1, int y1) {
  std::vector<uint8_t> d(static_cast<size_t>(h) * w, 0);
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) d[y * w + x] = 1;
  return d;
}
}  // namespace

TEST(PasteMask, ConstantMaskOnIntegerBoxesIsTheBox) {
  // Constant 1 mask: value = sum of in-mask weights; at pixel centre x0 + 0.5 the sample position is
  // u = 0.5*M/w - 0.5 > -0.5 (value > 0.5), at x0 - 0.5 it is < -0.5 (value < 0.5). So exactly the
  // pixels inside the integer box are set.
  for (int M : {14, 28}) {
    std::vector<float> ones(M * M, 1.f);
    struct Case { float box[4]; int h, w; std::vector<uint8_t> expect; };
    const std::vector<Case> cases = {
        {{2, 3, 6, 8}, 10, 12, rect(10, 12, 2, 3, 6, 8)},
        {{0, 0, 12, 10}, 10, 12, rect(10, 12, 0, 0, 12, 10)},   // whole image, touches all borders
        {{-3, -2, 5, 4}, 10, 12, rect(10, 12, 0, 0, 5, 4)},     // partly outside (top-left)
        {{9, 7, 15, 13}, 10, 12, rect(10, 12, 9, 7, 12, 10)},   // partly outside (bottom-right)
        {{10, 4, 11, 5}, 10, 12, rect(10, 12, 10, 4, 11, 5)},   // 1-pixel box
    };
    for (const auto& c : cases) {
      MaskRegion a = paste_mask_ref(ones.data(), M, c.box, c.h, c.w, 0.5f);
      MaskRegion b = paste_mask_cpu(ones.data(), M, c.box, c.h, c.w, 0.5f);
      EXPECT_EQ(dense(a), c.expect) << "M=" << M << " box " << c.box[0] << "," << c.box[1];
      EXPECT_EQ(dense(b), c.expect);
      EXPECT_GE(a.x0, 0);
      EXPECT_LE(a.x0 + a.w, c.w);
      EXPECT_EQ(rle_encode(a).counts, rle_encode_dense(c.expect.data(), c.h, c.w).counts);
    }
  }
}

TEST(PasteMask, RegionBoundsAndDegenerateBoxes) {
  std::vector<float> m(28 * 28, 0.7f);
  const float box[4] = {10.2f, 20.7f, 30.5f, 40.f};
  MaskRegion r = paste_mask_ref(m.data(), 28, box, 100, 200, 0.5f);
  EXPECT_EQ(r.x0, 9);   // floor(10.2) - 1
  EXPECT_EQ(r.y0, 19);  // floor(20.7) - 1
  EXPECT_EQ(r.x0 + r.w, 32);  // ceil(30.5) + 1
  EXPECT_EQ(r.y0 + r.h, 41);  // ceil(40) + 1
  const float degenerate[4][4] = {{5, 5, 5, 9}, {5, 5, 3, 9}, {5, 9, 7, 9}, {NAN, 1, 4, 4}};
  for (const auto& b : degenerate) {
    EXPECT_EQ(paste_mask_ref(m.data(), 28, b, 20, 20, 0.5f).w, 0);
    EXPECT_EQ(paste_mask_cpu(m.data(), 28, b, 20, 20, 0.5f).w, 0);
    EXPECT_EQ(rle_encode(paste_mask_cpu(m.data(), 28, b, 20, 20, 0.5f)).counts, (std::vector<uint32_t>{400}));
  }
  const float outside[4] = {50, 50, 60, 60};
  EXPECT_EQ(paste_mask_cpu(m.data(), 28, outside, 20, 20, 0.5f).w, 0);
  EXPECT_THROW(paste_mask_ref(nullptr, 28, box, 10, 10, 0.5f), maskrt::Error);
  EXPECT_THROW(paste_mask_cpu(m.data(), 0, box, 10, 10, 0.5f), maskrt::Error);
}

TEST(PasteMask, LargeImageStaysCompact) {
  std::vector<float> m(28 * 28, 0.9f);
  const float box[4] = {3990.5f, 2980.25f, 4000.f, 3000.f};
  MaskRegion r = paste_mask_cpu(m.data(), 28, box, 3000, 4000, 0.5f);
  EXPECT_LE(r.bits.size(), 12u * 22u);
  RleMask rle = rle_encode(r);
  EXPECT_EQ(rle.height, 3000);
  EXPECT_EQ(rle.width, 4000);
  // Column 3990 has its centre exactly on x0: u = -0.5, value 0.9 * 0.5 < 0.5 -> 0; columns 3991..3999
  // are set. Row 2980 (centre 0.25 px inside) samples u = -0.145, value 0.77 -> set; rows 2980..2999.
  EXPECT_EQ(rle.area(), 9 * 20);
}

TEST(PasteMask, CpuMatchesRefRandomSweep) {
  std::mt19937 rng(21);
  for (int t = 0; t < 200; ++t) {
    const int M = (t % 2) ? 28 : 14;
    std::vector<float> m(M * M);
    for (auto& v : m) {
      const int k = rng() % 8;
      v = k == 0 ? 0.5f : k == 1 ? std::nextafter(0.5f, 1.f) : k == 2 ? std::nextafter(0.5f, 0.f)
                                                          : std::uniform_real_distribution<float>(0, 1)(rng);
    }
    const int H = 1 + rng() % 60, W = 1 + rng() % 60;
    std::uniform_real_distribution<float> u(-10.f, 70.f);
    float box[4] = {u(rng), u(rng), u(rng), u(rng)};
    if (box[2] < box[0]) std::swap(box[0], box[2]);
    if (box[3] < box[1]) std::swap(box[1], box[3]);
    if (t % 5 == 0) {  // tiny boxes
      box[2] = box[0] + 0.01f * (rng() % 200);
      box[3] = box[1] + 0.01f * (rng() % 200);
    }
    MaskRegion a = paste_mask_ref(m.data(), M, box, H, W, 0.5f);
    MaskRegion b = paste_mask_cpu(m.data(), M, box, H, W, 0.5f);
    ASSERT_EQ(a.x0, b.x0);
    ASSERT_EQ(a.y0, b.y0);
    ASSERT_EQ(a.w, b.w);
    ASSERT_EQ(a.h, b.h);
    ASSERT_EQ(a.bits, b.bits) << "t=" << t;
    ASSERT_EQ(rle_encode(a).counts, rle_encode_dense(dense(a).data(), H, W).counts);
  }
}

TEST(PasteMask, MatchDetectron2) {
  std::ifstream f(std::string(MASKRT_TEST_DATA) + "/unit/data/detops/paste_mask.json");
  ASSERT_TRUE(f.good()) << "run tools/reference/make_detops_fixtures.py";
  nlohmann::json j = nlohmann::json::parse(f);
  ASSERT_GE(j["cases"].size(), 5u);
  for (const auto& c : j["cases"]) {
    const std::vector<float> m = hex_floats(c["mask"]);
    const std::vector<float> box = hex_floats(c["box"]);
    const int M = c["mask_size"], H = c["img_h"], W = c["img_w"];
    const std::string expect = c["rle"];
    for (bool cpu : {false, true}) {
      MaskRegion r = cpu ? paste_mask_cpu(m.data(), M, box.data(), H, W, 0.5f)
                         : paste_mask_ref(m.data(), M, box.data(), H, W, 0.5f);
      RleMask rle = rle_encode(r);
      EXPECT_EQ(rle.to_coco_string(), expect) << c["name"] << (cpu ? " cpu" : " ref");
      EXPECT_EQ(rle.area(), c["area"].get<int64_t>()) << c["name"];
    }
  }
}
