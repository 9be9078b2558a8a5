#include "model/roi_heads/roi_heads.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "ops/box_transform/box_transform.h"
#include "ops/conv_transpose2d/conv_transpose2d.h"
#include "ops/nms/nms.h"

namespace maskrt {

namespace {
double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

StandardROIHeads::StandardROIHeads(const ModelSpec& spec, WeightStore& ws, int in_channels,
                                   const std::vector<int>& strides)
    : spec_(spec),
      box_pooler_(spec.box_pooler_resolution, strides, spec.box_pooler_sampling_ratio, spec.box_pooler_type),
      mask_pooler_(spec.mask_pooler_resolution, strides, spec.mask_pooler_sampling_ratio, spec.mask_pooler_type) {
  // Box head: FastRCNNConvFCHead.
  int ch = in_channels;
  const int res = spec.box_pooler_resolution;
  for (int k = 0; k < spec.box_num_conv; ++k) {
    box_convs_.push_back(ConvLayer::load(ws, "roi_heads.box_head.conv" + std::to_string(k + 1), ch, spec.box_conv_dim,
                                         3, 1, 1, 1, true, "", true));
    ch = spec.box_conv_dim;
  }
  int dim = ch * res * res;
  for (int k = 0; k < spec.box_num_fc; ++k) {
    box_fcs_.push_back(LinearLayer::load(ws, "roi_heads.box_head.fc" + std::to_string(k + 1), dim, spec.box_fc_dim, true));
    dim = spec.box_fc_dim;
  }
  box_feature_dim_ = dim;
  const int K = spec.num_classes;
  cls_score_ = LinearLayer::load(ws, "roi_heads.box_predictor.cls_score", dim, K + 1, false);
  bbox_pred_ = LinearLayer::load(ws, "roi_heads.box_predictor.bbox_pred", dim, spec.cls_agnostic_bbox_reg ? 4 : 4 * K,
                                 false);
  if (spec.mask_on) {
    int mch = in_channels;
    for (int k = 0; k < spec.mask_num_conv; ++k) {
      mask_convs_.push_back(ConvLayer::load(ws, "roi_heads.mask_head.mask_fcn" + std::to_string(k + 1), mch,
                                            spec.mask_conv_dim, 3, 1, 1, 1, true, "", true));
      mch = spec.mask_conv_dim;
    }
    deconv_weight_ = ws.take("roi_heads.mask_head.deconv.weight", {mch, spec.mask_conv_dim, 2, 2});
    deconv_bias_ = ws.take("roi_heads.mask_head.deconv.bias", {spec.mask_conv_dim});
    mask_predictor_ = ConvLayer::load(ws, "roi_heads.mask_head.predictor", spec.mask_conv_dim,
                                      spec.cls_agnostic_mask ? 1 : K, 1, 1, 0, 1, true, "", false);
  }
}

Detections StandardROIHeads::box_inference(const Tensor& scores, const Tensor& boxes_per_class, int image_h,
                                           int image_w) const {
  // fast_rcnn_inference_single_image.
  const int64_t R = scores.size(0);
  const int K = spec_.num_classes;
  const int nreg = static_cast<int>(boxes_per_class.size(1) / 4);  // 1 (agnostic) or K
  std::vector<int64_t> rows;
  rows.reserve(R);
  for (int64_t r = 0; r < R; ++r) {
    bool ok = true;
    for (int64_t j = 0; j < boxes_per_class.size(1) && ok; ++j) ok = std::isfinite(boxes_per_class[r * boxes_per_class.size(1) + j]);
    for (int j = 0; j <= K && ok; ++j) ok = std::isfinite(scores[r * (K + 1) + j]);
    if (ok) rows.push_back(r);
  }
  const float fh = static_cast<float>(image_h), fw = static_cast<float>(image_w);
  // Candidates in row-major (proposal, class) order: what `filter_mask.nonzero()` yields.
  std::vector<float> cb;
  std::vector<float> cs;
  std::vector<int64_t> cc;
  for (int64_t r : rows) {
    for (int k = 0; k < K; ++k) {
      const float s = scores[r * (K + 1) + k];
      if (!(s > spec_.score_thresh_test)) continue;
      const float* b = boxes_per_class.data() + r * nreg * 4 + (nreg == 1 ? 0 : k * 4);
      cb.push_back(std::clamp(b[0], 0.f, fw));
      cb.push_back(std::clamp(b[1], 0.f, fh));
      cb.push_back(std::clamp(b[2], 0.f, fw));
      cb.push_back(std::clamp(b[3], 0.f, fh));
      cs.push_back(s);
      cc.push_back(k);
    }
  }
  const int64_t M = static_cast<int64_t>(cs.size());
  Tensor cand({M, 4}, std::move(cb));
  std::vector<int64_t> keep = ops::batched_nms_cpu(cand, cs, cc, spec_.nms_thresh_test);
  if (static_cast<int64_t>(keep.size()) > spec_.detections_per_image) keep.resize(spec_.detections_per_image);
  Detections d;
  d.pred_boxes = Tensor::empty({static_cast<int64_t>(keep.size()), 4});
  for (size_t i = 0; i < keep.size(); ++i) {
    for (int c = 0; c < 4; ++c) d.pred_boxes[i * 4 + c] = cand[keep[i] * 4 + c];
    d.scores.push_back(cs[keep[i]]);
    d.pred_classes.push_back(static_cast<int>(cc[keep[i]]));
  }
  return d;
}

Detections StandardROIHeads::forward(const std::vector<Tensor>& features, const Proposals& proposals, int image_h,
                                     int image_w, BoxHeadDebug* debug, double* box_ms, double* mask_ms) const {
  auto t0 = std::chrono::steady_clock::now();
  const Tensor& pboxes = proposals.proposal_boxes;
  const int64_t R = pboxes.size(0);
  Tensor x = box_pooler_.forward(features, pboxes);  // (R, C, 7, 7)
  for (const auto& c : box_convs_) x = c.forward(x);
  x = x.reshape({R, x.numel() / std::max<int64_t>(R, 1)});
  if (R == 0) x = Tensor::empty({0, box_feature_dim_});
  for (const auto& fc : box_fcs_) x = fc.forward(x);
  Tensor logits = cls_score_.forward(x);  // (R, K+1)
  Tensor deltas = bbox_pred_.forward(x);  // (R, 4K) or (R, 4)
  // Softmax over K+1 in float32 (max-subtracted, like torch's softmax). exp is taken in double and
  // rounded to float, as in box_transform.cpp and every CUDA kernel (exp_via_double), so the CPU and
  // CUDA fp32 paths compute the same scores bit for bit.
  const int K1 = spec_.num_classes + 1;
  const auto exp_f = [](float v) { return static_cast<float>(std::exp(static_cast<double>(v))); };
  Tensor scores = Tensor::empty({R, K1});
  for (int64_t r = 0; r < R; ++r) {
    const float* l = logits.data() + r * K1;
    float m = l[0];
    for (int j = 1; j < K1; ++j) m = std::max(m, l[j]);
    float sum = 0.f;
    for (int j = 0; j < K1; ++j) sum += exp_f(l[j] - m);
    for (int j = 0; j < K1; ++j) scores[r * K1 + j] = exp_f(l[j] - m) / sum;
  }
  if (debug) {
    debug->scores = scores;
    debug->deltas = deltas;
  }
  // Decode per class against the proposal boxes.
  ops::BoxTransformParams bt;
  bt.weights = spec_.box_bbox_reg_weights;
  bt.scale_clamp = spec_.bbox_reg_scale_clamp;
  const Tensor boxes = ops::apply_deltas(bt, pboxes, deltas);
  Detections det = box_inference(scores, boxes, image_h, image_w);
  if (box_ms) *box_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

  if (spec_.mask_on) {
    t0 = std::chrono::steady_clock::now();
    const int64_t D = det.pred_boxes.size(0);
    const int M = 2 * spec_.mask_pooler_resolution;
    det.mask_probs = Tensor::empty({D, M, M});
    if (D > 0) {
      Tensor m = mask_pooler_.forward(features, det.pred_boxes);
      for (const auto& c : mask_convs_) m = c.forward(m);
      m = ops::conv_transpose2x2_cpu(m, deconv_weight_, deconv_bias_, true);
      m = mask_predictor_.forward(m);  // (D, K or 1, M, M)
      const int64_t nch = m.size(1);
      for (int64_t i = 0; i < D; ++i) {
        const int64_t ch = nch == 1 ? 0 : det.pred_classes[i];
        const float* src = m.data() + (i * nch + ch) * M * M;
        float* dst = det.mask_probs.data() + i * M * M;
        for (int j = 0; j < M * M; ++j)  // exp in double, as the CUDA mask sigmoid
          dst[j] = 1.0f / (1.0f + static_cast<float>(std::exp(static_cast<double>(-src[j]))));
      }
    }
    if (mask_ms) *mask_ms = ms_since(t0);
  }
  return det;
}

}  // namespace maskrt
