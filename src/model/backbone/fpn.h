#pragma once
// Feature Pyramid Network on a ResNet, as detectron2/modeling/backbone/fpn.py with the
// LastLevelMaxPool top block: lateral 1x1 + output 3x3 convs (with bias, NORM ""), top-down
// nearest 2x upsampling with "sum" fuse, P6 = max_pool2d(P5, kernel 1, stride 2).
// State-dict names: backbone.fpn_lateral{s}, backbone.fpn_output{s} with s = log2(stride).
// Output: {"p2": (N, C, H/4, W/4), ..., "p6": (N, C, H/64, W/64)}; input padded to 32.
#include <map>
#include <string>
#include <vector>

#include "model/backbone/resnet.h"

namespace maskrt {

class FPN {
 public:
  FPN(const ModelSpec& spec, WeightStore& ws);
  // images: (N, 3, H, W) normalised and padded to a multiple of 32. `bottom_up` (optional) receives
  // the ResNet stage outputs (for per-stage timing / debugging).
  std::map<std::string, Tensor> forward(const Tensor& images, double* backbone_ms = nullptr,
                                        double* fpn_ms = nullptr) const;
  int out_channels() const { return out_channels_; }
  // Names of the outputs in order (p2..p6 for the standard config) and their strides.
  const std::vector<std::string>& output_names() const { return names_; }
  int stride(const std::string& name) const { return strides_.at(name); }
  static constexpr int kSizeDivisibility = 32;  // strides[-1] of the bottom-up features (res5)

 private:
  ResNet bottom_up_;
  std::vector<std::string> in_features_;  // e.g. res2..res5
  std::vector<ConvLayer> lateral_, output_;  // index aligned with in_features_
  std::vector<std::string> names_;
  std::map<std::string, int> strides_;
  int out_channels_ = 256;
};

}  // namespace maskrt
