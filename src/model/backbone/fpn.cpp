#include "model/backbone/fpn.h"

#include <chrono>

#include "ops/pooling/pooling.h"
#include "ops/upsample/upsample.h"

namespace maskrt {

namespace {
double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

FPN::FPN(const ModelSpec& spec, WeightStore& ws)
    : bottom_up_(spec, ws), in_features_(spec.fpn_in_features), out_channels_(spec.fpn_out_channels) {
  MASKRT_CHECK(spec.fpn_fuse_type == "sum", ErrorCode::kUnsupported, "MODEL.FPN.FUSE_TYPE: '", spec.fpn_fuse_type,
               "' is not supported (only \"sum\")");
  for (size_t i = 1; i < in_features_.size(); ++i)
    MASKRT_CHECK(ResNet::stride(in_features_[i]) == 2 * ResNet::stride(in_features_[i - 1]), ErrorCode::kUnsupported,
                 "MODEL.FPN.IN_FEATURES: levels must be consecutive ResNet stages");
  for (const auto& f : in_features_) {
    const int stage = f[3] - '0';
    const int in_ch = bottom_up_.out_channels(f);
    const std::string s = std::to_string(stage);
    const bool use_bias = spec.fpn_norm.empty();
    lateral_.push_back(ConvLayer::load(ws, "backbone.fpn_lateral" + s, in_ch, out_channels_, 1, 1, 0, 1, use_bias,
                                       spec.fpn_norm, false));
    output_.push_back(ConvLayer::load(ws, "backbone.fpn_output" + s, out_channels_, out_channels_, 3, 1, 1, 1, use_bias,
                                      spec.fpn_norm, false));
    names_.push_back("p" + s);
    strides_["p" + s] = 1 << stage;
  }
  const int last = in_features_.back()[3] - '0';
  names_.push_back("p" + std::to_string(last + 1));
  strides_[names_.back()] = 1 << (last + 1);
}

std::map<std::string, Tensor> FPN::forward(const Tensor& images, double* backbone_ms, double* fpn_ms) const {
  auto t0 = std::chrono::steady_clock::now();
  std::map<std::string, Tensor> bottom = bottom_up_.forward(images);
  if (backbone_ms) *backbone_ms = ms_since(t0);
  t0 = std::chrono::steady_clock::now();
  std::map<std::string, Tensor> out;
  const int n = static_cast<int>(in_features_.size());
  Tensor prev = lateral_[n - 1].forward(bottom.at(in_features_[n - 1]));
  out[names_[n - 1]] = output_[n - 1].forward(prev);
  for (int i = n - 2; i >= 0; --i) {
    const Tensor lateral = lateral_[i].forward(bottom.at(in_features_[i]));
    prev = ops::upsample_nearest2x_add_cpu(prev, lateral);
    out[names_[i]] = output_[i].forward(prev);
  }
  out[names_[n]] = ops::max_pool2d_cpu(ops::MaxPool2dParams{1, 2, 0}, out.at(names_[n - 1]));
  if (fpn_ms) *fpn_ms = ms_since(t0);
  return out;
}

}  // namespace maskrt
