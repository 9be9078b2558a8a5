#pragma once
// conv2d: 2-D cross-correlation, as torch.nn.functional.conv2d (zero padding), with optional bias and
// fused ReLU. FrozenBN is folded into weight/bias at load by the model, so no norm here.
//   x (N, C, H, W) float32, w (O, C/groups, KH, KW), bias (O) or undefined -> y (N, O, OH, OW)
//   OH = (H + 2*pad_h - dilation_h*(KH-1) - 1) / stride_h + 1 (floor), same for OW.
#include "core/tensor.h"

namespace maskrt::ops {

struct Conv2dParams {
  int stride_h = 1, stride_w = 1;
  int pad_h = 0, pad_w = 0;
  int dilation_h = 1, dilation_w = 1;
  int groups = 1;
  bool relu = false;  // y = max(y, 0) after the bias
};

// Validates shapes (throws maskrt::Error kInvalidArgument naming the mismatch) and returns y's shape.
Shape conv2d_output_shape(const Conv2dParams& p, const Shape& x, const Shape& w);

// Scalar reference: direct 7-loop convolution, double accumulation. The oracle for the other versions.
Tensor conv2d_ref(const Conv2dParams& p, const Tensor& x, const Tensor& w, const Tensor& bias);
// CPU: im2col + OpenBLAS sgemm, OpenMP over images/groups; 1x1 stride-1 convs skip im2col.
Tensor conv2d_cpu(const Conv2dParams& p, const Tensor& x, const Tensor& w, const Tensor& bias);

}  // namespace maskrt::ops
