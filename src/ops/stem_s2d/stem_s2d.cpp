// Host definition of the stem's space-to-depth rewrite (see stem_s2d.h for the derivation).
#include "ops/stem_s2d/stem_s2d.h"

#include "core/check.h"

namespace maskrt::ops {

bool stem_s2d_applicable(const Conv2dParams& p, const Shape& ws) {
  return ws.size() == 4 && ws[1] == kStemInChannels && ws[2] == kStemKernel && ws[3] == kStemKernel &&
         p.stride_h == kStemStride && p.stride_w == kStemStride && p.pad_h == kStemPad && p.pad_w == kStemPad &&
         p.dilation_h == 1 && p.dilation_w == 1 && p.groups == 1;
}

Conv2dParams stem_s2d_conv_params(const Conv2dParams& p) {
  Conv2dParams q;
  q.relu = p.relu;  // stride 1, padding 0, dilation 1, groups 1
  return q;
}

Tensor stem_s2d_input(const Tensor& x) {
  MASKRT_CHECK(x.dim() == 4 && x.size(1) == kStemInChannels && x.size(2) >= 1 && x.size(3) >= 1,
               ErrorCode::kInvalidArgument, "stem_s2d_input: x must be (N, 3, H, W), got ", shape_str(x.shape()));
  const int64_t N = x.size(0), H = x.size(2), W = x.size(3);
  const int64_t SH = stem_s2d_size(static_cast<int>(H)), SW = stem_s2d_size(static_cast<int>(W));
  Tensor s({N, kStemS2dChannels, SH, SW});  // zero-initialised: border, padding channels
  for (int64_t n = 0; n < N; ++n)
    for (int dy = 0; dy < 2; ++dy)
      for (int dx = 0; dx < 2; ++dx)
        for (int c = 0; c < kStemInChannels; ++c) {
          const float* src = x.data() + (n * kStemInChannels + c) * H * W;
          float* dst = s.data() + (n * kStemS2dChannels + stem_s2d_channel(dy, dx, c)) * SH * SW;
          for (int64_t Y = 0; Y < SH; ++Y) {
            const int64_t r = stem_s2d_source(static_cast<int>(Y), dy);
            if (r < 0 || r >= H) continue;
            for (int64_t X = 0; X < SW; ++X) {
              const int64_t q = stem_s2d_source(static_cast<int>(X), dx);
              if (q >= 0 && q < W) dst[Y * SW + X] = src[r * W + q];
            }
          }
        }
  return s;
}

Tensor stem_s2d_weight(const Tensor& w) {
  MASKRT_CHECK(w.dim() == 4 && w.size(1) == kStemInChannels && w.size(2) == kStemKernel && w.size(3) == kStemKernel,
               ErrorCode::kInvalidArgument, "stem_s2d_weight: the stem weight must be (O, 3, 7, 7), got ",
               shape_str(w.shape()));
  const int64_t O = w.size(0);
  constexpr int K = kStemKernel, J = kStemS2dKernel;
  Tensor out({O, kStemS2dChannels, J, J});  // zero-initialised: the ky = -1 / kx = -1 taps, channels 12..15
  for (int64_t o = 0; o < O; ++o)
    for (int dy = 0; dy < 2; ++dy)
      for (int dx = 0; dx < 2; ++dx)
        for (int c = 0; c < kStemInChannels; ++c)
          for (int jy = 0; jy < J; ++jy)
            for (int jx = 0; jx < J; ++jx) {
              const int ky = 2 * jy + dy - 1, kx = 2 * jx + dx - 1;
              if (ky < 0 || kx < 0) continue;  // ky, kx <= 6 always (jy, jx <= 3, dy, dx <= 1)
              out[((o * kStemS2dChannels + stem_s2d_channel(dy, dx, c)) * J + jy) * J + jx] =
                  w[((o * kStemInChannels + c) * K + ky) * K + kx];
            }
  return out;
}

}  // namespace maskrt::ops
