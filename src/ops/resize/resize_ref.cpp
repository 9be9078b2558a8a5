// Scalar reference for the Pillow-exact bilinear resize (see resize.h), plus the shared validation
// and Detectron2's ResizeShortestEdge output-shape rule. Written for clarity, not speed: the weights
// of every output pixel are recomputed where they are used.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/check.h"
#include "ops/resize/resize.h"

namespace maskrt::ops {

void validate(const ResizeParams& p) {
  MASKRT_CHECK(p.in_height >= 1 && p.in_width >= 1 && p.out_height >= 1 && p.out_width >= 1,
               ErrorCode::kInvalidArgument, "resize: sizes must be >= 1, got in ", p.in_height, "x",
               p.in_width, " out ", p.out_height, "x", p.out_width, " (HxW)");
  MASKRT_CHECK(p.channels >= 1 && p.channels <= 4, ErrorCode::kInvalidArgument,
               "resize: channels must be 1..4, got ", p.channels);
}

namespace {

constexpr int kPrecisionBits = 22;  // Pillow: 32 - 8 (pixel) - 2 (headroom)

// Taps of one output index along one axis: source indices [first, first + weights.size()).
struct Taps {
  int first = 0;
  std::vector<int32_t> weights;  // fixed point, 2^22 == 1.0
};

double triangle(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

Taps taps_for(int in_size, int out_size, int i) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filter_scale = std::max(scale, 1.0);
  const double support = 1.0 * filter_scale;
  const double center = (i + 0.5) * scale;
  const int lo = std::max(static_cast<int>(center - support + 0.5), 0);
  const int hi = std::min(static_cast<int>(center + support + 0.5), in_size);
  const double inv_filter_scale = 1.0 / filter_scale;
  std::vector<double> w;
  double sum = 0.0;
  for (int j = lo; j < hi; ++j) {
    // Same operation order as Pillow: ((j - center) + 0.5) * (1 / filterscale).
    const double v = triangle((j - center + 0.5) * inv_filter_scale);
    w.push_back(v);
    sum += v;
  }
  Taps t;
  t.first = lo;
  for (double v : w) {
    if (sum != 0.0) v /= sum;
    const double f = v * (1 << kPrecisionBits);
    t.weights.push_back(static_cast<int32_t>(v < 0 ? f - 0.5 : f + 0.5));
  }
  return t;
}

uint8_t round_clip(int32_t acc) {
  const int32_t v = acc >> kPrecisionBits;
  return static_cast<uint8_t>(std::min(std::max(v, 0), 255));
}

// One horizontal pass: rows [row_first, row_first + rows) of `in` (in_width wide) -> `out`.
void horizontal_pass_ref(const uint8_t* in, int in_width, int row_first, int rows, int out_width, int c,
                         uint8_t* out) {
  std::vector<Taps> taps;
  for (int x = 0; x < out_width; ++x) taps.push_back(taps_for(in_width, out_width, x));
  for (int y = 0; y < rows; ++y) {
    const uint8_t* line = in + size_t(y + row_first) * in_width * c;
    for (int x = 0; x < out_width; ++x) {
      const Taps& t = taps[x];
      for (int ch = 0; ch < c; ++ch) {
        int32_t acc = 1 << (kPrecisionBits - 1);
        for (size_t k = 0; k < t.weights.size(); ++k) acc += line[(t.first + k) * c + ch] * t.weights[k];
        out[(size_t(y) * out_width + x) * c + ch] = round_clip(acc);
      }
    }
  }
}

// One vertical pass: `in` holds source rows [row0, row0 + ...) of an image `in_height` tall and
// `width` wide; writes out_height rows.
void vertical_pass_ref(const uint8_t* in, int in_height, int row0, int width, int out_height, int c,
                       uint8_t* out) {
  for (int y = 0; y < out_height; ++y) {
    const Taps t = taps_for(in_height, out_height, y);
    for (int x = 0; x < width; ++x) {
      for (int ch = 0; ch < c; ++ch) {
        int32_t acc = 1 << (kPrecisionBits - 1);
        for (size_t k = 0; k < t.weights.size(); ++k) {
          const size_t row = size_t(t.first + int(k) - row0);
          acc += in[(row * width + x) * c + ch] * t.weights[k];
        }
        out[(size_t(y) * width + x) * c + ch] = round_clip(acc);
      }
    }
  }
}

}  // namespace

bool resize_vertical_first(const ResizeParams& p) {
  const int64_t dh = int64_t(p.in_height) - p.out_height;
  const int64_t dw = int64_t(p.in_width) - p.out_width;
  return p.out_height < p.in_height && p.out_width != p.in_width && dh > 2 * dw;
}

void resize_bilinear_pillow_ref(const ResizeParams& p, const uint8_t* in, uint8_t* out) {
  validate(p);
  const int c = p.channels;
  if (p.in_height == p.out_height && p.in_width == p.out_width) {
    std::memcpy(out, in, size_t(p.in_height) * p.in_width * c);
    return;
  }
  if (p.out_width == p.in_width) {
    vertical_pass_ref(in, p.in_height, 0, p.in_width, p.out_height, c, out);
    return;
  }
  if (p.out_height == p.in_height) {
    horizontal_pass_ref(in, p.in_width, 0, p.in_height, p.out_width, c, out);
    return;
  }
  if (resize_vertical_first(p)) {
    std::vector<uint8_t> temp(size_t(p.out_height) * p.in_width * c);  // (out_height, in_width, c)
    vertical_pass_ref(in, p.in_height, 0, p.in_width, p.out_height, c, temp.data());
    horizontal_pass_ref(temp.data(), p.in_width, 0, p.out_height, p.out_width, c, out);
    return;
  }
  // Horizontal first, only over the source rows that the vertical pass reads.
  const int row_first = taps_for(p.in_height, p.out_height, 0).first;
  const Taps last = taps_for(p.in_height, p.out_height, p.out_height - 1);
  const int row_end = last.first + static_cast<int>(last.weights.size());
  std::vector<uint8_t> temp(size_t(row_end - row_first) * p.out_width * c);
  horizontal_pass_ref(in, p.in_width, row_first, row_end - row_first, p.out_width, c, temp.data());
  vertical_pass_ref(temp.data(), p.in_height, row_first, p.out_width, p.out_height, c, out);
}

std::pair<int, int> resize_shortest_edge_shape(int h, int w, int min_size, int max_size) {
  MASKRT_CHECK(h >= 1 && w >= 1, ErrorCode::kInvalidArgument,
               "resize_shortest_edge_shape: image size must be >= 1, got ", h, "x", w);
  MASKRT_CHECK(min_size >= 0 && max_size >= 0, ErrorCode::kInvalidArgument,
               "resize_shortest_edge_shape: min_size and max_size must be >= 0, got ", min_size, ", ",
               max_size);
  if (min_size == 0) return {h, w};
  const double size = min_size * 1.0;
  double scale = size / std::min(h, w);
  double new_h, new_w;
  if (h < w) {
    new_h = size;
    new_w = scale * w;
  } else {
    new_h = scale * h;
    new_w = size;
  }
  if (std::max(new_h, new_w) > max_size) {
    scale = max_size * 1.0 / std::max(new_h, new_w);
    new_h = new_h * scale;
    new_w = new_w * scale;
  }
  return {static_cast<int>(new_h + 0.5), static_cast<int>(new_w + 0.5)};
}

}  // namespace maskrt::ops
