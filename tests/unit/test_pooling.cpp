// max_pool2d: scalar reference vs hand-derived values and torch fixtures; CPU version vs the reference.
#include <omp.h>

#include <limits>

#include "dense_op_testing.h"
#include "ops/pooling/pooling.h"

namespace maskrt {
namespace {

using ops::MaxPool2dParams;
using testing::random_tensor;
using testing::tensors_close;

TEST(MaxPool2dRef, StemK3S2P1HandDerived) {
  // 4x4 input 0..15, k3 s2 p1: windows rows/cols {-1..1} and {1..3}.
  Tensor x = Tensor::empty({1, 1, 4, 4});
  for (int i = 0; i < 16; ++i) x[i] = static_cast<float>(i);
  const MaxPool2dParams p{3, 2, 1};
  const Tensor expected({1, 1, 2, 2}, {5, 7, 13, 15});
  EXPECT_TRUE(tensors_close(ops::max_pool2d_ref(p, x), expected, 0.0));
  EXPECT_TRUE(tensors_close(ops::max_pool2d_cpu(p, x), expected, 0.0));
}

TEST(MaxPool2dRef, AllNegativeNearPaddingIgnoresPad) {
  // If the padding counted as 0 the corner outputs would be 0; it counts as -inf.
  const Tensor x({1, 1, 3, 3}, {-9, -8, -7, -6, -5, -4, -3, -2, -1});
  const MaxPool2dParams p{2, 2, 1};  // windows {-1,0} and {1,2}
  const Tensor expected({1, 1, 2, 2}, {-9, -7, -3, -1});
  EXPECT_TRUE(tensors_close(ops::max_pool2d_ref(p, x), expected, 0.0));
  EXPECT_TRUE(tensors_close(ops::max_pool2d_cpu(p, x), expected, 0.0));
}

TEST(MaxPool2dRef, P6K1S2Subsamples) {
  // FPN LastLevelMaxPool: k1 s2 p0 keeps even rows/cols; 5x3 -> 3x2.
  Tensor x = Tensor::empty({1, 1, 5, 3});
  for (int i = 0; i < 15; ++i) x[i] = static_cast<float>(100 - i);
  const MaxPool2dParams p{1, 2, 0};
  const Tensor expected({1, 1, 3, 2}, {100, 98, 94, 92, 88, 86});
  EXPECT_TRUE(tensors_close(ops::max_pool2d_ref(p, x), expected, 0.0));
  EXPECT_TRUE(tensors_close(ops::max_pool2d_cpu(p, x), expected, 0.0));
}

TEST(MaxPool2dRef, NanPropagates) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const Tensor x({1, 1, 2, 2}, {1, nan, 3, 4});
  const MaxPool2dParams p{2, 2, 0};
  EXPECT_TRUE(std::isnan(ops::max_pool2d_ref(p, x)[0]));
  EXPECT_TRUE(std::isnan(ops::max_pool2d_cpu(p, x)[0]));
}

TEST(MaxPool2dRef, Errors) {
  auto throws_invalid = [](auto fn) {
    try {
      fn();
    } catch (const Error& e) {
      return e.code() == ErrorCode::kInvalidArgument;
    }
    return false;
  };
  const Tensor x = Tensor::empty({1, 1, 3, 3});
  EXPECT_TRUE(throws_invalid([&] { ops::max_pool2d_cpu(MaxPool2dParams{3, 1, 2}, x); }));  // pad > k/2
  EXPECT_TRUE(throws_invalid([&] { ops::max_pool2d_cpu(MaxPool2dParams{5, 1, 0}, x); }));  // empty output
  EXPECT_TRUE(throws_invalid([&] { ops::max_pool2d_ref(MaxPool2dParams{0, 1, 0}, x); }));
  EXPECT_TRUE(throws_invalid([&] { ops::max_pool2d_ref(MaxPool2dParams{1, 1, 0}, Tensor::empty({3, 3})); }));
  EXPECT_EQ(ops::max_pool2d_output_shape(MaxPool2dParams{3, 2, 1}, {1, 64, 400, 544}), (Shape{1, 64, 200, 272}));
}

TEST(MaxPool2dRef, MatchesTorchFixtures) {
  const auto fx = testing::load_dense_op_fixture("pooling");
  for (const auto& c : fx.at("cases")) {
    SCOPED_TRACE(c.at("name").get<std::string>());
    const auto& pj = c.at("params");
    const MaxPool2dParams p{pj.at("kernel"), pj.at("stride"), pj.at("pad")};
    const Tensor x = testing::fixture_input(c, "x");
    const Tensor expected = testing::tensor_from_json(c.at("expected"));
    EXPECT_TRUE(tensors_close(ops::max_pool2d_ref(p, x), expected, 0.0));
    EXPECT_TRUE(tensors_close(ops::max_pool2d_cpu(p, x), expected, 0.0));
  }
}

TEST(MaxPool2dCpu, RandomSweepMatchesRef) {
  std::mt19937 rng(99);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  int tested = 0;
  while (tested < 120) {
    const int k = pick(1, 4), s = pick(1, 3), pad = pick(0, k / 2);
    const int n = pick(1, 2), c = pick(1, 5), h = pick(1, 13), w = pick(1, 13);
    if (h + 2 * pad < k || w + 2 * pad < k) continue;
    // Shift some inputs fully negative so a wrongly zero-valued pad would show.
    Tensor x = random_tensor({n, c, h, w}, rng);
    if (pick(0, 1))
      for (int64_t i = 0; i < x.numel(); ++i) x[i] -= 10.0f;
    const MaxPool2dParams p{k, s, pad};
    const Tensor ref = ops::max_pool2d_ref(p, x);
    for (int threads : {1, 2}) {
      omp_set_num_threads(threads);
      EXPECT_TRUE(tensors_close(ops::max_pool2d_cpu(p, x), ref, 0.0))
          << shape_str(x.shape()) << " k " << k << " s " << s << " p " << pad;
    }
    ++tested;
  }
  // Large enough to take the parallel path.
  const Tensor big = random_tensor({1, 8, 64, 80}, rng);
  EXPECT_TRUE(tensors_close(ops::max_pool2d_cpu({3, 2, 1}, big), ops::max_pool2d_ref({3, 2, 1}, big), 0.0));
}

}  // namespace
}  // namespace maskrt
