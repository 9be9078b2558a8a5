// The fused RPN head outputs of the NHWC pipelines (model/cuda/rpn_cuda.h):
//   ops::rpn_head_split_nhwc_cuda vs a plain scalar host loop written here from its header (exact:
//     float copies, __half -> float exact) over a seeded sweep: 1..5 levels (and the maximum 8),
//     n = 1..4, odd H/W, A = 3 (Detectron2's default), 2 and 5, fp16 and fp32, c_stride = round_up(5A, 8)
//     and wider. Outputs NaN-prefilled with NaN guard gaps between the planes: an entry left unwritten
//     or a write out of its plane fails; the head's padding channels hold NaN: reading one fails.
//   The fused objectness_logits+anchor_deltas layer (concat_conv2d_out_channels, Cpad outputs) +
//     split vs the two separate layers + the per-layer conversion kernels (the unfused path), and
//     both vs conv2d_ref, in fp16 and tf32 NHWC: the same values up to accumulation order.
//   Argument errors (no GPU needed: they throw before any launch).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <cuda_fp16.h>
#include <gtest/gtest.h>

#include "backend/cuda/conv_cudnn.h"
#include "backend/cuda/cuda_context.h"
#include "cuda_test_util.h"
#include "detection_match.h"
#include "ops/conv2d/conv2d.h"
#include "ops/small_cuda/small_ops_cuda.h"
#include "tensor_compare.h"

namespace maskrt {
namespace {

using ops::CudaLayout;
using test::DeviceBuffer;

int round_up8(int v) { return (v + 7) / 8 * 8; }

uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

struct SplitCase {
  bool half;
  int n, a, c_stride;
  std::vector<std::pair<int, int>> hw;  // per level
};

// Runs one case of rpn_head_split_nhwc_cuda and compares every output element with the scalar
// definition, and every guard element with the NaN fill.
void run_split_case(const SplitCase& sc, std::mt19937& rng) {
  constexpr int64_t kGuard = 67;  // NaN floats after each plane block
  const int L = static_cast<int>(sc.hw.size()), A = sc.a, cs = sc.c_stride, n = sc.n;
  std::normal_distribution<float> nd(0.f, 3.f);
  // Host head values per level (as float: for fp16 the value after rounding to __half), NHWC.
  std::vector<std::vector<float>> head(L);
  std::vector<DeviceBuffer> dev_head;
  int64_t out_total = 0;
  std::vector<int64_t> logits_at(L), deltas_at(L);
  for (int l = 0; l < L; ++l) {
    const auto [h, w] = sc.hw[l];
    head[l].resize(size_t(n) * h * w * cs);
    for (size_t i = 0; i < head[l].size(); ++i) {
      const bool pad = int(i % cs) >= 5 * A;
      float v = pad ? NAN : nd(rng);
      if (sc.half) v = __half2float(__float2half_rn(v));
      head[l][i] = v;
    }
    if (sc.half) {
      std::vector<__half> hv(head[l].size());
      for (size_t i = 0; i < hv.size(); ++i) hv[i] = __float2half_rn(head[l][i]);
      dev_head.push_back(test::upload(hv));
    } else {
      dev_head.push_back(test::upload(head[l]));
    }
    logits_at[l] = out_total;
    out_total += int64_t{n} * A * h * w + kGuard;
    deltas_at[l] = out_total;
    out_total += int64_t{n} * 4 * A * h * w + kGuard;
  }
  DeviceBuffer out(size_t(out_total) * 4);
  ASSERT_EQ(cudaMemset(out.get(), 0xff, out.bytes()), cudaSuccess);  // all-ones: float NaN
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);

