// Space-to-depth stem (MASKRT_STEM_S2D=1; ops/stem_s2d/stem_s2d.h) on the GPU:
// 1) preprocess_cuda's s2d output equals, bit for bit, stem_s2d_input (the host definition, itself
//    checked against the stem's definition in tests/unit/test_stem_s2d.cpp) applied to preprocess_cuda's
//    plain fp16 NHWC output of the same image (resized or not, size-divisibility padding, odd sizes);
// 2) ConvCudnn on the rewritten layer (4x4 / stride 1 / pad 0 over the s2d input, 16 channels) and on
//    the stem as the pipeline runs it without the switch (7x7 / stride 2 / pad 3, input padded to 8
//    channels) both match conv2d_ref of the fp32 stem, and each other, within fp16 tolerance (relative
//    L2 1e-2, the fp16 tolerance of test_conv_cudnn);
// 3) the fp16 engine with MASKRT_STEM_S2D=1 against the default on golden models and images: the
//    switch is taken (its stderr line) and the detections agree within fp16 tolerances.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>
#include <algorithm>
#include <gtest/gtest.h>

#ifdef MASKRT_WITH_CUDA  // CPU-only builds compile this file to an empty test program

#include <cuda_fp16.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "backend/cuda/conv_cudnn.h"
#include "backend/cuda/cuda_context.h"
#include "backend/cuda/device_buffer.h"
#include "cuda_test_util.h"
#include "tensor_compare.h"
#include "detection_match.h"
#include "maskrt/engine.h"
#include "maskrt/image.h"
#include "ops/conv2d/conv2d.h"
#include "ops/resize/pillow_coeffs.h"
#include "ops/resize/resize_cuda.h"
#include "ops/rle/rle.h"
#include "ops/stem_s2d/stem_s2d.h"

