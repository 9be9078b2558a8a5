// upsample_nearest2x_add shape logic (shared by every implementation) and the scalar reference.
#include "ops/upsample/upsample.h"

namespace maskrt::ops {

Shape upsample_nearest2x_add_output_shape(const Shape& top, const Shape& lateral) {
  constexpr auto kBad = ErrorCode::kInvalidArgument;
  MASKRT_CHECK(top.size() == 4 && lateral.size() == 4, kBad, "upsample_nearest2x_add: top ", shape_str(top),
               " and lateral ", shape_str(lateral), " must both be 4-D (N, C, H, W)");
  MASKRT_CHECK(top[0] == lateral[0] && top[1] == lateral[1] && lateral[2] == 2 * top[2] && lateral[3] == 2 * top[3],
               kBad, "upsample_nearest2x_add: lateral ", shape_str(lateral), " must be (N, C, 2H, 2W) for top ",
               shape_str(top));
  return lateral;
}

Tensor upsample_nearest2x_add_ref(const Tensor& top, const Tensor& lateral) {
  const Shape ys = upsample_nearest2x_add_output_shape(top.shape(), lateral.shape());
  const int64_t planes = ys[0] * ys[1], oh = ys[2], ow = ys[3], h = top.size(2), w = top.size(3);
  Tensor y(ys);
  for (int64_t pl = 0; pl < planes; ++pl)
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j) {
        const int64_t idx = (pl * oh + i) * ow + j;
        y[idx] = lateral[idx] + top[(pl * h + i / 2) * w + j / 2];
      }
  return y;
}

}  // namespace maskrt::ops