  ops::RpnHeadSplitParams p;
  p.num_levels = L;
  p.n = n;
  p.num_anchors = A;
  p.c_stride = cs;
  p.layout = sc.half ? CudaLayout::kNhwcFp16 : CudaLayout::kNhwcFp32;
  for (int l = 0; l < L; ++l) {
    p.levels[l].head = dev_head[l].get();
    p.levels[l].logits = out.as<float>() + logits_at[l];
    p.levels[l].deltas = out.as<float>() + deltas_at[l];
    p.levels[l].h = sc.hw[l].first;
    p.levels[l].w = sc.hw[l].second;
  }
  ops::rpn_head_split_nhwc_cuda(p, nullptr);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const std::vector<float> got = test::download<float>(out, size_t(out_total));

  // Expected: every element from its definition; unwritten = NaN except where the reference says so.
  std::vector<float> want(size_t(out_total), NAN);
  std::vector<char> is_guard(size_t(out_total), 1);
  for (int l = 0; l < L; ++l) {
    const auto [h, w] = sc.hw[l];
    for (int b = 0; b < n; ++b)
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
          const float* px = &head[l][((size_t(b) * h + y) * w + x) * cs];
          for (int a = 0; a < A; ++a) {
            const int64_t o = logits_at[l] + ((int64_t{b} * A + a) * h + y) * w + x;
            want[o] = px[a];
            is_guard[o] = 0;
          }
          for (int j = 0; j < 4 * A; ++j) {
            const int64_t o = deltas_at[l] + ((int64_t{b} * 4 * A + j) * h + y) * w + x;
            want[o] = px[A + j];
            is_guard[o] = 0;
          }
        }
  }
  int64_t bad = 0;
  for (int64_t i = 0; i < out_total; ++i) {
    const bool ok = is_guard[i] ? bits_of(got[i]) == 0xffffffffu : got[i] == want[i];
    if (!ok && bad++ < 5)
      ADD_FAILURE() << (is_guard[i] ? "guard element " : "element ") << i << ": got " << got[i] << ", want "
                    << (is_guard[i] ? std::string("untouched NaN") : std::to_string(want[i]));
  }
  EXPECT_EQ(bad, 0) << "mismatching elements of " << out_total;
}

TEST(RpnHeadSplitCuda, SeededSweepMatchesScalarReference) {
  MASKRT_SKIP_WITHOUT_GPU();
  std::mt19937 rng(20261207);
  std::uniform_int_distribution<int> odd(0, 15), levels(1, 5);
  int cases = 0;
  for (const bool half : {true, false})
    for (const int A : {3, 2, 5})
      for (int rep = 0; rep < 6; ++rep) {
        SplitCase sc;
        sc.half = half;
        sc.a = A;
        sc.n = 1 + rep % 4;
        sc.c_stride = round_up8(5 * A) + (rep == 3 ? 8 : 0);  // rep 3: a wider stride than needed
        const int L = rep == 0 ? 5 : rep == 5 ? ops::kRpnHeadSplitMaxLevels : levels(rng);
        for (int l = 0; l < L; ++l) sc.hw.push_back({2 * odd(rng) + 1, 2 * odd(rng) + 1});
        if (rep == 0) sc.hw[0] = {41, 67};  // a p2-like level larger than one block
        if (rep == 4) sc.hw.back() = {1, 1};
        std::string sizes;
        for (auto [h, w] : sc.hw) sizes += " " + std::to_string(h) + "x" + std::to_string(w);
        SCOPED_TRACE(::testing::Message() << (half ? "fp16" : "fp32") << " A " << A << " n " << sc.n << " c_stride "
                                          << sc.c_stride << " levels" << sizes);
        run_split_case(sc, rng);
        if (::testing::Test::HasFatalFailure()) return;
        ++cases;
      }
  EXPECT_EQ(cases, 36);
}

