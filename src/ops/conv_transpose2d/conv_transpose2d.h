#pragma once
// conv_transpose2d with kernel 2, stride 2, padding 0, output_padding 0, dilation 1, groups 1 (the mask
// head's `deconv`, detectron2/modeling/roi_heads/mask_head.py MaskRCNNConvUpsampleHead), as
// torch.nn.ConvTranspose2d / F.conv_transpose2d:
//   y[n, o, 2i+a, 2j+b] = bias[o] + sum_c x[n, c, i, j] * w[c, o, a, b]   (each output pixel has
//   exactly one contributing input pixel, because stride == kernel)
//   x (N, C, H, W), w (C, O, 2, 2) [PyTorch's ConvTranspose layout], bias (O,) or undefined
//   -> y (N, O, 2H, 2W), float32; optional fused ReLU (Detectron2 applies ReLU after deconv).
// Errors (maskrt::Error kInvalidArgument): x not 4-D, w not (C, O, 2, 2) with C = x.size(1), bias not (O,).
// Thread safety: reentrant; the CPU version sets OpenBLAS to one thread (ops/linear/blas_threading.h).
#include "core/tensor.h"

namespace maskrt::ops {
// Validates and returns y's shape (N, O, 2H, 2W).
Shape conv_transpose2x2_output_shape(const Shape& x, const Shape& w, const Tensor& bias);
// Scalar reference, double accumulation. The oracle for the CPU version.
Tensor conv_transpose2x2_ref(const Tensor& x, const Tensor& w, const Tensor& bias, bool relu);
// CPU: per (image, block of output channels), one sgemm Z (4*O_blk, H*W) = W^T (4*O_blk, C) X (C, H*W)
// into a per-thread buffer, then a scatter to the 2x2 output cells with bias + ReLU. OpenMP over items.
Tensor conv_transpose2x2_cpu(const Tensor& x, const Tensor& w, const Tensor& bias, bool relu);
}  // namespace maskrt::ops
