#include "bench/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "core/check.h"

namespace maskrt::bench {

namespace {

constexpr Rgb kWhite{255, 255, 255}, kBlack{0, 0, 0}, kGrid{225, 225, 225}, kLegendFrame{160, 160, 160};
constexpr int kTickLen = 5, kPad = 8, kLineThickness = 2, kMarkerHalf = 3;

std::string format_tick(double v, int decimals) {
  if (std::fabs(v) < 1e-12) v = 0;  // avoid "-0.0"
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  return buf;
}

void validate(const std::vector<PlotSeries>& series, int width, int height) {
  MASKRT_CHECK(width >= 200 && height >= 150, ErrorCode::kInvalidArgument, "plot size ", width, "x", height,
               " is too small (minimum 200x150)");
  for (const PlotSeries& s : series)
    MASKRT_CHECK(s.xs.size() == s.ys.size(), ErrorCode::kInvalidArgument, "plot series '", s.name, "' has ",
                 s.xs.size(), " x values but ", s.ys.size(), " y values");
}

int widest_tick_label(const AxisTicks& t) {
  int w = 0;
  for (double v : t.values) w = std::max(w, text_width(format_tick(v, t.decimals)));
  return w;
}

}  // namespace

AxisTicks nice_ticks(double lo, double hi, int target_count) {
  MASKRT_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo <= hi, ErrorCode::kInvalidArgument,
               "nice_ticks: bad range [", lo, ", ", hi, "]");
  target_count = std::max(target_count, 1);
  if (hi == lo) {
    const double d = lo == 0 ? 1.0 : std::fabs(lo) * 0.5;
    lo -= d;
    hi += d;
  }
  const double raw = (hi - lo) / target_count;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double frac = raw / mag;  // in [1, 10)
  const double nice = frac <= 1.0 ? 1.0 : frac <= 2.0 ? 2.0 : frac <= 5.0 ? 5.0 : 10.0;
  AxisTicks t;
  t.step = nice * mag;
  // A relative epsilon keeps values that are whole steps up to rounding (0.3 / 0.1) from growing a step.
  const double eps = 1e-9;
  t.lo = std::floor(lo / t.step + eps) * t.step;
  t.hi = std::ceil(hi / t.step - eps) * t.step;
  const int n = static_cast<int>(std::lround((t.hi - t.lo) / t.step));
  for (int i = 0; i <= n; ++i) t.values.push_back(t.lo + i * t.step);
  t.decimals = std::max(0, -static_cast<int>(std::floor(std::log10(t.step) + eps)));
  return t;
}

int PlotGeometry::to_px(double xv) const {
  return left + static_cast<int>(std::lround((xv - x.lo) / (x.hi - x.lo) * (right - left)));
}
int PlotGeometry::to_py(double yv) const {
  return bottom - static_cast<int>(std::lround((yv - y.lo) / (y.hi - y.lo) * (bottom - top)));
}

PlotGeometry plot_geometry(const std::vector<PlotSeries>& series, int width, int height) {
  validate(series, width, height);
  double xmin = std::numeric_limits<double>::infinity(), xmax = -xmin, ymin = xmin, ymax = -xmin;
  for (const PlotSeries& s : series)
    for (size_t i = 0; i < s.xs.size(); ++i) {
      if (!std::isfinite(s.xs[i]) || !std::isfinite(s.ys[i])) continue;
      xmin = std::min(xmin, s.xs[i]);
      xmax = std::max(xmax, s.xs[i]);
      ymin = std::min(ymin, s.ys[i]);
      ymax = std::max(ymax, s.ys[i]);
    }
  if (!std::isfinite(xmin)) xmin = 0, xmax = 1, ymin = 0, ymax = 1;  // no data: empty unit axes
  if (ymin >= 0) ymin = 0;
  PlotGeometry g;
  g.x = nice_ticks(xmin, xmax, 6);
  g.y = nice_ticks(ymin, ymax, 5);
  const int glyph_h = text_height("0");
  // Left: vertical y label, gap, tick labels, tick marks. Bottom: ticks, labels, x label.
  g.left = kPad + glyph_h + kPad + widest_tick_label(g.y) + kTickLen + 4;
  g.top = kPad + 2 * glyph_h + kPad;  // title at scale 2
  g.right = width - 1 - std::max(kPad * 2, text_width(format_tick(g.x.hi, g.x.decimals)) / 2 + kPad);
  g.bottom = height - 1 - (kTickLen + 4 + glyph_h + kPad + glyph_h + kPad);
  return g;
}

Rgb series_color(int index) { return palette_color(index); }

