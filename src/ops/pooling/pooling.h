#pragma once
// max_pool2d as torch.nn.functional.max_pool2d (dilation 1, ceil_mode=False, padding counts as -inf,
// i.e. padded positions never win; a NaN in the window propagates to the output, as in PyTorch).
//   x (N, C, H, W) float32 -> (N, C, OH, OW), OH = (H + 2*pad - kernel) / stride + 1 (floor), same for W.
// Used by the ResNet stem (k3 s2 p1, detectron2/modeling/backbone/resnet.py BasicStem) and FPN's
// LastLevelMaxPool P6 (k1 s2 p0, detectron2/modeling/backbone/fpn.py).
// Errors (maskrt::Error kInvalidArgument): x not 4-D, kernel/stride < 1, pad < 0, pad > kernel / 2
// (PyTorch rejects that too), or an empty output (H + 2*pad < kernel).
// Thread safety: reentrant. max_pool2d_cpu uses omp_get_max_threads() threads over (N*C) planes.
#include "core/tensor.h"

namespace maskrt::ops {
struct MaxPool2dParams {
  int kernel = 1, stride = 1, pad = 0;
};
// Validates and returns the output shape.
Shape max_pool2d_output_shape(const MaxPool2dParams& p, const Shape& x);
Tensor max_pool2d_ref(const MaxPool2dParams& p, const Tensor& x);  // scalar oracle
Tensor max_pool2d_cpu(const MaxPool2dParams& p, const Tensor& x);  // OpenMP over planes
}  // namespace maskrt::ops