namespace maskrt {
namespace {

namespace fs = std::filesystem;

float half_bits_to_float(uint16_t b) {
  __half_raw r;
  r.x = b;
  return __half2float(__half(r));
}

// ---- 1) preprocess ----------------------------------------------------------------------------------

struct PreCase { int in_h, in_w, out_h, out_w, pad_h, pad_w; bool flip; };

TEST(StemS2dCuda, PreprocessWritesSpaceToDepthOfThePlainOutput) {
  MASKRT_SKIP_WITHOUT_GPU();
  const PreCase cases[] = {
      {37, 53, 30, 41, 32, 64, false},  // resized, padded to 32
      {20, 20, 20, 20, 21, 23, true},   // no resize, odd padded sizes
      {64, 48, 100, 75, 128, 96, false},  // upscaled
      {9, 7, 9, 7, 9, 7, true},         // no padding, odd
  };
  std::mt19937 rng(77);
  for (const PreCase& c : cases) {
    SCOPED_TRACE(::testing::Message() << c.in_h << "x" << c.in_w << " -> " << c.out_h << "x" << c.out_w << " pad "
                                      << c.pad_h << "x" << c.pad_w);
    std::vector<uint8_t> img(size_t(c.in_h) * c.in_w * 3);
    std::uniform_int_distribution<int> u(0, 255);
    for (auto& v : img) v = static_cast<uint8_t>(u(rng));
    const ops::PillowCoeffs hc = ops::make_pillow_coeffs(c.in_w, c.out_w), vc = ops::make_pillow_coeffs(c.in_h, c.out_h);
    test::DeviceBuffer blob = test::upload(ops::pack_pillow_coeffs(hc, vc));
    const ops::DeviceCoeffs coeffs = ops::device_pillow_coeffs(hc, vc, blob.get());
    test::DeviceBuffer src = test::upload(img);
    ops::PreprocessCudaParams p;
    p.in_h = c.in_h;
    p.in_w = c.in_w;
    p.out_h = c.out_h;
    p.out_w = c.out_w;
    p.pad_h = c.pad_h;
    p.pad_w = c.pad_w;
    p.flip_channels = c.flip;
    const float mean[3] = {103.53f, 116.28f, 123.675f}, stdv[3] = {57.375f, 57.12f, 58.395f};
    for (int k = 0; k < 3; ++k) p.mean[k] = mean[k], p.std[k] = stdv[k];
    p.nhwc_fp16 = true;
    test::DeviceBuffer ws = test::dirty_workspace(ops::preprocess_workspace_bytes(p));
    const size_t plain_n = size_t(c.pad_h) * c.pad_w * ops::kPreprocessNhwcChannels;
    test::DeviceBuffer plain(plain_n * 2);
    ops::preprocess_cuda(p, static_cast<const uint8_t*>(src.get()), coeffs, plain.get(), ws.get(), nullptr);
    p.stem_s2d = true;
    const int sh = ops::stem_s2d_size(c.pad_h), sw = ops::stem_s2d_size(c.pad_w);
    const size_t s2d_n = size_t(sh) * sw * ops::kStemS2dChannels;
    test::DeviceBuffer s2d(s2d_n * 2);
    MASKRT_CUDA_CHECK(cudaMemset(s2d.get(), 0x7B, s2d_n * 2));  // garbage: every element must be written
    ops::preprocess_cuda(p, static_cast<const uint8_t*>(src.get()), coeffs, s2d.get(), ws.get(), nullptr);
    MASKRT_CUDA_CHECK(cudaDeviceSynchronize());
    const std::vector<uint16_t> hp = test::download<uint16_t>(plain, plain_n);
    const std::vector<uint16_t> hs = test::download<uint16_t>(s2d, s2d_n);
    Tensor x({1, 3, c.pad_h, c.pad_w});
    for (int y = 0; y < c.pad_h; ++y)
      for (int xx = 0; xx < c.pad_w; ++xx)
        for (int ch = 0; ch < 3; ++ch)
          x[(int64_t(ch) * c.pad_h + y) * c.pad_w + xx] =
              half_bits_to_float(hp[(size_t(y) * c.pad_w + xx) * ops::kPreprocessNhwcChannels + ch]);
    const Tensor want = ops::stem_s2d_input(x);  // (1, 16, sh, sw)
    int64_t bad = 0, nonzero = 0;
    for (int y = 0; y < sh; ++y)
      for (int xx = 0; xx < sw; ++xx)
        for (int ch = 0; ch < ops::kStemS2dChannels; ++ch) {
          const float got = half_bits_to_float(hs[(size_t(y) * sw + xx) * ops::kStemS2dChannels + ch]);
          const float e = want[(int64_t(ch) * sh + y) * sw + xx];
          nonzero += e != 0.f;
          if (got != e && bad++ < 5)
            ADD_FAILURE() << "s2d (" << y << ", " << xx << ", ch " << ch << "): " << got << " != " << e;
        }
    EXPECT_EQ(bad, 0);
    EXPECT_GT(nonzero, int64_t(c.out_h) * c.out_w);  // real data, not an all-zero comparison
  }
}

// ---- 2) the stem conv through cuDNN -------------------------------------------------------------

using maskrt::test::random_tensor;

using maskrt::test::rel_l2;

// (1, C, H, W) float -> NHWC half with c_padded channels (zeros beyond C).
cuda::DeviceBuffer upload_nhwc_half(const Tensor& x, int c_padded) {
  const int C = x.size(1), H = x.size(2), W = x.size(3);
  std::vector<float> nhwc(size_t(H) * W * c_padded, 0.f);
  for (int c = 0; c < C; ++c)
    for (int y = 0; y < H; ++y)
      for (int xx = 0; xx < W; ++xx) nhwc[(size_t(y) * W + xx) * c_padded + c] = x[(int64_t(c) * H + y) * W + xx];
  return cuda::DeviceBuffer::upload(cuda::to_half(nhwc.data(), nhwc.size()), "test input");
}

Tensor download_nhwc_half(const cuda::DeviceTensor& t) {
  std::vector<uint16_t> h(t.numel());
  MASKRT_CUDA_CHECK(cudaMemcpy(h.data(), t.ptr, t.bytes(), cudaMemcpyDeviceToHost));
  Tensor out({t.n, t.c, t.h, t.w});
  for (int c = 0; c < t.c; ++c)
    for (int y = 0; y < t.h; ++y)
      for (int x = 0; x < t.w; ++x)
        out[(int64_t(c) * t.h + y) * t.w + x] = half_bits_to_float(h[(size_t(y) * t.w + x) * t.c + c]);
  return out;
}

cuda::DeviceTensor nhwc_half(void* ptr, int c, int h, int w) {
  cuda::DeviceTensor t;
  t.n = 1;
  t.c = c;
  t.h = h;
  t.w = w;
  t.dtype = cuda::DType::kF16;
  t.layout = cuda::Layout::kNHWC;
  t.ptr = ptr;
  return t;
}

// Runs `layer` (fp16, bias + ReLU) on x uploaded with c_padded channels; returns the output.
Tensor run_fp16(cuda::CudaContext& ctx, const ConvLayer& layer, const Tensor& x, int c_padded, int in_pad_arg,
                const char* name, std::string* path) {
  cuda::ConvCudnn conv(layer, Precision::kFP16, cuda::ConvEpilogue::kBiasRelu, name, in_pad_arg);
  const int H = x.size(2), W = x.size(3);
  const size_t ws_bytes = conv.plan(ctx, 1, H, W);
  const char* p = conv.chosen_path(1, H, W);
  *path = p ? p : "(unplanned)";
  cuda::DeviceBuffer ws(std::max<size_t>(ws_bytes, 1), "workspace");
  cuda::DeviceBuffer dx = upload_nhwc_half(x, c_padded);
  const int oh = conv.out_size(H), ow = conv.out_size(W);
  cuda::DeviceBuffer dy(size_t(oh) * ow * conv.out_channels() * 2, "test output");
  const cuda::DeviceTensor tx = nhwc_half(dx.get(), c_padded, H, W), ty = nhwc_half(dy.get(), conv.out_channels(), oh, ow);
  conv.forward(ctx, tx, ty, nullptr, ws.get(), ws_bytes);
  ctx.synchronize();
  return download_nhwc_half(ty);
}

TEST(StemS2dCuda, RewrittenStemConvMatchesTheStem) {
  MASKRT_SKIP_WITHOUT_GPU();
  cuda::CudaContext ctx(0);
  std::mt19937 rng(4321);
  struct Case { int h, w, out_c; };
  for (const Case& c : {Case{37, 45, 16}, Case{64, 96, 64}, Case{33, 32, 64}, Case{160, 224, 64}}) {
    SCOPED_TRACE(::testing::Message() << c.h << "x" << c.w << " O " << c.out_c);
    Tensor x = random_tensor({1, 3, c.h, c.w}, rng, 1.f);
    for (int64_t i = 0; i < x.numel(); ++i) x[i] = half_bits_to_float(cuda::to_half(&x[i], 1)[0]);  // fp16 values
    ConvLayer stem;
    stem.weight = random_tensor({c.out_c, 3, 7, 7}, rng, 0.15f);
    stem.bias = random_tensor({c.out_c}, rng, 0.3f);
    stem.params.stride_h = stem.params.stride_w = 2;
    stem.params.pad_h = stem.params.pad_w = 3;
    ops::Conv2dParams rp = stem.params;
    rp.relu = true;
    const Tensor ref = ops::conv2d_ref(rp, x, stem.weight, stem.bias);
    ASSERT_TRUE(ops::stem_s2d_applicable(stem.params, stem.weight.shape()));
    ConvLayer s2d;
    s2d.weight = ops::stem_s2d_weight(stem.weight);
    s2d.bias = stem.bias;
    s2d.params = ops::stem_s2d_conv_params(stem.params);
    std::string direct_path, s2d_path;
    const Tensor direct = run_fp16(ctx, stem, x, ops::kPreprocessNhwcChannels, ops::kPreprocessNhwcChannels, "stem",
                                   &direct_path);
    const Tensor rewritten =
        run_fp16(ctx, s2d, ops::stem_s2d_input(x), ops::kStemS2dChannels, 0, "stem (s2d)", &s2d_path);
    ASSERT_EQ(rewritten.shape(), ref.shape());
    const double e_direct = rel_l2(direct, ref), e_s2d = rel_l2(rewritten, ref), e_pair = rel_l2(rewritten, direct);
    std::printf("[stem s2d] %dx%d O %d: direct %s rel L2 %.2e | s2d %s %.2e | s2d vs direct %.2e\n", c.h, c.w,
                c.out_c, direct_path.c_str(), e_direct, s2d_path.c_str(), e_s2d, e_pair);
    EXPECT_LE(e_direct, 1e-2);
    EXPECT_LE(e_s2d, 1e-2);
    EXPECT_LE(e_pair, 1e-2);
  }
}

// ---- 3) the engine --------------------------------------------------------------------------------

using maskrt::test::box_iou;

// Fraction of `ref`'s instances that `got` matches greedily (same class, |dscore| <= 2e-2, box IoU
// >= 0.95), and the mean mask IoU (pixel masks, decoded) over the matches.
struct Matched { double frac = 1.0, mask_iou = 1.0; };
Matched match(const ImageResult& ref, const ImageResult& got) {
  Matched m;
  std::vector<bool> used(got.instances.size(), false);
  size_t n = 0, nm = 0;
  double miou = 0;
  for (const auto& r : ref.instances) {
    int best = -1;
    double best_iou = 0;
    for (size_t j = 0; j < got.instances.size(); ++j) {
      const auto& g = got.instances[j];
      if (used[j] || g.pred_class != r.pred_class || std::fabs(g.score - r.score) > 2e-2) continue;
      const double iou = box_iou(g.box, r.box);
      if (iou > best_iou) best_iou = iou, best = int(j);
    }
    if (best < 0 || best_iou < 0.95) continue;
    used[best] = true;
    ++n;
    const auto& g = got.instances[best];
    if (r.has_mask && g.has_mask) {
      const auto da = ops::rle_decode(r.mask), db = ops::rle_decode(g.mask);
      int64_t inter = 0, uni = 0;
      for (size_t i = 0; i < da.size() && i < db.size(); ++i) inter += da[i] && db[i], uni += da[i] || db[i];
      miou += uni ? double(inter) / uni : 1.0;
      ++nm;
    }
  }
  if (!ref.instances.empty()) m.frac = double(n) / ref.instances.size();
  if (nm) m.mask_iou = miou / nm;
  return m;
}

TEST(StemS2dCuda, EngineWithSwitchMatchesDefault) {
  MASKRT_SKIP_WITHOUT_GPU();
  int ran = 0;
  for (const char* name : {"r50_bgr_80cls", "r18_rgb_1cls", "r50_1080p"}) {
    const fs::path dir = fs::path(MASKRT_TEST_DATA) / "golden" / name;
    if (!fs::exists(dir / "expected.json")) continue;
    SCOPED_TRACE(name);
    std::ifstream is(dir / "expected.json");
    const nlohmann::json exp = nlohmann::json::parse(is);
    const Image image = read_image((dir / exp["image"]["file"].get<std::string>()).string());
    EngineOptions o;
    o.config_path = (dir / "config.yaml").string();
    o.weights_path = (dir / exp["case"]["weights"].get<std::string>()).string();
    o.device = Device::kCUDA;
    o.precision = Precision::kFP16;
    o.warmup = false;
    setenv("MASKRT_STEM_S2D", "0", 1);
    ImageResult base;
    {
      ::testing::internal::CaptureStderr();
      Engine e(o);
      const std::string log = ::testing::internal::GetCapturedStderr();
      EXPECT_EQ(log.find("MASKRT_STEM_S2D=1"), std::string::npos) << log;
      base = e.infer(image);
    }
    setenv("MASKRT_STEM_S2D", "1", 1);
    ImageResult s2d;
    {
      ::testing::internal::CaptureStderr();
      Engine e(o);
      const std::string log = ::testing::internal::GetCapturedStderr();
      EXPECT_NE(log.find("MASKRT_STEM_S2D=1: stem conv as 4x4"), std::string::npos) << log;
      s2d = e.infer(image);
      s2d = e.infer(image);  // graph capture / replay
    }
    unsetenv("MASKRT_STEM_S2D");
    for (const auto& i : s2d.instances) {
      for (float v : i.box) ASSERT_TRUE(std::isfinite(v));
      ASSERT_TRUE(std::isfinite(i.score));
    }
    const Matched a = match(base, s2d), b = match(s2d, base);
    std::printf("[stem s2d engine] %s: default %zu, s2d %zu instances; matched %.3f / %.3f, mask IoU %.4f\n", name,
                base.instances.size(), s2d.instances.size(), a.frac, b.frac, a.mask_iou);
    EXPECT_GE(a.frac, 0.9);
    EXPECT_GE(b.frac, 0.9);
    EXPECT_GE(a.mask_iou, 0.9);
    const int nb = int(base.instances.size()), ns = int(s2d.instances.size());
    EXPECT_LE(std::abs(nb - ns), std::max(2, int(nb * 0.1 + 0.5)));
    ++ran;
  }
  if (!ran) GTEST_SKIP() << "no golden fixtures under " << MASKRT_TEST_DATA << "/golden";
}

}  // namespace
}  // namespace maskrt

#endif  // MASKRT_WITH_CUDA
