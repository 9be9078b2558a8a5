// The tf32 NHWC float pipeline's pieces (MASKRT_TF32_NHWC=1; docs/DESIGN-cuda.md), each against an
// independent oracle over seeded sweeps:
//   ConvCudnn(kTF32, layout kNHWC) on every path (cuBLASLt matmul, cuDNN legacy, forced and default
//     graph) vs conv2d_ref (+ residual and ReLU by hand), relative L2 <= 5e-3 (TF32 inputs, as the
//     tf32 NCHW tests of test_conv_cudnn.cpp); DeconvCublas(kTF32, kNHWC) vs conv_transpose2x2_ref;
//     MaxPoolCudnn on NHWC float vs max_pool2d_ref (exact);
//   conv_epilogue_nhwc_float, deconv2x2_scatter (nhwc_fp32), max_pool2d_k1s2 / upsample-add /
//     mask_select_sigmoid on kNhwcFp32, nhwc_fp32_to_nchw_fp32 vs plain loops written here (exact:
//     the same float32 operations), vector (channels % 4) and scalar kernels both;
//   preprocess_cuda with nhwc_fp32 vs its NCHW output (itself checked against the CPU in
//     test_resize_cuda.cpp): the same values, channel 3 zero.
// (ROIAlign kNhwcFp32 is in test_roi_align_cuda.cpp; the engine with the switch in test_cuda_parity.cpp.)
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>
#include <gtest/gtest.h>

#ifdef MASKRT_WITH_CUDA  // CPU-only builds compile this file to an empty test program

#include <algorithm>
#include <cmath>
#include <cuda_runtime.h>
#include <cstdio>
#include <random>
#include <tuple>
#include <utility>

#include "backend/cuda/conv_cudnn.h"
#include "backend/cuda/conv_epilogue.h"
#include "backend/cuda/cuda_context.h"
#include "backend/cuda/deconv_cublas.h"
#include "backend/cuda/deconv_scatter.h"
#include "backend/cuda/pool_cudnn.h"
#include "cuda_test_util.h"
#include "tensor_compare.h"
#include "ops/conv2d/conv2d.h"
#include "ops/conv_transpose2d/conv_transpose2d.h"
#include "ops/pooling/pooling.h"
#include "ops/resize/pillow_coeffs.h"
#include "ops/resize/resize_cuda.h"
#include "ops/small_cuda/small_ops_cuda.h"

