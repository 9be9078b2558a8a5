// Optimised Pillow-exact bilinear resize (see resize.h). Same arithmetic as resize_ref.cpp, but the
// fixed-point weights of each axis are computed once into a (out_size, max_taps) table
// (make_pillow_coeffs, shared with the CUDA preprocess), and both
// passes are split over rows with OpenMP. The vertical pass accumulates whole rows at a time so the
// inner loop is contiguous (and vectorisable); int32 sums are order-independent, so the result is
// bit-identical to the per-pixel order.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include <omp.h>

#include "core/check.h"
#include "ops/resize/pillow_coeffs.h"
#include "ops/resize/resize.h"

namespace maskrt::ops {
namespace {

constexpr int kPrecisionBits = kPillowPrecisionBits;

inline uint8_t round_clip(int32_t acc) {
  const int32_t v = acc >> kPrecisionBits;
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

template <int C>
void horizontal_rows(const uint8_t* in, int in_width, int row_first, int rows, const PillowCoeffs& h,
                     int out_width, uint8_t* out, int num_threads) {
#pragma omp parallel for schedule(static) num_threads(num_threads)
  for (int y = 0; y < rows; ++y) {
    const uint8_t* line = in + size_t(y + row_first) * in_width * C;
    uint8_t* dst = out + size_t(y) * out_width * C;
    for (int x = 0; x < out_width; ++x) {
      const uint8_t* s = line + size_t(h.first[x]) * C;
      const int32_t* w = &h.weights[size_t(x) * h.max_taps];
      const int n = h.count[x];
      int32_t acc[C];
      for (int ch = 0; ch < C; ++ch) acc[ch] = 1 << (kPrecisionBits - 1);
      for (int k = 0; k < n; ++k)
        for (int ch = 0; ch < C; ++ch) acc[ch] += s[k * C + ch] * w[k];
      for (int ch = 0; ch < C; ++ch) dst[x * C + ch] = round_clip(acc[ch]);
    }
  }
}

void vertical_rows(const uint8_t* src, int src_row0, int row_len, const PillowCoeffs& v, int out_height,
                   uint8_t* out, int num_threads) {
#pragma omp parallel num_threads(num_threads)
  {
    std::vector<int32_t> acc(row_len);
#pragma omp for schedule(static)
    for (int y = 0; y < out_height; ++y) {
      std::fill(acc.begin(), acc.end(), 1 << (kPrecisionBits - 1));
      const int32_t* w = &v.weights[size_t(y) * v.max_taps];
      for (int k = 0; k < v.count[y]; ++k) {
        const uint8_t* s = src + size_t(v.first[y] + k - src_row0) * row_len;
        const int32_t wk = w[k];
        int32_t* a = acc.data();
        for (int i = 0; i < row_len; ++i) a[i] += s[i] * wk;
      }
      uint8_t* dst = out + size_t(y) * row_len;
      for (int i = 0; i < row_len; ++i) dst[i] = round_clip(acc[i]);
    }
  }
}

}  // namespace

void resize_bilinear_pillow_cpu(const ResizeParams& p, const uint8_t* in, uint8_t* out, int num_threads) {
  validate(p);
  const int c = p.channels;
  if (p.in_height == p.out_height && p.in_width == p.out_width) {
    std::memcpy(out, in, size_t(p.in_height) * p.in_width * c);
    return;
  }
  if (num_threads <= 0) num_threads = omp_get_max_threads();
  const bool need_horizontal = p.out_width != p.in_width;
  const bool need_vertical = p.out_height != p.in_height;
  const int nt = num_threads;
  auto horizontal = [&](const uint8_t* src, int row_first, int rows, const PillowCoeffs& h, uint8_t* dst) {
    switch (c) {
      case 1: horizontal_rows<1>(src, p.in_width, row_first, rows, h, p.out_width, dst, nt); break;
      case 2: horizontal_rows<2>(src, p.in_width, row_first, rows, h, p.out_width, dst, nt); break;
      case 3: horizontal_rows<3>(src, p.in_width, row_first, rows, h, p.out_width, dst, nt); break;
      default: horizontal_rows<4>(src, p.in_width, row_first, rows, h, p.out_width, dst, nt); break;
    }
  };
  if (!need_horizontal) {
    vertical_rows(in, 0, p.in_width * c, make_pillow_coeffs(p.in_height, p.out_height), p.out_height, out, nt);
    return;
  }
  const PillowCoeffs h = make_pillow_coeffs(p.in_width, p.out_width);
  if (!need_vertical) {
    horizontal(in, 0, p.in_height, h, out);
    return;
  }
  const PillowCoeffs v = make_pillow_coeffs(p.in_height, p.out_height);
  std::vector<uint8_t> temp;
  if (resize_vertical_first(p)) {
    temp.resize(size_t(p.out_height) * p.in_width * c);  // (out_height, in_width, c)
    vertical_rows(in, 0, p.in_width * c, v, p.out_height, temp.data(), nt);
    horizontal(temp.data(), 0, p.out_height, h, out);
    return;
  }
  // Horizontal first, only over the source rows that the vertical pass reads.
  const int row_first = v.first.front();
  const int rows = v.first.back() + v.count.back() - row_first;
  temp.resize(size_t(rows) * p.out_width * c);
  horizontal(in, row_first, rows, h, temp.data());
  vertical_rows(temp.data(), row_first, p.out_width * c, v, p.out_height, out, nt);
}

}  // namespace maskrt::ops
