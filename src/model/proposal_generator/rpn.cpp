#include "model/proposal_generator/rpn.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "ops/anchors/anchors.h"
#include "ops/box_transform/box_transform.h"
#include "ops/nms/nms.h"

namespace maskrt {

namespace {
template <typename T>
const T& per_level(const std::vector<T>& v, size_t level, const char* key) {
  MASKRT_CHECK(v.size() == 1 || level < v.size(), ErrorCode::kBadConfig, key, ": has ", v.size(),
               " entries, but the model has more feature levels");
  return v.size() == 1 ? v[0] : v[level];
}
}  // namespace

RPN::RPN(const ModelSpec& spec, WeightStore& ws, int in_channels, const std::vector<int>& strides)
    : spec_(spec), strides_(strides) {
  MASKRT_CHECK(spec.anchor_sizes.size() == 1 || spec.anchor_sizes.size() == strides.size(), ErrorCode::kBadConfig,
               "MODEL.ANCHOR_GENERATOR.SIZES: ", spec.anchor_sizes.size(), " lists for ", strides.size(),
               " feature levels");
  for (size_t l = 0; l < strides.size(); ++l) {
    cell_anchors_.push_back(ops::cell_anchors(per_level(spec.anchor_sizes, l, "MODEL.ANCHOR_GENERATOR.SIZES"),
                                              per_level(spec.anchor_aspect_ratios, l,
                                                        "MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS")));
  }
  num_anchors_ = static_cast<int>(cell_anchors_[0].size(0));
  for (const auto& c : cell_anchors_)
    MASKRT_CHECK(c.size(0) == num_anchors_, ErrorCode::kBadConfig,
                 "MODEL.ANCHOR_GENERATOR: every level must have the same number of anchors (StandardRPNHead)");
  MASKRT_CHECK(spec.rpn_head_conv_dims == -1 || spec.rpn_head_conv_dims == in_channels, ErrorCode::kUnsupported,
               "MODEL.RPN.CONV_DIMS: only [-1] (one conv with the input width) is supported");
  const std::string p = "proposal_generator.rpn_head";
  conv_ = ConvLayer::load(ws, p + ".conv", in_channels, in_channels, 3, 1, 1, 1, true, "", true);
  objectness_logits_ = ConvLayer::load(ws, p + ".objectness_logits", in_channels, num_anchors_, 1, 1, 0, 1, true, "", false);
  anchor_deltas_ = ConvLayer::load(ws, p + ".anchor_deltas", in_channels, num_anchors_ * 4, 1, 1, 0, 1, true, "", false);
}

Proposals RPN::forward(const std::vector<Tensor>& features, int image_h, int image_w) const {
  const int A = num_anchors_;
  ops::BoxTransformParams bt;
  bt.weights = spec_.rpn_bbox_reg_weights;
  bt.scale_clamp = spec_.bbox_reg_scale_clamp;

  std::vector<float> cand_boxes;  // (M, 4)
  std::vector<float> cand_scores;
  std::vector<int64_t> cand_level;
  for (size_t l = 0; l < features.size(); ++l) {
    const Tensor& f = features[l];
    const int H = static_cast<int>(f.size(2)), W = static_cast<int>(f.size(3));
    const Tensor t = conv_.forward(f);
    const Tensor logits = objectness_logits_.forward(t);  // (1, A, H, W)
    const Tensor deltas = anchor_deltas_.forward(t);      // (1, A*4, H, W)
    const int64_t HWA = static_cast<int64_t>(H) * W * A;
    // (1, A, H, W) -> flattened (H, W, A) order, as Detectron2's permute(0, 2, 3, 1).flatten(1).
    std::vector<float> scores(HWA);
    for (int a = 0; a < A; ++a)
      for (int64_t yx = 0; yx < static_cast<int64_t>(H) * W; ++yx) scores[yx * A + a] = logits[a * H * W + yx];
    const int64_t k = std::min<int64_t>(spec_.rpn_pre_nms_topk_test, HWA);
    std::vector<int64_t> order(HWA);
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int64_t i, int64_t j) {
      return scores[i] > scores[j] || (scores[i] == scores[j] && i < j);
    });
    order.resize(k);
    // Decode only the selected anchors (identical to decoding all, then gathering).
    const Tensor grid = ops::grid_anchors(cell_anchors_[l], H, W, static_cast<float>(strides_[l]), spec_.anchor_offset);
    Tensor sel_anchors = Tensor::empty({k, 4});
    Tensor sel_deltas = Tensor::empty({k, 4});
    for (int64_t i = 0; i < k; ++i) {
      const int64_t idx = order[i];
      const int64_t yx = idx / A;
      const int a = static_cast<int>(idx % A);
      for (int c = 0; c < 4; ++c) {
        sel_anchors[i * 4 + c] = grid[idx * 4 + c];
        // channel layout (A, 4) -> channel a*4 + c at spatial yx
        sel_deltas[i * 4 + c] = deltas[(static_cast<int64_t>(a) * 4 + c) * H * W + yx];
      }
    }
    const Tensor boxes = ops::apply_deltas(bt, sel_anchors, sel_deltas);
    for (int64_t i = 0; i < k; ++i) {
      for (int c = 0; c < 4; ++c) cand_boxes.push_back(boxes[i * 4 + c]);
      cand_scores.push_back(scores[order[i]]);
      cand_level.push_back(static_cast<int64_t>(l));
    }
  }
  // Drop non-finite, clip, drop empty.
  const int64_t M = static_cast<int64_t>(cand_scores.size());
  std::vector<float> kb;
  std::vector<float> ks;
  std::vector<int64_t> kl;
  kb.reserve(M * 4);
  const float fh = static_cast<float>(image_h), fw = static_cast<float>(image_w);
  for (int64_t i = 0; i < M; ++i) {
    float b[4] = {cand_boxes[i * 4], cand_boxes[i * 4 + 1], cand_boxes[i * 4 + 2], cand_boxes[i * 4 + 3]};
    if (!(std::isfinite(b[0]) && std::isfinite(b[1]) && std::isfinite(b[2]) && std::isfinite(b[3]) &&
          std::isfinite(cand_scores[i])))
      continue;
    b[0] = std::clamp(b[0], 0.f, fw);
    b[1] = std::clamp(b[1], 0.f, fh);
    b[2] = std::clamp(b[2], 0.f, fw);
    b[3] = std::clamp(b[3], 0.f, fh);
    if (!(b[2] - b[0] > spec_.proposal_min_size && b[3] - b[1] > spec_.proposal_min_size)) continue;
    kb.insert(kb.end(), b, b + 4);
    ks.push_back(cand_scores[i]);
    kl.push_back(cand_level[i]);
  }
  const int64_t R = static_cast<int64_t>(ks.size());
  Tensor all_boxes({R, 4}, std::move(kb));
  std::vector<int64_t> keep = ops::batched_nms_cpu(all_boxes, ks, kl, spec_.rpn_nms_thresh);
  if (static_cast<int64_t>(keep.size()) > spec_.rpn_post_nms_topk_test) keep.resize(spec_.rpn_post_nms_topk_test);
  Proposals out;
  out.proposal_boxes = Tensor::empty({static_cast<int64_t>(keep.size()), 4});
  for (size_t i = 0; i < keep.size(); ++i) {
    for (int c = 0; c < 4; ++c) out.proposal_boxes[i * 4 + c] = all_boxes[keep[i] * 4 + c];
    out.objectness_logits.push_back(ks[keep[i]]);
  }
  return out;
}

}  // namespace maskrt
