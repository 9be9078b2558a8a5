#include "model/cuda/roi_heads_cuda.h"

#include <cmath>

#include "ops/small_cuda/small_ops_cuda.h"

namespace maskrt::cuda {

CudaROIHeads::CudaROIHeads(const ModelSpec& spec, WeightStore& ws, int in_channels, const std::vector<int>& strides,
                           Precision precision, bool tf32_nhwc)
    : spec_(spec), precision_(precision), nhwc_(activation_layout(precision, tf32_nhwc) == Layout::kNHWC),
      strides_(strides) {
  const Layout layout = activation_layout(precision, tf32_nhwc);
  for (const std::string& t : {spec.box_pooler_type, spec.mask_pooler_type})
    MASKRT_CHECK(t == "ROIAlignV2" || t == "ROIAlign", ErrorCode::kUnsupported, "POOLER_TYPE: '", t,
                 "' is not supported (ROIAlignV2 or ROIAlign)");
  const int res = spec.box_pooler_resolution;
  int ch = in_channels;
  for (int k = 0; k < spec.box_num_conv; ++k) {
    const std::string n = "roi_heads.box_head.conv" + std::to_string(k + 1);
    box_convs_.emplace_back(ConvLayer::load(ws, n, ch, spec.box_conv_dim, 3, 1, 1, 1, true, "", true), precision,
                            ConvEpilogue::kBiasRelu, n, 0, layout);
    ch = spec.box_conv_dim;
  }
  int dim = ch * res * res;
  for (int k = 0; k < spec.box_num_fc; ++k) {
    const std::string n = "roi_heads.box_head.fc" + std::to_string(k + 1);
    std::vector<int> perm;
    if (k == 0 && nhwc_) {
      // Device column j = (y*res + x)*C + c reads checkpoint column c*res*res + y*res + x.
      perm.resize(dim);
      for (int yx = 0; yx < res * res; ++yx)
        for (int c = 0; c < ch; ++c) perm[yx * ch + c] = c * res * res + yx;
    }
    box_fcs_.emplace_back(LinearLayer::load(ws, n, dim, spec.box_fc_dim, true), precision, false, n, perm);
    dim = spec.box_fc_dim;
  }
  const int K = spec.num_classes;
  std::vector<int> pred_perm;
  if (spec.box_num_fc == 0 && nhwc_) {  // predictors read the pooled features directly
    pred_perm.resize(dim);
    for (int yx = 0; yx < res * res; ++yx)
      for (int c = 0; c < ch; ++c) pred_perm[yx * ch + c] = c * res * res + yx;
  }
  cls_score_ = LinearCublas(LinearLayer::load(ws, "roi_heads.box_predictor.cls_score", dim, K + 1, false), precision,
                            true, "roi_heads.box_predictor.cls_score", pred_perm);
  bbox_pred_ = LinearCublas(LinearLayer::load(ws, "roi_heads.box_predictor.bbox_pred", dim,
                                              spec.cls_agnostic_bbox_reg ? 4 : 4 * K, false),
                            precision, true, "roi_heads.box_predictor.bbox_pred", pred_perm);
  if (spec.mask_on) {
    int mch = in_channels;
    for (int k = 0; k < spec.mask_num_conv; ++k) {
      const std::string n = "roi_heads.mask_head.mask_fcn" + std::to_string(k + 1);
      mask_convs_.emplace_back(ConvLayer::load(ws, n, mch, spec.mask_conv_dim, 3, 1, 1, 1, true, "", true), precision,
                               ConvEpilogue::kBiasRelu, n, 0, layout);
      mch = spec.mask_conv_dim;
    }
    const Tensor dw = ws.take("roi_heads.mask_head.deconv.weight", {mch, spec.mask_conv_dim, 2, 2});
    const Tensor db = ws.take("roi_heads.mask_head.deconv.bias", {spec.mask_conv_dim});
    deconv_ = DeconvCublas(dw, db, true, precision, "roi_heads.mask_head.deconv", layout);
    mask_predictor_ = ConvCudnn(ConvLayer::load(ws, "roi_heads.mask_head.predictor", spec.mask_conv_dim,
                                                spec.cls_agnostic_mask ? 1 : K, 1, 1, 0, 1, true, "", false),
                                precision, ConvEpilogue::kBias, "roi_heads.mask_head.predictor", 0, layout);
  }
}

ops::RoiAlignMultiLevelCudaParams CudaROIHeads::roi_params(const std::vector<DeviceTensor>& features, int resolution,
                                                           int sampling_ratio, const std::string& type,
                                                           int capacity) const {
  ops::RoiAlignMultiLevelCudaParams p;
  p.num_levels = static_cast<int>(features.size());
  p.min_level = static_cast<int>(std::lround(std::log2(strides_.front())));
  p.max_level = static_cast<int>(std::lround(std::log2(strides_.back())));
  MASKRT_CHECK(p.max_level - p.min_level + 1 == p.num_levels, ErrorCode::kBadConfig,
               "ROI_HEADS.IN_FEATURES: pooled levels must be consecutive");
  p.channels = features[0].c;
  for (size_t l = 0; l < features.size(); ++l) {
    p.feat_h[l] = features[l].h;
    p.feat_w[l] = features[l].w;
    p.spatial_scale[l] = 1.0f / static_cast<float>(strides_[l]);
  }
  p.resolution = resolution;
  p.sampling_ratio = sampling_ratio;
  p.aligned = type == "ROIAlignV2";
  p.roi_capacity = capacity;
  if (nhwc_) {
    p.in_layout = p.out_layout =
        precision_ == Precision::kFP16 ? ops::CudaLayout::kNhwcFp16 : ops::CudaLayout::kNhwcFp32;
    p.in_c_stride = p.out_c_stride = p.channels;
  }
  ops::validate_roi_align_multilevel(p);
  return p;
}

void CudaROIHeads::carve(Carver& c, const std::vector<DeviceTensor>& features, int image_h, int image_w,
                         const DetectionOutputs& out, Buffers* b) {
  *b = Buffers{};
  b->out = out;
  const int R = roi_capacity(), D = detection_capacity(), C = features[0].c;
  const int res = spec_.box_pooler_resolution;
  b->box_roi = roi_params(features, res, spec_.box_pooler_sampling_ratio, spec_.box_pooler_type, R);
  b->box_pooled = c.act(R, C, res, res);
  DeviceTensor x = b->box_pooled;
  for (ConvCudnn& conv : box_convs_) {
    c.plan(conv, R, res, res);
    x = c.act(R, conv.out_channels(), res, res);
    b->box_convs.push_back(x);
  }
  for (LinearCublas& fc : box_fcs_) {
    c.plan(fc, R);
    b->box_fcs.push_back(c.tensor(R, fc.out_features(), 1, 1, fc.out_dtype(), Layout::kNCHW));
  }
  c.plan(cls_score_, R);
  c.plan(bbox_pred_, R);
  b->cls_logits = c.f32(R, cls_score_.out_features());
  b->box_deltas = c.f32(R, bbox_pred_.out_features());
  ops::BoxInferenceCudaParams& bi = b->box_inf;
  bi.roi_capacity = R;
  bi.num_classes = spec_.num_classes;
  bi.class_agnostic = spec_.cls_agnostic_bbox_reg;
  bi.score_thresh = spec_.score_thresh_test;
  bi.nms_thresh = spec_.nms_thresh_test;
  bi.detections_per_image = D;
  bi.image_h = image_h;
  bi.image_w = image_w;
  for (int i = 0; i < 4; ++i) bi.weights[i] = spec_.box_bbox_reg_weights[i];
  bi.scale_clamp = spec_.bbox_reg_scale_clamp;
  ops::validate_box_inference(bi);
  c.need_workspace(ops::box_inference_workspace_bytes(bi));
  if (!spec_.mask_on) return;
  const int mres = spec_.mask_pooler_resolution;
  b->mask_roi = roi_params(features, mres, spec_.mask_pooler_sampling_ratio, spec_.mask_pooler_type, D);
  b->mask_pooled = c.act(D, C, mres, mres);
  for (ConvCudnn& conv : mask_convs_) {
    c.plan(conv, D, mres, mres);
    b->mask_convs.push_back(c.act(D, conv.out_channels(), mres, mres));
  }
  const int dc = mask_convs_.empty() ? C : mask_convs_.back().out_channels();
  MASKRT_CHECK(dc == deconv_.in_channels(), ErrorCode::kBadConfig, "ROI_MASK_HEAD: deconv input channels ",
               deconv_.in_channels(), " != ", dc);
  b->deconv_scratch = c.arena.alloc(deconv_.scratch_bytes(D, mres, mres));
  b->deconv_out = c.act(D, deconv_.out_channels(), 2 * mres, 2 * mres);
  c.plan(mask_predictor_, D, 2 * mres, 2 * mres);
  b->mask_logits = c.act(D, mask_predictor_.out_channels(), 2 * mres, 2 * mres);
}

void CudaROIHeads::forward_box(const CudaContext& ctx, const std::vector<DeviceTensor>& features,
                               const float* proposals, const int* num_proposals, const Buffers& b, void* ws,
                               size_t ws_bytes) {
  ops::RoiAlignLevelInputs in;
  for (size_t l = 0; l < features.size(); ++l) in.features[l] = features[l].ptr;
  ops::roi_align_multilevel_cuda(b.box_roi, in, proposals, num_proposals, b.box_pooled.ptr, ctx.stream());
  DeviceTensor x = b.box_pooled;
  for (size_t k = 0; k < box_convs_.size(); ++k) {
    box_convs_[k].forward(ctx, x, b.box_convs[k], nullptr, ws, ws_bytes);
    x = b.box_convs[k];
  }
  // Flatten (R, C, res, res) -> (R, C*res*res) (NHWC: (R, res*res*C)); same bytes.
  DeviceTensor flat = x;
  flat.c = x.c * x.h * x.w;
  flat.h = flat.w = 1;
  for (size_t k = 0; k < box_fcs_.size(); ++k) {
    box_fcs_[k].forward(ctx, flat, b.box_fcs[k], ws, ws_bytes);
    flat = b.box_fcs[k];
  }
  cls_score_.forward(ctx, flat, b.cls_logits, ws, ws_bytes);
  bbox_pred_.forward(ctx, flat, b.box_deltas, ws, ws_bytes);
  ops::box_inference_cuda(b.box_inf, b.cls_logits.as<float>(), b.box_deltas.as<float>(), proposals, num_proposals,
                          b.out.boxes, b.out.scores, b.out.classes, b.out.count, ws, ctx.stream());
}

void CudaROIHeads::forward_mask(const CudaContext& ctx, const std::vector<DeviceTensor>& features, const Buffers& b,
                                void* ws, size_t ws_bytes) {
  if (!spec_.mask_on) return;
  ops::RoiAlignLevelInputs in;
  for (size_t l = 0; l < features.size(); ++l) in.features[l] = features[l].ptr;
  ops::roi_align_multilevel_cuda(b.mask_roi, in, b.out.boxes, b.out.count, b.mask_pooled.ptr, ctx.stream());
  DeviceTensor x = b.mask_pooled;
  for (size_t k = 0; k < mask_convs_.size(); ++k) {
    mask_convs_[k].forward(ctx, x, b.mask_convs[k], nullptr, ws, ws_bytes);
    x = b.mask_convs[k];
  }
  deconv_.forward(ctx, x, b.deconv_out, b.deconv_scratch);
  mask_predictor_.forward(ctx, b.deconv_out, b.mask_logits, nullptr, ws, ws_bytes);
  ops::mask_select_sigmoid_cuda(small_desc(b.mask_logits), b.mask_logits.ptr, b.out.classes, b.out.count, b.out.masks,
                                ctx.stream());
}

}  // namespace maskrt::cuda
