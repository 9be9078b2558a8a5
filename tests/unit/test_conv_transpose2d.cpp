// conv_transpose2x2: reference vs hand-derived values and torch fixtures; CPU version vs the reference.
#include <omp.h>

#include "dense_op_testing.h"
#include "ops/conv_transpose2d/conv_transpose2d.h"

namespace maskrt {
namespace {

using testing::random_tensor;
using testing::tensors_close;

TEST(ConvTranspose2x2Ref, HandDerived) {
  // One input channel, 1x2 input [1, 2]; w (1, 2, 2, 2): out channel 0 kernel [[1,2],[3,4]],
  // out channel 1 kernel [[-1,0],[0,1]]. Each input pixel paints its own 2x2 block: value * kernel.
  const Tensor x({1, 1, 1, 2}, {1, 2});
  const Tensor w({1, 2, 2, 2}, {1, 2, 3, 4, -1, 0, 0, 1});
  const Tensor b({2}, {0.0f, 0.5f});
  const Tensor expected({1, 2, 2, 4}, {1, 2, 2, 4, 3, 4, 6, 8,  //
                                       -0.5f, 0.5f, -1.5f, 0.5f, 0.5f, 1.5f, 0.5f, 2.5f});
  EXPECT_TRUE(tensors_close(ops::conv_transpose2x2_ref(x, w, b, false), expected, 0.0));
  EXPECT_TRUE(tensors_close(ops::conv_transpose2x2_cpu(x, w, b, false), expected, 1e-6));
  const Tensor expected_relu({1, 2, 2, 4}, {1, 2, 2, 4, 3, 4, 6, 8, 0, 0.5f, 0, 0.5f, 0.5f, 1.5f, 0.5f, 2.5f});
  EXPECT_TRUE(tensors_close(ops::conv_transpose2x2_ref(x, w, b, true), expected_relu, 0.0));
  EXPECT_TRUE(tensors_close(ops::conv_transpose2x2_cpu(x, w, b, true), expected_relu, 1e-6));
  // Two input channels sum: second channel all 1 with a (1, 1, 2, 2) kernel of ones adds 1 everywhere.
  const Tensor x2({1, 2, 1, 1}, {3, 1});
  const Tensor w2({2, 1, 2, 2}, {1, 2, 3, 4, 1, 1, 1, 1});
  EXPECT_TRUE(tensors_close(ops::conv_transpose2x2_ref(x2, w2, Tensor(), false), Tensor({1, 1, 2, 2}, {4, 7, 10, 13}), 0.0));
}

TEST(ConvTranspose2x2Ref, Errors) {
  auto throws_invalid = [](auto fn) {
    try {
      fn();
    } catch (const Error& e) {
      return e.code() == ErrorCode::kInvalidArgument;
    }
    return false;
  };
  const Tensor x = Tensor::empty({1, 3, 2, 2});
  EXPECT_TRUE(throws_invalid([&] { ops::conv_transpose2x2_cpu(x, Tensor::empty({4, 3, 2, 2}), Tensor(), false); }));
  EXPECT_TRUE(throws_invalid([&] { ops::conv_transpose2x2_cpu(x, Tensor::empty({3, 4, 3, 3}), Tensor(), false); }));
  EXPECT_TRUE(throws_invalid([&] { ops::conv_transpose2x2_ref(x, Tensor::empty({3, 4, 2, 2}), Tensor::empty({3}), false); }));
}

TEST(ConvTranspose2x2Ref, MatchesTorchFixtures) {
  const auto fx = testing::load_dense_op_fixture("conv_transpose2d");
  for (const auto& c : fx.at("cases")) {
    SCOPED_TRACE(c.at("name").get<std::string>());
    const bool relu = c.at("params").at("relu");
    const Tensor x = testing::fixture_input(c, "x"), w = testing::fixture_input(c, "w");
    const Tensor b = testing::fixture_input(c, "bias");
    const Tensor expected = testing::tensor_from_json(c.at("expected"));
    EXPECT_TRUE(tensors_close(ops::conv_transpose2x2_ref(x, w, b, relu), expected, 1e-6));
    EXPECT_TRUE(tensors_close(ops::conv_transpose2x2_cpu(x, w, b, relu), expected, 1e-5));
  }
}

TEST(ConvTranspose2x2Cpu, RandomSweepMatchesRef) {
  std::mt19937 rng(31337);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  std::vector<std::array<int, 5>> shapes;  // n, c, h, w, o
  for (int i = 0; i < 30; ++i) shapes.push_back({pick(1, 3), pick(1, 20), pick(1, 8), pick(1, 8), pick(1, 40)});
  shapes.push_back({3, 64, 14, 14, 48});  // mask-head-like (256 -> 256 at 14x14 in the model), a few ROIs
  shapes.push_back({1, 32, 14, 14, 40});  // single ROI: output-channel blocks
  for (const auto& s : shapes) {
    const bool relu = pick(0, 1), with_bias = pick(0, 1);
    const Tensor x = random_tensor({s[0], s[1], s[2], s[3]}, rng), w = random_tensor({s[1], s[4], 2, 2}, rng, 0.3f);
    const Tensor b = with_bias ? random_tensor({s[4]}, rng) : Tensor();
    const Tensor ref = ops::conv_transpose2x2_ref(x, w, b, relu);
    for (int threads : {1, 2, 3}) {
      omp_set_num_threads(threads);
      EXPECT_TRUE(tensors_close(ops::conv_transpose2x2_cpu(x, w, b, relu), ref, 1e-5))
          << shape_str(x.shape()) << " O " << s[4] << " threads " << threads;
    }
  }
  omp_set_num_threads(2);
}

}  // namespace
}  // namespace maskrt
