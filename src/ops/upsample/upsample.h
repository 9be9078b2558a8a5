#pragma once
// FPN top-down step: y = lateral + upsample_nearest_2x(top), as F.interpolate(scale_factor=2,
// mode="nearest") followed by the sum fuse. top (N, C, H, W), lateral (N, C, 2H', 2W') where the
// lateral may be up to... exactly (2H, 2W) for inputs padded to 32 (Detectron2 asserts nothing; with
// size_divisibility 32 the shapes always match). y has lateral's shape. Element (y, x) of the
// upsampled map reads top[y / 2][x / 2].
#include "core/tensor.h"

namespace maskrt::ops {
Tensor upsample_nearest2x_add_ref(const Tensor& top, const Tensor& lateral);
Tensor upsample_nearest2x_add_cpu(const Tensor& top, const Tensor& lateral);
}  // namespace maskrt::ops
