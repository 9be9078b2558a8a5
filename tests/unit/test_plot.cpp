// bench plots: tick choice by hand, and the PNG read back with libpng (independent of our writer):
// size, colour type, series colour at the data points and along segments, blank background elsewhere.
#include <gtest/gtest.h>
#include <png.h>

#include <cmath>
#include <cstdio>
#include <tuple>

#include "bench/plot.h"
#include "maskrt/errors.h"

namespace maskrt::bench {
namespace {

struct Png {
  int width = 0, height = 0, color_type = -1, bit_depth = 0;
  std::vector<uint8_t> rgb;  // rows of width * 3
  Rgb at(int x, int y) const {
    const uint8_t* p = &rgb[(size_t(y) * width + x) * 3];
    return {p[0], p[1], p[2]};
  }
};

Png read_png_file(const std::string& path) {
  Png out;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return out;
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    std::fclose(f);
    return Png{};
  }
  png_init_io(png, f);
  png_read_info(png, info);
  out.width = int(png_get_image_width(png, info));
  out.height = int(png_get_image_height(png, info));
  out.color_type = png_get_color_type(png, info);
  out.bit_depth = png_get_bit_depth(png, info);
  if (out.color_type == PNG_COLOR_TYPE_RGB && out.bit_depth == 8) {
    out.rgb.resize(size_t(out.width) * out.height * 3);
    std::vector<png_bytep> rows(out.height);
    for (int y = 0; y < out.height; ++y) rows[y] = &out.rgb[size_t(y) * out.width * 3];
    png_read_image(png, rows.data());
  }
  png_destroy_read_struct(&png, &info, nullptr);
  std::fclose(f);
  return out;
}

// Hand-derived: range 9.4 / 5 = 1.88 -> nice step 2 -> [0, 10].
TEST(Plot, NiceTicks) {
  AxisTicks t = nice_ticks(0.3, 9.7, 5);
  EXPECT_DOUBLE_EQ(t.step, 2);
  EXPECT_DOUBLE_EQ(t.lo, 0);
  EXPECT_DOUBLE_EQ(t.hi, 10);
  EXPECT_EQ(t.values.size(), 6u);
  EXPECT_EQ(t.decimals, 0);
  // 0.37 / 5 = 0.074 -> 0.1 steps, [0, 0.4], one decimal.
  t = nice_ticks(0, 0.37, 5);
  EXPECT_NEAR(t.step, 0.1, 1e-15);
  EXPECT_NEAR(t.hi, 0.4, 1e-12);
  EXPECT_EQ(t.values.size(), 5u);
  EXPECT_EQ(t.decimals, 1);
  // Data on whole steps does not grow an extra step: 0.3 / 3 = 0.1 -> [0, 0.3].
  t = nice_ticks(0, 0.3, 3);
  EXPECT_EQ(t.values.size(), 4u);
  // 120 / 5 = 24 -> 50; [100, 220] -> [100, 250].
  t = nice_ticks(100, 220, 5);
  EXPECT_DOUBLE_EQ(t.step, 50);
  EXPECT_DOUBLE_EQ(t.lo, 100);
  EXPECT_DOUBLE_EQ(t.hi, 250);
  // A single value is widened: 5 -> [2.5, 7.5] -> step 1 -> [2, 8].
  t = nice_ticks(5, 5, 5);
  EXPECT_DOUBLE_EQ(t.lo, 2);
  EXPECT_DOUBLE_EQ(t.hi, 8);
  EXPECT_THROW(nice_ticks(2, 1), Error);
}

bool near_color(const Png& png, int x, int y, Rgb c, int radius) {
  for (int dy = -radius; dy <= radius; ++dy)
    for (int dx = -radius; dx <= radius; ++dx) {
      const int xx = x + dx, yy = y + dy;
      if (xx >= 0 && yy >= 0 && xx < png.width && yy < png.height && png.at(xx, yy) == c) return true;
    }
  return false;
}

TEST(Plot, PngHasSizeLinesAndMarkers) {
  const std::vector<PlotSeries> series = {
      {"median ms", {0.3, 0.5, 0.8, 1.2}, {10, 15, 22, 31}},
      {"p99 ms", {0.3, 0.5, 0.8, 1.2}, {12, 19, 26, 35}},
  };
  const int w = 640, h = 400;
  const std::string path = ::testing::TempDir() + "maskrt_test_plot.png";
  write_line_plot_png(path, "Latency vs size", "megapixels", "ms", series, w, h);
  const Png png = read_png_file(path);
  std::remove(path.c_str());
  ASSERT_EQ(png.width, w);
  ASSERT_EQ(png.height, h);
  ASSERT_EQ(png.color_type, PNG_COLOR_TYPE_RGB);
  ASSERT_EQ(png.bit_depth, 8);

  const PlotGeometry g = plot_geometry(series, w, h);
  EXPECT_LE(g.x.lo, 0.3);
  EXPECT_GE(g.x.hi, 1.2);
  EXPECT_DOUBLE_EQ(g.y.lo, 0);  // non-negative data: y axis starts at 0
  EXPECT_GE(g.y.hi, 35);
  EXPECT_TRUE(g.left > 0 && g.right < w && g.top > 0 && g.bottom < h && g.left < g.right && g.top < g.bottom);
  // Data -> pixel mapping: the axis ends land on the plot-area edges.
  EXPECT_EQ(g.to_px(g.x.lo), g.left);
  EXPECT_EQ(g.to_px(g.x.hi), g.right);
  EXPECT_EQ(g.to_py(g.y.lo), g.bottom);
  EXPECT_EQ(g.to_py(g.y.hi), g.top);

  for (size_t si = 0; si < series.size(); ++si) {
    const Rgb c = series_color(int(si));
    const auto& s = series[si];
    for (size_t i = 0; i < s.xs.size(); ++i)  // markers are centred on the data points
      EXPECT_TRUE(png.at(g.to_px(s.xs[i]), g.to_py(s.ys[i])) == c) << s.name << " point " << i;
    for (size_t i = 0; i + 1 < s.xs.size(); ++i) {  // segment midpoints carry the line
      const double mx = 0.5 * (s.xs[i] + s.xs[i + 1]), my = 0.5 * (s.ys[i] + s.ys[i + 1]);
      EXPECT_TRUE(near_color(png, g.to_px(mx), g.to_py(my), c, 1)) << s.name << " segment " << i;
    }
  }
  EXPECT_TRUE(series_color(0) != series_color(1));
  // The frame is black; far from the data (bottom-right of the plot area) it stays white.
  EXPECT_TRUE(png.at(g.left, (g.top + g.bottom) / 2) == (Rgb{0, 0, 0}));
  EXPECT_TRUE(png.at(g.right - 3, g.bottom - 3) == (Rgb{255, 255, 255}));
  // Tick labels, title and axis labels put dark pixels outside the plot area.
  int dark_left = 0, dark_below = 0, dark_above = 0;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      if (png.at(x, y) != Rgb{0, 0, 0}) continue;
      if (x < g.left - 6) ++dark_left;
      if (y > g.bottom + 6) ++dark_below;
      if (y < g.top) ++dark_above;
    }
  EXPECT_GT(dark_left, 50);
  EXPECT_GT(dark_below, 50);
  EXPECT_GT(dark_above, 50);
}