namespace maskrt {
namespace {

using cuda::ConvCudnn;
using cuda::ConvEpilogue;
using cuda::CudaContext;
using cuda::DeviceTensor;
using test::DeviceBuffer;

using maskrt::test::random_tensor;
std::vector<float> randn(std::mt19937& rng, size_t n, float scale = 1.f) {
  std::normal_distribution<float> nd(0.f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = nd(rng);
  return v;
}

using maskrt::test::rel_l2;
constexpr double kTf32Tolerance = 5e-3;  // 10-bit mantissa inputs (test_conv_cudnn.cpp's tf32 bound)

// (N, C, H, W) float -> (N, H, W, cs) float, channels [C, cs) = 0.
std::vector<float> to_nhwc(const float* nchw, int n, int c, int h, int w, int cs) {
  std::vector<float> o(size_t(n) * h * w * cs, 0.f);
  for (int b = 0; b < n; ++b)
    for (int ch = 0; ch < c; ++ch)
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) o[((size_t(b) * h + y) * w + x) * cs + ch] = nchw[((size_t(b) * c + ch) * h + y) * w + x];
  return o;
}
// (N, H, W, cs) float -> (N, C, H, W) Tensor (padding channels dropped).
Tensor from_nhwc(const std::vector<float>& v, int n, int c, int h, int w, int cs) {
  Tensor t({n, c, h, w});
  for (int b = 0; b < n; ++b)
    for (int ch = 0; ch < c; ++ch)
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) t[((int64_t(b) * c + ch) * h + y) * w + x] = v[((size_t(b) * h + y) * w + x) * cs + ch];
  return t;
}

struct NhwcTensor {
  DeviceBuffer buf;
  DeviceTensor t;
};
NhwcTensor upload_nhwc(const Tensor& x, int c_padded = 0) {
  const int N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  NhwcTensor d;
  d.t.n = N;
  d.t.c = std::max(C, c_padded);
  d.t.h = H;
  d.t.w = W;
  d.t.dtype = cuda::DType::kF32;
  d.t.layout = cuda::Layout::kNHWC;
  d.buf = test::upload(to_nhwc(x.data(), N, C, H, W, d.t.c));
  d.t.ptr = d.buf.get();
  return d;
}
NhwcTensor alloc_nhwc(int n, int c, int h, int w) {
  NhwcTensor d;
  d.t.n = n;
  d.t.c = c;
  d.t.h = h;
  d.t.w = w;
  d.t.dtype = cuda::DType::kF32;
  d.t.layout = cuda::Layout::kNHWC;
  d.buf = DeviceBuffer(d.t.bytes());
  d.t.ptr = d.buf.get();
  return d;
}
Tensor download_nhwc(const NhwcTensor& d) {
  return from_nhwc(test::download<float>(d.buf, size_t(d.t.numel())), d.t.n, d.t.c, d.t.h, d.t.w, d.t.c);
}

struct ConvCase {
  int n, c, h, w, o, k, stride, pad, groups;
  ConvEpilogue epi;
  int c_padded;
};

// One ConvCudnn(kTF32, NHWC) case (reads MASKRT_CONV_GEMM / MASKRT_CONV_GRAPH as the caller set them):
// relative L2 error vs conv2d_ref (+ residual, ReLU) and the path plan() chose.
std::pair<double, std::string> run_conv_case(const CudaContext& ctx, const ConvCase& cc, std::mt19937& rng) {
  ConvLayer layer;
  layer.weight = random_tensor({cc.o, cc.c / cc.groups, cc.k, cc.k}, rng, 1.f / std::sqrt(float(cc.c / cc.groups * cc.k * cc.k)));
  layer.bias = random_tensor({cc.o}, rng, 0.5f);
  layer.params.stride_h = layer.params.stride_w = cc.stride;
  layer.params.pad_h = layer.params.pad_w = cc.pad;
  layer.params.groups = cc.groups;
  ConvCudnn conv(layer, Precision::kTF32, cc.epi, "test_conv_nhwc", cc.c_padded, cuda::Layout::kNHWC);
  EXPECT_EQ(conv.layout(), cuda::Layout::kNHWC);
  const Tensor x = random_tensor({cc.n, cc.c, cc.h, cc.w}, rng);
  ops::Conv2dParams rp = layer.params;
  rp.relu = cc.epi == ConvEpilogue::kBiasRelu;
  Tensor ref = ops::conv2d_ref(rp, x, layer.weight, layer.bias);
  Tensor z;
  if (cc.epi == ConvEpilogue::kBiasAddRelu) {
    z = random_tensor(ref.shape(), rng);
    for (int64_t i = 0; i < ref.numel(); ++i) ref[i] = std::max(ref[i] + z[i], 0.f);
  }
  const size_t ws_bytes = conv.plan(ctx, cc.n, cc.h, cc.w);
  const char* path = conv.chosen_path(cc.n, cc.h, cc.w);
  DeviceBuffer ws(std::max<size_t>(ws_bytes, 1));
  NhwcTensor dx = upload_nhwc(x, cc.c_padded);
  NhwcTensor dy = alloc_nhwc(ref.size(0), ref.size(1), ref.size(2), ref.size(3));
  NhwcTensor dy2 = alloc_nhwc(ref.size(0), ref.size(1), ref.size(2), ref.size(3));
  // NaN-filled outputs: an element the conv leaves unwritten fails the comparison.
  EXPECT_EQ(cudaMemset(dy.buf.get(), 0xff, dy.t.bytes()), cudaSuccess);
  EXPECT_EQ(cudaMemset(dy2.buf.get(), 0xff, dy2.t.bytes()), cudaSuccess);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);  // the memsets (legacy stream) land first
  NhwcTensor dz;
  if (z.defined()) dz = upload_nhwc(z);
  const DeviceTensor* zt = z.defined() ? &dz.t : nullptr;
  conv.forward(ctx, dx.t, dy2.t, zt, ws.get(), ws_bytes);  // new pointers, then the same ones twice
  conv.forward(ctx, dx.t, dy.t, zt, ws.get(), ws_bytes);
  conv.forward(ctx, dx.t, dy.t, zt, ws.get(), ws_bytes);
  ctx.synchronize();
  const double e1 = rel_l2(download_nhwc(dy), ref), e2 = rel_l2(download_nhwc(dy2), ref);
  const double err = std::isnan(e1) || std::isnan(e2) ? e1 + e2 : std::max(e1, e2);  // NaN stays NaN (max drops it)
  return {err, path ? path : "(unplanned)"};
}

