// CUDA rpn_proposals vs a CPU oracle that follows src/model/proposal_generator/rpn.cpp step by step
// from the head outputs (partial sort by logit with index ties, ops::grid_anchors, ops::apply_deltas,
// filter/clip, ops::batched_nms_cpu per level, first POST_NMS_TOPK). Seeded random sweeps; boxes,
// logits, count and order must be identical, for both topk_algo paths (kSort, kSelect). Cases cover the
// coordinate-trick regime (<= 1000 candidates), the per-class regime, tied logits, non-finite deltas,
// and tiny images.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include <gtest/gtest.h>

#include "cuda_test_util.h"
#include "ops/anchors/anchors.h"
#include "ops/box_transform/box_transform.h"
#include "ops/nms/nms.h"
#include "ops/rpn_proposals/rpn_proposals_cuda.h"

namespace maskrt {
namespace {
using test::DeviceBuffer;

struct Level {
  int H, W;
  std::vector<float> logits;  // (A, H, W)
  std::vector<float> deltas;  // (A*4, H, W)
  Tensor cell;                // (A, 4)
};

struct Result {
  std::vector<float> boxes;
  std::vector<float> logits;
};

Result oracle(const ops::RpnProposalsCudaParams& p, const std::vector<Level>& levels) {
  const int A = p.num_anchors;
  ops::BoxTransformParams bt;
  for (int i = 0; i < 4; ++i) bt.weights[i] = p.weights[i];
  bt.scale_clamp = p.scale_clamp;
  std::vector<float> cb, cs;
  std::vector<int64_t> cl;
  for (size_t l = 0; l < levels.size(); ++l) {
    const Level& L = levels[l];
    const int H = L.H, W = L.W;
    const int64_t HWA = int64_t{H} * W * A;
    std::vector<float> scores(HWA);
    for (int a = 0; a < A; ++a)
      for (int64_t yx = 0; yx < int64_t{H} * W; ++yx) scores[yx * A + a] = L.logits[a * H * W + yx];
    const int64_t k = std::min<int64_t>(p.pre_nms_topk, HWA);
    std::vector<int64_t> order(HWA);
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int64_t i, int64_t j) {
      return scores[i] > scores[j] || (scores[i] == scores[j] && i < j);
    });
    const Tensor grid = ops::grid_anchors(L.cell, H, W, p.stride[l], p.offset);
    Tensor sa = Tensor::empty({k, 4}), sd = Tensor::empty({k, 4});
    for (int64_t i = 0; i < k; ++i) {
      const int64_t idx = order[i], yx = idx / A;
      const int a = static_cast<int>(idx % A);
      for (int c = 0; c < 4; ++c) {
        sa[i * 4 + c] = grid[idx * 4 + c];
        sd[i * 4 + c] = L.deltas[(int64_t{a} * 4 + c) * H * W + yx];
      }
    }
    const Tensor boxes = ops::apply_deltas(bt, sa, sd);
    for (int64_t i = 0; i < k; ++i) {
      for (int c = 0; c < 4; ++c) cb.push_back(boxes[i * 4 + c]);
      cs.push_back(scores[order[i]]);
      cl.push_back(static_cast<int64_t>(l));
    }
  }
  std::vector<float> kb, ks;
  std::vector<int64_t> kl;
  const float fh = float(p.image_h), fw = float(p.image_w);
  for (size_t i = 0; i < cs.size(); ++i) {
    float b[4] = {cb[i * 4], cb[i * 4 + 1], cb[i * 4 + 2], cb[i * 4 + 3]};
    if (!(std::isfinite(b[0]) && std::isfinite(b[1]) && std::isfinite(b[2]) && std::isfinite(b[3]) &&
          std::isfinite(cs[i])))
      continue;
    b[0] = std::clamp(b[0], 0.f, fw);
    b[1] = std::clamp(b[1], 0.f, fh);
    b[2] = std::clamp(b[2], 0.f, fw);
    b[3] = std::clamp(b[3], 0.f, fh);
    if (!(b[2] - b[0] > p.min_size && b[3] - b[1] > p.min_size)) continue;
    kb.insert(kb.end(), b, b + 4);
    ks.push_back(cs[i]);
    kl.push_back(cl[i]);
  }
  const int64_t R = static_cast<int64_t>(ks.size());
  Tensor all({R, 4}, kb);
  std::vector<int64_t> keep = ops::batched_nms_cpu(all, ks, kl, p.nms_thresh);
  if (static_cast<int64_t>(keep.size()) > p.post_nms_topk) keep.resize(p.post_nms_topk);
  Result r;
  for (int64_t i : keep) {
    for (int c = 0; c < 4; ++c) r.boxes.push_back(kb[i * 4 + c]);
    r.logits.push_back(ks[i]);
  }
  return r;
}

struct Case {
  int image_h, image_w;
  int pre, post;
  float nms, min_size;
  bool tied_logits;
  bool bad_deltas;
  bool one_value = false;  // every logit equal: the top-k is the first k flattened indices
};

