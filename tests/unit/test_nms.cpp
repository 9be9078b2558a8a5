// NMS. Oracles: hand-derived cases (IoU exactly at the threshold, ties, zero-area boxes, classes);
// torchvision.ops.nms / batched_nms keep lists (tests/unit/data/detops/nms.json; inputs rebuilt here
// from the same integer stream); CPU vs reference over seeded random sweeps.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "ops/nms/nms.h"

using namespace maskrt;
using namespace maskrt::ops;

namespace {
// Same stream as tools/reference/make_detops_fixtures.py lcg_stream.
struct Lcg {
  uint32_t s;
  uint32_t next() {
    s = s * 1664525u + 1013904223u;
    return s >> 8;
  }
};
Tensor boxes_of(std::vector<float> v) {
  const int64_t n = static_cast<int64_t>(v.size() / 4);
  return Tensor({n, 4}, std::move(v));
}
}  // namespace

TEST(Nms, IouExactlyAtThresholdKeeps) {
  // (0,0,4,1) and (0,0,2,1): inter 2, union 4 -> IoU 0.5 exactly: not suppressed at 0.5.
  Tensor b = boxes_of({0, 0, 4, 1, 0, 0, 2, 1});
  EXPECT_EQ(nms_ref(b, {0.9f, 0.8f}, 0.5f), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(batched_nms_cpu(b, {0.9f, 0.8f}, {0, 0}, 0.5f), (std::vector<int64_t>{0, 1}));
  // Slightly more overlap suppresses.
  Tensor c = boxes_of({0, 0, 4, 1, 0, 0, 2.01f, 1});
  EXPECT_EQ(nms_ref(c, {0.9f, 0.8f}, 0.5f), (std::vector<int64_t>{0}));
  EXPECT_EQ(batched_nms_ref(c, {0.9f, 0.8f}, {0, 0}, 0.5f), (std::vector<int64_t>{0}));
}

TEST(Nms, OrderAndTiesByIndex) {
  // Three identical boxes, scores 0.5, 0.7, 0.7: processing order 1, 2, 0 -> only 1 survives.
  Tensor b = boxes_of({0, 0, 10, 10, 0, 0, 10, 10, 0, 0, 10, 10});
  EXPECT_EQ(nms_ref(b, {0.5f, 0.7f, 0.7f}, 0.5f), (std::vector<int64_t>{1}));
  // Disjoint boxes with tied scores come back by index among equals, after higher scores.
  Tensor d = boxes_of({0, 0, 1, 1, 5, 5, 6, 6, 10, 10, 11, 11, 20, 20, 21, 21});
  EXPECT_EQ(nms_ref(d, {0.3f, 0.9f, 0.3f, 0.9f}, 0.5f), (std::vector<int64_t>{1, 3, 0, 2}));
  EXPECT_EQ(batched_nms_cpu(d, {0.3f, 0.9f, 0.3f, 0.9f}, {0, 1, 0, 1}, 0.5f), (std::vector<int64_t>{1, 3, 0, 2}));
}

TEST(Nms, EmptyZeroAreaAndClasses) {
  EXPECT_TRUE(nms_ref(Tensor({0, 4}), {}, 0.5f).empty());
  EXPECT_TRUE(batched_nms_ref(Tensor({0, 4}), {}, {}, 0.5f).empty());
  EXPECT_TRUE(batched_nms_cpu(Tensor({0, 4}), {}, {}, 0.5f).empty());
  // Two identical zero-area boxes: IoU = 0/0 = NaN, which is not > thr: both kept (as torchvision).
  Tensor z = boxes_of({3, 3, 3, 8, 3, 3, 3, 8});
  EXPECT_EQ(nms_ref(z, {0.9f, 0.8f}, 0.5f), (std::vector<int64_t>{0, 1}));
  // Identical boxes of different classes do not suppress each other.
  Tensor s = boxes_of({0, 0, 10, 10, 0, 0, 10, 10, 0, 0, 10, 10});
  EXPECT_EQ(batched_nms_ref(s, {0.9f, 0.8f, 0.7f}, {0, 1, 0}, 0.5f), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(batched_nms_cpu(s, {0.9f, 0.8f, 0.7f}, {0, 1, 0}, 0.5f), (std::vector<int64_t>{0, 1}));
  EXPECT_THROW(nms_ref(s, {0.9f}, 0.5f), maskrt::Error);
  EXPECT_THROW(batched_nms_cpu(s, {0.9f, 0.8f, 0.7f}, {0}, 0.5f), maskrt::Error);
}

TEST(Nms, CpuMatchesRefRandomSweep) {
  std::mt19937 rng(5);
  for (int t = 0; t < 120; ++t) {
    const int n = t < 100 ? 1 + rng() % 300 : 1001 + rng() % 400;  // both torchvision paths
    const int ncls = 1 + rng() % 5;
    std::uniform_real_distribution<float> pos(t % 7 == 0 ? -30.f : 0.f, 200.f), size(0.f, 80.f);
    std::vector<float> v, scores;
    std::vector<int64_t> idxs;
    for (int i = 0; i < n; ++i) {
      float x = pos(rng), y = pos(rng);
      v.insert(v.end(), {x, y, x + size(rng), y + size(rng)});
      scores.push_back(t % 3 == 0 ? static_cast<float>(rng() % 10) / 10.f : std::uniform_real_distribution<float>()(rng));
      idxs.push_back(rng() % ncls);
    }
    Tensor b = boxes_of(v);
    const float thr = (t % 4 == 0) ? 0.7f : 0.5f;
    ASSERT_EQ(batched_nms_cpu(b, scores, idxs, thr), batched_nms_ref(b, scores, idxs, thr)) << "t=" << t;
    if (ncls == 1) {
      std::vector<int64_t> zeros(n, 0);
      if (n <= 1000 && t % 7 != 0) ASSERT_EQ(batched_nms_ref(b, scores, zeros, thr), nms_ref(b, scores, thr));
    }
  }
}

TEST(Nms, MatchTorchvision) {
  std::ifstream f(std::string(MASKRT_TEST_DATA) + "/unit/data/detops/nms.json");
  ASSERT_TRUE(f.good()) << "run tools/reference/make_detops_fixtures.py";
  nlohmann::json j = nlohmann::json::parse(f);
  for (const auto& c : j["cases"]) {
    Lcg g{c["seed"].get<uint32_t>()};
    const int n = c["n"], span = c["span"], max_wh = c["max_wh"], ncls = c["classes"];
    std::vector<float> v(static_cast<size_t>(n) * 4);
    for (int i = 0; i < n; ++i) {
      const uint32_t x = g.next() % span, y = g.next() % span, w = 1 + g.next() % max_wh, h = 1 + g.next() % max_wh;
      v[i * 4 + 0] = static_cast<float>(x) / 7.f;
      v[i * 4 + 1] = static_cast<float>(y) / 7.f;
      v[i * 4 + 2] = static_cast<float>(x + w) / 7.f;
      v[i * 4 + 3] = static_cast<float>(y + h) / 7.f;
    }
    std::vector<int> perm(n);
    for (int i = 0; i < n; ++i) perm[i] = i;
    for (int i = n - 1; i > 0; --i) std::swap(perm[i], perm[g.next() % (i + 1)]);
    std::vector<float> scores(n);
    for (int i = 0; i < n; ++i) scores[i] = (static_cast<float>(perm[i]) + 1.f) / static_cast<float>(n);
    std::vector<int64_t> idxs(n);
    for (int i = 0; i < n; ++i) idxs[i] = g.next() % ncls;
    // The stream must agree with the generator's (first boxes recorded as bits).
    const std::string check = c["boxes_check"];
    char buf[9];
    uint32_t u;
    std::memcpy(&u, &v[0], 4);
    std::snprintf(buf, sizeof buf, "%08x", u);
    ASSERT_EQ(check.substr(0, 8), buf) << c["name"];
    Tensor b = boxes_of(v);
    const std::vector<int64_t> expect = c["keep"].get<std::vector<int64_t>>();
    const float thr = c["iou_threshold"].get<float>();
    if (c["batched"]) {
      EXPECT_EQ(batched_nms_ref(b, scores, idxs, thr), expect) << c["name"];
      EXPECT_EQ(batched_nms_cpu(b, scores, idxs, thr), expect) << c["name"];
    } else {
      EXPECT_EQ(nms_ref(b, scores, thr), expect) << c["name"];
      std::vector<int64_t> zeros(n, 0);
      EXPECT_EQ(batched_nms_cpu(b, scores, zeros, thr), expect) << c["name"];
    }
  }
}
