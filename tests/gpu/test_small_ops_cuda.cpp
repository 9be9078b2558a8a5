// Small CUDA ops vs plain loops written here from the definitions in small_ops_cuda.h (and the CPU
// model: max_pool2d k1 s2 = every other pixel, nearest 2x upsample + add, sigmoid of the predicted
// class channel): fp32 exactly, fp16 = one rounding of the fp32 value.
#include <cmath>
#include <random>

#include <cuda_fp16.h>
#include <gtest/gtest.h>

#include "cuda_test_util.h"
#include "ops/small_cuda/small_ops_cuda.h"

namespace maskrt {
namespace {
using test::DeviceBuffer;

std::vector<float> randn(std::mt19937& rng, size_t n, float scale = 1.f) {
  std::normal_distribution<float> nd(0.f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = nd(rng);
  return v;
}
std::vector<__half> to_nhwc16(const std::vector<float>& nchw, int n, int c, int h, int w, int cs) {
  std::vector<__half> o(size_t(n) * h * w * cs, __float2half_rn(0.f));
  for (int b = 0; b < n; ++b)
    for (int ch = 0; ch < c; ++ch)
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
          o[((size_t(b) * h + y) * w + x) * cs + ch] = __float2half_rn(nchw[((size_t(b) * c + ch) * h + y) * w + x]);
  return o;
}

TEST(SmallOpsCuda, MaxPoolK1S2) {
  MASKRT_SKIP_WITHOUT_GPU();
  std::mt19937 rng(1);
  for (auto [h, w] : {std::pair{25, 34}, std::pair{1, 1}, std::pair{7, 2}}) {
    const int n = 2, c = 5;
    const auto in = randn(rng, size_t(n) * c * h * w);
    const int oh = (h - 1) / 2 + 1, ow = (w - 1) / 2 + 1;
    std::vector<float> want(size_t(n) * c * oh * ow);
    for (int b = 0; b < n * c; ++b)
      for (int y = 0; y < oh; ++y)
        for (int x = 0; x < ow; ++x) want[(size_t(b) * oh + y) * ow + x] = in[(size_t(b) * h + 2 * y) * w + 2 * x];
    DeviceBuffer din = test::upload(in), dout(want.size() * 4);
    ops::CudaTensorDesc d{n, c, h, w, ops::CudaLayout::kNchwFp32, 0};
    ops::max_pool2d_k1s2_cuda(d, din.get(), dout.get(), nullptr);
    EXPECT_EQ(test::download<float>(dout, want.size()), want);
    // fp16 NHWC
    const int cs = 8;
    DeviceBuffer dh = test::upload(to_nhwc16(in, n, c, h, w, cs)), dho(size_t(n) * oh * ow * cs * 2);
    ops::max_pool2d_k1s2_cuda({n, c, h, w, ops::CudaLayout::kNhwcFp16, cs}, dh.get(), dho.get(), nullptr);
    const auto got = test::download<__half>(dho, size_t(n) * oh * ow * cs);
    const auto want16 = to_nhwc16(want, n, c, oh, ow, cs);
    for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(__half2float(got[i]), __half2float(want16[i]));
  }
}

TEST(SmallOpsCuda, UpsampleNearest2xAdd) {
  MASKRT_SKIP_WITHOUT_GPU();
  std::mt19937 rng(2);
  const int n = 1, c = 6, h = 10, w = 14;
  const auto lat = randn(rng, size_t(n) * c * h * w), top = randn(rng, size_t(n) * c * (h / 2) * (w / 2));
  std::vector<float> want(lat.size());
  for (int ch = 0; ch < c; ++ch)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        want[(size_t(ch) * h + y) * w + x] = lat[(size_t(ch) * h + y) * w + x] + top[(size_t(ch) * (h / 2) + y / 2) * (w / 2) + x / 2];
  DeviceBuffer dl = test::upload(lat), dt = test::upload(top);
  ops::upsample_nearest2x_add_cuda({n, c, h, w, ops::CudaLayout::kNchwFp32, 0}, dl.get(), dt.get(), dl.get(), nullptr);  // in place
  EXPECT_EQ(test::download<float>(dl, want.size()), want);
  for (const int cs : {8, 6}) {  // 8: the 8-channel kernel; 6: one channel per thread
  SCOPED_TRACE(::testing::Message() << "c_stride " << cs);
  const auto lat16 = to_nhwc16(lat, n, c, h, w, cs), top16 = to_nhwc16(top, n, c, h / 2, w / 2, cs);
  DeviceBuffer hl = test::upload(lat16), ht = test::upload(top16), ho(lat16.size() * 2);
  ops::upsample_nearest2x_add_cuda({n, c, h, w, ops::CudaLayout::kNhwcFp16, cs}, hl.get(), ht.get(), ho.get(), nullptr);
  const auto got = test::download<__half>(ho, lat16.size());
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int ch = 0; ch < cs; ++ch) {
        const float want_v = ch < c ? __half2float(__float2half_rn(__half2float(lat16[(size_t(y) * w + x) * cs + ch]) +
                                                                   __half2float(top16[(size_t(y / 2) * (w / 2) + x / 2) * cs + ch])))
                                    : 0.f;
        ASSERT_EQ(__half2float(got[(size_t(y) * w + x) * cs + ch]), want_v);
      }
  EXPECT_THROW(ops::upsample_nearest2x_add_cuda({1, 1, 3, 4, ops::CudaLayout::kNchwFp32, 0}, dl.get(), dt.get(),
                                                dl.get(), nullptr),
               Error);
  }
}

TEST(SmallOpsCuda, MaskSelectSigmoid) {
  MASKRT_SKIP_WITHOUT_GPU();
  std::mt19937 rng(3);
  const int cap = 12, K = 7, M = 28, count = 9;
  const auto logits = randn(rng, size_t(cap) * K * M * M, 4.f);
  std::vector<int> classes(cap);
  for (int& c : classes) c = int(rng() % K);
  for (int agnostic = 0; agnostic < 2; ++agnostic) {
    const int nch = agnostic ? 1 : K;
    std::vector<float> want(size_t(cap) * M * M, 0.f);
    for (int i = 0; i < count; ++i) {
      const int ch = agnostic ? 0 : classes[i];
      for (int j = 0; j < M * M; ++j)
        want[size_t(i) * M * M + j] = 1.0f / (1.0f + std::exp(-logits[(size_t(i) * nch + ch) * M * M + j]));
    }
    DeviceBuffer dl = test::upload(logits.data(), size_t(cap) * nch * M * M), dc = test::upload(classes),
                 dn = test::upload(std::vector<int>{count}), dout(want.size() * 4);
    ops::mask_select_sigmoid_cuda({cap, nch, M, M, ops::CudaLayout::kNchwFp32, 0}, dl.get(), dc.as<int>(),
                                  dn.as<int>(), dout.as<float>(), nullptr);
    const auto got = test::download<float>(dout, want.size());
    for (size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(got[i], want[i], 2e-7f) << i;  // exp rounding only
    // fp16 NHWC logits
    const int cs = 8;
    const auto l16 = to_nhwc16(std::vector<float>(logits.begin(), logits.begin() + size_t(cap) * nch * M * M), cap, nch, M, M, cs);
    DeviceBuffer dl16 = test::upload(l16);
    ops::mask_select_sigmoid_cuda({cap, nch, M, M, ops::CudaLayout::kNhwcFp16, cs}, dl16.get(), dc.as<int>(),
                                  dn.as<int>(), dout.as<float>(), nullptr);
    const auto got16 = test::download<float>(dout, want.size());
    for (int i = 0; i < cap; ++i)
      for (int j = 0; j < M * M; ++j) {
        const int ch = agnostic ? 0 : classes[i];
        const float x = __half2float(l16[(size_t(i) * M * M + j) * cs + ch]);
        const float w = i < count ? 1.0f / (1.0f + std::exp(-x)) : 0.f;
        ASSERT_NEAR(got16[size_t(i) * M * M + j], w, 2e-7f);
      }
  }
}

TEST(SmallOpsCuda, Conversions) {
  MASKRT_SKIP_WITHOUT_GPU();
  std::mt19937 rng(4);
  const int n = 2, c = 5, h = 6, w = 7, cs = 8;
  auto v = randn(rng, size_t(n) * c * h * w, 100.f);
  v[0] = 70000.f;  // overflows fp16 -> inf
  v[1] = 1e-8f;    // underflows to 0 / subnormal
  DeviceBuffer d = test::upload(v), dh(v.size() * 2), db(v.size() * 4);
  ops::fp32_to_fp16_cuda(d.as<float>(), dh.get(), int64_t(v.size()), nullptr);
  ops::fp16_to_fp32_cuda(dh.get(), db.as<float>(), int64_t(v.size()), nullptr);
  const auto back = test::download<float>(db, v.size());
  for (size_t i = 0; i < v.size(); ++i) ASSERT_EQ(back[i], __half2float(__float2half_rn(v[i])));
  ops::CudaTensorDesc nhwc{n, c, h, w, ops::CudaLayout::kNhwcFp16, cs};
  DeviceBuffer dn(size_t(n) * h * w * cs * 2), dback(v.size() * 4);
  ops::nchw_fp32_to_nhwc_fp16_cuda(nhwc, d.as<float>(), dn.get(), nullptr);
  const auto got = test::download<__half>(dn, size_t(n) * h * w * cs);
  const auto want = to_nhwc16(v, n, c, h, w, cs);
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(__half2float(got[i]), __half2float(want[i])) << i;
  ops::nhwc_fp16_to_nchw_fp32_cuda(nhwc, dn.get(), dback.as<float>(), nullptr);
  EXPECT_EQ(test::download<float>(dback, v.size()), back);
}

}  // namespace
}  // namespace maskrt
