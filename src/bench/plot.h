#pragma once
// Small line plots (PNG) for `maskrt bench` size sweeps: latency and throughput vs megapixels.
// Drawn with src/io/draw.h (axes, ticks with numeric labels, grid, legend, lines with markers); no
// plotting library is needed. Thread safety: pure functions.
#include <string>
#include <vector>

#include "io/draw.h"
#include "maskrt/image.h"

namespace maskrt::bench {

struct PlotSeries {
  std::string name;        // legend entry
  std::vector<double> xs;  // data coordinates; points are joined in the given order
  std::vector<double> ys;  // same length as xs; non-finite points are skipped and break the line
};

// Tick positions for an axis: a "nice" step (1, 2 or 5 times a power of ten) giving about
// `target_count` intervals, and the axis range widened to whole steps around [lo, hi].
// lo == hi is widened to a unit interval around the value. Requires finite lo <= hi.
struct AxisTicks {
  double lo = 0, hi = 1, step = 1;
  std::vector<double> values;  // lo, lo + step, ..., hi
  int decimals = 0;            // digits after the point needed to print the ticks distinctly
};
AxisTicks nice_ticks(double lo, double hi, int target_count = 5);

// Where the data lands in the picture (for tests and for annotating a rendered plot).
struct PlotGeometry {
  int left = 0, top = 0, right = 0, bottom = 0;  // plot area, pixel rows/columns inclusive
  AxisTicks x, y;
  int to_px(double xv) const;  // data x -> image column (rounded)
  int to_py(double yv) const;  // data y -> image row (rounded; larger y is higher up)
};

// Layout used by render_line_plot for the same arguments. The y axis includes 0 when every y is >= 0
// (latency and throughput plots start at zero); the x axis spans the data.
// Throws kInvalidArgument when a series has xs.size() != ys.size() or width < 200 or height < 150.
PlotGeometry plot_geometry(const std::vector<PlotSeries>& series, int width, int height);

// The legend's rectangle (pixels, top-left x / y and size): inset 10 px in the corner of the plot area
// that covers the fewest data markers, then the fewest line samples, trying top-left, top-right,
// bottom-right, bottom-left in that order (the first on ties), so the legend hides data only when
// every corner would.
struct PlotRect {
  int x = 0, y = 0, w = 0, h = 0;
};
PlotRect plot_legend_box(const std::vector<PlotSeries>& series, const PlotGeometry& g);

// Colour of series i (palette_color(i) of io/draw.h).
Rgb series_color(int index);

// The plot as an RGB image of width x height (white background).
Image render_line_plot(const std::string& title, const std::string& x_label, const std::string& y_label,
                       const std::vector<PlotSeries>& series, int width = 800, int height = 500);

// render_line_plot + maskrt::write_png. Errors: as above, and kIo naming `path` when writing fails.
void write_line_plot_png(const std::string& path, const std::string& title, const std::string& x_label,
                         const std::string& y_label, const std::vector<PlotSeries>& series, int width = 800,
                         int height = 500);

}  // namespace maskrt::bench
