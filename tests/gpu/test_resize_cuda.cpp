// CUDA preprocess vs the CPU oracle: resize_bilinear_pillow_cuda must equal resize_bilinear_pillow_cpu
// (itself tested against Pillow fixtures) bit for bit over a seeded sweep of sizes and channel counts;
// preprocess_cuda must equal the CPU normalise / flip / pad of that image (fp32 exactly; fp16 = the
// fp32 value rounded to half, padding channels 0).
#include <random>

#include <cuda_fp16.h>
#include <gtest/gtest.h>

#include "cuda_test_util.h"
#include "ops/resize/resize.h"
#include "ops/resize/resize_cuda.h"

namespace maskrt {
namespace {
using test::DeviceBuffer;

struct Uploaded {
  ops::PillowCoeffs h, v;
  DeviceBuffer blob;
  ops::DeviceCoeffs view;
};
Uploaded upload_coeffs(int in_h, int in_w, int out_h, int out_w) {
  Uploaded u;
  u.h = ops::make_pillow_coeffs(in_w, out_w);
  u.v = ops::make_pillow_coeffs(in_h, out_h);
  u.blob = test::upload(ops::pack_pillow_coeffs(u.h, u.v));
  u.view = ops::device_pillow_coeffs(u.h, u.v, u.blob.get());
  return u;
}

std::vector<uint8_t> random_image(std::mt19937& rng, int h, int w, int c) {
  std::vector<uint8_t> img(size_t(h) * w * c);
  // Smooth gradients + noise + saturated blocks, so rounding and clipping are both exercised.
  std::uniform_int_distribution<int> noise(0, 255);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int ch = 0; ch < c; ++ch) {
        int v = ((x * 7 + y * 3 + ch * 50) % 256 + noise(rng) / 4);
        if ((x / 5 + y / 3) % 7 == 0) v = (ch % 2) ? 255 : 0;
        img[(size_t(y) * w + x) * c + ch] = static_cast<uint8_t>(std::min(v, 255));
      }
  return img;
}

TEST(ResizeCuda, BitExactVsCpuSweep) {
  MASKRT_SKIP_WITHOUT_GPU();
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int> size(1, 97);
  int cases = 0;
  auto run = [&](int ih, int iw, int oh, int ow, int c) {
    const std::vector<uint8_t> img = random_image(rng, ih, iw, c);
    ops::ResizeParams rp{ih, iw, oh, ow, c};
    std::vector<uint8_t> expect(size_t(oh) * ow * c);
    ops::resize_bilinear_pillow_cpu(rp, img.data(), expect.data(), 1);
    Uploaded u = upload_coeffs(ih, iw, oh, ow);
    DeviceBuffer src = test::upload(img), dst(expect.size());
    DeviceBuffer ws = test::dirty_workspace(ops::resize_cuda_workspace_bytes(ih, iw, oh, ow, c));
    ops::resize_bilinear_pillow_cuda(ih, iw, oh, ow, c, src.as<uint8_t>(), u.view, dst.as<uint8_t>(), ws.get(), nullptr);
    const std::vector<uint8_t> got = test::download<uint8_t>(dst, expect.size());
    ASSERT_EQ(got, expect) << ih << "x" << iw << " -> " << oh << "x" << ow << " c=" << c;
    ++cases;
  };
  for (int t = 0; t < 300; ++t) run(size(rng), size(rng), size(rng), size(rng), 1 + t % 4);
  // Pass-order boundary (vertical first iff dh > 2*dw) and equal-size axes.
  run(100, 60, 40, 40, 3);  // dh = 60, dw = 20: vertical first
  run(100, 60, 60, 40, 3);  // dh = 40 == 2*dw: horizontal first
  run(100, 60, 59, 40, 3);
  run(50, 60, 50, 33, 3);   // horizontal only
  run(50, 60, 91, 60, 3);   // vertical only
  run(37, 41, 37, 41, 3);   // copy
  run(480, 640, 800, 1067, 3);  // a typical Detectron2 upscale
  run(1200, 1600, 750, 1000, 3);
  EXPECT_EQ(cases, 308);
}

std::vector<float> cpu_preprocess(const std::vector<uint8_t>& resized, int oh, int ow, int ph, int pw, bool flip,
                                  const float* mean, const float* std) {
  std::vector<float> out(size_t(3) * ph * pw, 0.f);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < oh; ++y)
      for (int x = 0; x < ow; ++x) {
        const int sc = flip ? 2 - c : c;
        out[(size_t(c) * ph + y) * pw + x] = (static_cast<float>(resized[(size_t(y) * ow + x) * 3 + sc]) - mean[c]) / std[c];
      }
  return out;
}