const ConvCase kConvCases[] = {
    {1, 3, 37, 45, 16, 7, 2, 3, 1, ConvEpilogue::kBiasRelu, 4},      // stem-like, input padded 3 -> 4
    {2, 16, 20, 18, 32, 1, 2, 0, 1, ConvEpilogue::kBias, 0},         // strided 1x1 shortcut
    {1, 32, 15, 17, 32, 3, 1, 1, 8, ConvEpilogue::kBiasRelu, 0},     // grouped 3x3 (ResNeXt)
    {1, 16, 13, 11, 64, 1, 1, 0, 1, ConvEpilogue::kBiasAddRelu, 0},  // bottleneck conv3 + residual
    {3, 8, 9, 10, 8, 3, 2, 1, 1, ConvEpilogue::kBias, 0},            // odd sizes, stride 2
    {5, 24, 14, 14, 24, 3, 1, 1, 1, ConvEpilogue::kBiasRelu, 0},     // mask-head-like batch
    {3, 24, 7, 9, 40, 1, 1, 0, 1, ConvEpilogue::kBiasRelu, 0},       // batched 1x1
    {2, 32, 6, 5, 96, 1, 1, 0, 1, ConvEpilogue::kBiasAddRelu, 0},    // batched 1x1 + residual (z as C)
    {1, 64, 12, 10, 3, 1, 1, 0, 1, ConvEpilogue::kBias, 0},          // 3 outputs (RPN objectness-like)
    {1, 12, 9, 11, 18, 3, 1, 1, 1, ConvEpilogue::kBiasRelu, 0},      // channels % 4 != 0 (scalar epilogue)
};

// The matmul (MASKRT_CONV_GEMM=1) and cuDNN's legacy API (=0), graph candidates off.
TEST(Tf32NhwcConv, MatmulAndLegacyMatchScalarReference) {
  MASKRT_SKIP_WITHOUT_GPU();
  CudaContext ctx(0);
  std::mt19937 rng(1357);
  setenv("MASKRT_CONV_GRAPH", "0", 1);
  for (const char* gemm : {"1", "0"})
    for (const ConvCase& cc : kConvCases) {
      setenv("MASKRT_CONV_GEMM", gemm, 1);
      SCOPED_TRACE(::testing::Message() << "conv c=" << cc.c << " o=" << cc.o << " k=" << cc.k << " s=" << cc.stride
                                        << " g=" << cc.groups << " n=" << cc.n << " MASKRT_CONV_GEMM=" << gemm);
      const auto [err, path] = run_conv_case(ctx, cc, rng);
      EXPECT_LE(err, kTf32Tolerance) << "path " << path;
      EXPECT_NE(path, "im2col-gemm") << "tf32 NHWC never builds a column matrix";
      EXPECT_EQ(path.rfind("graph", 0), std::string::npos) << "MASKRT_CONV_GRAPH=0 but the plan took " << path;
      if (gemm[0] == '1' && cc.k == 1 && cc.stride == 1 && cc.o % 4 == 0) {
        EXPECT_EQ(path, "gemm");
      }
      unsetenv("MASKRT_CONV_GEMM");
    }
  unsetenv("MASKRT_CONV_GRAPH");
}

