// concat_conv2d_out_channels (ops/conv2d/conv2d.h): hand-derived filters and outputs, the property
// conv(concat) == cat(conv(part_i)) with zero padding channels (conv2d_ref as the oracle), and the
// argument errors.
#include <random>
#include <vector>

#include "dense_op_testing.h"
#include "ops/conv2d/conv2d.h"

namespace maskrt {
namespace {

using ops::Conv2dFilters;
using ops::Conv2dParams;
using testing::random_tensor;

TEST(Conv2dConcat, HandDerivedFiltersAndOutput) {
  // part 0: O=1, C=2, 1x1, bias 0.5; part 1: O=2, no bias; padded to 4 output channels.
  const Conv2dFilters a{Tensor({1, 2, 1, 1}, {1, 2}), Tensor({1}, {0.5f})};
  const Conv2dFilters b{Tensor({2, 2, 1, 1}, {3, 4, 5, 6}), Tensor()};
  const Conv2dFilters f = ops::concat_conv2d_out_channels(Conv2dParams{}, {a, b}, 4);
  ASSERT_EQ(f.weight.shape(), (Shape{4, 2, 1, 1}));
  ASSERT_EQ(f.bias.shape(), (Shape{4}));
  const std::vector<float> want_w{1, 2, 3, 4, 5, 6, 0, 0}, want_b{0.5f, 0, 0, 0};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(f.weight[i], want_w[i]) << i;
  for (int i = 0; i < 4; ++i) EXPECT_EQ(f.bias[i], want_b[i]) << i;
  // x (1, 2, 1, 2): channel 0 = [1, 2], channel 1 = [3, 4].
  //   out0 = 1*x0 + 2*x1 + 0.5 = [7.5, 10.5]; out1 = 3*x0 + 4*x1 = [15, 22];
  //   out2 = 5*x0 + 6*x1 = [23, 34]; out3 (padding) = [0, 0].
  const Tensor x({1, 2, 1, 2}, {1, 2, 3, 4});
  const Tensor y = ops::conv2d_ref(Conv2dParams{}, x, f.weight, f.bias);
  const Tensor want({1, 4, 1, 2}, {7.5f, 10.5f, 15, 22, 23, 34, 0, 0});
  EXPECT_TRUE(testing::tensors_close(y, want, 0.0));
}

TEST(Conv2dConcat, NoPaddingKeepsExactSize) {
  const Conv2dFilters a{Tensor({1, 1, 1, 1}, {2}), Tensor({1}, {1})};
  const Conv2dFilters f = ops::concat_conv2d_out_channels(Conv2dParams{}, {a}, 1);
  ASSERT_EQ(f.weight.shape(), (Shape{1, 1, 1, 1}));
  EXPECT_EQ(f.weight[0], 2.f);
  EXPECT_EQ(f.bias[0], 1.f);
}

// The RPN head's use: objectness_logits (A) + anchor_deltas (4A), padded to a multiple of 8, also
// with a 3x3 kernel, padding and stride: each output channel of the stacked conv equals the
// corresponding part's output bit for bit (conv2d_ref sums each channel in the same order).
TEST(Conv2dConcat, StackedConvEqualsConcatenatedOutputs) {
  std::mt19937 rng(11);
  struct Case { int a, c, k, pad, stride; };
  for (const Case cs : {Case{3, 16, 1, 0, 1}, Case{5, 7, 3, 1, 2}, Case{1, 4, 3, 0, 1}}) {
    const int pad_to = (5 * cs.a + 7) / 8 * 8;
    SCOPED_TRACE(::testing::Message() << "A " << cs.a << " C " << cs.c << " k " << cs.k << " -> " << pad_to);
    Conv2dParams p;
    p.pad_h = p.pad_w = cs.pad;
    p.stride_h = p.stride_w = cs.stride;
    const Conv2dFilters logits{random_tensor({cs.a, cs.c, cs.k, cs.k}, rng), random_tensor({cs.a}, rng)};
    const Conv2dFilters deltas{random_tensor({4 * cs.a, cs.c, cs.k, cs.k}, rng), random_tensor({4 * cs.a}, rng)};
    const Conv2dFilters f = ops::concat_conv2d_out_channels(p, {logits, deltas}, pad_to);
    const Tensor x = random_tensor({2, cs.c, 9, 7}, rng);
    const Tensor y = ops::conv2d_ref(p, x, f.weight, f.bias);
    const Tensor yl = ops::conv2d_ref(p, x, logits.weight, logits.bias);
    const Tensor yd = ops::conv2d_ref(p, x, deltas.weight, deltas.bias);
    const int64_t n = y.size(0), hw = y.size(2) * y.size(3);
    ASSERT_EQ(y.size(1), pad_to);
    for (int64_t b = 0; b < n; ++b)
      for (int64_t c = 0; c < pad_to; ++c)
        for (int64_t i = 0; i < hw; ++i) {
          const float got = y[(b * pad_to + c) * hw + i];
          const float want = c < cs.a       ? yl[(b * cs.a + c) * hw + i]
                             : c < 5 * cs.a ? yd[(b * 4 * cs.a + (c - cs.a)) * hw + i]
                                            : 0.f;
          ASSERT_EQ(got, want) << "image " << b << " channel " << c << " pixel " << i;
        }
  }
}

TEST(Conv2dConcat, ArgumentErrors) {
  const Conv2dFilters a{Tensor({2, 3, 1, 1}), Tensor({2})};
  const Conv2dFilters other_k{Tensor({2, 3, 3, 3}), Tensor({2})};
  const Conv2dFilters bad_bias{Tensor({2, 3, 1, 1}), Tensor({3})};
  const Conv2dFilters flat{Tensor({2, 3}), Tensor()};
  EXPECT_THROW(ops::concat_conv2d_out_channels(Conv2dParams{}, {}, 4), Error);
  EXPECT_THROW(ops::concat_conv2d_out_channels(Conv2dParams{}, {a, other_k}, 4), Error);
  EXPECT_THROW(ops::concat_conv2d_out_channels(Conv2dParams{}, {a, bad_bias}, 4), Error);
  EXPECT_THROW(ops::concat_conv2d_out_channels(Conv2dParams{}, {a, flat}, 4), Error);
  EXPECT_THROW(ops::concat_conv2d_out_channels(Conv2dParams{}, {a, a}, 3), Error);  // 4 channels > 3
  Conv2dParams grouped;
  grouped.groups = 2;
  EXPECT_THROW(ops::concat_conv2d_out_channels(grouped, {a}, 2), Error);
  try {
    ops::concat_conv2d_out_channels(Conv2dParams{}, {a, other_k}, 4);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("part 1"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace maskrt
