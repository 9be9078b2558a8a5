#pragma once
// conv_transpose2d with kernel 2, stride 2, padding 0 (the mask head's `deconv`), as
// torch.nn.ConvTranspose2d: y[n, o, 2i+a, 2j+b] = bias[o] + sum_c x[n, c, i, j] * w[c, o, a, b].
//   x (N, C, H, W), w (C, O, 2, 2) [PyTorch's ConvTranspose layout], bias (O) -> y (N, O, 2H, 2W);
//   optional fused ReLU.
#include "core/tensor.h"

namespace maskrt::ops {
Tensor conv_transpose2x2_ref(const Tensor& x, const Tensor& w, const Tensor& bias, bool relu);
Tensor conv_transpose2x2_cpu(const Tensor& x, const Tensor& w, const Tensor& bias, bool relu);
}  // namespace maskrt::ops
