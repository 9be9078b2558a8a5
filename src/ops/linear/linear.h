#pragma once
// linear: y = x W^T + b (torch.nn.Linear / F.linear), optional fused ReLU (Detectron2's box head fc6/fc7
// are Linear + ReLU; the predictors cls_score / bbox_pred have no ReLU).
//   x (N, K), w (M, K), bias (M,) or undefined -> y (N, M), float32. N == 0 gives an empty (0, M).
// Errors (maskrt::Error kInvalidArgument): x or w not 2-D, K mismatch, bias not (M,).
// Callers flatten (N, C, H, W) inputs to (N, C*H*W) themselves (Tensor::reshape), as Detectron2's
// FastRCNNConvFCHead does with torch.flatten(x, start_dim=1).
// Thread safety: reentrant; linear_cpu sets OpenBLAS to one thread (ops/linear/blas_threading.h).
#include "core/tensor.h"

namespace maskrt::ops {

// Validates and returns y's shape (N, M).
Shape linear_output_shape(const Shape& x, const Shape& w, const Tensor& bias);

// Scalar reference, double accumulation. The oracle for linear_cpu.
Tensor linear_ref(const Tensor& x, const Tensor& w, const Tensor& bias, bool relu);
// OpenBLAS sgemm (single-threaded per call) on OpenMP-parallel blocks of rows of x (or, when N is
// small, of rows of w), then bias + ReLU. Float accumulation.
Tensor linear_cpu(const Tensor& x, const Tensor& w, const Tensor& bias, bool relu);

}  // namespace maskrt::ops