// cuDNN's backend API with GraphConvDType::kFloatNhwc: forced (MASKRT_CONV_GRAPH=1; groups-1 layers
// with kernel > 1 and channel counts % 8 must take it, as the tf32 NCHW test requires; % 4 ones, e.g.
// the stem padded to 4, may and report what they took) and the default; a second input size reuses
// the remembered winner of the "tf32nhwc" signature. Never for groups > 1 or channels % 4 != 0.
TEST(Tf32NhwcConv, GraphMatchesScalarReference) {
  MASKRT_SKIP_WITHOUT_GPU();
  unsetenv("MASKRT_CONV_GRAPH_TF32");
  unsetenv("MASKRT_CONV_GEMM");
  CudaContext ctx(0);
  std::mt19937 rng(8642);
  for (const char* mode : {"1", ""})
    for (const ConvCase& base : kConvCases)
      for (const int grow : {0, 6}) {
        if (grow && base.k == 1) continue;
        ConvCase cc = base;
        cc.h += grow;
        cc.w += grow / 2;
        if (mode[0]) setenv("MASKRT_CONV_GRAPH", mode, 1);
        else unsetenv("MASKRT_CONV_GRAPH");
        SCOPED_TRACE(::testing::Message() << "conv c=" << cc.c << " o=" << cc.o << " k=" << cc.k << " s=" << cc.stride
                                          << " g=" << cc.groups << " " << cc.h << "x" << cc.w
                                          << " MASKRT_CONV_GRAPH=" << (mode[0] ? mode : "(unset)"));
        const auto [err, path] = run_conv_case(ctx, cc, rng);
        EXPECT_LE(err, kTf32Tolerance) << "path " << path;
        const int cin = std::max(cc.c, cc.c_padded);
        const bool eligible = cc.groups == 1 && cin % 4 == 0 && cc.o % 4 == 0;
        if (mode[0] == '1' && eligible && cc.k > 1 && cin % 8 == 0 && cc.o % 8 == 0) {
          EXPECT_EQ(path.rfind("graph", 0), 0u) << "MASKRT_CONV_GRAPH=1 but the plan took " << path;
        }
        if (!eligible) {
          EXPECT_NE(path.rfind("graph", 0), 0u) << "graph plans need channels % 4 and groups 1";
        }
        std::printf("[ nhwc     ] tf32 k%d s%d c%d o%d g%d n%d %dx%d MASKRT_CONV_GRAPH=%s: path %s, rel err %.2e\n",
                    cc.k, cc.stride, cin, cc.o, cc.groups, cc.n, cc.h, cc.w, mode[0] ? mode : "(unset)", path.c_str(),
                    err);
      }
  unsetenv("MASKRT_CONV_GRAPH");
}

// Batched 3x3 convs (mask-head-like: n ROIs of 14x14) over n = 1..8 on the legacy and the graph
// paths (run_conv_case pre-fills the outputs with NaN, so an unwritten element shows). On the H200
// (2026-11-29) the n = 5, 24-channel 14x14 case of kConvCases failed on every path (relative error
// ~1) while the engine-level tf32 NHWC parity tests passed; this sweep showed every input over 64 KiB
// failing (n >= 4 at 24 channels, n >= 3 at 32): test::upload's pageable cudaMemcpy had not landed
// when the conv ran on its non-blocking stream (fixed in cuda_test_util.h).
TEST(Tf32NhwcConv, BatchSweepMatchesScalarReference) {
  MASKRT_SKIP_WITHOUT_GPU();
  unsetenv("MASKRT_CONV_GEMM");
  CudaContext ctx(0);
  std::mt19937 rng(4242);
  for (const char* mode : {"0", "1"})
    for (const int c : {24, 32})
      for (const ConvEpilogue epi : {ConvEpilogue::kBias, ConvEpilogue::kBiasRelu})
        for (const int n : {1, 2, 3, 4, 5, 8}) {
          setenv("MASKRT_CONV_GRAPH", mode, 1);
          SCOPED_TRACE(::testing::Message() << "n=" << n << " c=" << c << " epi=" << int(epi)
                                            << " MASKRT_CONV_GRAPH=" << mode);
          const auto [err, path] = run_conv_case(ctx, ConvCase{n, c, 14, 14, c, 3, 1, 1, 1, epi, 0}, rng);
          std::printf("[ nhwc sweep] n%d c%d epi%d MASKRT_CONV_GRAPH=%s: path %s, rel err %.2e\n", n, c, int(epi), mode,
                      path.c_str(), err);
          EXPECT_LE(err, kTf32Tolerance) << "path " << path;
        }
  unsetenv("MASKRT_CONV_GRAPH");
}

