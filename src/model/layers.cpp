#include "model/layers.h"

#include <cmath>

#include "ops/linear/linear.h"

namespace maskrt {

ConvLayer ConvLayer::load(WeightStore& ws, const std::string& prefix, int in_channels, int out_channels, int kernel,
                          int stride, int padding, int groups, bool has_bias, const std::string& norm, bool relu) {
  ConvLayer c;
  c.params.stride_h = c.params.stride_w = stride;
  c.params.pad_h = c.params.pad_w = padding;
  c.params.groups = groups;
  c.params.relu = relu;
  Tensor w = ws.take(prefix + ".weight", {out_channels, in_channels / groups, kernel, kernel}).clone();
  Tensor b(Shape{out_channels});
  if (has_bias) b = ws.take(prefix + ".bias", {out_channels}).clone();
  if (!norm.empty()) {
    const std::string n = prefix + ".norm";
    Tensor gamma = ws.take(n + ".weight", {out_channels});
    Tensor beta = ws.take(n + ".bias", {out_channels});
    Tensor mean = ws.take(n + ".running_mean", {out_channels});
    Tensor var = ws.take(n + ".running_var", {out_channels});
    ws.ignore(n + ".num_batches_tracked");
    const int64_t per_out = w.numel() / out_channels;
    for (int o = 0; o < out_channels; ++o) {
      // Same float32 order as detectron2.layers.FrozenBatchNorm2d: scale = w * rsqrt(var + eps).
      const float scale = gamma[o] * (1.0f / std::sqrt(var[o] + 1e-5f));
      const float shift = beta[o] - mean[o] * scale;
      float* wo = w.data() + o * per_out;
      for (int64_t i = 0; i < per_out; ++i) wo[i] *= scale;
      b[o] = b[o] * scale + shift;
    }
  }
  c.weight = w;
  c.bias = b;
  return c;
}

Tensor ConvLayer::forward(const Tensor& x) const { return ops::conv2d_cpu(params, x, weight, bias); }

LinearLayer LinearLayer::load(WeightStore& ws, const std::string& prefix, int in_features, int out_features, bool relu) {
  LinearLayer l;
  l.weight = ws.take(prefix + ".weight", {out_features, in_features});
  l.bias = ws.take(prefix + ".bias", {out_features});
  l.relu = relu;
  return l;
}

Tensor LinearLayer::forward(const Tensor& x) const { return ops::linear_cpu(x, weight, bias, relu); }

}  // namespace maskrt