void run_case(const Case& cs, uint32_t seed) {
  std::mt19937 rng(seed);
  ops::RpnProposalsCudaParams p;
  p.num_levels = 5;
  p.num_anchors = 3;
  p.offset = (seed % 2) ? 0.5f : 0.f;
  p.pre_nms_topk = cs.pre;
  p.post_nms_topk = cs.post;
  p.nms_thresh = cs.nms;
  p.min_size = cs.min_size;
  p.image_h = cs.image_h;
  p.image_w = cs.image_w;
  const int pad_h = (cs.image_h + 31) / 32 * 32, pad_w = (cs.image_w + 31) / 32 * 32;
  std::normal_distribution<float> nd(0.f, 1.f);
  std::uniform_int_distribution<int> tie(0, 7);
  std::vector<Level> levels;
  std::vector<DeviceBuffer> bufs;
  ops::RpnLevelInputs in;
  for (int l = 0; l < p.num_levels; ++l) {
    const int stride = 4 << l;
    Level L;
    L.H = (pad_h + stride - 1) / stride;
    L.W = (pad_w + stride - 1) / stride;
    p.feat_h[l] = L.H;
    p.feat_w[l] = L.W;
    p.stride[l] = float(stride);
    const size_t hw = size_t(L.H) * L.W;
    L.logits.resize(hw * 3);
    L.deltas.resize(hw * 12);
    for (float& v : L.logits) v = cs.one_value ? 0.5f : cs.tied_logits ? float(tie(rng)) * 0.5f - 1.f : nd(rng) * 3.f;
    for (float& v : L.deltas) v = nd(rng) * 0.5f;
    if (cs.bad_deltas) {
      L.deltas[0] = NAN;
      L.deltas[hw * 2 + 1] = INFINITY;
      L.deltas[hw * 3] = 1e30f;  // dw huge: clamped by scale_clamp
      L.logits[hw - 1] = INFINITY;
    }
    L.cell = ops::cell_anchors({float(32 << l)}, {0.5f, 1.f, 2.f});
    bufs.push_back(test::upload(L.logits));
    bufs.push_back(test::upload(L.deltas));
    bufs.push_back(test::upload(L.cell.data(), 12));
    in.logits[l] = bufs[bufs.size() - 3].as<float>();
    in.deltas[l] = bufs[bufs.size() - 2].as<float>();
    in.cell_anchors[l] = bufs[bufs.size() - 1].as<float>();
    levels.push_back(std::move(L));
  }
  const Result want = oracle(p, levels);
  // Both top-k / merge implementations (rpn_proposals_cuda.h) against the same oracle.
  for (ops::RpnTopkAlgo algo : {ops::RpnTopkAlgo::kSort, ops::RpnTopkAlgo::kSelect}) {
    p.topk_algo = algo;
    SCOPED_TRACE(algo == ops::RpnTopkAlgo::kSort ? "topk_algo kSort" : "topk_algo kSelect");
    DeviceBuffer ws = test::dirty_workspace(ops::rpn_proposals_workspace_bytes(p));
    DeviceBuffer boxes(size_t(p.post_nms_topk) * 16), logits(size_t(p.post_nms_topk) * 4), count(4);
    ops::rpn_proposals_cuda(p, in, boxes.as<float>(), logits.as<float>(), count.as<int>(), ws.get(), nullptr);
    const int n = test::download_one<int>(count);
    const std::vector<float> gb = test::download<float>(boxes, size_t(p.post_nms_topk) * 4);
    const std::vector<float> gl = test::download<float>(logits, p.post_nms_topk);
    ASSERT_EQ(n, static_cast<int>(want.logits.size())) << "seed " << seed;
    for (int i = 0; i < n; ++i) {
      ASSERT_EQ(gl[i], want.logits[i]) << "seed " << seed << " row " << i;
      for (int c = 0; c < 4; ++c) ASSERT_EQ(gb[i * 4 + c], want.boxes[i * 4 + c]) << "seed " << seed << " row " << i;
    }
    for (int i = n; i < p.post_nms_topk; ++i) {
      ASSERT_EQ(gl[i], 0.f);
      for (int c = 0; c < 4; ++c) ASSERT_EQ(gb[i * 4 + c], 0.f);
    }
  }
}

TEST(RpnProposalsCuda, MatchesCpuModelTypicalSizes) {
  MASKRT_SKIP_WITHOUT_GPU();
  run_case({800, 1067, 1000, 1000, 0.7f, 0.f, false, false}, 1);
  run_case({600, 480, 1000, 1000, 0.7f, 0.f, false, true}, 2);
  run_case({512, 512, 2000, 1000, 0.7f, 0.f, false, false}, 3);
}

TEST(RpnProposalsCuda, MatchesCpuModelRandomSweep) {
  MASKRT_SKIP_WITHOUT_GPU();
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> side(20, 400);
  for (uint32_t s = 0; s < 25; ++s) {
    Case c{side(rng), side(rng), 50 + int(rng() % 400), 20 + int(rng() % 600), (s % 3 == 0) ? 0.5f : 0.7f,
           (s % 4 == 0) ? 2.f : 0.f, s % 5 == 1, s % 6 == 2};
    run_case(c, 100 + s);
  }
}

TEST(RpnProposalsCuda, TiedLogitsAndTinyImage) {
  MASKRT_SKIP_WITHOUT_GPU();
  run_case({300, 300, 1000, 1000, 0.7f, 0.f, true, false}, 11);
  run_case({1, 1, 1000, 1000, 0.7f, 0.f, false, false}, 12);  // everything clipped away
  run_case({16, 40, 5, 3, 0.7f, 0.f, false, false}, 13);
}

// More tied candidates than kSelect's block holds (p2 has 163200 anchors): its exact radix select.
TEST(RpnProposalsCuda, TiedLogitsBeyondTheSelectBlock) {
  MASKRT_SKIP_WITHOUT_GPU();
  run_case({800, 1088, 1000, 1000, 0.7f, 0.f, true, false}, 14);
  run_case({800, 1088, 1000, 1000, 0.7f, 0.f, false, false, true}, 15);
  run_case({800, 1088, 7, 1000, 0.7f, 0.f, false, false, true}, 16);
}

}  // namespace
}  // namespace maskrt
