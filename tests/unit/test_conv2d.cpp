// conv2d: scalar reference vs hand-derived values and torch fixtures; CPU version vs the reference.
#include <omp.h>

#include <cmath>
#include <vector>

#include "dense_op_testing.h"
#include "ops/conv2d/conv2d.h"

namespace maskrt {
namespace {

using ops::Conv2dParams;
using testing::random_tensor;
using testing::tensors_close;

Tensor iota(const Shape& s, float start = 0.0f) {
  Tensor t = Tensor::empty(s);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = start + static_cast<float>(i);
  return t;
}
Tensor filled(const Shape& s, float v) {
  Tensor t = Tensor::empty(s);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = v;
  return t;
}

// ---- hand-derived cases (reference) -------------------------------------------------------------

TEST(Conv2dRef, LaplacianPad1On3x3) {
  const Tensor x({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  const Tensor w({1, 1, 3, 3}, {0, 1, 0, 1, -4, 1, 0, 1, 0});
  Conv2dParams p;
  p.pad_h = p.pad_w = 1;
  // Each output = sum of in-bounds 4-neighbours - 4 * centre; zero padding drops out-of-bounds ones.
  const Tensor expected({1, 1, 3, 3}, {2, 1, -4, -3, 0, -7, -16, -11, -22});
  EXPECT_TRUE(tensors_close(ops::conv2d_ref(p, x, w, Tensor()), expected, 0.0));
  EXPECT_TRUE(tensors_close(ops::conv2d_cpu(p, x, w, Tensor()), expected, 1e-6));
  // bias 1 then ReLU: max(v + 1, 0)
  p.relu = true;
  const Tensor bias({1}, {1.0f});
  const Tensor expected_relu({1, 1, 3, 3}, {3, 2, 0, 0, 1, 0, 0, 0, 0});
  EXPECT_TRUE(tensors_close(ops::conv2d_ref(p, x, w, bias), expected_relu, 0.0));
  EXPECT_TRUE(tensors_close(ops::conv2d_cpu(p, x, w, bias), expected_relu, 1e-6));
}

TEST(Conv2dRef, NoPadGivesOnlyCentre) {
  const Tensor x({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  const Tensor w({1, 1, 3, 3}, {0, 1, 0, 1, -4, 1, 0, 1, 0});
  const Tensor bias({1}, {0.5f});
  const Tensor y = ops::conv2d_ref(Conv2dParams{}, x, w, bias);
  ASSERT_EQ(y.shape(), (Shape{1, 1, 1, 1}));
  EXPECT_FLOAT_EQ(y[0], 0.5f);
}

TEST(Conv2dRef, PaddingCornersStride2) {
  // Ones 4x4 input, ones 3x3 kernel, pad 1, stride 2: each output counts the in-bounds window cells.
  Conv2dParams p;
  p.pad_h = p.pad_w = 1;
  p.stride_h = p.stride_w = 2;
  const Tensor expected({1, 1, 2, 2}, {4, 6, 6, 9});
  EXPECT_TRUE(tensors_close(ops::conv2d_ref(p, filled({1, 1, 4, 4}, 1), filled({1, 1, 3, 3}, 1), Tensor()),
                            expected, 0.0));
  EXPECT_TRUE(tensors_close(ops::conv2d_cpu(p, filled({1, 1, 4, 4}, 1), filled({1, 1, 3, 3}, 1), Tensor()),
                            expected, 1e-6));
}

TEST(Conv2dRef, Groups2SplitChannels) {
  // Group 0 sees only channel 0 (weight 2), group 1 only channel 1 (weight 3).
  const Tensor x({1, 2, 2, 2}, {1, 2, 3, 4, 10, 20, 30, 40});
  const Tensor w({2, 1, 1, 1}, {2, 3});
  Conv2dParams p;
  p.groups = 2;
  const Tensor expected({1, 2, 2, 2}, {2, 4, 6, 8, 30, 60, 90, 120});
  EXPECT_TRUE(tensors_close(ops::conv2d_ref(p, x, w, Tensor()), expected, 0.0));
  EXPECT_TRUE(tensors_close(ops::conv2d_cpu(p, x, w, Tensor()), expected, 1e-6));
  // groups=1 with the same data mixes channels: weight (1, 2, 1, 1) = [2, 3]
  const Tensor y1 = ops::conv2d_ref(Conv2dParams{}, x, Tensor({1, 2, 1, 1}, {2, 3}), Tensor());
  EXPECT_TRUE(tensors_close(y1, Tensor({1, 1, 2, 2}, {32, 64, 96, 128}), 0.0));
}

TEST(Conv2dRef, Dilation2) {
  // 5x5 input 0..24, ones 3x3 kernel, dilation 2: samples rows/cols {0, 2, 4}.
  Conv2dParams p;
  p.dilation_h = p.dilation_w = 2;
  const Tensor y = ops::conv2d_ref(p, iota({1, 1, 5, 5}), filled({1, 1, 3, 3}, 1), Tensor());
  ASSERT_EQ(y.shape(), (Shape{1, 1, 1, 1}));
  EXPECT_FLOAT_EQ(y[0], 0 + 2 + 4 + 10 + 12 + 14 + 20 + 22 + 24);
  EXPECT_FLOAT_EQ(ops::conv2d_cpu(p, iota({1, 1, 5, 5}), filled({1, 1, 3, 3}, 1), Tensor())[0], 108.0f);
}

TEST(Conv2dRef, StrideGreaterThanKernelSkipsPixels) {
  // 1x1 kernel (weight 1), stride 3 on a 5x7 iota: picks rows {0, 3}, cols {0, 3, 6}.
  Conv2dParams p;
  p.stride_h = p.stride_w = 3;
  const Tensor expected({1, 1, 2, 3}, {0, 3, 6, 21, 24, 27});
  EXPECT_TRUE(tensors_close(ops::conv2d_ref(p, iota({1, 1, 5, 7}), filled({1, 1, 1, 1}, 1), Tensor()), expected, 0.0));
  EXPECT_TRUE(tensors_close(ops::conv2d_cpu(p, iota({1, 1, 5, 7}), filled({1, 1, 1, 1}, 1), Tensor()), expected, 0.0));
}

TEST(Conv2dRef, OutputShapeAndErrors) {
  Conv2dParams p;
  p.stride_h = p.stride_w = 2;
  p.pad_h = p.pad_w = 3;
  EXPECT_EQ(ops::conv2d_output_shape(p, {1, 3, 800, 1088}, {64, 3, 7, 7}), (Shape{1, 64, 400, 544}));
  EXPECT_EQ(ops::conv2d_output_shape(Conv2dParams{}, {0, 3, 5, 5}, {2, 3, 3, 3}), (Shape{0, 2, 3, 3}));
  auto throws_invalid = [](auto fn) {
    try {
      fn();
    } catch (const Error& e) {
      return e.code() == ErrorCode::kInvalidArgument;
    }
    return false;
  };
  EXPECT_TRUE(throws_invalid([] { ops::conv2d_output_shape(Conv2dParams{}, {1, 4, 5, 5}, {2, 3, 3, 3}); }));
  EXPECT_TRUE(throws_invalid([] { ops::conv2d_output_shape(Conv2dParams{}, {1, 3, 2, 5}, {2, 3, 3, 3}); }));
  EXPECT_TRUE(throws_invalid([] { ops::conv2d_output_shape(Conv2dParams{}, {3, 5, 5}, {2, 3, 3, 3}); }));
  Conv2dParams g3;
  g3.groups = 3;
  EXPECT_TRUE(throws_invalid([&] { ops::conv2d_output_shape(g3, {1, 4, 5, 5}, {3, 2, 3, 3}); }));
  Conv2dParams bad_stride;
  bad_stride.stride_w = 0;
  EXPECT_TRUE(throws_invalid([&] { ops::conv2d_output_shape(bad_stride, {1, 3, 5, 5}, {2, 3, 3, 3}); }));
  const Tensor x = Tensor::empty({1, 3, 5, 5}), w = Tensor::empty({2, 3, 3, 3});
  EXPECT_TRUE(throws_invalid([&] { ops::conv2d_cpu(Conv2dParams{}, x, w, Tensor({3}, {1, 2, 3})); }));
  EXPECT_TRUE(throws_invalid([&] { ops::conv2d_ref(Conv2dParams{}, x, w, Tensor({3}, {1, 2, 3})); }));
  EXPECT_EQ(ops::conv2d_cpu(Conv2dParams{}, Tensor::empty({0, 3, 5, 5}), w, Tensor()).shape(), (Shape{0, 2, 3, 3}));
}

// ---- torch fixtures (reference and CPU) ---------------------------------------------------------

TEST(Conv2dRef, MatchesTorchFixtures) {
  const auto fx = testing::load_dense_op_fixture("conv2d");
  for (const auto& c : fx.at("cases")) {
    SCOPED_TRACE(c.at("name").get<std::string>());
    const auto& pj = c.at("params");
    Conv2dParams p;
    p.stride_h = pj.at("stride")[0], p.stride_w = pj.at("stride")[1];
    p.pad_h = pj.at("pad")[0], p.pad_w = pj.at("pad")[1];
    p.dilation_h = pj.at("dilation")[0], p.dilation_w = pj.at("dilation")[1];
    p.groups = pj.at("groups");
    p.relu = pj.at("relu");
    const Tensor x = testing::fixture_input(c, "x"), w = testing::fixture_input(c, "w");
    const Tensor b = testing::fixture_input(c, "bias");
    const Tensor expected = testing::tensor_from_json(c.at("expected"));
    EXPECT_TRUE(tensors_close(ops::conv2d_ref(p, x, w, b), expected, 1e-6));
    EXPECT_TRUE(tensors_close(ops::conv2d_cpu(p, x, w, b), expected, 1e-5));
  }
}

// ---- CPU vs reference: seeded random sweeps -----------------------------------------------------

void expect_cpu_matches_ref(const Conv2dParams& p, const Shape& xs, const Shape& ws, bool with_bias,
                            std::mt19937& rng) {
  const Tensor x = random_tensor(xs, rng), w = random_tensor(ws, rng, 0.5f);
  const Tensor b = with_bias ? random_tensor({ws[0]}, rng) : Tensor();
  const Tensor ref = ops::conv2d_ref(p, x, w, b);
  for (int threads : {1, 2, 3}) {
    omp_set_num_threads(threads);
    EXPECT_TRUE(tensors_close(ops::conv2d_cpu(p, x, w, b), ref, 1e-5))
        << "x " << shape_str(xs) << " w " << shape_str(ws) << " stride " << p.stride_h << "," << p.stride_w
        << " pad " << p.pad_h << "," << p.pad_w << " dil " << p.dilation_h << "," << p.dilation_w << " groups "
        << p.groups << " relu " << p.relu << " bias " << with_bias << " threads " << threads;
  }
  omp_set_num_threads(2);
}

TEST(Conv2dCpu, RandomSweepMatchesRef) {
  std::mt19937 rng(12345);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  int tested = 0;
  while (tested < 150) {
    Conv2dParams p;
    p.groups = pick(1, 3);
    const int cg = pick(1, 5), og = pick(1, 4);
    const int kh = pick(0, 5) == 0 ? 7 : pick(1, 4), kw = pick(0, 3) == 0 ? kh : pick(1, 4);
    p.stride_h = pick(1, 3), p.stride_w = pick(0, 1) ? p.stride_h : pick(1, 3);
    p.pad_h = pick(0, 3), p.pad_w = pick(0, 1) ? p.pad_h : pick(0, 3);
    p.dilation_h = pick(0, 3) == 0 ? 2 : 1, p.dilation_w = pick(0, 3) == 0 ? 2 : 1;
    p.relu = pick(0, 1);
    const int n = pick(1, 2), h = pick(1, 12), w = pick(1, 12);
    const Shape xs{n, p.groups * cg, h, w}, ws{p.groups * og, cg, kh, kw};
    if (h + 2 * p.pad_h < p.dilation_h * (kh - 1) + 1 || w + 2 * p.pad_w < p.dilation_w * (kw - 1) + 1) continue;
    expect_cpu_matches_ref(p, xs, ws, pick(0, 1), rng);
    ++tested;
  }
}

TEST(Conv2dCpu, ModelShapesMatchRef) {
  std::mt19937 rng(777);
  Conv2dParams p3;  // 3x3 pad 1, tiles not aligned to output rows
  p3.pad_h = p3.pad_w = 1;
  p3.relu = true;
  expect_cpu_matches_ref(p3, {1, 64, 20, 30}, {32, 64, 3, 3}, true, rng);
  Conv2dParams pg = p3;  // ResNeXt 32x4d-style grouped 3x3 (4 channels per group), stride 2
  pg.groups = 32;
  pg.stride_h = pg.stride_w = 2;
  expect_cpu_matches_ref(pg, {2, 128, 9, 11}, {128, 4, 3, 3}, true, rng);
  Conv2dParams p1;  // 1x1 stride 1 (direct path) with several tiles
  expect_cpu_matches_ref(p1, {1, 16, 70, 70}, {24, 16, 1, 1}, true, rng);
  Conv2dParams p1s2;  // 1x1 stride 2 (res3..res5 shortcut / first 1x1), odd input
  p1s2.stride_h = p1s2.stride_w = 2;
  expect_cpu_matches_ref(p1s2, {2, 32, 13, 17}, {16, 32, 1, 1}, false, rng);
  Conv2dParams stem;  // 7x7 s2 p3 stem on a non-square image
  stem.stride_h = stem.stride_w = 2;
  stem.pad_h = stem.pad_w = 3;
  stem.relu = true;
  expect_cpu_matches_ref(stem, {1, 3, 40, 54}, {16, 3, 7, 7}, true, rng);
  Conv2dParams one;  // 1x1 spatial input, 3x3 pad 1 -> output 1x1, batch 2
  one.pad_h = one.pad_w = 1;
  expect_cpu_matches_ref(one, {2, 8, 1, 1}, {4, 8, 3, 3}, true, rng);
  Conv2dParams dw;  // depthwise
  dw.groups = 6;
  dw.pad_h = dw.pad_w = 1;
  expect_cpu_matches_ref(dw, {1, 6, 7, 5}, {6, 1, 3, 3}, false, rng);
}

TEST(Conv2dCpu, WorkspaceBytes) {
  Conv2dParams p;
  EXPECT_EQ(ops::conv2d_cpu_workspace_bytes(p, {1, 16, 8, 8}, {8, 16, 1, 1}, 2), 0u);  // direct 1x1
  p.pad_h = p.pad_w = 1;
  EXPECT_GT(ops::conv2d_cpu_workspace_bytes(p, {1, 16, 8, 8}, {8, 16, 3, 3}, 2), 0u);
}

}  // namespace
}  // namespace maskrt
