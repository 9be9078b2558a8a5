// concat_conv2d_out_channels (conv2d.h): stacking conv2d filters along the output channels.
#include <algorithm>
#include <cstring>

#include "ops/conv2d/conv2d.h"

namespace maskrt::ops {

Conv2dFilters concat_conv2d_out_channels(const Conv2dParams& p, const std::vector<Conv2dFilters>& parts,
                                         int64_t out_channels_padded) {
  constexpr auto kBad = ErrorCode::kInvalidArgument;
  MASKRT_CHECK(p.groups == 1, kBad, "concat_conv2d_out_channels: groups must be 1, got ", p.groups);
  MASKRT_CHECK(!parts.empty(), kBad, "concat_conv2d_out_channels: no convolutions given");
  const Shape& w0 = parts[0].weight.shape();
  int64_t total = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const Shape& w = parts[i].weight.shape();
    MASKRT_CHECK(parts[i].weight.defined() && w.size() == 4, kBad, "concat_conv2d_out_channels: weight of part ", i,
                 " must be 4-D (O, C, KH, KW), got ", shape_str(w));
    MASKRT_CHECK(w[1] == w0[1] && w[2] == w0[2] && w[3] == w0[3], kBad, "concat_conv2d_out_channels: weight of part ",
                 i, " ", shape_str(w), " differs from part 0's ", shape_str(w0), " in (C, KH, KW)");
    if (parts[i].bias.defined())
      MASKRT_CHECK(parts[i].bias.shape() == Shape{w[0]}, kBad, "concat_conv2d_out_channels: bias of part ", i, " is ",
                   shape_str(parts[i].bias.shape()), ", expected (", w[0], ")");
    total += w[0];
  }
  MASKRT_CHECK(out_channels_padded >= total, kBad, "concat_conv2d_out_channels: out_channels_padded ",
               out_channels_padded, " < the parts' ", total, " output channels");
  const int64_t per_out = w0[1] * w0[2] * w0[3];  // C * KH * KW
  Conv2dFilters out{Tensor({out_channels_padded, w0[1], w0[2], w0[3]}), Tensor({out_channels_padded})};  // zeros
  int64_t o = 0;
  for (const Conv2dFilters& part : parts) {
    const int64_t oi = part.weight.size(0);
    std::memcpy(out.weight.data() + o * per_out, part.weight.data(), sizeof(float) * oi * per_out);
    if (part.bias.defined()) std::memcpy(out.bias.data() + o, part.bias.data(), sizeof(float) * oi);
    o += oi;
  }
  return out;
}

}  // namespace maskrt::ops
