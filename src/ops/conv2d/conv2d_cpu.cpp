// conv2d on the CPU: tiled im2col + OpenBLAS sgemm, parallelised with OpenMP (see conv2d.h).
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "ops/conv2d/conv2d.h"
#include "ops/linear/blas_threading.h"

namespace maskrt::ops {
namespace {

// How one call is cut into work items; computed by the same code for sizing and for running.
struct Conv2dPlan {
  int64_t n = 0, c = 0, h = 0, w = 0;     // x (N, C, H, W)
  int64_t o = 0, oh = 0, ow = 0;          // y (N, O, OH, OW)
  int64_t kh = 0, kw = 0, cg = 0, og = 0;  // kernel, channels per group
  int64_t k = 0;                           // gemm depth: cg * kh * kw
  int64_t positions = 0;                   // oh * ow
  int64_t tile = 0;                        // output positions per work item
  int64_t tiles = 0;                       // tiles per (image, group)
  bool direct = false;                     // 1x1, stride 1, no padding: gemm reads x in place
  size_t col_floats_per_thread = 0;
};

// Target im2col buffer per thread, in floats (4 MiB): big enough that OpenBLAS's per-call packing of
// the weights is amortised over many columns, small enough to stay near the last-level cache.
constexpr int64_t kColTargetFloats = int64_t{1} << 20;
constexpr int64_t kMinTile = 64;
constexpr int64_t kMaxDirectTile = 4096;

Conv2dPlan make_plan(const Conv2dParams& p, const Shape& xs, const Shape& ws, int num_threads) {
  const Shape ys = conv2d_output_shape(p, xs, ws);
  Conv2dPlan pl;
  pl.n = xs[0], pl.c = xs[1], pl.h = xs[2], pl.w = xs[3];
  pl.o = ys[1], pl.oh = ys[2], pl.ow = ys[3];
  pl.kh = ws[2], pl.kw = ws[3];
  pl.cg = pl.c / p.groups, pl.og = pl.o / p.groups;
  pl.k = pl.cg * pl.kh * pl.kw;
  pl.positions = pl.oh * pl.ow;
  pl.direct = pl.kh == 1 && pl.kw == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_h == 0 && p.pad_w == 0;
  int64_t tile = pl.direct ? kMaxDirectTile : std::max(kMinTile, kColTargetFloats / pl.k);
  // Enough work items for load balance: at least ~4 per thread when the problem allows it.
  const int64_t outer = std::max<int64_t>(1, pl.n * p.groups);
  const int64_t want_items = 4 * static_cast<int64_t>(std::max(1, num_threads));
  if (outer < want_items) {
    const int64_t tiles_wanted = (want_items + outer - 1) / outer;
    tile = std::min(tile, std::max(kMinTile, (pl.positions + tiles_wanted - 1) / tiles_wanted));
  }
  tile = (tile + 15) / 16 * 16;
  tile = std::max<int64_t>(1, std::min(tile, pl.positions));
  pl.tile = tile;
  pl.tiles = (pl.positions + tile - 1) / tile;
  pl.col_floats_per_thread = pl.direct ? 0 : static_cast<size_t>(pl.k * tile);
  return pl;
}

// Writes columns [p0, p0 + len) of the im2col matrix of one (image, group) into col (k rows, len
// columns, row-major). Row r = (ci, a, b) holds x[ci][i*sh - ph + a*dh][j*sw - pw + b*dw] for output
// position (i, j), or 0 where that falls in the padding.
void im2col_tile(const Conv2dParams& p, const Conv2dPlan& pl, const float* xg, int64_t p0, int64_t len,
                 float* col) {
  const int64_t sh = p.stride_h, sw = p.stride_w;
  for (int64_t ci = 0; ci < pl.cg; ++ci) {
    const float* xc = xg + ci * pl.h * pl.w;
    for (int64_t a = 0; a < pl.kh; ++a) {
      for (int64_t b = 0; b < pl.kw; ++b) {
        float* dst = col + ((ci * pl.kh + a) * pl.kw + b) * len;
        const int64_t off_w = b * p.dilation_w - p.pad_w;  // input column = j * sw + off_w
        // Output columns j with 0 <= j*sw + off_w < W are [j_lo, j_hi).
        const int64_t j_lo = off_w >= 0 ? 0 : (-off_w + sw - 1) / sw;
        const int64_t j_hi = pl.w - off_w <= 0 ? 0 : (pl.w - off_w + sw - 1) / sw;
        int64_t pos = p0, done = 0;
        while (done < len) {
          const int64_t i = pos / pl.ow, j0 = pos % pl.ow;
          const int64_t run = std::min(pl.ow - j0, len - done);
          float* d = dst + done;
          const int64_t yy = i * sh - p.pad_h + a * p.dilation_h;
          if (yy < 0 || yy >= pl.h) {
            std::memset(d, 0, sizeof(float) * static_cast<size_t>(run));
          } else {
            const float* src = xc + yy * pl.w;
            const int64_t lo = std::clamp(j_lo, j0, j0 + run), hi = std::clamp(j_hi, lo, j0 + run);
            if (lo > j0) std::memset(d, 0, sizeof(float) * static_cast<size_t>(lo - j0));
            if (sw == 1) {
              if (hi > lo) std::memcpy(d + (lo - j0), src + lo + off_w, sizeof(float) * static_cast<size_t>(hi - lo));
            } else {
              for (int64_t j = lo; j < hi; ++j) d[j - j0] = src[j * sw + off_w];
            }
            if (j0 + run > hi) std::memset(d + (hi - j0), 0, sizeof(float) * static_cast<size_t>(j0 + run - hi));
          }
          done += run;
          pos += run;
        }
      }
    }
  }
}

}  // namespace

size_t conv2d_cpu_workspace_bytes(const Conv2dParams& p, const Shape& x, const Shape& w, int num_threads) {
  const Conv2dPlan pl = make_plan(p, x, w, num_threads);
  return pl.col_floats_per_thread * sizeof(float) * static_cast<size_t>(std::max(1, num_threads));
}

Tensor conv2d_cpu(const Conv2dParams& p, const Tensor& x, const Tensor& w, const Tensor& bias) {
  const int num_threads = omp_get_max_threads();
  const Conv2dPlan pl = make_plan(p, x.shape(), w.shape(), num_threads);
  if (bias.defined()) {
    MASKRT_CHECK(bias.dim() == 1 && bias.size(0) == pl.o, ErrorCode::kInvalidArgument, "conv2d: bias must be (",
                 pl.o, ",), got ", shape_str(bias.shape()));
  }
  Tensor y = Tensor::empty({pl.n, pl.o, pl.oh, pl.ow});
  if (y.numel() == 0) return y;
  detail::blas_prepare();

  const float* xp = x.data();
  const float* wp = w.data();
  const float* bp = bias.defined() ? bias.data() : nullptr;
  float* yp = y.data();
  const int64_t groups = p.groups;
  const int64_t items = pl.n * groups * pl.tiles;

#pragma omp parallel num_threads(num_threads)
  {
    std::vector<float> col(pl.col_floats_per_thread);
#pragma omp for schedule(dynamic, 1)
    for (int64_t item = 0; item < items; ++item) {
      const int64_t t = item % pl.tiles;
      const int64_t g = (item / pl.tiles) % groups;
      const int64_t n = item / (pl.tiles * groups);
      const int64_t p0 = t * pl.tile;
      const int64_t len = std::min(pl.tile, pl.positions - p0);
      const float* xg = xp + (n * pl.c + g * pl.cg) * pl.h * pl.w;  // (cg, H, W)
      const float* wg = wp + g * pl.og * pl.k;                      // (og, k)
      float* yt = yp + (n * pl.o + g * pl.og) * pl.positions + p0;  // (og, len), row stride positions
      const float* b_mat;
      int64_t ldb;
      if (pl.direct) {
        b_mat = xg + p0;
        ldb = pl.positions;
      } else {
        im2col_tile(p, pl, xg, p0, len, col.data());
        b_mat = col.data();
        ldb = len;
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(pl.og), static_cast<int>(len),
                  static_cast<int>(pl.k), 1.0f, wg, static_cast<int>(pl.k), b_mat, static_cast<int>(ldb), 0.0f, yt,
                  static_cast<int>(pl.positions));
      if (bp || p.relu) {
        for (int64_t oc = 0; oc < pl.og; ++oc) {
          float* row = yt + oc * pl.positions;
          const float bv = bp ? bp[g * pl.og + oc] : 0.0f;
          if (p.relu) {
            for (int64_t q = 0; q < len; ++q) row[q] = std::max(row[q] + bv, 0.0f);
          } else {
            for (int64_t q = 0; q < len; ++q) row[q] += bv;
          }
        }
      }
    }
  }
  return y;
}

}  // namespace maskrt::ops
