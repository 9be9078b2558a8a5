// conv2d shape logic (shared by every implementation) and the scalar reference.
#include "ops/conv2d/conv2d.h"

#include <algorithm>

namespace maskrt::ops {

Shape conv2d_output_shape(const Conv2dParams& p, const Shape& x, const Shape& w) {
  constexpr auto kBad = ErrorCode::kInvalidArgument;
  MASKRT_CHECK(x.size() == 4, kBad, "conv2d: input x must be 4-D (N, C, H, W), got ", shape_str(x));
  MASKRT_CHECK(w.size() == 4, kBad, "conv2d: weight must be 4-D (O, C/groups, KH, KW), got ", shape_str(w));
  MASKRT_CHECK(p.stride_h >= 1 && p.stride_w >= 1, kBad, "conv2d: stride must be >= 1, got (", p.stride_h, ", ",
               p.stride_w, ")");
  MASKRT_CHECK(p.dilation_h >= 1 && p.dilation_w >= 1, kBad, "conv2d: dilation must be >= 1, got (", p.dilation_h,
               ", ", p.dilation_w, ")");
  MASKRT_CHECK(p.pad_h >= 0 && p.pad_w >= 0, kBad, "conv2d: padding must be >= 0, got (", p.pad_h, ", ", p.pad_w,
               ")");
  MASKRT_CHECK(p.groups >= 1, kBad, "conv2d: groups must be >= 1, got ", p.groups);
  const int64_t n = x[0], c = x[1], h = x[2], wd = x[3];
  const int64_t o = w[0], kh = w[2], kw = w[3];
  MASKRT_CHECK(c % p.groups == 0, kBad, "conv2d: input channels ", c, " of x ", shape_str(x),
               " not divisible by groups ", p.groups);
  MASKRT_CHECK(o % p.groups == 0, kBad, "conv2d: output channels ", o, " of weight ", shape_str(w),
               " not divisible by groups ", p.groups);
  MASKRT_CHECK(w[1] == c / p.groups, kBad, "conv2d: weight ", shape_str(w), " expects ", w[1] * p.groups,
               " input channels (groups=", p.groups, ") but x ", shape_str(x), " has ", c);
  MASKRT_CHECK(kh >= 1 && kw >= 1 && o >= 1, kBad, "conv2d: empty weight ", shape_str(w));
  const int64_t eff_h = static_cast<int64_t>(p.dilation_h) * (kh - 1) + 1;
  const int64_t eff_w = static_cast<int64_t>(p.dilation_w) * (kw - 1) + 1;
  const int64_t ih = h + 2 * p.pad_h, iw = wd + 2 * p.pad_w;
  MASKRT_CHECK(ih >= eff_h && iw >= eff_w, kBad, "conv2d: padded input ", ih, "x", iw, " of x ", shape_str(x),
               " is smaller than the dilated kernel ", eff_h, "x", eff_w);
  const int64_t oh = (ih - eff_h) / p.stride_h + 1;
  const int64_t ow = (iw - eff_w) / p.stride_w + 1;
  return {n, o, oh, ow};
}

namespace {
void check_bias(const Tensor& bias, int64_t o) {
  if (!bias.defined()) return;
  MASKRT_CHECK(bias.dim() == 1 && bias.size(0) == o, ErrorCode::kInvalidArgument, "conv2d: bias must be (", o,
               ",), got ", shape_str(bias.shape()));
}
}  // namespace

Tensor conv2d_ref(const Conv2dParams& p, const Tensor& x, const Tensor& w, const Tensor& bias) {
  const Shape ys = conv2d_output_shape(p, x.shape(), w.shape());
  check_bias(bias, ys[1]);
  const int64_t n_img = ys[0], oc = ys[1], oh = ys[2], ow = ys[3];
  const int64_t c = x.size(1), h = x.size(2), wd = x.size(3);
  const int64_t cg = c / p.groups, og = oc / p.groups, kh = w.size(2), kw = w.size(3);
  Tensor y(ys);
  const float* xp = x.data();
  const float* wp = w.data();
  float* yp = y.data();
  for (int64_t n = 0; n < n_img; ++n) {
    for (int64_t o = 0; o < oc; ++o) {
      const int64_t g = o / og;
      for (int64_t i = 0; i < oh; ++i) {
        for (int64_t j = 0; j < ow; ++j) {
          double acc = bias.defined() ? static_cast<double>(bias[o]) : 0.0;
          for (int64_t ci = 0; ci < cg; ++ci) {
            const int64_t cin = g * cg + ci;
            for (int64_t a = 0; a < kh; ++a) {
              const int64_t yy = i * p.stride_h - p.pad_h + a * p.dilation_h;
              if (yy < 0 || yy >= h) continue;
              for (int64_t b = 0; b < kw; ++b) {
                const int64_t xx = j * p.stride_w - p.pad_w + b * p.dilation_w;
                if (xx < 0 || xx >= wd) continue;
                acc += static_cast<double>(xp[((n * c + cin) * h + yy) * wd + xx]) *
                       static_cast<double>(wp[((o * cg + ci) * kh + a) * kw + b]);
              }
            }
          }
          float v = static_cast<float>(acc);
          if (p.relu) v = std::max(v, 0.0f);
          yp[((n * oc + o) * oh + i) * ow + j] = v;
        }
      }
    }
  }
  return y;
}

}  // namespace maskrt::ops
