// COCO mask primitives (see coco_mask.h). Written from the behaviour of pycocotools' maskApi.c; every
// function keeps pycocotools' integer/double arithmetic where it can change a result.
#include "eval/coco_mask.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <utility>

#include "core/check.h"

namespace maskrt::eval {
namespace {

void check_dims(int h, int w, const char* what) {
  MASKRT_CHECK(h > 0 && w > 0, ErrorCode::kInvalidArgument, what, ": image size must be positive, got ", h, "x", w);
}

// Foreground intervals [begin, end) in column-major pixel order.
std::vector<std::pair<int64_t, int64_t>> foreground_intervals(const RleMask& m) {
  std::vector<std::pair<int64_t, int64_t>> out;
  int64_t pos = 0;
  for (size_t i = 0; i < m.counts.size(); ++i) {
    const int64_t end = pos + m.counts[i];
    if ((i & 1) && end > pos) {
      if (!out.empty() && out.back().second == pos)
        out.back().second = end;
      else
        out.emplace_back(pos, end);
    }
    pos = end;
  }
  return out;
}

RleMask from_intervals(const std::vector<std::pair<int64_t, int64_t>>& iv, int h, int w) {
  RleMask m;
  m.height = h;
  m.width = w;
  int64_t pos = 0;
  for (const auto& [b, e] : iv) {
    if (!m.counts.empty() && b == pos) {  // touches the previous interval: extend it
      m.counts.back() += static_cast<uint32_t>(e - b);
    } else {
      m.counts.push_back(static_cast<uint32_t>(b - pos));
      m.counts.push_back(static_cast<uint32_t>(e - b));
    }
    pos = e;
  }
  const int64_t n = int64_t{h} * w;
  if (pos < n || m.counts.empty()) m.counts.push_back(static_cast<uint32_t>(n - pos));
  return m;
}

}  // namespace

void check_rle(const RleMask& m, const char* what) {
  check_dims(m.height, m.width, what);
  int64_t total = 0;
  for (uint32_t c : m.counts) total += c;
  const int64_t n = int64_t{m.height} * m.width;
  MASKRT_CHECK(total == n, ErrorCode::kInvalidArgument, what, ": RLE counts sum to ", total, " but size ", m.height,
               "x", m.width, " has ", n, " pixels");
}

RleMask polygon_to_rle(const std::vector<double>& xy, int h, int w) {
  check_dims(h, w, "polygon_to_rle");
  const size_t k = xy.size() / 2;
  MASKRT_CHECK(k >= 1, ErrorCode::kInvalidArgument, "polygon_to_rle: a polygon needs at least one vertex, got ",
               xy.size(), " values");
  constexpr double kScale = 5.0;  // pycocotools' upsampling factor
  // Vertices on the fine grid; C truncation of (v*5 + 0.5) as pycocotools does (not floor).
  std::vector<int> gx(k + 1), gy(k + 1);
  for (size_t i = 0; i < k; ++i) {
    gx[i] = static_cast<int>(kScale * xy[2 * i] + 0.5);
    gy[i] = static_cast<int>(kScale * xy[2 * i + 1] + 0.5);
  }
  gx[k] = gx[0];
  gy[k] = gy[0];

  // Dense boundary: every fine-grid step along the major axis of each edge, from its start vertex to its
  // end vertex (both included). The minor coordinate is rounded from the end with the smaller major
  // coordinate, so an edge rasterises the same in both directions.
  std::vector<int> bu, bv;
  for (size_t i = 0; i < k; ++i) {
    int x0 = gx[i], x1 = gx[i + 1], y0 = gy[i], y1 = gy[i + 1];
    const int dx = std::abs(x1 - x0), dy = std::abs(y1 - y0);
    const bool x_major = dx >= dy;
    const bool reversed = x_major ? x0 > x1 : y0 > y1;
    if (reversed) {
      std::swap(x0, x1);
      std::swap(y0, y1);
    }
    if (dx == 0 && dy == 0) {
      // pycocotools divides 0/0 here; the point's y is never read because its neighbours share its x.
      bu.push_back(x0);
      bv.push_back(y0);
      continue;
    }
    if (x_major) {
      const double slope = static_cast<double>(y1 - y0) / dx;
      for (int s = 0; s <= dx; ++s) {
        const int t = reversed ? dx - s : s;
        bu.push_back(x0 + t);
        bv.push_back(static_cast<int>(y0 + slope * t + 0.5));
      }
    } else {
      const double slope = static_cast<double>(x1 - x0) / dy;
      for (int s = 0; s <= dy; ++s) {
        const int t = reversed ? dy - s : s;
        bv.push_back(y0 + t);
        bu.push_back(static_cast<int>(x0 + slope * t + 0.5));
      }
    }
  }

  // Where the boundary crosses the centre of a pixel column, the column toggles inside/outside at the
  // first pixel row whose centre lies below the crossing.
  std::vector<uint32_t> toggles;
  for (size_t j = 1; j < bu.size(); ++j) {
    if (bu[j] == bu[j - 1]) continue;
    double xd = bu[j] < bu[j - 1] ? bu[j] : bu[j] - 1;
    xd = (xd + 0.5) / kScale - 0.5;
    if (std::floor(xd) != xd || xd < 0 || xd > w - 1) continue;
    double yd = std::min(bv[j], bv[j - 1]);
    yd = (yd + 0.5) / kScale - 0.5;
    if (yd < 0)
      yd = 0;
    else if (yd > h)
      yd = h;
    yd = std::ceil(yd);
    toggles.push_back(static_cast<uint32_t>(static_cast<int>(xd) * h + static_cast<int>(yd)));
  }
  toggles.push_back(static_cast<uint32_t>(int64_t{h} * w));
  std::sort(toggles.begin(), toggles.end());

  // Run lengths between toggles; two toggles at the same position cancel (their runs are joined).
  std::vector<uint32_t> runs(toggles.size());
  uint32_t prev = 0;
  for (size_t j = 0; j < toggles.size(); ++j) {
    runs[j] = toggles[j] - prev;
    prev = toggles[j];
  }
  RleMask m;
  m.height = h;
  m.width = w;
  size_t j = 0;
  m.counts.push_back(runs[j++]);
  while (j < runs.size()) {
    if (runs[j] > 0) {
      m.counts.push_back(runs[j++]);
    } else {
      ++j;
      if (j < runs.size()) m.counts.back() += runs[j++];
    }
  }
  return m;
}

RleMask box_to_rle(const std::array<double, 4>& b, int h, int w) {
  const double x0 = b[0], x1 = b[0] + b[2], y0 = b[1], y1 = b[1] + b[3];
  return polygon_to_rle({x0, y0, x0, y1, x1, y1, x1, y0}, h, w);
}

RleMask rle_union(const std::vector<RleMask>& masks) {
  MASKRT_CHECK(!masks.empty(), ErrorCode::kInvalidArgument, "rle_union: no masks");
  if (masks.size() == 1) return masks[0];
  const int h = masks[0].height, w = masks[0].width;
  std::vector<std::pair<int64_t, int64_t>> all;
  for (const RleMask& m : masks) {
    MASKRT_CHECK(m.height == h && m.width == w, ErrorCode::kInvalidArgument, "rle_union: mask sizes differ (", h, "x",
                 w, " vs ", m.height, "x", m.width, ")");
    auto iv = foreground_intervals(m);
    all.insert(all.end(), iv.begin(), iv.end());
  }
  std::sort(all.begin(), all.end());
  std::vector<std::pair<int64_t, int64_t>> merged;
  for (const auto& iv : all) {
    if (!merged.empty() && iv.first <= merged.back().second)
      merged.back().second = std::max(merged.back().second, iv.second);
    else
      merged.push_back(iv);
  }
  return from_intervals(merged, h, w);
}

int64_t rle_area(const RleMask& m) {
  int64_t a = 0;
  for (size_t i = 1; i < m.counts.size(); i += 2) a += m.counts[i];
  return a;
}

std::array<double, 4> rle_to_bbox(const RleMask& m) {
  // Same unsigned 32-bit arithmetic as pycocotools (a trailing 0-run is dropped first).
  const size_t n = m.counts.size() / 2 * 2;
  if (n == 0) return {0, 0, 0, 0};
  const uint32_t h = static_cast<uint32_t>(m.height), w = static_cast<uint32_t>(m.width);
  uint32_t xs = w, ys = h, xe = 0, ye = 0, pos = 0, x_start = 0;
  for (size_t j = 0; j < n; ++j) {
    pos += m.counts[j];
    const uint32_t t = pos - static_cast<uint32_t>(j % 2);  // first pixel of a 1-run, or last pixel of it
    const uint32_t y = t % h, x = (t - y) / h;
    if (j % 2 == 0) {
      x_start = x;
    } else if (x_start < x) {  // the run wraps into the next column: full height
      ys = 0;
      ye = h - 1;
    }
    xs = std::min(xs, x);
    xe = std::max(xe, x);
    ys = std::min(ys, y);
    ye = std::max(ye, y);
  }
  return {static_cast<double>(xs), static_cast<double>(ys), static_cast<double>(xe - xs + 1),
          static_cast<double>(ye - ys + 1)};
}

double rle_iou(const RleMask& dt, const RleMask& gt, bool gt_is_crowd) {
  MASKRT_CHECK(dt.height == gt.height && dt.width == gt.width, ErrorCode::kInvalidArgument,
               "rle_iou: detection mask is ", dt.height, "x", dt.width, " but ground truth is ", gt.height, "x",
               gt.width);
  const size_t na = dt.counts.size(), nb = gt.counts.size();
  if (na == 0 || nb == 0) return 0.0;
  int64_t inter = 0, pos = 0;
  size_t ia = 0, ib = 0;
  int64_t end_a = dt.counts[0], end_b = gt.counts[0];
  while (ia < na && ib < nb) {
    const int64_t next = std::min(end_a, end_b);
    if ((ia & 1) && (ib & 1)) inter += next - pos;
    pos = next;
    if (end_a == next && ++ia < na) end_a += dt.counts[ia];
    if (end_b == next && ++ib < nb) end_b += gt.counts[ib];
  }
  if (inter == 0) return 0.0;
  const int64_t area_d = rle_area(dt);
  const int64_t uni = gt_is_crowd ? area_d : area_d + rle_area(gt) - inter;
  return static_cast<double>(inter) / static_cast<double>(uni);
}

double box_iou(const std::array<double, 4>& d, const std::array<double, 4>& g, bool gt_is_crowd) {
  const double ga = g[2] * g[3], da = d[2] * d[3];
  const double iw = std::fmin(d[2] + d[0], g[2] + g[0]) - std::fmax(d[0], g[0]);
  if (iw <= 0) return 0.0;
  const double ih = std::fmin(d[3] + d[1], g[3] + g[1]) - std::fmax(d[1], g[1]);
  if (ih <= 0) return 0.0;
  const double inter = iw * ih;
  const double uni = gt_is_crowd ? da : da + ga - inter;
  return inter / uni;
}

}  // namespace maskrt::eval
