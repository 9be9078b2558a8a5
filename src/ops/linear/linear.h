#pragma once
// linear: y = x W^T + b (torch.nn.Linear), optional fused ReLU.
//   x (N, K), w (M, K), bias (M) or undefined -> y (N, M), float32.
#include "core/tensor.h"

namespace maskrt::ops {
Tensor linear_ref(const Tensor& x, const Tensor& w, const Tensor& bias, bool relu);
Tensor linear_cpu(const Tensor& x, const Tensor& w, const Tensor& bias, bool relu);  // OpenBLAS sgemm
}  // namespace maskrt::ops
