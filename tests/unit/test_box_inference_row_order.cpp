// Host emulation of box_inference_cuda.cu's one-warp-per-row softmax statistics against the CPU
// model's sequential loops (roi_heads.cpp): m = l[0]; m = std::max(m, l[j]); sum += exp(l[j] - m)
// in column order. The emulation runs the kernel's steps for 32 lanes: each lane folds its strided
// columns (NaN skipped) with take_first_max (the device's own function, row_max_rule.h), then the
// xor-shuffle butterfly; the sum adds 32-column chunks in lane order. Both must give the sequential
// bits, with NaN, +-inf, +-0 and tied maxima. A tree-shaped sum is shown to differ on the same data
// (why the kernel keeps the sequential chain).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "ops/box_inference/row_max_rule.h"

namespace maskrt {
namespace {
using ops::box_inference_detail::take_first_max;

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

float sequential_max(const std::vector<float>& l) {
  float m = l[0];
  for (size_t j = 1; j < l.size(); ++j) m = std::max(m, l[j]);
  return m;
}

float warp_max(const std::vector<float>& l) {
  const int K1 = static_cast<int>(l.size());
  float v[32];
  int vi[32];
  for (int lane = 0; lane < 32; ++lane) {
    v[lane] = 0.f;
    vi[lane] = -1;
    for (int j = lane; j < K1; j += 32)
      if (!std::isnan(l[j])) take_first_max(v[lane], vi[lane], l[j], j);
  }
  for (int off = 16; off > 0; off >>= 1) {  // __shfl_xor_sync: every lane reads its partner's old pair
    float ov[32];
    int oi[32];
    for (int lane = 0; lane < 32; ++lane) {
      ov[lane] = v[lane ^ off];
      oi[lane] = vi[lane ^ off];
    }
    for (int lane = 0; lane < 32; ++lane) take_first_max(v[lane], vi[lane], ov[lane], oi[lane]);
  }
  for (int lane = 1; lane < 32; ++lane) {  // every lane holds the same pair
    EXPECT_EQ(vi[lane], vi[0]);
    EXPECT_EQ(bits(v[lane]), bits(v[0]));
  }
  return std::isnan(l[0]) ? l[0] : v[0];
}

float exp_via_double(float x) { return static_cast<float>(std::exp(static_cast<double>(x))); }

float sequential_sum(const std::vector<float>& l, float m) {
  float sum = 0.f;
  for (float x : l) sum += exp_via_double(x - m);
  return sum;
}

float warp_sum(const std::vector<float>& l, float m) {
  const int K1 = static_cast<int>(l.size());
  float sum = 0.f;
  for (int base = 0; base < K1; base += 32) {
    float e[32];
    for (int lane = 0; lane < 32; ++lane) e[lane] = base + lane < K1 ? exp_via_double(l[base + lane] - m) : 0.f;
    const int n = std::min(32, K1 - base);
    for (int t = 0; t < n; ++t) sum += e[t];
  }
  return sum;
}

float tree_sum(const std::vector<float>& l, float m) {
  std::vector<float> e;
  for (float x : l) e.push_back(exp_via_double(x - m));
  while (e.size() > 1) {
    std::vector<float> next;
    for (size_t i = 0; i < e.size(); i += 2) next.push_back(i + 1 < e.size() ? e[i] + e[i + 1] : e[i]);
    e.swap(next);
  }
  return e[0];
}

std::vector<float> random_row(std::mt19937& rng, int K1, int mode) {
  std::normal_distribution<float> nd(0.f, 2.5f);
  const float kNan = std::numeric_limits<float>::quiet_NaN(), kInf = std::numeric_limits<float>::infinity();
  const float special[] = {kNan, kInf, -kInf, 0.f, -0.f, 1.f, 3e38f, -3e38f};
  std::vector<float> l(K1);
  for (int j = 0; j < K1; ++j) {
    switch (mode) {
      case 0: l[j] = nd(rng); break;                                       // distinct values
      case 1: l[j] = float(int(rng() % 3)) - 2.f; break;                   // ties, maximum 0 or below
      case 2: l[j] = (rng() % 2) ? 0.f : -0.f; break;                      // signed zeros only
      default: l[j] = (rng() % 4) ? nd(rng) : special[rng() % 8]; break;  // non-finite mixed in
    }
  }
  return l;
}

TEST(BoxInferenceRowOrder, WarpMaxEqualsSequentialMaxBitwise) {
  std::mt19937 rng(11);
  for (int K1 : {1, 2, 31, 32, 33, 64, 65, 81, 97, 151, 1204}) {
    for (int mode = 0; mode < 4; ++mode) {
      for (int t = 0; t < 200; ++t) {
        const std::vector<float> l = random_row(rng, K1, mode);
        const float want = sequential_max(l), got = warp_max(l);
        ASSERT_TRUE(bits(got) == bits(want) || (std::isnan(got) && std::isnan(want)))
            << "K1 " << K1 << " mode " << mode << " trial " << t << ": " << got << " vs " << want;
      }
    }
  }
}

TEST(BoxInferenceRowOrder, SignOfZeroMaximumFollowsFirstColumn) {
  // Hand cases: the first zero decides the sign; a NaN after column 0 is skipped; a NaN at column 0 stays.
  const float kNan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(bits(warp_max({-0.f, 0.f})), bits(-0.f));
  EXPECT_EQ(bits(warp_max({0.f, -0.f})), bits(0.f));
  std::vector<float> l(70, -1.f);
  l[40] = -0.f;
  l[8] = 0.f;  // lane 8 holds the first zero; lane 8 also holds column 40
  EXPECT_EQ(bits(warp_max(l)), bits(0.f));
  l[8] = -2.f;
  l[33] = 0.f;  // column 33 (lane 1, second chunk) before column 40
  EXPECT_EQ(bits(warp_max(l)), bits(0.f));
  l[5] = kNan;
  EXPECT_EQ(bits(warp_max(l)), bits(0.f));
  l[0] = kNan;
  EXPECT_TRUE(std::isnan(warp_max(l)));
}

TEST(BoxInferenceRowOrder, ChunkedSumEqualsSequentialSumAndTreeSumDoesNot) {
  std::mt19937 rng(12);
  int tree_differs = 0;
  for (int K1 : {1, 2, 31, 32, 33, 64, 65, 81, 97, 151, 1204}) {
    for (int mode = 0; mode < 4; ++mode) {
      for (int t = 0; t < 100; ++t) {
        const std::vector<float> l = random_row(rng, K1, mode);
        const float m = sequential_max(l);
        const float want = sequential_sum(l, m), got = warp_sum(l, m);
        ASSERT_TRUE(bits(got) == bits(want) || (std::isnan(got) && std::isnan(want))) << "K1 " << K1;
        const float tree = tree_sum(l, m);
        if (!std::isnan(want) && bits(tree) != bits(want)) ++tree_differs;
      }
    }
  }
  EXPECT_GT(tree_differs, 0) << "the summation order should matter for float sums";
}

}  // namespace
}  // namespace maskrt