// The legend moves away from data in the top-left corner (found by a new user: it hid the p90 marker of
// the smallest size). A falling series starts in the top-left and ends bottom-right; a rising one the
// other way round. Every marker stays visible and the legend lands in a free corner.
TEST(Plot, LegendAvoidsTheData) {
  const int w = 640, h = 400;
  for (const bool falling : {true, false}) {
    // 640 x 400: plot area x 44..623, y 32..358, axes 0..1 and 0..40, so (0.05, 37) and (0.05, 38) land
    // at (73, 56) and (73, 48), inside the top-left legend spot (x 54..144, y 42..73).
    const std::vector<PlotSeries> series = {
        {"median ms", {0.05, 1.0}, falling ? std::vector<double>{37, 2} : std::vector<double>{2, 37}},
        {"p90 ms", {0.05, 1.0}, falling ? std::vector<double>{38, 3} : std::vector<double>{3, 38}}};
    const PlotGeometry g = plot_geometry(series, w, h);
    const PlotRect box = plot_legend_box(series, g);
    // Falling: top-left is taken, top-right free. Rising: top-left free.
    ASSERT_EQ(std::make_tuple(g.left, g.top, g.right, g.bottom), std::make_tuple(44, 32, 623, 358));
    EXPECT_EQ(box.y, g.top + 10) << falling;
    EXPECT_EQ(box.x, falling ? g.right - 10 - box.w + 1 : g.left + 10) << falling;
    const Image im = render_line_plot("t", "x", "y", series, w, h);
    for (size_t si = 0; si < series.size(); ++si)
      for (size_t i = 0; i < 2; ++i)
        EXPECT_TRUE(get_pixel(im, g.to_px(series[si].xs[i]), g.to_py(series[si].ys[i])) == series_color(int(si)))
            << falling << " series " << si << " point " << i;
  }
}

TEST(Plot, ValidatesInput) {
  EXPECT_THROW(render_line_plot("t", "x", "y", {{"bad", {1, 2}, {1}}}, 400, 300), Error);
  EXPECT_THROW(render_line_plot("t", "x", "y", {}, 100, 100), Error);
  // No data and non-finite points are drawn without error.
  const Image empty = render_line_plot("t", "x", "y", {}, 300, 200);
  EXPECT_EQ(empty.width, 300);
  const Image nan = render_line_plot("t", "x", "y", {{"s", {1, 2, 3}, {1, std::nan(""), 3}}}, 300, 200);
  EXPECT_EQ(nan.height, 200);
  EXPECT_THROW(write_line_plot_png("/nonexistent-dir/p.png", "t", "x", "y", {}, 300, 200), Error);
}

}  // namespace
}  // namespace maskrt::bench
