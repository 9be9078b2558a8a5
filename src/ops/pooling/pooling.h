#pragma once
// max_pool2d as torch.nn.functional.max_pool2d (ceil_mode=False, padding counts as -inf).
//   x (N, C, H, W) -> (N, C, OH, OW), OH = (H + 2*pad - kernel) / stride + 1.
// Used by the ResNet stem (k3 s2 p1) and FPN's LastLevelMaxPool P6 (k1 s2 p0).
#include "core/tensor.h"

namespace maskrt::ops {
struct MaxPool2dParams {
  int kernel = 1, stride = 1, pad = 0;
};
Tensor max_pool2d_ref(const MaxPool2dParams& p, const Tensor& x);
Tensor max_pool2d_cpu(const MaxPool2dParams& p, const Tensor& x);
}  // namespace maskrt::ops
