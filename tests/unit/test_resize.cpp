// Pillow-exact bilinear resize and Detectron2's ResizeShortestEdge shape rule.
// Oracles: fixtures made by tools/reference/make_resize_fixtures.py with Pillow's
// Image.resize(..., BILINEAR) and Detectron2's get_output_shape; then ref vs cpu on a seeded sweep.
#include <gtest/gtest.h>
#include <zlib.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "maskrt/errors.h"
#include "ops/resize/resize.h"

namespace {

using maskrt::ops::ResizeParams;
const std::string kDir = std::string(MASKRT_TEST_DATA) + "/unit/data/resize/";

std::vector<uint8_t> read_bin(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  EXPECT_TRUE(f.good()) << "cannot open " << path;
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream f(path);
  EXPECT_TRUE(f.good()) << "cannot open " << path;
  return nlohmann::json::parse(f);
}

// Reports the number of differing bytes and the first one, so a failure says where.
::testing::AssertionResult same_pixels(const std::vector<uint8_t>& got, const std::vector<uint8_t>& want,
                                       int width, int channels) {
  if (got.size() != want.size()) return ::testing::AssertionFailure() << "size " << got.size() << " vs " << want.size();
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (got[i] != want[i] && bad++ == 0) first = i;
  if (bad == 0) return ::testing::AssertionSuccess();
  const size_t px = first / channels;
  return ::testing::AssertionFailure() << bad << " bytes differ; first at y=" << px / width << " x=" << px % width
                                       << " c=" << first % channels << ": got " << int(got[first]) << " want "
                                       << int(want[first]);
}

TEST(ResizePillow, MatchesPillowFixtures) {
  const auto manifest = read_json(kDir + "manifest.json");
  ASSERT_GE(manifest["cases"].size(), 40u);
  for (const auto& c : manifest["cases"]) {
    const std::string name = c["name"];
    SCOPED_TRACE(name);
    ResizeParams p;
    p.in_height = c["in_h"];
    p.in_width = c["in_w"];
    p.out_height = c["out_h"];
    p.out_width = c["out_w"];
    p.channels = c["channels"];
    const auto in = read_bin(kDir + name + ".in.bin");
    const auto want = read_bin(kDir + name + ".out.bin");
    ASSERT_EQ(in.size(), size_t(p.in_height) * p.in_width * p.channels);
    ASSERT_EQ(want.size(), size_t(p.out_height) * p.out_width * p.channels);
    std::vector<uint8_t> ref(want.size(), 0xAB), cpu(want.size(), 0xCD);
    maskrt::ops::resize_bilinear_pillow_ref(p, in.data(), ref.data());
    maskrt::ops::resize_bilinear_pillow_cpu(p, in.data(), cpu.data());
    EXPECT_TRUE(same_pixels(ref, want, p.out_width, p.channels)) << "ref";
    EXPECT_TRUE(same_pixels(cpu, want, p.out_width, p.channels)) << "cpu";
  }
}

// Full-size Detectron2 cases (640x480 -> 1067x800, 1920x1080 -> 1333x750, 4000x3000 -> 1067x800,
// portrait 375x500 -> 800x1067) on the closed-form pattern; Pillow's output is stored as a CRC-32.
TEST(ResizePillow, FullSizePatternMatchesPillowCrc) {
  const auto manifest = read_json(kDir + "manifest.json");
  ASSERT_EQ(manifest["pattern_cases"].size(), 4u);
  for (const auto& c : manifest["pattern_cases"]) {
    ResizeParams p;
    p.in_height = c["in_h"];
    p.in_width = c["in_w"];
    p.out_height = c["out_h"];
    p.out_width = c["out_w"];
    p.channels = 3;
    SCOPED_TRACE(std::to_string(p.in_width) + "x" + std::to_string(p.in_height));
    std::vector<uint8_t> in(size_t(p.in_height) * p.in_width * 3);
    for (int y = 0; y < p.in_height; ++y)
      for (int x = 0; x < p.in_width; ++x)
        for (int ch = 0; ch < 3; ++ch)
          in[(size_t(y) * p.in_width + x) * 3 + ch] =
              uint8_t((3 * int64_t(x) + 5 * int64_t(y) + 85 * ch + ((int64_t(x) * y) >> 4)) & 255);
    std::vector<uint8_t> out(size_t(p.out_height) * p.out_width * 3);
    const uint32_t want = c["out_crc32"].get<uint32_t>();
    maskrt::ops::resize_bilinear_pillow_cpu(p, in.data(), out.data());
    EXPECT_EQ(uint32_t(crc32(0, out.data(), uInt(out.size()))), want) << "cpu";
    if (p.in_height * int64_t(p.in_width) <= 2'100'000) {  // the scalar ref is slow on 4000x3000
      std::fill(out.begin(), out.end(), 0);
      maskrt::ops::resize_bilinear_pillow_ref(p, in.data(), out.data());
      EXPECT_EQ(uint32_t(crc32(0, out.data(), uInt(out.size()))), want) << "ref";
    }
  }
}

// Scalar reference vs optimised version over a seeded sweep (all channel counts 1..4, thread counts).
TEST(ResizePillow, CpuEqualsRefSweep) {
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> size(1, 80), byte(0, 255), chans(1, 4), thr(1, 3);
  for (int iter = 0; iter < 150; ++iter) {
    ResizeParams p;
    p.in_height = size(rng);
    p.in_width = size(rng);
    p.out_height = size(rng);
    p.out_width = size(rng);
    p.channels = chans(rng);
    std::vector<uint8_t> in(size_t(p.in_height) * p.in_width * p.channels);
    for (auto& v : in) v = uint8_t(byte(rng));
    std::vector<uint8_t> ref(size_t(p.out_height) * p.out_width * p.channels), cpu(ref.size());
    maskrt::ops::resize_bilinear_pillow_ref(p, in.data(), ref.data());
    maskrt::ops::resize_bilinear_pillow_cpu(p, in.data(), cpu.data(), thr(rng));
    ASSERT_TRUE(same_pixels(cpu, ref, p.out_width, p.channels))
        << p.in_height << "x" << p.in_width << " -> " << p.out_height << "x" << p.out_width << " c" << p.channels;
  }
}

// Hand-derived: 2 -> 4 pixels (upscale 2x). Centres map to source 0.25, 0.75, 1.25, 1.75 (in pixel-
// centre units: -0.25, 0.25, 0.75, 1.25), weights for (a, b) = (1,0), (.75,.25), (.25,.75), (0,1)
// with edge renormalisation: out = a, (3a+b)/4, (a+3b)/4, b, rounded half up.
TEST(ResizePillow, HandDerivedUpscale) {
  ResizeParams p{1, 2, 1, 4, 1};
  const uint8_t in[2] = {0, 200};
  uint8_t out[4];
  maskrt::ops::resize_bilinear_pillow_ref(p, in, out);
  EXPECT_EQ(out[0], 0);
  EXPECT_EQ(out[1], 50);
  EXPECT_EQ(out[2], 150);
  EXPECT_EQ(out[3], 200);
}

TEST(ResizePillow, RejectsBadParams) {
  uint8_t buf[4] = {};
  EXPECT_THROW(maskrt::ops::resize_bilinear_pillow_cpu({0, 1, 1, 1, 3}, buf, buf), maskrt::Error);
  EXPECT_THROW(maskrt::ops::resize_bilinear_pillow_ref({1, 1, 1, 1, 5}, buf, buf), maskrt::Error);
}

TEST(ResizeShortestEdge, MatchesDetectron2Formula) {
  const auto j = read_json(kDir + "shapes.json");
  ASSERT_GE(j["cases"].size(), 50u);
  for (const auto& c : j["cases"]) {
    const auto got = maskrt::ops::resize_shortest_edge_shape(c[0], c[1], c[2], c[3]);
    EXPECT_EQ(got.first, c[4].get<int>()) << c.dump();
    EXPECT_EQ(got.second, c[5].get<int>()) << c.dump();
  }
  // Hand-checked: 640x480 (w x h) at 800/1333 -> 1067x800; min_size 0 is no resize.
  EXPECT_EQ(maskrt::ops::resize_shortest_edge_shape(480, 640, 800, 1333), std::make_pair(800, 1067));
  EXPECT_EQ(maskrt::ops::resize_shortest_edge_shape(480, 640, 0, 1333), std::make_pair(480, 640));
  EXPECT_THROW(maskrt::ops::resize_shortest_edge_shape(0, 640, 800, 1333), maskrt::Error);
}

}  // namespace