TEST(Tf32NhwcConv, DeconvMatchesScalarReference) {
  MASKRT_SKIP_WITHOUT_GPU();
  CudaContext ctx(0);
  std::mt19937 rng(77);
  for (const int O : {16, 10}) {  // 16: 4 channels per thread in the scatter; 10: one per thread
    SCOPED_TRACE(::testing::Message() << "O=" << O);
    const int N = 6, C = 24, H = 14, W = 14;
    const Tensor w = random_tensor({C, O, 2, 2}, rng, 1.f / std::sqrt(float(C)));
    const Tensor b = random_tensor({O}, rng, 0.5f);
    const Tensor x = random_tensor({N, C, H, W}, rng);
    const Tensor ref = ops::conv_transpose2x2_ref(x, w, b, true);
    cuda::DeconvCublas dc(w, b, true, Precision::kTF32, "test_deconv_nhwc", cuda::Layout::kNHWC);
    DeviceBuffer scratch(dc.scratch_bytes(N, H, W));
    NhwcTensor dx = upload_nhwc(x);
    NhwcTensor dy = alloc_nhwc(N, O, 2 * H, 2 * W);
    dc.forward(ctx, dx.t, dy.t, scratch.get());
    ctx.synchronize();
    EXPECT_LE(rel_l2(download_nhwc(dy), ref), kTf32Tolerance);
  }
}

TEST(Tf32NhwcConv, StemMaxPoolMatchesScalarReference) {
  MASKRT_SKIP_WITHOUT_GPU();
  CudaContext ctx(0);
  std::mt19937 rng(55);
  Tensor x = random_tensor({2, 16, 19, 24}, rng);
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = x[i] - 0.5f;
  const Tensor ref = ops::max_pool2d_ref(ops::MaxPool2dParams{3, 2, 1}, x);
  cuda::MaxPoolCudnn pool(3, 2, 1);
  NhwcTensor dx = upload_nhwc(x);
  pool.plan(dx.t);
  NhwcTensor dy = alloc_nhwc(2, 16, pool.out_size(19), pool.out_size(24));
  pool.forward(ctx, dx.t, dy.t);
  ctx.synchronize();
  EXPECT_EQ(rel_l2(download_nhwc(dy), ref), 0.0);
}

// y = relu?((y + bias[c]) + z?) per element, channel = index % c.
TEST(Tf32NhwcKernels, ConvEpilogueNhwcFloat) {
  MASKRT_SKIP_WITHOUT_GPU();
  std::mt19937 rng(11);
  for (const int c : {16, 6})  // vector (c % 4 == 0) and scalar kernels
    for (const bool with_z : {false, true})
      for (const bool relu : {false, true}) {
        SCOPED_TRACE(::testing::Message() << "c " << c << " z " << with_z << " relu " << relu);
        const int n = 3, hw = 37;
        const auto y = randn(rng, size_t(n) * hw * c), z = randn(rng, y.size()), bias = randn(rng, c);
        std::vector<float> want(y.size());
        for (size_t i = 0; i < y.size(); ++i) {
          float v = y[i] + bias[i % c];
          if (with_z) v = v + z[i];
          want[i] = relu ? (v < 0.f ? 0.f : v) : v;
        }
        DeviceBuffer dy = test::upload(y), dz = test::upload(z), db = test::upload(bias);
        cuda::conv_epilogue_nhwc_float(dy.as<float>(), with_z ? dz.as<float>() : nullptr, db.as<float>(), n, c, hw,
                                       relu, nullptr);
        EXPECT_EQ(test::download<float>(dy, y.size()), want);
      }
}

// out[n, 2y+ky, 2x+kx, o] = act(G[((n*H*W + y*W + x)*4 + ky*2+kx)*O + o] + bias[o]).
TEST(Tf32NhwcKernels, DeconvScatterNhwcFloat) {
  MASKRT_SKIP_WITHOUT_GPU();
  std::mt19937 rng(12);
  for (const int O : {8, 5})
    for (const bool relu : {true, false}) {
      SCOPED_TRACE(::testing::Message() << "O " << O << " relu " << relu);
      const int N = 2, H = 5, W = 7;
      const auto g = randn(rng, size_t(N) * H * W * 4 * O), bias = randn(rng, O);
      std::vector<float> want(g.size());
      for (int n = 0; n < N; ++n)
        for (int oy = 0; oy < 2 * H; ++oy)
          for (int ox = 0; ox < 2 * W; ++ox)
            for (int o = 0; o < O; ++o) {
              const int k = (oy % 2) * 2 + ox % 2;
              const float v = g[((size_t(n) * H * W + (oy / 2) * W + ox / 2) * 4 + k) * O + o] + bias[o];
              want[((size_t(n) * 2 * H + oy) * 2 * W + ox) * O + o] = relu ? std::max(v, 0.f) : v;
            }
      DeviceBuffer dg = test::upload(g), db = test::upload(bias), dout(want.size() * 4);
      cuda::DeconvScatterParams p;
      p.n = N;
      p.out_channels = O;
      p.in_h = H;
      p.in_w = W;
      p.nhwc_fp32 = true;
      p.relu = relu;
      cuda::deconv2x2_scatter(p, dg.get(), db.get(), dout.get(), nullptr);
      EXPECT_EQ(test::download<float>(dout, want.size()), want);
    }
}

