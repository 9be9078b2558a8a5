#pragma once
// FPN top-down step: y = lateral + upsample_nearest_2x(top), as Detectron2's FPN.forward
// (detectron2/modeling/backbone/fpn.py): F.interpolate(top, scale_factor=2.0, mode="nearest") followed
// by the "sum" fuse with the lateral 1x1 conv's output.
//   top (N, C, H, W), lateral (N, C, 2H, 2W) -> y (N, C, 2H, 2W), float32.
// Element (i, j) of the upsampled map reads top[i / 2][j / 2] (PyTorch's nearest: floor(dst * 0.5)).
// The lateral must be exactly twice the top's size: PyTorch's sum would fail on any other shape, and
// with Detectron2's size_divisibility = 32 (the backbone's largest stride) the shapes always match.
// Errors (maskrt::Error kInvalidArgument): not 4-D, N or C differ, lateral not (2H, 2W).
// Thread safety: reentrant; the CPU version uses omp_get_max_threads() threads over (N*C) planes.
#include "core/tensor.h"

namespace maskrt::ops {
// Validates and returns y's shape (= lateral's).
Shape upsample_nearest2x_add_output_shape(const Shape& top, const Shape& lateral);
Tensor upsample_nearest2x_add_ref(const Tensor& top, const Tensor& lateral);  // scalar oracle
Tensor upsample_nearest2x_add_cpu(const Tensor& top, const Tensor& lateral);  // OpenMP over planes
}  // namespace maskrt::ops
