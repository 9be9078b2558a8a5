// upsample_nearest2x_add: reference vs hand-derived values and torch fixtures; CPU version vs the reference.
#include <omp.h>

#include "dense_op_testing.h"
#include "ops/upsample/upsample.h"

namespace maskrt {
namespace {

using testing::random_tensor;
using testing::tensors_close;

TEST(UpsampleRef, HandDerived) {
  // top 1x2 [1, 2] -> nearest 2x: rows [1 1 2 2] twice; lateral 0..7 added.
  const Tensor top({1, 1, 1, 2}, {1, 2});
  const Tensor lat({1, 1, 2, 4}, {0, 10, 20, 30, 40, 50, 60, 70});
  const Tensor expected({1, 1, 2, 4}, {1, 11, 22, 32, 41, 51, 62, 72});
  EXPECT_TRUE(tensors_close(ops::upsample_nearest2x_add_ref(top, lat), expected, 0.0));
  EXPECT_TRUE(tensors_close(ops::upsample_nearest2x_add_cpu(top, lat), expected, 0.0));
}

TEST(UpsampleRef, Errors) {
  auto throws_invalid = [](auto fn) {
    try {
      fn();
    } catch (const Error& e) {
      return e.code() == ErrorCode::kInvalidArgument;
    }
    return false;
  };
  const Tensor top = Tensor::empty({1, 2, 3, 4});
  EXPECT_TRUE(throws_invalid([&] { ops::upsample_nearest2x_add_cpu(top, Tensor::empty({1, 2, 5, 8})); }));
  EXPECT_TRUE(throws_invalid([&] { ops::upsample_nearest2x_add_cpu(top, Tensor::empty({1, 3, 6, 8})); }));
  EXPECT_TRUE(throws_invalid([&] { ops::upsample_nearest2x_add_ref(top, Tensor::empty({2, 2, 6, 8})); }));
}

TEST(UpsampleRef, MatchesTorchFixtures) {
  const auto fx = testing::load_dense_op_fixture("upsample");
  for (const auto& c : fx.at("cases")) {
    SCOPED_TRACE(c.at("name").get<std::string>());
    const Tensor top = testing::fixture_input(c, "top"), lat = testing::fixture_input(c, "lateral");
    const Tensor expected = testing::tensor_from_json(c.at("expected"));
    EXPECT_TRUE(tensors_close(ops::upsample_nearest2x_add_ref(top, lat), expected, 0.0));
    EXPECT_TRUE(tensors_close(ops::upsample_nearest2x_add_cpu(top, lat), expected, 0.0));
  }
}

TEST(UpsampleCpu, RandomSweepMatchesRef) {
  std::mt19937 rng(5);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int t = 0; t < 40; ++t) {
    const int n = pick(1, 2), c = pick(1, 4), h = pick(1, 9), w = pick(1, 9);
    const Tensor top = random_tensor({n, c, h, w}, rng), lat = random_tensor({n, c, 2 * h, 2 * w}, rng);
    EXPECT_TRUE(tensors_close(ops::upsample_nearest2x_add_cpu(top, lat), ops::upsample_nearest2x_add_ref(top, lat), 0.0));
  }
  const Tensor top = random_tensor({1, 16, 25, 34}, rng), lat = random_tensor({1, 16, 50, 68}, rng);  // parallel path
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    EXPECT_TRUE(tensors_close(ops::upsample_nearest2x_add_cpu(top, lat), ops::upsample_nearest2x_add_ref(top, lat), 0.0));
  }
  omp_set_num_threads(2);
}

}  // namespace
}  // namespace maskrt