TEST(Tf32NhwcKernels, SmallOpsNhwcFloat) {
  MASKRT_SKIP_WITHOUT_GPU();
  std::mt19937 rng(13);
  const int n = 2, c = 5;
  for (const int cs : {8, 5}) {  // 8: padded, 4-channel vectors; 5: one channel per thread
    SCOPED_TRACE(::testing::Message() << "c_stride " << cs);
    // max_pool2d k1 s2 (P6): out[y][x] = in[2y][2x], padding channels copied.
    {
      const int h = 13, w = 10, oh = 7, ow = 5;
      const auto in = randn(rng, size_t(n) * h * w * cs);
      std::vector<float> want(size_t(n) * oh * ow * cs);
      for (int b = 0; b < n; ++b)
        for (int y = 0; y < oh; ++y)
          for (int x = 0; x < ow; ++x)
            for (int ch = 0; ch < cs; ++ch)
              want[((size_t(b) * oh + y) * ow + x) * cs + ch] = in[((size_t(b) * h + 2 * y) * w + 2 * x) * cs + ch];
      DeviceBuffer din = test::upload(in), dout(want.size() * 4);
      ops::max_pool2d_k1s2_cuda({n, c, h, w, ops::CudaLayout::kNhwcFp32, cs}, din.get(), dout.get(), nullptr);
      EXPECT_EQ(test::download<float>(dout, want.size()), want);
    }
    // FPN top-down: lateral + nearest 2x upsample of top; padding channels written 0.
    {
      const int h = 10, w = 14;
      const auto lat = randn(rng, size_t(n) * h * w * cs), top = randn(rng, size_t(n) * (h / 2) * (w / 2) * cs);
      std::vector<float> want(lat.size());
      for (int b = 0; b < n; ++b)
        for (int y = 0; y < h; ++y)
          for (int x = 0; x < w; ++x)
            for (int ch = 0; ch < cs; ++ch)
              want[((size_t(b) * h + y) * w + x) * cs + ch] =
                  ch < c ? lat[((size_t(b) * h + y) * w + x) * cs + ch] +
                               top[((size_t(b) * (h / 2) + y / 2) * (w / 2) + x / 2) * cs + ch]
                         : 0.f;
      DeviceBuffer dl = test::upload(lat), dt = test::upload(top);
      ops::upsample_nearest2x_add_cuda({n, c, h, w, ops::CudaLayout::kNhwcFp32, cs}, dl.get(), dt.get(), dl.get(),
                                       nullptr);  // in place, as the FPN runs it
      EXPECT_EQ(test::download<float>(dl, want.size()), want);
    }
    // NHWC float -> NCHW float (the RPN head outputs): exact copies, padding dropped.
    {
      const int h = 6, w = 7;
      const auto in = randn(rng, size_t(n) * h * w * cs);
      const Tensor want = from_nhwc(in, n, c, h, w, cs);
      DeviceBuffer din = test::upload(in), dout(size_t(want.numel()) * 4);
      ops::nhwc_fp32_to_nchw_fp32_cuda({n, c, h, w, ops::CudaLayout::kNhwcFp32, cs}, din.as<float>(),
                                       dout.as<float>(), nullptr);
      const auto got = test::download<float>(dout, size_t(want.numel()));
      for (int64_t i = 0; i < want.numel(); ++i) ASSERT_EQ(got[size_t(i)], want[i]) << i;
    }
  }
  EXPECT_THROW(ops::nhwc_fp32_to_nchw_fp32_cuda({1, 4, 2, 2, ops::CudaLayout::kNhwcFp16, 8}, nullptr, nullptr, nullptr),
               Error);
}

