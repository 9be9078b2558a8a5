// linear: scalar reference vs hand-derived values and torch fixtures; CPU version vs the reference.
#include <omp.h>

#include "dense_op_testing.h"
#include "ops/linear/linear.h"

namespace maskrt {
namespace {

using testing::random_tensor;
using testing::tensors_close;

TEST(LinearRef, HandDerived) {
  // x (2, 3), w (2, 3): y[i][j] = sum_k x[i][k] w[j][k] + b[j]
  const Tensor x({2, 3}, {1, 2, 3, -1, 0, 2});
  const Tensor w({2, 3}, {1, 0, -1, 2, 1, 1});
  const Tensor b({2}, {0.5f, -10.0f});
  const Tensor expected({2, 2}, {1 - 3 + 0.5f, 2 + 2 + 3 - 10, -1 - 2 + 0.5f, -2 + 2 - 10});
  EXPECT_TRUE(tensors_close(ops::linear_ref(x, w, b, false), expected, 0.0));
  EXPECT_TRUE(tensors_close(ops::linear_cpu(x, w, b, false), expected, 1e-6));
  const Tensor expected_relu({2, 2}, {0, 0, 0, 0});
  EXPECT_TRUE(tensors_close(ops::linear_ref(x, w, b, true), expected_relu, 0.0));
  EXPECT_TRUE(tensors_close(ops::linear_cpu(x, w, b, true), expected_relu, 0.0));
  EXPECT_TRUE(tensors_close(ops::linear_ref(x, w, Tensor(), false), Tensor({2, 2}, {-2, 7, -3, 0}), 0.0));
}

TEST(LinearRef, Errors) {
  auto throws_invalid = [](auto fn) {
    try {
      fn();
    } catch (const Error& e) {
      return e.code() == ErrorCode::kInvalidArgument;
    }
    return false;
  };
  const Tensor x = Tensor::empty({2, 3});
  EXPECT_TRUE(throws_invalid([&] { ops::linear_cpu(x, Tensor::empty({4, 5}), Tensor(), false); }));
  EXPECT_TRUE(throws_invalid([&] { ops::linear_ref(x, Tensor::empty({4, 3}), Tensor::empty({3}), false); }));
  EXPECT_TRUE(throws_invalid([&] { ops::linear_cpu(Tensor::empty({2, 3, 1}), Tensor::empty({4, 3}), Tensor(), false); }));
  EXPECT_EQ(ops::linear_cpu(Tensor::empty({0, 3}), Tensor::empty({4, 3}), Tensor(), false).shape(), (Shape{0, 4}));
}

TEST(LinearRef, MatchesTorchFixtures) {
  const auto fx = testing::load_dense_op_fixture("linear");
  for (const auto& c : fx.at("cases")) {
    SCOPED_TRACE(c.at("name").get<std::string>());
    const bool relu = c.at("params").at("relu");
    const Tensor x = testing::fixture_input(c, "x"), w = testing::fixture_input(c, "w");
    const Tensor b = testing::fixture_input(c, "bias");
    const Tensor expected = testing::tensor_from_json(c.at("expected"));
    EXPECT_TRUE(tensors_close(ops::linear_ref(x, w, b, relu), expected, 1e-6));
    EXPECT_TRUE(tensors_close(ops::linear_cpu(x, w, b, relu), expected, 1e-5));
  }
}

TEST(LinearCpu, RandomSweepMatchesRef) {
  std::mt19937 rng(4242);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  // Random small shapes plus the box head's shapes scaled down (fc6: K = 256*7*7 in the model).
  std::vector<std::array<int, 3>> shapes;
  for (int i = 0; i < 40; ++i) shapes.push_back({pick(1, 70), pick(1, 90), pick(1, 80)});
  shapes.push_back({1, 300, 1});
  shapes.push_back({200, 12544 / 16, 64});
  shapes.push_back({3, 512, 320});  // few rows: blocks over w's rows
  for (const auto& s : shapes) {
    const int n = s[0], k = s[1], m = s[2];
    const bool relu = pick(0, 1), with_bias = pick(0, 1);
    const Tensor x = random_tensor({n, k}, rng), w = random_tensor({m, k}, rng, 0.3f);
    const Tensor b = with_bias ? random_tensor({m}, rng) : Tensor();
    const Tensor ref = ops::linear_ref(x, w, b, relu);
    for (int threads : {1, 2, 3}) {
      omp_set_num_threads(threads);
      EXPECT_TRUE(tensors_close(ops::linear_cpu(x, w, b, relu), ref, 1e-5))
          << "N " << n << " K " << k << " M " << m << " relu " << relu << " threads " << threads;
    }
  }
  omp_set_num_threads(2);
}

}  // namespace
}  // namespace maskrt