TEST(RpnHeadSplitCuda, ArgumentErrors) {  // validation precedes any CUDA call: runs without a GPU
  float dummy[4] = {};
  ops::RpnHeadSplitParams ok;
  ok.num_levels = 1;
  ok.n = 1;
  ok.num_anchors = 3;
  ok.c_stride = 16;
  ok.layout = CudaLayout::kNhwcFp16;
  ok.levels[0] = {dummy, dummy, dummy, 2, 2};
  const auto expect_bad = [](const ops::RpnHeadSplitParams& p, const char* what) {
    try {
      ops::rpn_head_split_nhwc_cuda(p, nullptr);
      ADD_FAILURE() << what << ": no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << what << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find("rpn_head_split_nhwc_cuda"), std::string::npos) << e.what();
    }
  };
  auto p = ok;
  p.num_levels = 0;
  expect_bad(p, "0 levels");
  p = ok;
  p.num_levels = ops::kRpnHeadSplitMaxLevels + 1;
  expect_bad(p, "too many levels");
  p = ok;
  p.c_stride = 14;
  expect_bad(p, "c_stride < 5A");
  p = ok;
  p.num_anchors = 0;
  expect_bad(p, "A = 0");
  p = ok;
  p.layout = CudaLayout::kNchwFp32;
  expect_bad(p, "NCHW head");
  p = ok;
  p.levels[0].w = 0;
  expect_bad(p, "empty level");
  p = ok;
  p.levels[0].deltas = nullptr;
  expect_bad(p, "null deltas");
  p = ok;
  p.n = 0;  // nothing to do: no launch, no error
  EXPECT_NO_THROW(ops::rpn_head_split_nhwc_cuda(p, nullptr));
}

// ---- the fused layer vs the unfused path --------------------------------------------------------

struct DevTensor {
  DeviceBuffer buf;
  cuda::DeviceTensor t;
};
DevTensor alloc_tensor(int n, int c, int h, int w, cuda::DType dt, cuda::Layout layout) {
  DevTensor d;
  d.t.n = n;
  d.t.c = c;
  d.t.h = h;
  d.t.w = w;
  d.t.dtype = dt;
  d.t.layout = layout;
  d.buf = DeviceBuffer(d.t.bytes());
  d.t.ptr = d.buf.get();
  EXPECT_EQ(cudaMemset(d.t.ptr, 0xff, d.t.bytes()), cudaSuccess);  // NaN (float and half)
  return d;
}
// (N, C, H, W) -> NHWC device tensor (half or float).
DevTensor upload_nhwc(const Tensor& x, bool half) {
  const int N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  std::vector<float> v(size_t(N) * H * W * C);
  for (int b = 0; b < N; ++b)
    for (int c = 0; c < C; ++c)
      for (int y = 0; y < H; ++y)
        for (int xx = 0; xx < W; ++xx)
          v[((size_t(b) * H + y) * W + xx) * C + c] = x[((int64_t(b) * C + c) * H + y) * W + xx];
  DevTensor d;
  d.t = {nullptr, N, C, H, W, half ? cuda::DType::kF16 : cuda::DType::kF32, cuda::Layout::kNHWC};
  d.buf = half ? test::upload(cuda::to_half(v.data(), v.size())) : test::upload(v);
  d.t.ptr = d.buf.get();
  return d;
}
Tensor download_nchw_f32(const DevTensor& d) {
  Tensor t({d.t.n, d.t.c, d.t.h, d.t.w});
  const auto v = test::download<float>(d.buf, size_t(d.t.numel()));
  std::memcpy(t.data(), v.data(), v.size() * 4);
  return t;
}