TEST(Tf32NhwcKernels, MaskSelectSigmoidNhwcFloat) {
  MASKRT_SKIP_WITHOUT_GPU();
  std::mt19937 rng(14);
  const int cap = 12, K = 7, M = 28, count = 9;
  std::vector<int> classes(cap);
  for (int& c : classes) c = int(rng() % K);
  for (const int nch : {K, 1}) {  // per-class and class-agnostic masks
    const int cs = nch;
    const auto logits = randn(rng, size_t(cap) * M * M * cs, 4.f);  // (cap, M, M, nch)
    DeviceBuffer dl = test::upload(logits), dc = test::upload(classes), dn = test::upload(std::vector<int>{count}),
                 dout(size_t(cap) * M * M * 4);
    ops::mask_select_sigmoid_cuda({cap, nch, M, M, ops::CudaLayout::kNhwcFp32, cs}, dl.get(), dc.as<int>(),
                                  dn.as<int>(), dout.as<float>(), nullptr);
    const auto got = test::download<float>(dout, size_t(cap) * M * M);
    for (int i = 0; i < cap; ++i)
      for (int j = 0; j < M * M; ++j) {
        const int ch = nch == 1 ? 0 : classes[i];
        const float w = i < count ? 1.0f / (1.0f + std::exp(-logits[(size_t(i) * M * M + j) * cs + ch])) : 0.f;
        ASSERT_NEAR(got[size_t(i) * M * M + j], w, 2e-7f) << i << " " << j;  // exp rounding only
      }
  }
}

// preprocess_cuda with nhwc_fp32: (pad_h, pad_w, 4) float with the NCHW output's values, channel 3 = 0.
TEST(Tf32NhwcKernels, PreprocessNhwcFloatEqualsNchw) {
  MASKRT_SKIP_WITHOUT_GPU();
  std::mt19937 rng(15);
  for (auto [in_h, in_w, out_h, out_w, pad_h, pad_w] :
       {std::tuple{50, 70, 37, 52, 64, 64}, std::tuple{31, 29, 31, 29, 32, 32}}) {
    std::vector<uint8_t> img(size_t(in_h) * in_w * 3);
    for (uint8_t& v : img) v = uint8_t(rng() & 0xFF);
    const ops::PillowCoeffs hc = ops::make_pillow_coeffs(in_w, out_w), vc = ops::make_pillow_coeffs(in_h, out_h);
    DeviceBuffer blob = test::upload(ops::pack_pillow_coeffs(hc, vc)), src = test::upload(img);
    const ops::DeviceCoeffs coeffs = ops::device_pillow_coeffs(hc, vc, blob.get());
    ops::PreprocessCudaParams p;
    p.in_h = in_h;
    p.in_w = in_w;
    p.out_h = out_h;
    p.out_w = out_w;
    p.pad_h = pad_h;
    p.pad_w = pad_w;
    p.flip_channels = true;
    const float mean[3] = {103.53f, 116.28f, 123.675f}, stdv[3] = {57.375f, 57.12f, 58.395f};
    for (int c = 0; c < 3; ++c) {
      p.mean[c] = mean[c];
      p.std[c] = stdv[c];
    }
    DeviceBuffer ws(ops::preprocess_workspace_bytes(p)), nchw(size_t(3) * pad_h * pad_w * 4);
    ops::preprocess_cuda(p, src.as<uint8_t>(), coeffs, nchw.get(), ws.get(), nullptr);
    p.nhwc_fp32 = true;
    DeviceBuffer nhwc(size_t(pad_h) * pad_w * ops::kPreprocessNhwcF32Channels * 4);
    MASKRT_CUDA_CHECK(cudaMemset(nhwc.get(), 0x7F, nhwc.bytes()));
    ops::preprocess_cuda(p, src.as<uint8_t>(), coeffs, nhwc.get(), ws.get(), nullptr);
    const auto a = test::download<float>(nchw, size_t(3) * pad_h * pad_w);
    const auto b = test::download<float>(nhwc, size_t(pad_h) * pad_w * 4);
    for (int yx = 0; yx < pad_h * pad_w; ++yx) {
      for (int c = 0; c < 3; ++c) ASSERT_EQ(b[size_t(yx) * 4 + c], a[size_t(c) * pad_h * pad_w + yx]) << yx << " " << c;
      ASSERT_EQ(b[size_t(yx) * 4 + 3], 0.f) << yx;
    }
    p.nhwc_fp16 = true;  // both: rejected
    EXPECT_THROW(ops::validate_preprocess(p), Error);
  }
}

}  // namespace
}  // namespace maskrt

#endif  // MASKRT_WITH_CUDA
