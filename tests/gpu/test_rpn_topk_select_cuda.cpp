// rpn_proposals_cuda: the kSelect top-k / block merge against the kSort path (one CUB device radix sort
// over every anchor, the previous implementation). Both must give bit-identical outputs (count, boxes,
// logits, zero rows) for any input: seeded sweeps over level sizes from 1x1 up to 200x272 (x3 anchors),
// PRE_NMS_TOPK 1, 7, 999, 1000 and the block-capacity edges, heavy ties (a handful of values, all
// equal, fp16-rounded logits, everything inside one histogram bin, +-0), magnitudes outside the
// histogram window, and sprinkled +-Inf and NaN logits (both signs, several payloads). The CPU-model
// comparison of both paths is in test_rpn_proposals_cuda.cpp.
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cuda_test_util.h"
#include "ops/anchors/anchors.h"
#include "ops/rpn_proposals/rpn_proposals_cuda.h"

namespace maskrt {
namespace {
using test::DeviceBuffer;

enum class Logits {
  kNormal,      // N(0, 3)
  kHandful,     // a few values, +0 and -0 among them
  kAllEqual,    // one value everywhere: the top-k is the first k flattened indices
  kHalf,        // N(0, 3) rounded to fp16 (the fp16 head's ties)
  kOneBin,      // 1 + [0, 2^-8): every logit in one histogram bin (the exact-select fallback)
  kTiny,        // |x| < 2^-6 and +-0: clamped into the two middle bins
  kHuge,        // |x| >= 2^10: clamped into the edge bins
};

struct Case {
  int image_h, image_w;
  int num_levels, num_anchors;
  int pre, post;
  float nms;
  Logits logits;
  int non_finite_per_mille;  // +-Inf / NaN logits sprinkled
};

float bits_to_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

float round_to_half(float x) {  // round to 11 significant bits (fp16's, ignoring its exponent range)
  if (!std::isfinite(x) || x == 0.f) return x;
  int e = 0;
  std::frexp(x, &e);
  return std::ldexp(std::nearbyint(std::ldexp(x, 11 - e)), e - 11);
}

struct Output {
  int count = 0;
  std::vector<float> boxes, logits;
};

struct Problem {
  ops::RpnProposalsCudaParams p;
  ops::RpnLevelInputs in;
  std::vector<DeviceBuffer> bufs;
};

void make_problem(const Case& cs, uint32_t seed, Problem* pr) {
  std::mt19937 rng(seed);
  ops::RpnProposalsCudaParams& p = pr->p;
  p.num_levels = cs.num_levels;
  p.num_anchors = cs.num_anchors;
  p.offset = (seed % 2) ? 0.5f : 0.f;
  p.pre_nms_topk = cs.pre;
  p.post_nms_topk = cs.post;
  p.nms_thresh = cs.nms;
  p.min_size = 0.f;
  p.image_h = cs.image_h;
  p.image_w = cs.image_w;
  const int pad_h = (cs.image_h + 31) / 32 * 32, pad_w = (cs.image_w + 31) / 32 * 32;
  std::normal_distribution<float> nd(0.f, 1.f);
  std::uniform_real_distribution<float> ud(0.f, 1.f);
  const float handful[] = {-2.f, -0.5f, 0.f, -0.f, 1.f, 3.f};
  const float special[] = {INFINITY, -INFINITY, bits_to_float(0x7FC00000u), bits_to_float(0xFFC00000u),
                           bits_to_float(0x7FFFFFFFu), bits_to_float(0xFFFFFFFFu), bits_to_float(0x7F800001u)};
  const float equal_value = 0.25f + 0.125f * float(seed % 5);
  const int A = cs.num_anchors;
  std::vector<float> ratios = {0.5f, 1.f, 2.f};
  ratios.resize(A, 1.f);
  for (int l = 0; l < p.num_levels; ++l) {
    const int stride = 4 << l;
    const int H = (pad_h + stride - 1) / stride, W = (pad_w + stride - 1) / stride;
    p.feat_h[l] = H;
    p.feat_w[l] = W;
    p.stride[l] = float(stride);
    const size_t hw = size_t(H) * W;
    std::vector<float> logits(hw * A), deltas(hw * A * 4);
    for (float& v : logits) {
      switch (cs.logits) {
        case Logits::kNormal: v = nd(rng) * 3.f; break;
        case Logits::kHandful: v = handful[rng() % 6]; break;
        case Logits::kAllEqual: v = equal_value; break;
        case Logits::kHalf: v = round_to_half(nd(rng) * 3.f); break;
        case Logits::kOneBin: v = 1.f + std::ldexp(float(rng() % 64), -14); break;
        case Logits::kTiny: v = (rng() % 4 == 0) ? ((rng() % 2) ? 0.f : -0.f) : nd(rng) * 1e-3f; break;
        case Logits::kHuge: v = (nd(rng) < 0 ? -1.f : 1.f) * (1024.f + ud(rng) * 1e6f); break;
      }
      if (cs.non_finite_per_mille > 0 && int(rng() % 1000) < cs.non_finite_per_mille) v = special[rng() % 7];
    }
    for (float& v : deltas) v = nd(rng) * 0.5f;
    const Tensor cell = ops::cell_anchors({float(32 << l)}, ratios);
    pr->bufs.push_back(test::upload(logits));
    pr->bufs.push_back(test::upload(deltas));
    pr->bufs.push_back(test::upload(cell.data(), size_t(A) * 4));
    pr->in.logits[l] = pr->bufs[pr->bufs.size() - 3].as<float>();
    pr->in.deltas[l] = pr->bufs[pr->bufs.size() - 2].as<float>();
    pr->in.cell_anchors[l] = pr->bufs[pr->bufs.size() - 1].as<float>();
  }
}

Output run(const Problem& pr, ops::RpnTopkAlgo algo) {
  ops::RpnProposalsCudaParams p = pr.p;
  p.topk_algo = algo;
  DeviceBuffer ws = test::dirty_workspace(ops::rpn_proposals_workspace_bytes(p));
  DeviceBuffer boxes(size_t(p.post_nms_topk) * 16), logits(size_t(p.post_nms_topk) * 4), count(4);
  MASKRT_CUDA_CHECK(cudaMemset(boxes.get(), 0x5A, boxes.bytes()));  // every row must be written
  MASKRT_CUDA_CHECK(cudaMemset(logits.get(), 0x5A, logits.bytes()));
  ops::rpn_proposals_cuda(p, pr.in, boxes.as<float>(), logits.as<float>(), count.as<int>(), ws.get(), nullptr);
  MASKRT_CUDA_CHECK(cudaDeviceSynchronize());
  Output o;
  o.count = test::download_one<int>(count);
  o.boxes = test::download<float>(boxes, size_t(p.post_nms_topk) * 4);
  o.logits = test::download<float>(logits, p.post_nms_topk);
  return o;
}

void expect_same_bits(const std::vector<float>& a, const std::vector<float>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) {
    uint32_t ua, ub;
    std::memcpy(&ua, &a[i], 4);
    std::memcpy(&ub, &b[i], 4);
    ASSERT_EQ(ua, ub) << what << " element " << i << ": " << a[i] << " vs " << b[i];
  }
}

void compare_paths(const Case& cs, uint32_t seed) {
  Problem pr;
  make_problem(cs, seed, &pr);
  const std::string what = "seed " + std::to_string(seed) + " image " + std::to_string(cs.image_h) + "x" +
                           std::to_string(cs.image_w) + " pre " + std::to_string(cs.pre) + " post " +
                           std::to_string(cs.post) + " logits " + std::to_string(int(cs.logits));
  // Not a kSort-vs-kSort comparison: within the block capacities (every case with pre <= 1000 has at
  // most 5 levels x 1000 candidates) the kSelect run really takes the select and block-merge stages.
  ops::RpnProposalsCudaParams ps = pr.p;
  ps.topk_algo = ops::RpnTopkAlgo::kSelect;
  const ops::RpnProposalsStages st = ops::rpn_proposals_stages(ps);
  if (cs.pre <= 1000 && cs.num_levels <= 5) {
    EXPECT_TRUE(st.select_topk) << what;
    EXPECT_TRUE(st.block_merge) << what;
  }
  ps.topk_algo = ops::RpnTopkAlgo::kSort;
  EXPECT_FALSE(ops::rpn_proposals_stages(ps).select_topk) << what;
  const Output want = run(pr, ops::RpnTopkAlgo::kSort);
  const Output got = run(pr, ops::RpnTopkAlgo::kSelect);
  ASSERT_EQ(got.count, want.count) << what;
  expect_same_bits(got.logits, want.logits, what + " logits");
  expect_same_bits(got.boxes, want.boxes, what + " boxes");
  // Not vacuous: finite inputs keep boxes (with non-finite logits the top k may all be NaN / +Inf).
  if (cs.non_finite_per_mille == 0 && cs.image_h > 32 && cs.image_w > 32) EXPECT_GT(want.count, 0) << what;
}

TEST(RpnTopkSelectCuda, MatchesSortPathTypicalSizes) {
  MASKRT_SKIP_WITHOUT_GPU();
  compare_paths({800, 1088, 5, 3, 1000, 1000, 0.7f, Logits::kNormal, 0}, 1);  // p2 = 200x272x3
  compare_paths({800, 1088, 5, 3, 1000, 1000, 0.7f, Logits::kHalf, 0}, 2);
  compare_paths({800, 1088, 5, 3, 1000, 1000, 0.7f, Logits::kHalf, 3}, 3);
  compare_paths({600, 480, 5, 3, 1000, 1000, 0.7f, Logits::kNormal, 10}, 4);
  compare_paths({512, 512, 5, 3, 1000, 300, 0.5f, Logits::kHandful, 0}, 5);
}

TEST(RpnTopkSelectCuda, MatchesSortPathSmallAndEdgeTopk) {
  MASKRT_SKIP_WITHOUT_GPU();
  const int pres[] = {1, 7, 999, 1000, 1024, 1025, 4096, 4097};
  const int posts[] = {1, 3, 1000, 2000};
  uint32_t seed = 100;
  for (int pre : pres)
    for (int post : posts) {
      compare_paths({320, 448, 5, 3, pre, post, 0.7f, Logits::kNormal, 2}, seed++);
      compare_paths({320, 448, 5, 3, pre, post, 0.7f, Logits::kHandful, 0}, seed++);
    }
  compare_paths({800, 1088, 5, 3, 4096, 1000, 0.7f, Logits::kHalf, 1}, seed++);  // k = the block capacity
}

TEST(RpnTopkSelectCuda, MatchesSortPathHeavyTiesAndOverflow) {
  MASKRT_SKIP_WITHOUT_GPU();
  const Logits kinds[] = {Logits::kAllEqual, Logits::kOneBin, Logits::kTiny, Logits::kHuge, Logits::kHandful};
  const int pres[] = {1, 7, 999, 1000};
  uint32_t seed = 300;
  for (Logits kind : kinds)
    for (int pre : pres) {
      compare_paths({800, 1088, 5, 3, pre, 1000, 0.7f, kind, 0}, seed++);
      compare_paths({800, 1088, 5, 3, pre, 1000, 0.7f, kind, 20}, seed++);
      compare_paths({128, 96, 5, 3, pre, 1000, 0.7f, kind, 5}, seed++);
    }
}

TEST(RpnTopkSelectCuda, MatchesSortPathRandomSweep) {
  MASKRT_SKIP_WITHOUT_GPU();
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> side(1, 900);
  const int pres[] = {1, 7, 999, 1000, 50, 2000};
  for (uint32_t s = 0; s < 40; ++s) {
    Case c{side(rng),
           side(rng),
           1 + int(rng() % 5),
           1 + int(rng() % 3),
           pres[rng() % 6],
           1 + int(rng() % 1500),
           (s % 3 == 0) ? 0.5f : (s % 3 == 1 ? 0.7f : 1.f),
           Logits(rng() % 7),
           int(rng() % 3) * 10};
    compare_paths(c, 500 + s);
  }
}

TEST(RpnTopkSelectCuda, TinyLevels) {
  MASKRT_SKIP_WITHOUT_GPU();
  compare_paths({1, 1, 5, 3, 1000, 1000, 0.7f, Logits::kNormal, 0}, 900);  // 3 anchors per level
  compare_paths({1, 1, 5, 3, 1, 1, 0.7f, Logits::kAllEqual, 0}, 901);
  compare_paths({16, 40, 5, 1, 5, 3, 0.7f, Logits::kHandful, 0}, 902);
  compare_paths({40, 16, 1, 3, 1000, 1000, 1.f, Logits::kNormal, 50}, 903);
}

}  // namespace
}  // namespace maskrt
