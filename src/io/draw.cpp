#include "io/draw.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "core/check.h"
#include "io/font5x7.h"

namespace maskrt {

namespace {

uint8_t* pixel_ptr(Image& im, int x, int y) { return im.pixels.data() + (size_t(y) * im.width + x) * 3; }

// Stores an RGB colour in the image's channel order.
void store(Image& im, int x, int y, Rgb c) {
  uint8_t* p = pixel_ptr(im, x, y);
  if (im.channel_order == ChannelOrder::kBGR) std::swap(c.r, c.b);
  p[0] = c.r;
  p[1] = c.g;
  p[2] = c.b;
}

uint8_t blend_channel(uint8_t src, uint8_t col, float alpha) {
  const double v = double(src) * (1.0 - double(alpha)) + double(col) * double(alpha);
  return static_cast<uint8_t>(std::clamp(std::floor(v + 0.5), 0.0, 255.0));
}

void blend_at(Image& im, int x, int y, Rgb c, float alpha) {
  uint8_t* p = pixel_ptr(im, x, y);
  if (im.channel_order == ChannelOrder::kBGR) std::swap(c.r, c.b);
  p[0] = blend_channel(p[0], c.r, alpha);
  p[1] = blend_channel(p[1], c.g, alpha);
  p[2] = blend_channel(p[2], c.b, alpha);
}

void check_alpha(float alpha) {
  MASKRT_CHECK(alpha >= 0.0f && alpha <= 1.0f, ErrorCode::kInvalidArgument, "blend_mask: alpha=", alpha,
               " is outside [0, 1]");
}

// HSV (h in [0, 1), s, v in [0, 1]) -> RGB, rounded to nearest.
Rgb hsv_to_rgb(double h, double s, double v) {
  const double h6 = h * 6.0;
  const int sector = static_cast<int>(std::floor(h6)) % 6;
  const double f = h6 - std::floor(h6);
  const double p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  double r = v, g = t, b = p;
  switch (sector) {
    case 0: r = v, g = t, b = p; break;
    case 1: r = q, g = v, b = p; break;
    case 2: r = p, g = v, b = t; break;
    case 3: r = p, g = q, b = v; break;
    case 4: r = t, g = p, b = v; break;
    default: r = v, g = p, b = q; break;
  }
  auto u8 = [](double x) { return static_cast<uint8_t>(std::lround(std::clamp(x, 0.0, 1.0) * 255.0)); };
  return {u8(r), u8(g), u8(b)};
}

}  // namespace

void check_image(const Image& image) {
  MASKRT_CHECK(image.height >= 0 && image.width >= 0 &&
                   image.pixels.size() == size_t(image.height) * size_t(image.width) * 3,
               ErrorCode::kInvalidArgument, "image buffer holds ", image.pixels.size(), " bytes, expected ",
               image.height, " x ", image.width, " x 3");
}

Image make_image(int width, int height, Rgb color) {
  MASKRT_CHECK(width >= 1 && height >= 1, ErrorCode::kInvalidArgument, "make_image: size ", width, "x", height,
               " must be at least 1x1");
  Image im;
  im.width = width;
  im.height = height;
  im.pixels.resize(size_t(width) * height * 3);
  for (size_t i = 0; i < im.pixels.size(); i += 3) {
    im.pixels[i] = color.r;
    im.pixels[i + 1] = color.g;
    im.pixels[i + 2] = color.b;
  }
  return im;
}

Rgb get_pixel(const Image& image, int x, int y) {
  check_image(image);
  MASKRT_CHECK(x >= 0 && y >= 0 && x < image.width && y < image.height, ErrorCode::kInvalidArgument,
               "get_pixel: (", x, ", ", y, ") is outside the ", image.width, "x", image.height, " image");
  const uint8_t* p = image.pixels.data() + (size_t(y) * image.width + x) * 3;
  Rgb c{p[0], p[1], p[2]};
  if (image.channel_order == ChannelOrder::kBGR) std::swap(c.r, c.b);
  return c;
}

void put_pixel(Image& image, int x, int y, Rgb color) {
  check_image(image);
  if (x < 0 || y < 0 || x >= image.width || y >= image.height) return;
  store(image, x, y, color);
}

void fill_rect(Image& image, int x0, int y0, int x1, int y1, Rgb color) {
  check_image(image);
  if (x0 > x1) std::swap(x0, x1);
  if (y0 > y1) std::swap(y0, y1);
  x0 = std::max(x0, 0);
  y0 = std::max(y0, 0);
  x1 = std::min(x1, image.width - 1);
  y1 = std::min(y1, image.height - 1);
  for (int y = y0; y <= y1; ++y)
    for (int x = x0; x <= x1; ++x) store(image, x, y, color);
}

void draw_rect(Image& image, int x0, int y0, int x1, int y1, Rgb color, int thickness) {
  MASKRT_CHECK(thickness >= 1, ErrorCode::kInvalidArgument, "draw_rect: thickness must be >= 1, got ", thickness);
  if (x0 > x1) std::swap(x0, x1);
  if (y0 > y1) std::swap(y0, y1);
  const int t = thickness - 1;
  fill_rect(image, x0, y0, x1, std::min(y0 + t, y1), color);  // top
  fill_rect(image, x0, std::max(y1 - t, y0), x1, y1, color);  // bottom
  fill_rect(image, x0, y0, std::min(x0 + t, x1), y1, color);  // left
  fill_rect(image, std::max(x1 - t, x0), y0, x1, y1, color);  // right
}

void draw_line(Image& image, int x0, int y0, int x1, int y1, Rgb color, int thickness) {
  check_image(image);
  MASKRT_CHECK(thickness >= 1, ErrorCode::kInvalidArgument, "draw_line: thickness must be >= 1, got ", thickness);
  const int off = (thickness - 1) / 2;
  auto stamp = [&](int x, int y) {
    if (thickness == 1) return put_pixel(image, x, y, color);
    fill_rect(image, x - off, y - off, x - off + thickness - 1, y - off + thickness - 1, color);
  };
  // Integer Bresenham for all octants (error term e = dx + dy with dy negative).
  const int dx = std::abs(x1 - x0), sx = x0 < x1 ? 1 : -1;
  const int dy = -std::abs(y1 - y0), sy = y0 < y1 ? 1 : -1;
  int err = dx + dy;
  // Lines far outside the image are still walked; bench plots and boxes are small, so no clipping pass.
  while (true) {
    stamp(x0, y0);
    if (x0 == x1 && y0 == y1) break;
    const int e2 = 2 * err;
    if (e2 >= dy) {
      err += dy;
      x0 += sx;
    }
    if (e2 <= dx) {
      err += dx;
      y0 += sy;
    }
  }
}

void blend_mask(Image& image, const uint8_t* mask, int mask_height, int mask_width, Rgb color, float alpha) {
  check_image(image);
  check_alpha(alpha);
  MASKRT_CHECK(mask_height == image.height && mask_width == image.width, ErrorCode::kInvalidArgument,
               "blend_mask: mask is ", mask_width, "x", mask_height, " but the image is ", image.width, "x",
               image.height);
  MASKRT_CHECK(mask != nullptr || size_t(mask_height) * mask_width == 0, ErrorCode::kInvalidArgument,
               "blend_mask: null mask");
  for (int y = 0; y < image.height; ++y)
    for (int x = 0; x < image.width; ++x)
      if (mask[size_t(y) * mask_width + x]) blend_at(image, x, y, color, alpha);
}

void blend_mask(Image& image, const RleMask& mask, Rgb color, float alpha) {
  check_image(image);
  check_alpha(alpha);
  MASKRT_CHECK(mask.height == image.height && mask.width == image.width, ErrorCode::kInvalidArgument,
               "blend_mask: RLE mask is ", mask.width, "x", mask.height, " but the image is ", image.width, "x",
               image.height);
  const int64_t total = int64_t(mask.height) * mask.width;
  int64_t sum = 0;
  for (uint32_t c : mask.counts) sum += c;
  MASKRT_CHECK(sum == total, ErrorCode::kInvalidArgument, "blend_mask: RLE counts sum to ", sum, ", expected ",
               total, " (", mask.height, " x ", mask.width, ")");
  int64_t k = 0;  // column-major linear index: x = k / height, y = k % height
  for (size_t i = 0; i < mask.counts.size(); ++i) {
    const int64_t end = k + mask.counts[i];
    if (i % 2 == 1)
      for (int64_t j = k; j < end; ++j) blend_at(image, int(j / mask.height), int(j % mask.height), color, alpha);
    k = end;
  }
}

int text_width(const std::string& text, int scale) {
  int best = 0, cur = 0;
  for (char c : text) {
    if (c == '\n') {
      best = std::max(best, cur);
      cur = 0;
    } else {
      ++cur;
    }
  }
  best = std::max(best, cur);
  return best == 0 ? 0 : ((best - 1) * font5x7::kAdvance + font5x7::kGlyphWidth) * scale;
}

int text_height(const std::string& text, int scale) {
  if (text.empty()) return 0;
  const int lines = 1 + int(std::count(text.begin(), text.end(), '\n'));
  return ((lines - 1) * font5x7::kLineAdvance + font5x7::kGlyphHeight) * scale;
}

namespace {
// Calls plot(u, v) for every ink pixel of `text` laid out horizontally at the origin (u right, v down),
// each font pixel expanded to scale x scale.
template <typename F>
void for_each_ink(const std::string& text, int scale, F&& plot) {
  MASKRT_CHECK(scale >= 1, ErrorCode::kInvalidArgument, "draw_text: scale must be >= 1, got ", scale);
  int col = 0, line = 0;
  for (char c : text) {
    if (c == '\n') {
      col = 0;
      ++line;
      continue;
    }
    const int ox = col * font5x7::kAdvance * scale, oy = line * font5x7::kLineAdvance * scale;
    uint8_t rows[font5x7::kGlyphHeight];
    font5x7::glyph_rows(c, rows);
    for (int gy = 0; gy < font5x7::kGlyphHeight; ++gy)
      for (int gx = 0; gx < font5x7::kGlyphWidth; ++gx)
        if ((rows[gy] >> (font5x7::kGlyphWidth - 1 - gx)) & 1)
          for (int sy = 0; sy < scale; ++sy)
            for (int sx = 0; sx < scale; ++sx) plot(ox + gx * scale + sx, oy + gy * scale + sy);
    ++col;
  }
}
}  // namespace

void draw_text(Image& image, int x, int y, const std::string& text, Rgb color, int scale) {
  check_image(image);
  for_each_ink(text, scale, [&](int u, int v) { put_pixel(image, x + u, y + v, color); });
}

void draw_text_vertical(Image& image, int x, int y, const std::string& text, Rgb color, int scale) {
  check_image(image);
  const int len = text_width(text, scale);
  // Rotating counter-clockwise: the text's u axis points up, its v axis points right.
  for_each_ink(text, scale, [&](int u, int v) { put_pixel(image, x + v, y + len - 1 - u, color); });
}

void draw_label(Image& image, int x, int y, const std::string& text, Rgb fg, Rgb bg, int scale, int pad) {
  pad = std::max(pad, 0);
  const int w = text_width(text, scale), h = text_height(text, scale);
  fill_rect(image, x, y, x + w + 2 * pad - 1, y + h + 2 * pad - 1, bg);
  draw_text(image, x + pad, y + pad, text, fg, scale);
}

Rgb palette_color(int class_index) {
  MASKRT_CHECK(class_index >= 0, ErrorCode::kInvalidArgument, "palette_color: negative class index ", class_index);
  constexpr double kGolden = 0.6180339887498949;  // golden-ratio conjugate: well-spread hue sequence
  const double h = std::fmod(0.08 + class_index * kGolden, 1.0);
  static constexpr double kSat[3] = {0.85, 0.60, 1.00};
  static constexpr double kVal[3] = {0.95, 0.80, 0.65};
  const int level = class_index % 3;
  return hsv_to_rgb(h, kSat[level], kVal[level]);
}

}  // namespace maskrt
