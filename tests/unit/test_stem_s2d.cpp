// stem_s2d (ops/stem_s2d/stem_s2d.h): the 7x7 / stride 2 / pad 3 stem conv equals a 4x4 / stride 1 /
// pad 0 conv over the space-to-depth tensor with the transformed weights. Oracle: a plain loop of
// the stem's definition (double accumulation) on the zero-padded image; the rewritten conv runs
// through conv2d_ref (also double accumulation), so the two differ by float rounding of the result
// only. Plus hand-derived placements of single taps and pixels, and the error cases.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "core/check.h"
#include "dense_op_testing.h"
#include "ops/conv2d/conv2d.h"
#include "ops/stem_s2d/stem_s2d.h"

namespace maskrt {
namespace {

using testing::random_tensor;
using testing::tensors_close;

// The stem by its definition: out[n][o][y][x] = b[o] + sum W[o][c][ky][kx] in[n][c][2y-3+ky][2x-3+kx],
// in = 0 outside the image; optional ReLU.
Tensor stem_direct(const Tensor& x, const Tensor& w, const Tensor& b, bool relu) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), O = w.size(0);
  const int64_t OH = (H + 2 * 3 - 7) / 2 + 1, OW = (W + 2 * 3 - 7) / 2 + 1;
  Tensor y({N, O, OH, OW});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t oy = 0; oy < OH; ++oy)
        for (int64_t ox = 0; ox < OW; ++ox) {
          double acc = b[o];
          for (int64_t c = 0; c < C; ++c)
            for (int64_t ky = 0; ky < 7; ++ky)
              for (int64_t kx = 0; kx < 7; ++kx) {
                const int64_t iy = 2 * oy - 3 + ky, ix = 2 * ox - 3 + kx;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                acc += double(w[((o * C + c) * 7 + ky) * 7 + kx]) * x[((n * C + c) * H + iy) * W + ix];
              }
          const float v = static_cast<float>(acc);
          y[((n * O + o) * OH + oy) * OW + ox] = relu && v < 0.f ? 0.f : v;
        }
  return y;
}

// A random normalised image of rh x rw pixels zero-padded to multiples of `div` (as
// ImageList.from_tensors pads after normalisation).
Tensor padded_image(int n, int rh, int rw, int div, std::mt19937& rng) {
  const int ph = (rh + div - 1) / div * div, pw = (rw + div - 1) / div * div;
  const Tensor img = random_tensor({n, 3, rh, rw}, rng, 1.5f);
  Tensor x({n, 3, ph, pw});
  for (int i = 0; i < n * 3; ++i)
    for (int y = 0; y < rh; ++y)
      for (int xx = 0; xx < rw; ++xx) x[(int64_t(i) * ph + y) * pw + xx] = img[(int64_t(i) * rh + y) * rw + xx];
  return x;
}

Tensor stem_s2d_conv(const Tensor& x, const Tensor& w, const Tensor& b, bool relu) {
  ops::Conv2dParams p;
  p.stride_h = p.stride_w = 2;
  p.pad_h = p.pad_w = 3;
  p.relu = relu;
  EXPECT_TRUE(ops::stem_s2d_applicable(p, w.shape()));
  return ops::conv2d_ref(ops::stem_s2d_conv_params(p), ops::stem_s2d_input(x), ops::stem_s2d_weight(w), b);
}

TEST(StemS2d, RewriteEqualsStemOnRandomImagesAndWeights) {
  std::mt19937 rng(2024);
  struct Case { int n, rh, rw, div, out_c; };
  const Case cases[] = {
      {1, 8, 8, 1, 4},    {1, 7, 9, 1, 5},   {1, 1, 1, 1, 3},   {1, 2, 3, 1, 2},  {1, 13, 6, 1, 4},
      {1, 23, 29, 32, 8}, {2, 17, 11, 4, 6}, {1, 40, 33, 32, 16}, {1, 31, 64, 32, 3}, {1, 9, 21, 8, 7},
  };
  for (const Case& c : cases) {
    for (bool relu : {false, true}) {
      SCOPED_TRACE(::testing::Message() << "n " << c.n << " image " << c.rh << "x" << c.rw << " div " << c.div
                                        << " O " << c.out_c << " relu " << relu);
      const Tensor x = padded_image(c.n, c.rh, c.rw, c.div, rng);
      const Tensor w = random_tensor({c.out_c, 3, 7, 7}, rng, 0.2f);
      const Tensor b = random_tensor({c.out_c}, rng, 0.5f);
      const Tensor ref = stem_direct(x, w, b, relu);
      const Tensor got = stem_s2d_conv(x, w, b, relu);
      ASSERT_EQ(got.shape(), ref.shape());
      EXPECT_EQ(got.size(2), (x.size(2) + 1) / 2);  // ceil(H / 2)
      EXPECT_TRUE(tensors_close(got, ref, 1e-5));
    }
  }
}

