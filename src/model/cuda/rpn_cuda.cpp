#include "model/cuda/rpn_cuda.h"

#include "ops/anchors/anchors.h"
#include "ops/conv2d/conv2d.h"
#include "ops/small_cuda/small_ops_cuda.h"

namespace maskrt::cuda {

namespace {
template <typename T>
const T& per_level(const std::vector<T>& v, size_t level, const char* key) {
  MASKRT_CHECK(v.size() == 1 || level < v.size(), ErrorCode::kBadConfig, key, ": has ", v.size(),
               " entries, but the model has more feature levels");
  return v.size() == 1 ? v[0] : v[level];
}
}  // namespace

CudaRPN::CudaRPN(const ModelSpec& spec, WeightStore& ws, int in_channels, const std::vector<int>& strides,
                 Precision precision, bool tf32_nhwc)
    : spec_(spec), precision_(precision), nhwc_(activation_layout(precision, tf32_nhwc) == Layout::kNHWC),
      strides_(strides) {
  const Layout layout = activation_layout(precision, tf32_nhwc);
  MASKRT_CHECK(static_cast<int>(strides.size()) <= ops::kRpnMaxLevels, ErrorCode::kUnsupported,
               "MODEL.RPN.IN_FEATURES: at most ", ops::kRpnMaxLevels, " levels on CUDA");
  std::vector<float> anchors;
  for (size_t l = 0; l < strides.size(); ++l) {
    const Tensor a = ops::cell_anchors(per_level(spec.anchor_sizes, l, "MODEL.ANCHOR_GENERATOR.SIZES"),
                                       per_level(spec.anchor_aspect_ratios, l, "MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS"));
    if (l == 0) num_anchors_ = static_cast<int>(a.size(0));
    MASKRT_CHECK(a.size(0) == num_anchors_, ErrorCode::kBadConfig,
                 "MODEL.ANCHOR_GENERATOR: every level must have the same number of anchors (StandardRPNHead)");
    anchors.insert(anchors.end(), a.data(), a.data() + a.numel());
  }
  cell_anchors_ = DeviceBuffer::upload(anchors, "cell_anchors");
  MASKRT_CHECK(spec.rpn_head_conv_dims == -1 || spec.rpn_head_conv_dims == in_channels, ErrorCode::kUnsupported,
               "MODEL.RPN.CONV_DIMS: only [-1] (one conv with the input width) is supported");
  const std::string p = "proposal_generator.rpn_head";
  const int A = num_anchors_;
  conv_ = ConvCudnn(ConvLayer::load(ws, p + ".conv", in_channels, in_channels, 3, 1, 1, 1, true, "", true), precision,
                    ConvEpilogue::kBiasRelu, p + ".conv", 0, layout);
  const ConvLayer logits = ConvLayer::load(ws, p + ".objectness_logits", in_channels, A, 1, 1, 0, 1, true, "", false);
  const ConvLayer deltas = ConvLayer::load(ws, p + ".anchor_deltas", in_channels, A * 4, 1, 1, 0, 1, true, "", false);
  if (nhwc_) {
    // One 1x1 layer for both: output channels [0, A) objectness_logits, [A, 5A) anchor_deltas (the
    // channel order of Detectron2's two convs), [5A, Cpad) zero filters and bias. Cpad % 8 == 0 keeps
    // the NHWC output rows 16-byte aligned (cuDNN ran slow align1 kernels for Cout = 3, Nsight).
    ConvLayer fused;
    fused.params = logits.params;
    const ops::Conv2dFilters f = ops::concat_conv2d_out_channels(
        logits.params, {{logits.weight, logits.bias}, {deltas.weight, deltas.bias}}, head_out_channels());
    fused.weight = f.weight;
    fused.bias = f.bias;
    rpn_head_outputs_ = ConvCudnn(fused, precision, ConvEpilogue::kBias, p + ".objectness_logits+anchor_deltas", 0,
                                  layout);
  } else {
    objectness_logits_ = ConvCudnn(logits, precision, ConvEpilogue::kBias, p + ".objectness_logits", 0, layout);
    anchor_deltas_ = ConvCudnn(deltas, precision, ConvEpilogue::kBias, p + ".anchor_deltas", 0, layout);
  }
}

void CudaRPN::carve(Carver& c, const std::vector<DeviceTensor>& features, int image_h, int image_w, Buffers* b) {
  const int A = num_anchors_;
  const int n = features.at(0).n;  // images of the plan (1, or a MASKRT_BACKBONE_BATCH group)
  *b = Buffers{};
  ops::RpnProposalsCudaParams& p = b->params;
  p.num_levels = static_cast<int>(features.size());
  p.num_anchors = A;
  p.offset = spec_.anchor_offset;
  p.pre_nms_topk = spec_.rpn_pre_nms_topk_test;
  p.post_nms_topk = spec_.rpn_post_nms_topk_test;
  p.nms_thresh = spec_.rpn_nms_thresh;
  p.min_size = spec_.proposal_min_size;
  p.image_h = image_h;
  p.image_w = image_w;
  for (int i = 0; i < 4; ++i) p.weights[i] = spec_.rpn_bbox_reg_weights[i];
  p.scale_clamp = spec_.bbox_reg_scale_clamp;
  for (size_t l = 0; l < features.size(); ++l) {
    const DeviceTensor& f = features[l];
    p.feat_h[l] = f.h;
    p.feat_w[l] = f.w;
    p.stride[l] = static_cast<float>(strides_[l]);
    c.plan(conv_, n, f.h, f.w);
    if (nhwc_) {
      c.plan(rpn_head_outputs_, n, f.h, f.w);
    } else {
      c.plan(objectness_logits_, n, f.h, f.w);
      c.plan(anchor_deltas_, n, f.h, f.w);
    }
    b->t.push_back(c.act(n, f.c, f.h, f.w));
    b->logits.push_back(c.f32(n, A, f.h, f.w));
    b->deltas.push_back(c.f32(n, 4 * A, f.h, f.w));
    if (nhwc_) b->head_out.push_back(c.act(n, head_out_channels(), f.h, f.w));
  }
  static_assert(ops::kRpnHeadSplitMaxLevels >= ops::kRpnMaxLevels, "the split launch must cover every RPN level");
  ops::validate_rpn_proposals(p);
  c.need_workspace(ops::rpn_proposals_workspace_bytes(p));
  b->boxes = c.raw<float>(static_cast<size_t>(p.post_nms_topk) * 4);
  b->scores = c.raw<float>(p.post_nms_topk);
  b->count = c.raw<int>(1);
}

void CudaRPN::forward(const CudaContext& ctx, const std::vector<DeviceTensor>& features, const Buffers& b, void* ws,
                      size_t ws_bytes) {
  forward_head(ctx, features, b, ws, ws_bytes);
  forward_proposals(ctx, b, 0, ws, ws_bytes);
}

void CudaRPN::forward_head(const CudaContext& ctx, const std::vector<DeviceTensor>& features, const Buffers& b,
                           void* ws, size_t ws_bytes) {
  if (!nhwc_) {  // fp32 / tf32 NCHW: the 1x1 layers write the fp32 NCHW planes directly (the parity path)
    for (size_t l = 0; l < features.size(); ++l) {
      conv_.forward(ctx, features[l], b.t[l], nullptr, ws, ws_bytes);
      objectness_logits_.forward(ctx, b.t[l], b.logits[l], nullptr, ws, ws_bytes);
      anchor_deltas_.forward(ctx, b.t[l], b.deltas[l], nullptr, ws, ws_bytes);
    }
    return;
  }
  // NHWC (fp16 / tf32 NHWC): 3x3 conv + the fused 1x1 layer per level, then one split launch for
  // all levels into the fp32 NCHW planes.
  ops::RpnHeadSplitParams sp;
  sp.num_levels = static_cast<int>(features.size());
  sp.n = b.head_out.at(0).n;
  sp.num_anchors = num_anchors_;
  sp.c_stride = head_out_channels();
  sp.layout = precision_ == Precision::kFP16 ? ops::CudaLayout::kNhwcFp16 : ops::CudaLayout::kNhwcFp32;
  for (size_t l = 0; l < features.size(); ++l) {
    conv_.forward(ctx, features[l], b.t[l], nullptr, ws, ws_bytes);
    rpn_head_outputs_.forward(ctx, b.t[l], b.head_out[l], nullptr, ws, ws_bytes);
    MASKRT_ASSERT(b.head_out[l].c == sp.c_stride && b.head_out[l].layout == Layout::kNHWC &&
                  b.logits[l].layout == Layout::kNCHW && b.logits[l].dtype == DType::kF32);
    ops::RpnHeadSplitLevel& lv = sp.levels[l];
    lv.head = b.head_out[l].ptr;
    lv.logits = b.logits[l].as<float>();
    lv.deltas = b.deltas[l].as<float>();
    lv.h = b.head_out[l].h;
    lv.w = b.head_out[l].w;
  }
  ops::rpn_head_split_nhwc_cuda(sp, ctx.stream());
}

void CudaRPN::forward_proposals(const CudaContext& ctx, const Buffers& b, int image, void* ws, size_t ws_bytes) {
  (void)ws_bytes;  // rpn_proposals_workspace_bytes() was part of the plan's workspace (carve)
  MASKRT_ASSERT(!b.logits.empty() && image >= 0 && image < b.logits[0].n);
  ops::RpnLevelInputs in;
  const float* anchors = cell_anchors_.as<float>();
  for (size_t l = 0; l < b.logits.size(); ++l) {
    in.logits[l] = b.logits[l].rows(image, 1).as<float>();  // fp32 NCHW: image k's (A, H, W) planes
    in.deltas[l] = b.deltas[l].rows(image, 1).as<float>();
    in.cell_anchors[l] = anchors + l * num_anchors_ * 4;
  }
  ops::rpn_proposals_cuda(b.params, in, b.boxes, b.scores, b.count, ws, ctx.stream());
}

}  // namespace maskrt::cuda
