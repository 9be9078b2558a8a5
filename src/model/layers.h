#pragma once
// Building blocks shared by the model tree: a convolution with its (folded) norm, and a linear layer.
#include <string>

#include "model/weights.h"
#include "ops/conv2d/conv2d.h"

namespace maskrt {

// Conv2d as detectron2.layers.Conv2d: optional bias, optional norm applied after the conv. At load,
// FrozenBN / BN / SyncBN (evaluated with running statistics, eps 1e-5) is folded into weight and bias:
//   scale = gamma / sqrt(running_var + eps); w' = w * scale; b' = beta - running_mean * scale (+ b*scale).
struct ConvLayer {
  Tensor weight;  // (O, C/groups, KH, KW), norm folded
  Tensor bias;    // (O)
  ops::Conv2dParams params;

  // `prefix` is the state_dict prefix, e.g. "backbone.bottom_up.res2.0.conv1".
  // norm: "" (no norm), "FrozenBN", "BN", "SyncBN". has_bias: whether the conv itself has a bias.
  static ConvLayer load(WeightStore& ws, const std::string& prefix, int in_channels, int out_channels,
                        int kernel, int stride, int padding, int groups, bool has_bias, const std::string& norm,
                        bool relu);
  Tensor forward(const Tensor& x) const;  // (N, C, H, W) -> (N, O, OH, OW)
};

struct LinearLayer {
  Tensor weight;  // (out, in)
  Tensor bias;    // (out)
  bool relu = false;
  static LinearLayer load(WeightStore& ws, const std::string& prefix, int in_features, int out_features, bool relu);
  Tensor forward(const Tensor& x) const;  // (N, in) -> (N, out)
};

}  // namespace maskrt