// Every single tap (o, c, ky, kx) of the 7x7 kernel lands on exactly one s2d weight, at the
// derived place, and nothing else is nonzero.
TEST(StemS2d, WeightTapsLandWhereDerived) {
  for (int c = 0; c < 3; ++c)
    for (int ky = 0; ky < 7; ++ky)
      for (int kx = 0; kx < 7; ++kx) {
        Tensor w({2, 3, 7, 7});
        w[((1 * 3 + c) * 7 + ky) * 7 + kx] = 1.f + ky * 7 + kx;
        const Tensor s = ops::stem_s2d_weight(w);
        ASSERT_EQ(s.shape(), (Shape{2, 16, 4, 4}));
        // ky = 2 jy + dy - 1: ky even -> dy = 1, jy = ky / 2; ky odd -> dy = 0, jy = (ky + 1) / 2.
        const int dy = ky % 2 == 0 ? 1 : 0, jy = ky % 2 == 0 ? ky / 2 : (ky + 1) / 2;
        const int dx = kx % 2 == 0 ? 1 : 0, jx = kx % 2 == 0 ? kx / 2 : (kx + 1) / 2;
        const int ch = (dy * 2 + dx) * 3 + c;
        for (int64_t i = 0; i < s.numel(); ++i) {
          const int64_t want = ((1 * 16 + ch) * 4 + jy) * 4 + jx;
          ASSERT_EQ(s[i], i == want ? 1.f + ky * 7 + kx : 0.f) << "c " << c << " ky " << ky << " kx " << kx;
        }
      }
}

// Pixel (r, q) of colour c goes to s2d (r / 2 + 2, q / 2 + 2), channel ((r % 2) * 2 + q % 2) * 3 + c;
// a 5x4 image gives a (3 + 3) x (2 + 3) s2d tensor.
TEST(StemS2d, PixelsLandWhereDerived) {
  const int H = 5, W = 4;
  EXPECT_EQ(ops::stem_s2d_size(H), 6);
  EXPECT_EQ(ops::stem_s2d_size(W), 5);
  Tensor x({1, 3, H, W});
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = 1.f + i;
  const Tensor s = ops::stem_s2d_input(x);
  ASSERT_EQ(s.shape(), (Shape{1, 16, 6, 5}));
  std::vector<int> hits(s.numel(), 0);
  for (int c = 0; c < 3; ++c)
    for (int r = 0; r < H; ++r)
      for (int q = 0; q < W; ++q) {
        const int ch = ((r % 2) * 2 + q % 2) * 3 + c;
        const int64_t at = (int64_t(ch) * 6 + r / 2 + 2) * 5 + q / 2 + 2;
        EXPECT_EQ(s[at], x[(int64_t(c) * H + r) * W + q]);
        ++hits[at];
      }
  for (int64_t i = 0; i < s.numel(); ++i)
    if (!hits[i]) EXPECT_EQ(s[i], 0.f) << "flat index " << i;
}

TEST(StemS2d, RejectsOtherShapes) {
  EXPECT_THROW(ops::stem_s2d_input(Tensor({1, 4, 5, 5})), Error);
  EXPECT_THROW(ops::stem_s2d_input(Tensor({3, 5, 5})), Error);
  EXPECT_THROW(ops::stem_s2d_weight(Tensor({8, 3, 5, 5})), Error);
  EXPECT_THROW(ops::stem_s2d_weight(Tensor({8, 8, 7, 7})), Error);
  ops::Conv2dParams p;
  p.stride_h = p.stride_w = 2;
  p.pad_h = p.pad_w = 3;
  EXPECT_TRUE(ops::stem_s2d_applicable(p, {64, 3, 7, 7}));
  EXPECT_FALSE(ops::stem_s2d_applicable(p, {64, 8, 7, 7}));
  p.pad_w = 2;
  EXPECT_FALSE(ops::stem_s2d_applicable(p, {64, 3, 7, 7}));
}

}  // namespace
}  // namespace maskrt