PlotRect plot_legend_box(const std::vector<PlotSeries>& series, const PlotGeometry& g) {
  const int glyph_h = text_height("0");
  int name_w = 0;
  for (const PlotSeries& s : series) name_w = std::max(name_w, text_width(s.name));
  const int row_h = glyph_h + 6, swatch = 20, inset = 10;
  const int w = 6 + swatch + 6 + name_w + 6, h = 4 + row_h * int(series.size());
  const std::pair<int, int> corners[] = {{g.left + inset, g.top + inset},
                                         {g.right - inset - w + 1, g.top + inset},
                                         {g.right - inset - w + 1, g.bottom - inset - h + 1},
                                         {g.left + inset, g.bottom - inset - h + 1}};
  // Cost of a spot: markers it would cover (each counts as a whole line) and samples of the lines.
  constexpr int kSamples = 64;
  auto cost = [&](int x, int y) {
    auto inside = [&](int px, int py, int margin) {
      return px >= x - margin && px < x + w + margin && py >= y - margin && py < y + h + margin;
    };
    long long c = 0;
    for (const PlotSeries& s : series)
      for (size_t i = 0; i < s.xs.size(); ++i) {
        if (!std::isfinite(s.xs[i]) || !std::isfinite(s.ys[i])) continue;
        if (inside(g.to_px(s.xs[i]), g.to_py(s.ys[i]), kMarkerHalf)) c += kSamples + 1;
        if (i + 1 == s.xs.size() || !std::isfinite(s.xs[i + 1]) || !std::isfinite(s.ys[i + 1])) continue;
        for (int k = 0; k < kSamples; ++k) {
          const double t = (k + 0.5) / kSamples;
          if (inside(g.to_px(s.xs[i] + t * (s.xs[i + 1] - s.xs[i])), g.to_py(s.ys[i] + t * (s.ys[i + 1] - s.ys[i])), 0))
            ++c;
        }
      }
    return c;
  };
  PlotRect best{corners[0].first, corners[0].second, w, h};
  long long best_cost = cost(best.x, best.y);
  for (int k = 1; k < 4 && best_cost > 0; ++k) {
    const long long c = cost(corners[k].first, corners[k].second);
    if (c < best_cost) best = PlotRect{corners[k].first, corners[k].second, w, h}, best_cost = c;
  }
  return best;
}

Image render_line_plot(const std::string& title, const std::string& x_label, const std::string& y_label,
                       const std::vector<PlotSeries>& series, int width, int height) {
  const PlotGeometry g = plot_geometry(series, width, height);
  Image im = make_image(width, height, kWhite);
  const int glyph_h = text_height("0");

  // Grid, ticks and tick labels.
  for (double v : g.x.values) {
    const int px = g.to_px(v);
    draw_line(im, px, g.top, px, g.bottom, kGrid);
    draw_line(im, px, g.bottom, px, g.bottom + kTickLen, kBlack);
    const std::string s = format_tick(v, g.x.decimals);
    draw_text(im, px - text_width(s) / 2, g.bottom + kTickLen + 4, s, kBlack);
  }
  for (double v : g.y.values) {
    const int py = g.to_py(v);
    draw_line(im, g.left, py, g.right, py, kGrid);
    draw_line(im, g.left - kTickLen, py, g.left, py, kBlack);
    const std::string s = format_tick(v, g.y.decimals);
    draw_text(im, g.left - kTickLen - 4 - text_width(s), py - glyph_h / 2 + 1, s, kBlack);
  }
  draw_rect(im, g.left, g.top, g.right, g.bottom, kBlack, 1);

  // Title (scale 2, centred), axis labels.
  draw_text(im, (width - text_width(title, 2)) / 2, kPad, title, kBlack, 2);
  draw_text(im, (g.left + g.right - text_width(x_label)) / 2, height - kPad - glyph_h, x_label, kBlack);
  draw_text_vertical(im, kPad, (g.top + g.bottom - text_width(y_label)) / 2, y_label, kBlack);

  // Lines, then markers on top.
  for (size_t si = 0; si < series.size(); ++si) {
    const PlotSeries& s = series[si];
    const Rgb c = series_color(static_cast<int>(si));
    bool have_prev = false;
    int qx = 0, qy = 0;
    for (size_t i = 0; i < s.xs.size(); ++i) {
      if (!std::isfinite(s.xs[i]) || !std::isfinite(s.ys[i])) {
        have_prev = false;
        continue;
      }
      const int px = g.to_px(s.xs[i]), py = g.to_py(s.ys[i]);
      if (have_prev) draw_line(im, qx, qy, px, py, c, kLineThickness);
      qx = px, qy = py, have_prev = true;
    }
    for (size_t i = 0; i < s.xs.size(); ++i) {
      if (!std::isfinite(s.xs[i]) || !std::isfinite(s.ys[i])) continue;
      const int px = g.to_px(s.xs[i]), py = g.to_py(s.ys[i]);
      fill_rect(im, px - kMarkerHalf, py - kMarkerHalf, px + kMarkerHalf, py + kMarkerHalf, c);
    }
  }

  // Legend in the corner of the plot area that hides the least data (plot_legend_box).
  if (!series.empty()) {
    const int row_h = glyph_h + 6, swatch = 20;
    const PlotRect box = plot_legend_box(series, g);
    const int lx = box.x, ly = box.y, lw = box.w, lh = box.h;
    fill_rect(im, lx, ly, lx + lw - 1, ly + lh - 1, kWhite);
    draw_rect(im, lx, ly, lx + lw - 1, ly + lh - 1, kLegendFrame, 1);
    for (size_t si = 0; si < series.size(); ++si) {
      const Rgb c = series_color(static_cast<int>(si));
      const int cy = ly + 4 + row_h * int(si) + glyph_h / 2;
      draw_line(im, lx + 6, cy, lx + 6 + swatch - 1, cy, c, kLineThickness);
      fill_rect(im, lx + 6 + swatch / 2 - 2, cy - 2, lx + 6 + swatch / 2 + 2, cy + 2, c);
      draw_text(im, lx + 6 + swatch + 6, cy - glyph_h / 2 + 1, series[si].name, kBlack);
    }
  }
  return im;
}

void write_line_plot_png(const std::string& path, const std::string& title, const std::string& x_label,
                         const std::string& y_label, const std::vector<PlotSeries>& series, int width, int height) {
  write_png(path, render_line_plot(title, x_label, y_label, series, width, height));
}

}  // namespace maskrt::bench