TEST(RpnHeadFuseCuda, FusedLayerMatchesSeparateLayers) {
  MASKRT_SKIP_WITHOUT_GPU();
  cuda::CudaContext ctx(0);
  std::mt19937 rng(4242);
  const int C = 32, n = 2, A = 3, cpad = round_up8(5 * A);
  const std::vector<std::pair<int, int>> level_hw{{13, 9}, {7, 5}, {1, 3}};
  for (const Precision prec : {Precision::kFP16, Precision::kTF32})
    for (const char* gemm : {"", "0"}) {  // "": measured choice; "0": cuDNN's legacy API, no graph
      const bool half = prec == Precision::kFP16;
      SCOPED_TRACE(::testing::Message() << (half ? "fp16" : "tf32 NHWC") << " MASKRT_CONV_GEMM=" << gemm);
      std::unique_ptr<test::ScopedEnv> env_gemm, env_graph;
      if (*gemm) {
        env_gemm = std::make_unique<test::ScopedEnv>("MASKRT_CONV_GEMM", gemm);
        env_graph = std::make_unique<test::ScopedEnv>("MASKRT_CONV_GRAPH", "0");
      }
      ConvLayer logits, deltas, fused;
      logits.weight = test::random_tensor({A, C, 1, 1}, rng, 1.f / std::sqrt(float(C)));
      logits.bias = test::random_tensor({A}, rng, 0.5f);
      deltas.weight = test::random_tensor({4 * A, C, 1, 1}, rng, 1.f / std::sqrt(float(C)));
      deltas.bias = test::random_tensor({4 * A}, rng, 0.5f);
      const ops::Conv2dFilters f = ops::concat_conv2d_out_channels(
          logits.params, {{logits.weight, logits.bias}, {deltas.weight, deltas.bias}}, cpad);
      fused.weight = f.weight;
      fused.bias = f.bias;
      const auto L = cuda::Layout::kNHWC;
      cuda::ConvCudnn conv_f(fused, prec, cuda::ConvEpilogue::kBias, "test_rpn_fused", 0, L);
      cuda::ConvCudnn conv_l(logits, prec, cuda::ConvEpilogue::kBias, "test_rpn_logits", 0, L);
      cuda::ConvCudnn conv_d(deltas, prec, cuda::ConvEpilogue::kBias, "test_rpn_deltas", 0, L);
      const cuda::DType dt = half ? cuda::DType::kF16 : cuda::DType::kF32;

      ops::RpnHeadSplitParams sp;
      sp.num_levels = static_cast<int>(level_hw.size());
      sp.n = n;
      sp.num_anchors = A;
      sp.c_stride = cpad;
      sp.layout = half ? CudaLayout::kNhwcFp16 : CudaLayout::kNhwcFp32;
      std::vector<Tensor> xs;
      std::vector<DevTensor> xd, head, lf, df, ls, ds, l_act, d_act;
      size_t ws_bytes = 1;
      for (size_t l = 0; l < level_hw.size(); ++l) {
        const auto [h, w] = level_hw[l];
        xs.push_back(test::random_tensor({n, C, h, w}, rng));
        xd.push_back(upload_nhwc(xs[l], half));
        ws_bytes = std::max({ws_bytes, conv_f.plan(ctx, n, h, w), conv_l.plan(ctx, n, h, w), conv_d.plan(ctx, n, h, w)});
        head.push_back(alloc_tensor(n, cpad, h, w, dt, L));
        l_act.push_back(alloc_tensor(n, A, h, w, dt, L));
        d_act.push_back(alloc_tensor(n, 4 * A, h, w, dt, L));
        for (auto* v : {&lf, &ls}) v->push_back(alloc_tensor(n, A, h, w, cuda::DType::kF32, cuda::Layout::kNCHW));
        for (auto* v : {&df, &ds}) v->push_back(alloc_tensor(n, 4 * A, h, w, cuda::DType::kF32, cuda::Layout::kNCHW));
        sp.levels[l] = {head[l].t.ptr, lf[l].t.as<float>(), df[l].t.as<float>(), h, w};
      }
      ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);  // the NaN memsets (legacy stream) land first
      DeviceBuffer ws(ws_bytes);
      // Fused: one layer per level, one split launch (what CudaRPN::forward_head does on NHWC).
      for (size_t l = 0; l < level_hw.size(); ++l) conv_f.forward(ctx, xd[l].t, head[l].t, nullptr, ws.get(), ws_bytes);
      ops::rpn_head_split_nhwc_cuda(sp, ctx.stream());
      // Unfused: two layers and two conversions per level (the code this replaced).
      for (size_t l = 0; l < level_hw.size(); ++l) {
        conv_l.forward(ctx, xd[l].t, l_act[l].t, nullptr, ws.get(), ws_bytes);
        conv_d.forward(ctx, xd[l].t, d_act[l].t, nullptr, ws.get(), ws_bytes);
        const auto desc = [&](const DevTensor& d) {
          ops::CudaTensorDesc s{d.t.n, d.t.c, d.t.h, d.t.w, sp.layout, d.t.c};
          return s;
        };
        if (half) {
          ops::nhwc_fp16_to_nchw_fp32_cuda(desc(l_act[l]), l_act[l].t.ptr, ls[l].t.as<float>(), ctx.stream());
          ops::nhwc_fp16_to_nchw_fp32_cuda(desc(d_act[l]), d_act[l].t.ptr, ds[l].t.as<float>(), ctx.stream());
        } else {
          ops::nhwc_fp32_to_nchw_fp32_cuda(desc(l_act[l]), l_act[l].t.as<float>(), ls[l].t.as<float>(), ctx.stream());
          ops::nhwc_fp32_to_nchw_fp32_cuda(desc(d_act[l]), d_act[l].t.as<float>(), ds[l].t.as<float>(), ctx.stream());
        }
      }
      ctx.synchronize();
      // fp16: same half inputs and weights, float accumulation, one rounding to half: the two paths
      // differ by at most an ulp of half here and there. tf32: the separate 3-output layer may run a
      // non-tensor-core kernel, so up to TF32 input rounding (test_conv_cudnn's tf32 bound).
      const double tol_vs_unfused = half ? 2e-3 : 5e-3, tol_vs_ref = half ? 1e-2 : 5e-3;
      for (size_t l = 0; l < level_hw.size(); ++l) {
        SCOPED_TRACE(::testing::Message() << "level " << l << " path " << conv_f.chosen_path(n, xs[l].size(2), xs[l].size(3)));
        const Tensor ref_l = ops::conv2d_ref(logits.params, xs[l], logits.weight, logits.bias);
        const Tensor ref_d = ops::conv2d_ref(deltas.params, xs[l], deltas.weight, deltas.bias);
        const Tensor got_l = download_nchw_f32(lf[l]), got_d = download_nchw_f32(df[l]);
        const Tensor old_l = download_nchw_f32(ls[l]), old_d = download_nchw_f32(ds[l]);
        EXPECT_LE(test::rel_l2(got_l, old_l), tol_vs_unfused) << "objectness_logits, fused vs unfused";
        EXPECT_LE(test::rel_l2(got_d, old_d), tol_vs_unfused) << "anchor_deltas, fused vs unfused";
        EXPECT_LE(test::rel_l2(got_l, ref_l), tol_vs_ref) << "objectness_logits vs conv2d_ref";
        EXPECT_LE(test::rel_l2(got_d, ref_d), tol_vs_ref) << "anchor_deltas vs conv2d_ref";
        EXPECT_LE(test::rel_l2(old_l, ref_l), tol_vs_ref) << "unfused objectness_logits vs conv2d_ref";
        // The fused layer's padding channels: zero filters and bias -> exactly 0.
        const size_t pixels = size_t(head[l].t.n) * head[l].t.h * head[l].t.w;
        int nonzero = 0;
        if (half) {
          const auto hv = test::download<__half>(head[l].buf, pixels * cpad);
          for (size_t px = 0; px < pixels; ++px)
            for (int c = 5 * A; c < cpad; ++c) nonzero += __half2float(hv[px * cpad + c]) != 0.f;
        } else {
          const auto fv = test::download<float>(head[l].buf, pixels * cpad);
          for (size_t px = 0; px < pixels; ++px)
            for (int c = 5 * A; c < cpad; ++c) nonzero += fv[px * cpad + c] != 0.f;
        }
        EXPECT_EQ(nonzero, 0) << "padding channels of the fused layer's output";
      }
    }
}

}  // namespace
}  // namespace maskrt
