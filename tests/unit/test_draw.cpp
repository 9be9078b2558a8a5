// io/draw against hand-computed pixels: rectangle outlines/fills, alpha blending of masks (row-major
// and COCO RLE), Bresenham lines vs the ideal line, text placement and scaling, palette.
#include <gtest/gtest.h>

#include <climits>
#include <cmath>
#include <functional>
#include <set>
#include <stdexcept>
#include <tuple>

#include "io/draw.h"
#include "io/visualize.h"
#include "io/font5x7.h"
#include "maskrt/errors.h"

namespace maskrt {
namespace {

constexpr Rgb kBg{100, 150, 200};
constexpr Rgb kRed{255, 0, 0};

void expect_image(const Image& im, const std::function<Rgb(int, int)>& expected) {
  for (int y = 0; y < im.height; ++y)
    for (int x = 0; x < im.width; ++x) {
      const Rgb e = expected(x, y), g = get_pixel(im, x, y);
      ASSERT_TRUE(g == e) << "pixel (" << x << ", " << y << "): got " << int(g.r) << "," << int(g.g) << ","
                          << int(g.b) << " expected " << int(e.r) << "," << int(e.g) << "," << int(e.b);
    }
}

TEST(Draw, RectangleOutlineGrowsInward) {
  Image im = make_image(10, 8, kBg);
  draw_rect(im, 6, 5, 2, 1, kRed, 2);  // corners in any order
  // Border pixels: columns 2,3 and 5,6 for rows 1..5; rows 1,2 and 4,5 for columns 2..6.
  expect_image(im, [](int x, int y) {
    const bool in = x >= 2 && x <= 6 && y >= 1 && y <= 5;
    const bool border = in && (x <= 3 || x >= 5 || y <= 2 || y >= 4);
    return border ? kRed : kBg;
  });
  Image thick = make_image(5, 5, kBg);
  draw_rect(thick, 0, 0, 4, 4, kRed, 10);  // thicker than half: fills
  expect_image(thick, [](int, int) { return kRed; });
  EXPECT_THROW(draw_rect(thick, 0, 0, 1, 1, kRed, 0), Error);
}

TEST(Draw, FillRectClipsAndIgnoresOutside) {
  Image im = make_image(6, 4, kBg);
  fill_rect(im, 1, 1, -3, -3, kRed);  // clipped to x, y in [0, 1]
  fill_rect(im, 10, 10, 20, 20, kRed);  // fully outside: nothing
  draw_rect(im, -5, -5, -1, -1, kRed, 1);
  draw_line(im, -10, 50, -3, 60, kRed, 3);
  expect_image(im, [](int x, int y) { return x <= 1 && y <= 1 ? kRed : kBg; });
}

TEST(Draw, BlendMaskHandComputed) {
  // alpha 0.25 (exact in float): out = floor(src * 0.75 + c * 0.25 + 0.5)
  //   r: 100 * .75 + 0 * .25 = 75;  g: 150 * .75 + 255 * .25 = 176.25 -> 176;
  //   b: 200 * .75 + 50 * .25 = 162.5 -> 163 (halves round up)
  const Rgb c{0, 255, 50}, blended{75, 176, 163};
  Image im = make_image(4, 3, kBg);
  const uint8_t mask[12] = {0, 1, 1, 0,  //
                            0, 1, 0, 0,  //
                            1, 0, 0, 7};  // any non-zero value is inside
  blend_mask(im, mask, 3, 4, c, 0.25f);
  expect_image(im, [&](int x, int y) { return mask[y * 4 + x] ? blended : kBg; });

  Image one = make_image(4, 3, kBg);
  blend_mask(one, mask, 3, 4, c, 1.0f);
  EXPECT_TRUE(get_pixel(one, 1, 0) == c);
  blend_mask(one, mask, 3, 4, kRed, 0.0f);
  EXPECT_TRUE(get_pixel(one, 1, 0) == c);
  EXPECT_THROW(blend_mask(one, mask, 4, 3, c, 0.5f), Error);  // size mismatch
  EXPECT_THROW(blend_mask(one, mask, 3, 4, c, 1.5f), Error);
}

TEST(Draw, BlendRleMaskMatchesDenseMask) {
  // Same mask as above (h = 3, w = 4), flattened column by column:
  //   col0 0 0 1 | col1 1 1 0 | col2 1 0 0 | col3 0 0 1  -> runs 2 zeros, 3 ones, 1, 1, 4, 1
  RleMask rle;
  rle.height = 3;
  rle.width = 4;
  rle.counts = {2, 3, 1, 1, 4, 1};
  const uint8_t dense[12] = {0, 1, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1};
  const Rgb c{0, 255, 50}, blended{75, 176, 163};
  Image im = make_image(4, 3, kBg);
  blend_mask(im, rle, c, 0.25f);
  expect_image(im, [&](int x, int y) { return dense[y * 4 + x] ? blended : kBg; });
  rle.counts = {2, 3, 1, 1, 4};  // sums to 11, not 12
  EXPECT_THROW(blend_mask(im, rle, c, 0.25f), Error);
  rle.counts = {12};
  rle.height = 4;
  EXPECT_THROW(blend_mask(im, rle, c, 0.25f), Error);
}

TEST(Draw, BgrImagesStoreSwappedChannels) {
  Image im = make_image(2, 1, Rgb{0, 0, 0});
  im.channel_order = ChannelOrder::kBGR;
  put_pixel(im, 1, 0, Rgb{10, 20, 30});
  EXPECT_EQ(im.pixels[3], 30);
  EXPECT_EQ(im.pixels[4], 20);
  EXPECT_EQ(im.pixels[5], 10);
  EXPECT_TRUE(get_pixel(im, 1, 0) == (Rgb{10, 20, 30}));
  // Blending in BGR: out channel-wise with the colour swapped: 10*0.5+100*0.5 etc.
  const uint8_t m[2] = {0, 1};
  blend_mask(im, m, 1, 2, Rgb{110, 120, 130}, 0.5f);
  EXPECT_TRUE(get_pixel(im, 1, 0) == (Rgb{60, 70, 80}));
}

TEST(Draw, BresenhamHandComputed) {
  // (0,0) -> (6,2): ideal y = x/3 rounded: 0 0 1 1 1 2 2
  Image im = make_image(8, 4, kBg);
  draw_line(im, 0, 0, 6, 2, kRed);
  const std::set<std::pair<int, int>> want = {{0, 0}, {1, 0}, {2, 1}, {3, 1}, {4, 1}, {5, 2}, {6, 2}};
  expect_image(im, [&](int x, int y) { return want.count({x, y}) ? kRed : kBg; });
}

// Property over all octants: one pixel per step of the major axis, each within 0.5 px of the ideal line.
TEST(Draw, BresenhamAllOctants) {
  const int cx = 20, cy = 20;
  for (auto [dx, dy] : std::vector<std::pair<int, int>>{{13, 4}, {4, 13}, {-13, 4}, {-4, 13}, {13, -4}, {4, -13},
                                                        {-13, -4}, {-4, -13}, {9, 9}, {-9, 9}, {0, 7}, {7, 0}, {0, 0}}) {
    Image im = make_image(41, 41, kBg);
    draw_line(im, cx, cy, cx + dx, cy + dy, kRed);
    int count = 0;
    for (int y = 0; y < 41; ++y)
      for (int x = 0; x < 41; ++x) {
        if (get_pixel(im, x, y) != kRed) continue;
        ++count;
        const int px = x - cx, py = y - cy;
        if (std::abs(dx) >= std::abs(dy)) {
          const double ideal = dx == 0 ? 0 : double(dy) * px / dx;
          EXPECT_LE(std::fabs(py - ideal), 0.5 + 1e-9) << dx << "," << dy << " at " << x << "," << y;
        } else {
          const double ideal = double(dx) * py / dy;
          EXPECT_LE(std::fabs(px - ideal), 0.5 + 1e-9) << dx << "," << dy << " at " << x << "," << y;
        }
      }
    EXPECT_EQ(count, std::max(std::abs(dx), std::abs(dy)) + 1) << dx << "," << dy;
    EXPECT_TRUE(get_pixel(im, cx, cy) == kRed);
    EXPECT_TRUE(get_pixel(im, cx + dx, cy + dy) == kRed);
  }
}

TEST(Draw, ThickLineStampsSquares) {
  Image im = make_image(10, 10, kBg);
  draw_line(im, 2, 5, 6, 5, kRed, 3);  // horizontal, t = 3: rows 4..6, columns 1..7
  expect_image(im, [](int x, int y) { return x >= 1 && x <= 7 && y >= 4 && y <= 6 ? kRed : kBg; });
}

// 'L' in the font: column 0 rows 0..6 and row 6 columns 0..4 (see font5x7.cpp).
TEST(Draw, TextPlacementAndScale) {
  Image im = make_image(16, 20, kBg);
  draw_text(im, 3, 2, "L", kRed, 2);
  expect_image(im, [](int x, int y) {
    const int gx = (x - 3) / 2, gy = (y - 2) / 2;
    const bool inside = x >= 3 && y >= 2 && gx < 5 && gy < 8;
    const bool ink = inside && (gx == 0 ? gy <= 6 : gy == 6);
    return ink ? kRed : kBg;
  });
  // Rotated CCW: the L's corner lands bottom-right, its stroke runs left along the bottom row and up
  // the right column. Box: 8 wide (glyph height) x 5 tall (glyph width).
  Image v = make_image(12, 8, kBg);
  draw_text_vertical(v, 1, 1, "L", kRed, 1);
  expect_image(v, [](int x, int y) {
    const bool bottom_row = y == 1 + 4 && x >= 1 && x <= 1 + 6;
    const bool right_col = x == 1 + 6 && y >= 1 && y <= 1 + 4;
    return bottom_row || right_col ? kRed : kBg;
  });
  EXPECT_EQ(text_width("AB"), 11);  // 6 + 5
  EXPECT_EQ(text_width("AB", 3), 33);
  EXPECT_EQ(text_width("ABC\nD"), 17);
  EXPECT_EQ(text_width(""), 0);
  EXPECT_EQ(text_height("A"), 8);
  EXPECT_EQ(text_height("A\nB", 2), 36);  // (10 + 8) * 2
  EXPECT_THROW(draw_text(im, 0, 0, "x", kRed, 0), Error);
}

// render_instances: a label whose box touches the right edge is moved left to fit (not cut off), and
// of two instances at the same place the higher-scoring one's box and label are drawn last (on top).
// Hand-derived geometry: "0 0.90" is 6 glyphs -> text_width 35, label 37 x 10 with 1 px padding.
TEST(Visualize, LabelsStayInsideAndBestIsOnTop) {
  const Image im = make_image(60, 40, kBg);
  ImageResult r;
  r.height = 40;
  r.width = 60;
  Instance best{{50.f, 20.f, 58.f, 30.f}, 0.9f, 0};
  Instance worse{{50.f, 20.f, 58.f, 30.f}, 0.5f, 1};
  r.instances = {best, worse};  // score order, as the engine returns them
  const Image out = render_instances(im, r);
  ASSERT_EQ(text_width("0 0.90"), 35);
  const Rgb c0 = palette_color(0);
  // Label box: x from 60 - 37 = 23 to 59, y from 20 - 10 - 1 = 9 to 18; its corners are padding (class 0 colour).
  EXPECT_TRUE(get_pixel(out, 23, 9) == c0);
  EXPECT_TRUE(get_pixel(out, 59, 9) == c0);
  EXPECT_TRUE(get_pixel(out, 59, 18) == c0);
  EXPECT_TRUE(get_pixel(out, 22, 9) == kBg);   // left of the label
  EXPECT_TRUE(get_pixel(out, 30, 8) == kBg);   // above it
  EXPECT_TRUE(get_pixel(out, 50, 25) == c0);   // the best instance's box outline is on top
  // The worse label cannot sit on the best one: above-left and above-right are taken, so it goes below
  // the box, (50, 29 + 2) moved into the picture to (60 - 37, 40 - 10) = (23, 30).
  EXPECT_TRUE(get_pixel(out, 23, 30) == palette_color(1));
  EXPECT_TRUE(get_pixel(out, 59, 39) == palette_color(1));
  // A label at the top edge moves down instead of leaving the picture.
  ImageResult top = r;
  top.instances = {Instance{{2.f, 1.f, 20.f, 12.f}, 0.9f, 0}};
  const Image out2 = render_instances(im, top);
  EXPECT_TRUE(get_pixel(out2, 2, 0) == c0);
  EXPECT_TRUE(get_pixel(out2, 38, 9) == c0);
  EXPECT_TRUE(get_pixel(out2, 39, 0) == kBg);
}

// place_labels: best first, the first free spot of above-left, above-right, below-left, below-right,
// inside; the least-covered spot when none is free. Expected rectangles derived by hand (comments).
TEST(Visualize, LabelsOfNeighbouringBoxesDoNotCoverEachOther) {
  const std::pair<int, int> sz{37, 10};
  // 100 x 60 picture. A = {10,30,40,50}: above-left (10, 30-10-1 = 19), free.
  // B = {12,30,45,50}: above-left (12,19) and above-right (45-37+1 = 9, 19) cover A; below-left
  // (12, 52) is moved up to 60-10 = 50 and is free. C = A again: above-left / above-right cover A,
  // below-left (10,50) and below-right (4,50) cover B; inside (11,31) is free.
  const std::vector<LabelRect> r =
      place_labels({{10, 30, 40, 50}, {12, 30, 45, 50}, {10, 30, 40, 50}}, {sz, sz, sz}, 100, 60);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(std::make_tuple(r[0].x, r[0].y, r[0].w, r[0].h), std::make_tuple(10, 19, 37, 10));
  EXPECT_EQ(std::make_tuple(r[1].x, r[1].y), std::make_tuple(12, 50));
  EXPECT_EQ(std::make_tuple(r[2].x, r[2].y), std::make_tuple(11, 31));
  // 40 x 10 picture, two labels on the whole-picture box {0,0,39,9}: every spot is moved to y = 0 and
  // x in 0..3; against the first label at (0,0) the spots at x = 0 / 3 / 0 / 3 / 1 cover 370 / 340 /
  // 370 / 340 / 360 pixels, so the second takes the earliest least-covered one, above-right (3,0).
  const std::vector<LabelRect> t = place_labels({{0, 0, 39, 9}, {0, 0, 39, 9}}, {sz, sz}, 40, 10);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(std::make_tuple(t[0].x, t[0].y), std::make_tuple(0, 0));
  EXPECT_EQ(std::make_tuple(t[1].x, t[1].y), std::make_tuple(3, 0));
  EXPECT_TRUE(place_labels({}, {}, 10, 10).empty());
  EXPECT_THROW(place_labels({{0, 0, 1, 1}}, {}, 10, 10), Error);
  EXPECT_THROW(place_labels({{0, 0, 1, 1}}, {{-1, 10}}, 10, 10), Error);
  // Extreme coordinates are computed in 64 bits: the spot is just moved into the picture.
  const std::vector<LabelRect> e = place_labels({{INT_MIN, INT_MIN, INT_MAX, INT_MAX}}, {sz}, 100, 60);
  EXPECT_EQ(std::make_tuple(e[0].x, e[0].y), std::make_tuple(0, 0));
}

// render_instances draws the labels lowest score first: where two labels must overlap (a 40 x 10
// picture, both on the whole picture; placement as in the test above: best at x 0..36, worse at 3..39),
// the best one's pixels win. Pixel (36, 0) is the best label's top-right padding and lies inside the
// worse label; (39, 0) is the worse label's alone. Non-finite box values do not break the picture.
TEST(Visualize, OverlappingLabelsShowTheBestOnTop) {
  const Image im = make_image(40, 10, kBg);
  ImageResult r;
  r.height = 10;
  r.width = 40;
  r.instances = {Instance{{0.f, 0.f, 40.f, 10.f}, 0.9f, 0}, Instance{{0.f, 0.f, 40.f, 10.f}, 0.5f, 1}};
  const Image out = render_instances(im, r);
  EXPECT_TRUE(get_pixel(out, 0, 0) == palette_color(0));
  EXPECT_TRUE(get_pixel(out, 36, 0) == palette_color(0));
  EXPECT_TRUE(get_pixel(out, 39, 0) == palette_color(1));
  r.instances.push_back(Instance{{std::nanf(""), -1e30f, 1e30f, INFINITY}, 0.1f, 2});
  EXPECT_EQ(render_instances(im, r).pixels.size(), im.pixels.size());
}

TEST(Draw, TextUnknownCharsDrawAsQuestionMark) {
  Image a = make_image(8, 10, kBg), b = make_image(8, 10, kBg);
  draw_text(a, 1, 1, "\x01", kRed);
  draw_text(b, 1, 1, "?", kRed);
  EXPECT_EQ(a.pixels, b.pixels);
  // Every printable glyph except space has ink, and space has none.
  for (int c = font5x7::kFirstChar; c <= font5x7::kLastChar; ++c) {
    int ink = 0;
    for (int y = 0; y < font5x7::kGlyphHeight; ++y)
      for (int x = 0; x < font5x7::kGlyphWidth; ++x) ink += font5x7::glyph_pixel(char(c), x, y);
    if (c == ' ') EXPECT_EQ(ink, 0);
    else EXPECT_GT(ink, 0) << "glyph " << c;
  }
}

TEST(Draw, LabelBackground) {
  Image im = make_image(20, 14, kBg);
  draw_label(im, 2, 3, "i", Rgb{255, 255, 255}, kRed, 1, 1);  // box 7 x 10 at (2, 3)
  EXPECT_TRUE(get_pixel(im, 2, 3) == kRed);
  EXPECT_TRUE(get_pixel(im, 8, 12) == kRed);
  EXPECT_TRUE(get_pixel(im, 9, 12) == kBg);
  EXPECT_TRUE(get_pixel(im, 2 + 1 + 2, 3 + 1 + 0) == (Rgb{255, 255, 255}));  // dot of the 'i'
}

TEST(Draw, PaletteDistinctAndDeterministic) {
  std::set<std::tuple<int, int, int>> seen;
  for (int i = 0; i < 256; ++i) {
    const Rgb c = palette_color(i);
    EXPECT_TRUE(seen.insert({c.r, c.g, c.b}).second) << "palette_color(" << i << ") repeats";
    EXPECT_TRUE(c == palette_color(i));
  }
  // Neighbouring class indices differ clearly (sum of channel differences).
  for (int i = 0; i + 1 < 80; ++i) {
    const Rgb a = palette_color(i), b = palette_color(i + 1);
    EXPECT_GT(std::abs(a.r - b.r) + std::abs(a.g - b.g) + std::abs(a.b - b.b), 60) << i;
  }
  EXPECT_THROW(palette_color(-1), Error);
}

TEST(Draw, MalformedImageRejected) {
  Image im;
  im.width = 4;
  im.height = 4;
  im.pixels.resize(10);
  EXPECT_THROW(fill_rect(im, 0, 0, 1, 1, kRed), Error);
  EXPECT_THROW(make_image(0, 3, kRed), Error);
}

}  // namespace
}  // namespace maskrt
