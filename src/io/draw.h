#pragma once
// Raster drawing on a maskrt::Image (8-bit, 3 channels), used by `maskrt infer --visualize` (masks,
// boxes, class labels) and by the bench plots (src/bench/plot.h).
//
// Coordinates are integer pixel indices: x = column (0 = left), y = row (0 = top). Rectangles are
// given by two corners and INCLUDE both corner pixels; corners may come in any order. Everything is
// clipped to the image: drawing outside it is a no-op, never an error.
// Colours are given as RGB; on an image whose channel_order is kBGR they are stored swapped, so a
// colour means the same thing in both layouts.
// Thread safety: functions that take a non-const Image must not run concurrently on the same image.
#include <cstdint>
#include <string>

#include "maskrt/image.h"
#include "maskrt/instances.h"

namespace maskrt {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
};
inline bool operator==(const Rgb& a, const Rgb& b) { return a.r == b.r && a.g == b.g && a.b == b.b; }
inline bool operator!=(const Rgb& a, const Rgb& b) { return !(a == b); }

// A width x height image filled with `color` (RGB order). width/height >= 1, else kInvalidArgument.
Image make_image(int width, int height, Rgb color);

// Throws kInvalidArgument when image.pixels.size() != height * width * 3 (a malformed Image).
void check_image(const Image& image);

// Pixel access (get: the pixel as RGB; x, y must be inside, else kInvalidArgument).
Rgb get_pixel(const Image& image, int x, int y);
void put_pixel(Image& image, int x, int y, Rgb color);  // clipped

void fill_rect(Image& image, int x0, int y0, int x1, int y1, Rgb color);
// Outline of the rectangle; the border is `thickness` pixels wide and grows INWARD from the given
// corners (a thickness larger than half the rectangle fills it). thickness >= 1 else kInvalidArgument.
void draw_rect(Image& image, int x0, int y0, int x1, int y1, Rgb color, int thickness = 1);

// Bresenham line from (x0, y0) to (x1, y1), both end pixels included. With thickness t > 1 each
// line pixel is stamped with a t x t square whose top-left is (x - (t-1)/2, y - (t-1)/2).
void draw_line(Image& image, int x0, int y0, int x1, int y1, Rgb color, int thickness = 1);

// Alpha blend of `color` over the pixels where mask != 0:
//   out = floor(src * (1 - alpha) + color * alpha + 0.5)  per channel, alpha in [0, 1].
// `mask` is row-major uint8 of the image's height x width (kInvalidArgument when the sizes differ or
// alpha is outside [0, 1]).
void blend_mask(Image& image, const uint8_t* mask, int mask_height, int mask_width, Rgb color, float alpha);
// Same for a COCO RLE mask (column-major runs, as produced by pycocotools), decoded on the fly. The
// RLE must be of the image's size and its counts must sum to height * width (else kInvalidArgument).
void blend_mask(Image& image, const RleMask& mask, Rgb color, float alpha);

// Text in the embedded 5x8 font (src/io/font5x7.h), each font pixel a scale x scale block.
// (x, y) is the top-left of the first character cell; '\n' starts a new line. Characters outside
// ASCII 32..126 draw as '?'. scale >= 1 else kInvalidArgument.
void draw_text(Image& image, int x, int y, const std::string& text, Rgb color, int scale = 1);
// Same text rotated 90 degrees counter-clockwise (reads bottom to top, as a y-axis label); (x, y) is
// the top-left of the rotated box, which is text_height(scale) wide and text_width(text, scale) tall.
void draw_text_vertical(Image& image, int x, int y, const std::string& text, Rgb color, int scale = 1);
// Size of the box draw_text covers: width of the longest line (no trailing spacing column), height of
// all lines (last line without the line gap).
int text_width(const std::string& text, int scale = 1);
int text_height(const std::string& text, int scale = 1);
// Text on a filled background box with `pad` pixels of padding; (x, y) is the box's top-left.
void draw_label(Image& image, int x, int y, const std::string& text, Rgb fg, Rgb bg, int scale = 1, int pad = 1);

// A colour per class index (>= 0): hues advance by the golden-ratio fraction of a turn so neighbouring
// classes differ strongly; saturation and value cycle through three levels. Deterministic; the first
// 256 colours are pairwise different. kInvalidArgument for a negative index.
Rgb palette_color(int class_index);

}  // namespace maskrt
