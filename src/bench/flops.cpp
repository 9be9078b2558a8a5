#include "bench/flops.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "core/check.h"
#include "model/backbone/resnet.h"
#include "ops/resize/resize.h"

namespace maskrt::bench {

namespace {

constexpr int kSizeDivisibility = 32;  // FPN backbone: the stride of res5

struct FeatureShape {
  int c = 0, h = 0, w = 0;
};

void check_positive(const char* what, int64_t v) {
  MASKRT_CHECK(v > 0, ErrorCode::kInvalidArgument, "cost counter: ", what, " must be positive, got ", v);
}

}  // namespace

int conv_output_size(int in, int kernel, int stride, int pad, int dilation) {
  check_positive("input size", in);
  check_positive("kernel", kernel);
  check_positive("stride", stride);
  check_positive("dilation", dilation);
  MASKRT_CHECK(pad >= 0, ErrorCode::kInvalidArgument, "cost counter: negative padding ", pad);
  const int out = (in + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1;
  MASKRT_CHECK(in + 2 * pad - dilation * (kernel - 1) - 1 >= 0 && out >= 1, ErrorCode::kInvalidArgument,
               "cost counter: a ", kernel, "x", kernel, " window does not fit an input of ", in, " (padding ", pad, ")");
  return out;
}

LayerCost conv2d_cost(int64_t n, int c_in, int h_in, int w_in, int c_out, int kernel, int stride, int pad,
                      int dilation, int groups) {
  check_positive("batch", n);
  check_positive("input channels", c_in);
  check_positive("output channels", c_out);
  check_positive("groups", groups);
  MASKRT_CHECK(c_in % groups == 0 && c_out % groups == 0, ErrorCode::kInvalidArgument, "cost counter: channels ",
               c_in, " -> ", c_out, " not divisible by ", groups, " groups");
  const int h_out = conv_output_size(h_in, kernel, stride, pad, dilation);
  const int w_out = conv_output_size(w_in, kernel, stride, pad, dilation);
  const int64_t per_out = int64_t(c_in / groups) * kernel * kernel;  // MACs per output element
  LayerCost c;
  c.macs = n * c_out * int64_t(h_out) * w_out * per_out;
  c.weight_elems = int64_t(c_out) * per_out + c_out;
  c.act_elems = n * (int64_t(c_in) * h_in * w_in + int64_t(c_out) * h_out * w_out);
  return c;
}

LayerCost conv_transpose2d_cost(int64_t n, int c_in, int h_in, int w_in, int c_out, int kernel, int stride) {
  check_positive("batch", n);
  check_positive("input channels", c_in);
  check_positive("output channels", c_out);
  check_positive("input height", h_in);
  check_positive("input width", w_in);
  check_positive("kernel", kernel);
  check_positive("stride", stride);
  const int64_t h_out = int64_t(h_in - 1) * stride + kernel, w_out = int64_t(w_in - 1) * stride + kernel;
  LayerCost c;
  // Every input element is multiplied by a c_out x k x k slice of the weight.
  c.macs = n * int64_t(c_in) * h_in * w_in * c_out * kernel * kernel;
  c.weight_elems = int64_t(c_in) * c_out * kernel * kernel + c_out;
  c.act_elems = n * (int64_t(c_in) * h_in * w_in + c_out * h_out * w_out);
  return c;
}

LayerCost linear_cost(int64_t n, int in_features, int out_features) {
  check_positive("rows", n);
  check_positive("input features", in_features);
  check_positive("output features", out_features);
  LayerCost c;
  c.macs = n * in_features * int64_t(out_features);
  c.weight_elems = int64_t(in_features) * out_features + out_features;
  c.act_elems = n * (int64_t(in_features) + out_features);
  return c;
}

LayerCost max_pool2d_cost(int64_t n, int c, int h_in, int w_in, int kernel, int stride, int pad) {
  check_positive("batch", n);
  check_positive("channels", c);
  const int h_out = conv_output_size(h_in, kernel, stride, pad), w_out = conv_output_size(w_in, kernel, stride, pad);
  LayerCost r;
  r.act_elems = n * c * (int64_t(h_in) * w_in + int64_t(h_out) * w_out);
  return r;
}

LayerCost roi_align_cost(int64_t rois, int channels, int resolution) {
  check_positive("rois", rois);
  check_positive("channels", channels);
  check_positive("pooler resolution", resolution);
  LayerCost r;
  r.act_elems = rois * channels * int64_t(resolution) * resolution;
  return r;
}

LayerCost ModelCost::total() const {
  LayerCost t;
  for (const LayerCost& s : stages) t += s;
  return t;
}

ModelCost count_model_cost(const ModelSpec& spec, int padded_h, int padded_w, int64_t proposals,
                           int64_t detections) {
  check_positive("padded height", padded_h);
  check_positive("padded width", padded_w);
  MASKRT_CHECK(proposals >= 0 && detections >= 0, ErrorCode::kInvalidArgument,
               "cost counter: negative ROI count (proposals ", proposals, ", detections ", detections, ")");
  ModelCost mc;
  mc.padded_h = padded_h;
  mc.padded_w = padded_w;
  mc.proposals = proposals;
  mc.detections = spec.mask_on ? detections : 0;
  LayerCost& backbone = mc.stages[static_cast<int>(Stage::kBackbone)];
  LayerCost& fpn = mc.stages[static_cast<int>(Stage::kFpn)];
  LayerCost& rpn = mc.stages[static_cast<int>(Stage::kRpn)];
  LayerCost& box = mc.stages[static_cast<int>(Stage::kBoxHead)];
  LayerCost& mask = mc.stages[static_cast<int>(Stage::kMaskHead)];
  std::map<std::string, FeatureShape> features;

  // ---- ResNet bottom-up: BasicStem (7x7/2 conv, 3x3/2 max-pool), then res2..res5.
  FeatureShape x{3, padded_h, padded_w};
  {
    const LayerCost stem = conv2d_cost(1, 3, x.h, x.w, spec.stem_out_channels, 7, 2, 3);
    backbone += stem;
    x = {spec.stem_out_channels, conv_output_size(x.h, 7, 2, 3), conv_output_size(x.w, 7, 2, 3)};
    backbone += max_pool2d_cost(1, x.c, x.h, x.w, 3, 2, 1);
    x = {x.c, conv_output_size(x.h, 3, 2, 1), conv_output_size(x.w, 3, 2, 1)};
  }
  const std::vector<int> blocks = resnet_blocks_per_stage(spec.depth);
  const bool bottleneck = spec.depth >= 50;
  int out_channels = spec.res2_out_channels;
  int bottleneck_channels = spec.num_groups * spec.width_per_group;
  for (int s = 0; s < 4; ++s) {
    const int dilation = s == 3 ? spec.res5_dilation : 1;
    const int first_stride = (s == 0 || (s == 3 && dilation == 2)) ? 1 : 2;
    for (int b = 0; b < blocks[s]; ++b) {
      const int stride = b == 0 ? first_stride : 1;
      const int oh = conv_output_size(x.h, 1, stride, 0), ow = conv_output_size(x.w, 1, stride, 0);
      if (bottleneck) {
        const int s1 = spec.stride_in_1x1 ? stride : 1, s3 = spec.stride_in_1x1 ? 1 : stride;
        backbone += conv2d_cost(1, x.c, x.h, x.w, bottleneck_channels, 1, s1, 0);
        const int h1 = conv_output_size(x.h, 1, s1, 0), w1 = conv_output_size(x.w, 1, s1, 0);
        backbone += conv2d_cost(1, bottleneck_channels, h1, w1, bottleneck_channels, 3, s3, dilation, dilation,
                                spec.num_groups);
        backbone += conv2d_cost(1, bottleneck_channels, oh, ow, out_channels, 1, 1, 0);
      } else {
        backbone += conv2d_cost(1, x.c, x.h, x.w, out_channels, 3, stride, 1);
        backbone += conv2d_cost(1, out_channels, oh, ow, out_channels, 3, 1, 1);
      }
      if (x.c != out_channels) backbone += conv2d_cost(1, x.c, x.h, x.w, out_channels, 1, stride, 0);
      x = {out_channels, oh, ow};
    }
    features["res" + std::to_string(s + 2)] = x;
    out_channels *= 2;
    bottleneck_channels *= 2;
  }

  // ---- FPN: a 1x1 lateral and a 3x3 output conv per input feature, p6 = max-pool(k1, s2) of the last.
  const int C = spec.fpn_out_channels;
  std::string last_p;
  for (const std::string& in : spec.fpn_in_features) {
    const FeatureShape f = features.at(in);
    fpn += conv2d_cost(1, f.c, f.h, f.w, C, 1, 1, 0);
    fpn += conv2d_cost(1, C, f.h, f.w, C, 3, 1, 1);
    last_p = "p" + in.substr(3);
    features[last_p] = {C, f.h, f.w};
  }
  {
    const FeatureShape top = features.at(last_p);
    fpn += max_pool2d_cost(1, C, top.h, top.w, 1, 2, 0);
    features["p" + std::to_string(std::stoi(last_p.substr(1)) + 1)] = {C, conv_output_size(top.h, 1, 2, 0),
                                                                      conv_output_size(top.w, 1, 2, 0)};
  }

  // ---- RPN head (StandardRPNHead): shared 3x3 conv + 1x1 objectness (A) + 1x1 deltas (4A) per level;
  // its weights are read once for all levels.
  {
    const int conv_dims = spec.rpn_head_conv_dims > 0 ? spec.rpn_head_conv_dims : C;
    const int anchors = static_cast<int>(spec.anchor_sizes.at(0).size() * spec.anchor_aspect_ratios.at(0).size());
    bool first = true;
    for (const std::string& level : spec.rpn_in_features) {
      const FeatureShape f = features.at(level);
      LayerCost l = conv2d_cost(1, C, f.h, f.w, conv_dims, 3, 1, 1);
      l += conv2d_cost(1, conv_dims, f.h, f.w, anchors, 1, 1, 0);
      l += conv2d_cost(1, conv_dims, f.h, f.w, 4 * anchors, 1, 1, 0);
      if (!first) l.weight_elems = 0;
      rpn += l;
      first = false;
    }
  }

  // ---- Box head: ROIAlign -> NUM_CONV 3x3 convs -> flatten -> NUM_FC FCs -> cls_score, bbox_pred.
  if (proposals > 0) {
    const int P = spec.box_pooler_resolution;
    box += roi_align_cost(proposals, C, P);
    int ch = C;
    for (int i = 0; i < spec.box_num_conv; ++i) {
      box += conv2d_cost(proposals, ch, P, P, spec.box_conv_dim, 3, 1, 1);
      ch = spec.box_conv_dim;
    }
    int dim = ch * P * P;
    for (int i = 0; i < spec.box_num_fc; ++i) {
      box += linear_cost(proposals, dim, spec.box_fc_dim);
      dim = spec.box_fc_dim;
    }
    box += linear_cost(proposals, dim, spec.num_classes + 1);
    box += linear_cost(proposals, dim, 4 * (spec.cls_agnostic_bbox_reg ? 1 : spec.num_classes));
  }

  // ---- Mask head: ROIAlign -> NUM_CONV 3x3 convs -> 2x2/2 deconv -> 1x1 predictor.
  if (spec.mask_on && detections > 0) {
    const int M = spec.mask_pooler_resolution;
    mask += roi_align_cost(detections, C, M);
    int ch = C;
    for (int i = 0; i < spec.mask_num_conv; ++i) {
      mask += conv2d_cost(detections, ch, M, M, spec.mask_conv_dim, 3, 1, 1);
      ch = spec.mask_conv_dim;
    }
    mask += conv_transpose2d_cost(detections, ch, M, M, spec.mask_conv_dim, 2, 2);
    mask += conv2d_cost(detections, spec.mask_conv_dim, 2 * M, 2 * M, spec.cls_agnostic_mask ? 1 : spec.num_classes,
                        1, 1, 0);
  }
  return mc;
}

int64_t max_proposals(const ModelSpec& spec, int padded_h, int padded_w) {
  check_positive("padded height", padded_h);
  check_positive("padded width", padded_w);
  const int64_t anchors = int64_t(spec.anchor_sizes.at(0).size()) * int64_t(spec.anchor_aspect_ratios.at(0).size());
  int64_t total = 0;
  for (const std::string& level : spec.rpn_in_features) {
    // p_k has stride 2^k: each stride-2 step of the backbone / p6 max-pool is (n - 1) / 2 + 1.
    int h = padded_h, w = padded_w;
    for (int k = std::stoi(level.substr(1)); k > 0; --k) {
      h = (h - 1) / 2 + 1;
      w = (w - 1) / 2 + 1;
    }
    total += std::min<int64_t>(spec.rpn_pre_nms_topk_test, int64_t(h) * w * anchors);
  }
  return std::min<int64_t>(total, spec.rpn_post_nms_topk_test);
}

std::pair<int, int> network_input_size(const ModelSpec& spec, int height, int width) {
  const auto [h, w] = ops::resize_shortest_edge_shape(height, width, spec.min_size_test, spec.max_size_test);
  auto pad = [](int v) { return (v + kSizeDivisibility - 1) / kSizeDivisibility * kSizeDivisibility; };
  return {pad(h), pad(w)};
}

}  // namespace maskrt::bench
