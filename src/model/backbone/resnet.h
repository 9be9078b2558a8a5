#pragma once
// ResNet / ResNeXt bottom-up backbone, as detectron2/modeling/backbone/resnet.py (BasicStem,
// BasicBlock for depth 18/34, BottleneckBlock for 50/101/152, STRIDE_IN_1X1, NUM_GROUPS,
// WIDTH_PER_GROUP). Norms are folded into the convolutions at load (model/layers.h).
// State-dict prefix: "backbone.bottom_up". Outputs res2..res5 (N, C_i, H/4..H/32, W/4..W/32).
#include <map>
#include <string>
#include <vector>

#include "io/config.h"
#include "model/layers.h"

namespace maskrt {

// Residual blocks in res2..res5 for MODEL.RESNETS.DEPTH (detectron2 build_resnet_backbone's table).
// Throws maskrt::Error(kBadConfig) for other depths.
std::vector<int> resnet_blocks_per_stage(int depth);

struct ResNetBlock {
  bool bottleneck = true;
  ConvLayer conv1, conv2, conv3;  // conv3 only for bottleneck blocks
  bool has_shortcut = false;
  ConvLayer shortcut;
  Tensor forward(const Tensor& x) const;
};

class ResNet {
 public:
  ResNet(const ModelSpec& spec, WeightStore& ws);
  // x: normalised, padded image batch (N, 3, H, W). Returns the stages named in
  // spec.resnet_out_features, e.g. {"res2": ..., "res5": ...}.
  std::map<std::string, Tensor> forward(const Tensor& x) const;
  int out_channels(const std::string& name) const { return out_channels_.at(name); }
  static int stride(const std::string& name);  // res2 -> 4 ... res5 -> 32

 private:
  ConvLayer stem_;
  std::vector<std::vector<ResNetBlock>> stages_;  // res2..res5 (only up to the last needed stage)
  std::vector<std::string> out_features_;
  std::map<std::string, int> out_channels_;
};

}  // namespace maskrt