TEST(ResizeCuda, PreprocessFp32AndFp16VsCpu) {
  MASKRT_SKIP_WITHOUT_GPU();
  std::mt19937 rng(99);
  std::uniform_int_distribution<int> size(8, 120);
  for (int t = 0; t < 40; ++t) {
    ops::PreprocessCudaParams p;
    p.in_h = size(rng);
    p.in_w = size(rng);
    p.out_h = (t % 5 == 0) ? p.in_h : size(rng);
    p.out_w = (t % 5 == 0) ? p.in_w : size(rng);
    p.pad_h = (p.out_h + 31) / 32 * 32;
    p.pad_w = (p.out_w + 31) / 32 * 32;
    p.flip_channels = t % 2;
    const float mean[3] = {103.53f, 116.28f, 123.675f}, stdv[3] = {57.375f, 57.12f, 58.395f};
    for (int c = 0; c < 3; ++c) {
      p.mean[c] = mean[c];
      p.std[c] = (t % 3 == 0) ? 1.f : stdv[c];
    }
    const std::vector<uint8_t> img = random_image(rng, p.in_h, p.in_w, 3);
    std::vector<uint8_t> resized(size_t(p.out_h) * p.out_w * 3);
    ops::resize_bilinear_pillow_cpu({p.in_h, p.in_w, p.out_h, p.out_w, 3}, img.data(), resized.data(), 1);
    const std::vector<float> expect = cpu_preprocess(resized, p.out_h, p.out_w, p.pad_h, p.pad_w, p.flip_channels,
                                                     p.mean, p.std);
    Uploaded u = upload_coeffs(p.in_h, p.in_w, p.out_h, p.out_w);
    DeviceBuffer src = test::upload(img);
    for (bool fp16 : {false, true}) {
      p.nhwc_fp16 = fp16;
      DeviceBuffer ws = test::dirty_workspace(ops::preprocess_workspace_bytes(p));
      const size_t n = fp16 ? size_t(p.pad_h) * p.pad_w * ops::kPreprocessNhwcChannels : size_t(3) * p.pad_h * p.pad_w;
      DeviceBuffer dst(n * (fp16 ? 2 : 4));
      ops::preprocess_cuda(p, src.as<uint8_t>(), u.view, dst.get(), ws.get(), nullptr);
      if (!fp16) {
        const std::vector<float> got = test::download<float>(dst, n);
        for (size_t i = 0; i < n; ++i) ASSERT_EQ(got[i], expect[i]) << "case " << t << " at " << i;
      } else {
        const std::vector<__half> got = test::download<__half>(dst, n);
        for (int y = 0; y < p.pad_h; ++y)
          for (int x = 0; x < p.pad_w; ++x)
            for (int c = 0; c < ops::kPreprocessNhwcChannels; ++c) {
              const float want = c < 3 ? __half2float(__float2half_rn(expect[(size_t(c) * p.pad_h + y) * p.pad_w + x])) : 0.f;
              ASSERT_EQ(__half2float(got[(size_t(y) * p.pad_w + x) * ops::kPreprocessNhwcChannels + c]), want)
                  << "case " << t << " y " << y << " x " << x << " c " << c;
            }
      }
    }
  }
}

TEST(ResizeCuda, RejectsBadParams) {
  ops::PreprocessCudaParams p;
  p.in_h = p.in_w = 10;
  p.out_h = p.out_w = 20;
  p.pad_h = p.pad_w = 16;  // smaller than out
  EXPECT_THROW(ops::validate_preprocess(p), Error);
}

}  // namespace
}  // namespace maskrt
