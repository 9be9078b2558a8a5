// bench_batch_invariance: does an fp16 NHWC convolution give an image the same bits when it runs alone
// (n = 1) and inside a batch of 4, if both runs use the SAME engine configuration? A measurement for
// issue 3, not a test. Session 10 on the H200: 183 of 195 configurations did, 12 did not, so the
// engine does not rely on it: ConvCudnn::plan_pinned checks each backbone-batch group convolution's
// bits at planning and runs a layer image by image where they differ (docs/PERFORMANCE.md).
//
// For R50-FPN layers at a 800x1088 input (fp16 NHWC, float32 accumulation; each layer's engine epilogue:
// bias, bias + ReLU, or the bottleneck's conv3 with the shortcut z, bias and ReLU), the paths
// ConvCudnn::plan() picks from (conv_cudnn.h):
//   - cuDNN backend (graph) API, fused graph and conv-only graph: every execution plan heuristic mode A
//     offers at n = 1 (up to 5 each) is asked for again at n = 4 as the preferred configuration
//     (cudnn_graph_conv.h; the conv-only graph's epilogue kernel is elementwise, not measured);
//   - cuDNN legacy API (cudnnConvolutionForward): every algorithm the heuristic lists for n = 1 that
//     also has a workspace at n = 4;
//   - cuBLASLt (1x1 stride-1 layers): every heuristic algorithm for n = 1 (up to 8), checked for n = 4
//     with cublasLtMatmulAlgoCheck. Not measured: the fp16 im2col matmul (3x3 / strided layers).
// Each pair runs on the same image (slot 2 of the batch; the other slots hold other random images)
// and the output bits of that image are compared; the n = 1 run is also repeated, so a "no" that is
// run-to-run nondeterminism shows as such. One line per configuration, a count at the end.
//   bench_batch_invariance [scale=1]   (scale 2 halves every spatial size, for a quick run)
#ifdef MASKRT_WITH_CUDA
#include <cublasLt.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cudnn_graph_conv.h"
#include "backend/cuda/device_buffer.h"
#include "maskrt/errors.h"

using namespace maskrt::cuda;

namespace {

constexpr int kBatch = 4, kSlot = 2;

struct Layer {
  const char* name;
  int c, k, r, stride, pad, h, w;  // input channels (stored), output channels, kernel, stride, padding, input size
  GraphEpilogue epilogue;
};

std::vector<__half> random_halves(size_t n, std::mt19937& rng, float scale) {
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<__half> v(n);
  for (auto& x : v) x = __float2half(u(rng));
  return v;
}

// Bits of image kSlot of y4 against y1 (each `per_image` halves): mismatching elements and the largest
// |difference| among them.
struct Compare {
  size_t mismatches = 0;
  size_t unwritten = 0;       // y4 elements still holding clear_outputs' 0xFFFF
  double max_diff = 0;        // among finite mismatching pairs
  bool repeat_equal = true;   // the repeated n = 1 run gave the same bits as the first
};
std::vector<uint16_t> download(const void* src, size_t count) {
  std::vector<uint16_t> v(count);
  MASKRT_CUDA_CHECK(cudaMemcpy(v.data(), src, count * 2, cudaMemcpyDeviceToHost));
  return v;
}
float half_value(uint16_t bits) {
  __half_raw r;
  r.x = bits;
  return __half2float(__half(r));
}
// y1 (first n = 1 run), y1b (repeated n = 1 run) and slot kSlot of y4.
Compare compare(const void* y1, const void* y1b, const void* y4, size_t per_image) {
  const std::vector<uint16_t> a = download(y1, per_image), r = download(y1b, per_image),
                              b = download(static_cast<const uint16_t*>(y4) + kSlot * per_image, per_image);
  Compare c;
  c.repeat_equal = a == r;
  for (size_t i = 0; i < per_image; ++i) {
    if (a[i] == b[i]) continue;
    ++c.mismatches;
    if (b[i] == 0xFFFF) ++c.unwritten;
    const double d = std::fabs(double(half_value(a[i])) - double(half_value(b[i])));
    if (std::isfinite(d)) c.max_diff = std::max(c.max_diff, d);
  }
  return c;
}

// Different fill patterns in the two outputs before each pair, so an output a run did not write can
// never compare equal (0x0000 vs 0xFFFF, a NaN pattern).
void clear_outputs(void* y1, void* y1b, void* y4, size_t per_image) {
  MASKRT_CUDA_CHECK(cudaMemset(y1, 0x00, per_image * 2));
  MASKRT_CUDA_CHECK(cudaMemset(y1b, 0x00, per_image * 2));
  MASKRT_CUDA_CHECK(cudaMemset(y4, 0xFF, per_image * 2 * kBatch));
}

int g_total = 0, g_equal = 0, g_repeat_differs = 0;

void report(const Layer& l, const char* path, const std::string& config, const char* note, const Compare* c,
            size_t per_image) {
  std::printf("| %s | %s | %s | %s |", l.name, path, config.c_str(), note);
  if (c) {
    ++g_total;
    g_equal += c->mismatches == 0;
    g_repeat_differs += !c->repeat_equal;
    std::printf(" %s | %zu / %zu (%zu unwritten) | %.3g | %s |\n", c->mismatches == 0 ? "yes" : "no", c->mismatches,
                per_image, c->unwritten, c->max_diff, c->repeat_equal ? "same" : "DIFFERS");
  } else {
    std::printf(" - | - | - | - |\n");
  }
}

// The buffers of one layer: weights, bias, the image alone (x1) and in slot kSlot of x4, the shortcut
// likewise (z1 / z4; kBiasAddRelu only), and the outputs.
struct Buffers {
  const void *w, *bias, *x1, *x4, *z1, *z4;
  void *y1, *y1b, *y4;
};

void run_graph(cudnnHandle_t handle, const Layer& l, GraphEpilogue epi, int oh, int ow, const Buffers& m) {
  const char* path = epi == GraphEpilogue::kConvOnly ? "graph conv-only" : "graph fused";
  GraphConvShape s1{GraphConvDType::kHalfNhwc, 1, l.c, l.h, l.w, l.k, l.r, l.r, oh, ow, l.pad, l.pad, l.stride, l.stride};
  GraphConvShape s4 = s1;
  s4.n = kBatch;
  GraphPlanOptions opt;
  opt.workspace_limit = size_t(256) << 20;
  opt.max_plans = 5;
  std::string log;
  auto plans1 = build_graph_conv_plans(handle, s1, epi, opt, &log);
  cudaGetLastError();
  if (plans1.empty()) report(l, path, "none at n=1", log.c_str(), nullptr, 0);
  const size_t per_image = size_t(oh) * ow * l.k;
  const void* z1 = epi == GraphEpilogue::kBiasAddRelu ? m.z1 : nullptr;
  const void* z4 = epi == GraphEpilogue::kBiasAddRelu ? m.z4 : nullptr;
  for (auto& p1 : plans1) {
    GraphPlanOptions o4 = opt;
    o4.preferred = {p1->key()};
    o4.max_plans_with_preferred = 1;
    std::string log4;
    auto plans4 = build_graph_conv_plans(handle, s4, epi, o4, &log4);
    cudaGetLastError();
    if (plans4.empty() || plans4[0]->key() != p1->key()) {
      report(l, path, p1->label(), "not offered at n=4", nullptr, 0);
      continue;
    }
    const DeviceBuffer ws(std::max<size_t>(16, std::max(p1->workspace(), plans4[0]->workspace())), "workspace");
    clear_outputs(m.y1, m.y1b, m.y4, per_image);
    const cudnnStatus_t a = p1->execute(handle, m.x1, m.w, m.y1, m.bias, z1, ws.get());
    const cudnnStatus_t a2 = p1->execute(handle, m.x1, m.w, m.y1b, m.bias, z1, ws.get());
    const cudnnStatus_t b = plans4[0]->execute(handle, m.x4, m.w, m.y4, m.bias, z4, ws.get());
    MASKRT_CUDA_CHECK(cudaDeviceSynchronize());
    if (a != CUDNN_STATUS_SUCCESS || a2 != CUDNN_STATUS_SUCCESS || b != CUDNN_STATUS_SUCCESS) {
      report(l, path, p1->label(), "execute failed", nullptr, 0);
      continue;
    }
    const Compare c = compare(m.y1, m.y1b, m.y4, per_image);
    report(l, path, p1->label(), "same config at n=4", &c, per_image);
  }
}

// The legacy API's conv (fp16 NHWC, float compute, tensor-op math) with each algorithm the heuristic
// lists for n = 1; the engine adds its epilogue kernel after it (elementwise, not measured).
void run_legacy(cudnnHandle_t handle, const Layer& l, int oh, int ow, const Buffers& m) {
  cudnnTensorDescriptor_t x1d, x4d, y1d, y4d;
  cudnnFilterDescriptor_t wd;
  cudnnConvolutionDescriptor_t cd;
  bool ok = cudnnCreateTensorDescriptor(&x1d) == CUDNN_STATUS_SUCCESS &&
            cudnnCreateTensorDescriptor(&x4d) == CUDNN_STATUS_SUCCESS &&
            cudnnCreateTensorDescriptor(&y1d) == CUDNN_STATUS_SUCCESS &&
            cudnnCreateTensorDescriptor(&y4d) == CUDNN_STATUS_SUCCESS &&
            cudnnCreateFilterDescriptor(&wd) == CUDNN_STATUS_SUCCESS &&
            cudnnCreateConvolutionDescriptor(&cd) == CUDNN_STATUS_SUCCESS;
  ok = ok && cudnnSetTensor4dDescriptor(x1d, CUDNN_TENSOR_NHWC, CUDNN_DATA_HALF, 1, l.c, l.h, l.w) == CUDNN_STATUS_SUCCESS &&
       cudnnSetTensor4dDescriptor(x4d, CUDNN_TENSOR_NHWC, CUDNN_DATA_HALF, kBatch, l.c, l.h, l.w) == CUDNN_STATUS_SUCCESS &&
       cudnnSetTensor4dDescriptor(y1d, CUDNN_TENSOR_NHWC, CUDNN_DATA_HALF, 1, l.k, oh, ow) == CUDNN_STATUS_SUCCESS &&
       cudnnSetTensor4dDescriptor(y4d, CUDNN_TENSOR_NHWC, CUDNN_DATA_HALF, kBatch, l.k, oh, ow) == CUDNN_STATUS_SUCCESS &&
       cudnnSetFilter4dDescriptor(wd, CUDNN_DATA_HALF, CUDNN_TENSOR_NHWC, l.k, l.c, l.r, l.r) == CUDNN_STATUS_SUCCESS &&
       cudnnSetConvolution2dDescriptor(cd, l.pad, l.pad, l.stride, l.stride, 1, 1, CUDNN_CROSS_CORRELATION,
                                       CUDNN_DATA_FLOAT) == CUDNN_STATUS_SUCCESS &&
       cudnnSetConvolutionMathType(cd, CUDNN_TENSOR_OP_MATH) == CUDNN_STATUS_SUCCESS;
  cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  int returned = 0;
  ok = ok && cudnnGetConvolutionForwardAlgorithm_v7(handle, x1d, wd, cd, y1d, CUDNN_CONVOLUTION_FWD_ALGO_COUNT,
                                                     &returned, perf) == CUDNN_STATUS_SUCCESS;
  if (!ok) report(l, "legacy", "descriptors / heuristic failed", "", nullptr, 0);
  const size_t per_image = size_t(oh) * ow * l.k;
  const float one = 1.f, zero = 0.f;
  for (int i = 0; ok && i < returned; ++i) {
    if (perf[i].status != CUDNN_STATUS_SUCCESS) continue;
    char cfg[48];
    std::snprintf(cfg, sizeof(cfg), "algo %d", static_cast<int>(perf[i].algo));
    size_t ws1 = 0, ws4 = 0;
    if (cudnnGetConvolutionForwardWorkspaceSize(handle, x1d, wd, cd, y1d, perf[i].algo, &ws1) != CUDNN_STATUS_SUCCESS ||
        cudnnGetConvolutionForwardWorkspaceSize(handle, x4d, wd, cd, y4d, perf[i].algo, &ws4) != CUDNN_STATUS_SUCCESS ||
        std::max(ws1, ws4) > (size_t(256) << 20)) {
      report(l, "legacy", cfg, "no workspace at n=1 or n=4 within 256 MiB", nullptr, 0);
      continue;
    }
    const DeviceBuffer ws(std::max<size_t>(16, std::max(ws1, ws4)), "workspace");
    clear_outputs(m.y1, m.y1b, m.y4, per_image);
    const cudnnStatus_t a =
        cudnnConvolutionForward(handle, &one, x1d, m.x1, wd, m.w, cd, perf[i].algo, ws.get(), ws1, &zero, y1d, m.y1);
    const cudnnStatus_t a2 =
        cudnnConvolutionForward(handle, &one, x1d, m.x1, wd, m.w, cd, perf[i].algo, ws.get(), ws1, &zero, y1d, m.y1b);
    const cudnnStatus_t b =
        cudnnConvolutionForward(handle, &one, x4d, m.x4, wd, m.w, cd, perf[i].algo, ws.get(), ws4, &zero, y4d, m.y4);
    MASKRT_CUDA_CHECK(cudaDeviceSynchronize());
    if (a != CUDNN_STATUS_SUCCESS || a2 != CUDNN_STATUS_SUCCESS || b != CUDNN_STATUS_SUCCESS) {
      report(l, "legacy", cfg, "convolution failed", nullptr, 0);
      continue;
    }
    const Compare c = compare(m.y1, m.y1b, m.y4, per_image);
    report(l, "legacy", cfg, "same algo at n=4", &c, per_image);
  }
  cudnnDestroyTensorDescriptor(x1d);
  cudnnDestroyTensorDescriptor(x4d);
  cudnnDestroyTensorDescriptor(y1d);
  cudnnDestroyTensorDescriptor(y4d);
  cudnnDestroyFilterDescriptor(wd);
  cudnnDestroyConvolutionDescriptor(cd);
}

// The engine's 1x1 stride-1 matmul (conv_cudnn.cpp, NHWC): column-major D (k x rows) =
// epilogue(W^T (c x k, op T) * X (c x rows) [+ Z] + bias), rows = n * h * w, float32 compute, fp16 data
// and bias; the bottleneck's conv3 takes the shortcut as C with beta = 1.
void run_gemm(cublasLtHandle_t lt, cudaStream_t stream, const Layer& l, const Buffers& m) {
  const bool with_z = l.epilogue == GraphEpilogue::kBiasAddRelu;
  cublasLtMatmulDesc_t desc = nullptr;
  const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
  const cublasLtEpilogue_t epi =
      l.epilogue == GraphEpilogue::kBias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_RELU_BIAS;
  const cudaDataType_t bt = CUDA_R_16F;
  const uint64_t rows1 = uint64_t(l.h) * l.w, rows4 = rows1 * kBatch;
  cublasLtMatrixLayout_t a = nullptr, b1 = nullptr, d1 = nullptr, b4 = nullptr, d4 = nullptr;
  cublasLtMatmulPreference_t pref = nullptr;
  const size_t max_ws = size_t(32) << 20;
  bool ok = cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F) == CUBLAS_STATUS_SUCCESS &&
            cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)) == CUBLAS_STATUS_SUCCESS &&
            cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)) == CUBLAS_STATUS_SUCCESS &&
            cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi)) ==
                CUBLAS_STATUS_SUCCESS &&
            cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &m.bias, sizeof(m.bias)) ==
                CUBLAS_STATUS_SUCCESS &&
            cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof(bt)) ==
                CUBLAS_STATUS_SUCCESS &&
            cublasLtMatrixLayoutCreate(&a, CUDA_R_16F, l.c, l.k, l.c) == CUBLAS_STATUS_SUCCESS &&
            cublasLtMatrixLayoutCreate(&b1, CUDA_R_16F, l.c, rows1, l.c) == CUBLAS_STATUS_SUCCESS &&
            cublasLtMatrixLayoutCreate(&d1, CUDA_R_16F, l.k, rows1, l.k) == CUBLAS_STATUS_SUCCESS &&
            cublasLtMatrixLayoutCreate(&b4, CUDA_R_16F, l.c, rows4, l.c) == CUBLAS_STATUS_SUCCESS &&
            cublasLtMatrixLayoutCreate(&d4, CUDA_R_16F, l.k, rows4, l.k) == CUBLAS_STATUS_SUCCESS &&
            cublasLtMatmulPreferenceCreate(&pref) == CUBLAS_STATUS_SUCCESS &&
            cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &max_ws,
                                                 sizeof(max_ws)) == CUBLAS_STATUS_SUCCESS;
  cublasLtMatmulHeuristicResult_t res[8];
  int returned = 0;
  ok = ok && cublasLtMatmulAlgoGetHeuristic(lt, desc, a, b1, d1, d1, pref, 8, res, &returned) == CUBLAS_STATUS_SUCCESS;
  if (!ok || returned <= 0) report(l, "gemm", "none at n=1", ok ? "" : "setup failed", nullptr, 0);
  const DeviceBuffer ws(max_ws, "workspace");
  const float one = 1.f, zero = 0.f;
  const float* beta = with_z ? &one : &zero;
  const void* c1 = with_z ? m.z1 : m.y1;  // C: the shortcut (beta 1), or unread (beta 0)
  const void* c4 = with_z ? m.z4 : m.y4;
  const size_t per_image = rows1 * l.k;
  for (int i = 0; ok && i < returned; ++i) {
    int32_t id = -1, splitk = -1;
    uint32_t tile = 0, stages = 0;
    size_t got = 0;
    cublasLtMatmulAlgoConfigGetAttribute(&res[i].algo, CUBLASLT_ALGO_CONFIG_ID, &id, sizeof(id), &got);
    cublasLtMatmulAlgoConfigGetAttribute(&res[i].algo, CUBLASLT_ALGO_CONFIG_TILE_ID, &tile, sizeof(tile), &got);
    cublasLtMatmulAlgoConfigGetAttribute(&res[i].algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &splitk, sizeof(splitk), &got);
    cublasLtMatmulAlgoConfigGetAttribute(&res[i].algo, CUBLASLT_ALGO_CONFIG_STAGES_ID, &stages, sizeof(stages), &got);
    char cfg[96];
    std::snprintf(cfg, sizeof(cfg), "algo %d tile %u splitK %d stages %u ws %zu", id, tile, splitk, stages,
                  res[i].workspaceSize);
    cublasLtMatmulHeuristicResult_t check{};
    if (cublasLtMatmulAlgoCheck(lt, desc, a, b4, d4, d4, &res[i].algo, &check) != CUBLAS_STATUS_SUCCESS ||
        check.workspaceSize > max_ws) {
      report(l, "gemm", cfg, "not applicable at n=4", nullptr, 0);
      continue;
    }
    clear_outputs(m.y1, m.y1b, m.y4, per_image);
    const cublasStatus_t s1 = cublasLtMatmul(lt, desc, &one, m.w, a, m.x1, b1, beta, c1, d1, m.y1, d1, &res[i].algo,
                                             ws.get(), res[i].workspaceSize, stream);
    const cublasStatus_t s2 = cublasLtMatmul(lt, desc, &one, m.w, a, m.x1, b1, beta, c1, d1, m.y1b, d1, &res[i].algo,
                                             ws.get(), res[i].workspaceSize, stream);
    const cublasStatus_t s4 = cublasLtMatmul(lt, desc, &one, m.w, a, m.x4, b4, beta, c4, d4, m.y4, d4, &res[i].algo,
                                             ws.get(), check.workspaceSize, stream);
    MASKRT_CUDA_CHECK(cudaStreamSynchronize(stream));
    if (s1 != CUBLAS_STATUS_SUCCESS || s2 != CUBLAS_STATUS_SUCCESS || s4 != CUBLAS_STATUS_SUCCESS) {
      report(l, "gemm", cfg, "matmul failed", nullptr, 0);
      continue;
    }
    const Compare c = compare(m.y1, m.y1b, m.y4, per_image);
    report(l, "gemm", cfg, "same algo at n=4", &c, per_image);
  }
  if (pref) cublasLtMatmulPreferenceDestroy(pref);
  for (auto lay : {a, b1, d1, b4, d4})
    if (lay) cublasLtMatrixLayoutDestroy(lay);
  if (desc) cublasLtMatmulDescDestroy(desc);
}

int run(int argc, char** argv) {
  const int scale = argc > 1 ? std::max(1, std::atoi(argv[1])) : 1;
  int dev_count = 0;
  if (cudaGetDeviceCount(&dev_count) != cudaSuccess || dev_count == 0) {
    std::fprintf(stderr, "bench_batch_invariance: no CUDA device\n");
    return 1;
  }
  cudnnHandle_t handle = nullptr;
  cublasLtHandle_t lt = nullptr;
  cudaStream_t stream = nullptr;
  MASKRT_CUDA_CHECK(cudaStreamCreate(&stream));
  if (cudnnCreate(&handle) != CUDNN_STATUS_SUCCESS || cublasLtCreate(&lt) != CUBLAS_STATUS_SUCCESS) {
    std::fprintf(stderr, "bench_batch_invariance: cannot create cuDNN / cuBLASLt handles\n");
    return 1;
  }
  if (cudnnSetStream(handle, stream) != CUDNN_STATUS_SUCCESS) {
    std::fprintf(stderr, "bench_batch_invariance: cudnnSetStream failed\n");
    return 1;
  }
  // R50-FPN at 800x1088 (STRIDE_IN_1X1: the stride of a stage's first block in its 1x1 conv1; stem input
  // channels padded 3 -> 8, as the engine stores them).
  const int H = 800 / scale, W = 1088 / scale;
  const Layer layers[] = {
      {"stem 7x7 s2", 8, 64, 7, 2, 3, H, W, GraphEpilogue::kBiasRelu},
      {"res2 conv1 1x1", 64, 64, 1, 1, 0, H / 4, W / 4, GraphEpilogue::kBiasRelu},
      {"res2 conv2 3x3", 64, 64, 3, 1, 1, H / 4, W / 4, GraphEpilogue::kBiasRelu},
      {"res2 conv3 1x1 +z", 64, 256, 1, 1, 0, H / 4, W / 4, GraphEpilogue::kBiasAddRelu},
      {"res3.0 conv1 1x1 s2", 256, 128, 1, 2, 0, H / 4, W / 4, GraphEpilogue::kBiasRelu},
      {"res3 conv2 3x3", 128, 128, 3, 1, 1, H / 8, W / 8, GraphEpilogue::kBiasRelu},
      {"res3.0 shortcut 1x1 s2", 256, 512, 1, 2, 0, H / 4, W / 4, GraphEpilogue::kBias},
      {"res4 conv1 1x1", 1024, 256, 1, 1, 0, H / 16, W / 16, GraphEpilogue::kBiasRelu},
      {"res4 conv2 3x3", 256, 256, 3, 1, 1, H / 16, W / 16, GraphEpilogue::kBiasRelu},
      {"res5 conv1 1x1", 2048, 512, 1, 1, 0, H / 32, W / 32, GraphEpilogue::kBiasRelu},
      {"fpn lateral p5 1x1", 2048, 256, 1, 1, 0, H / 32, W / 32, GraphEpilogue::kBias},
      {"fpn output p2 3x3", 256, 256, 3, 1, 1, H / 4, W / 4, GraphEpilogue::kBias},
  };
  int dev = 0;
  cudaDeviceProp prop{};
  cudaGetDevice(&dev);
  cudaGetDeviceProperties(&prop, dev);
  std::printf("bench_batch_invariance: %s, cuDNN %zu, cuBLASLt %zu, input %dx%d, image %d of a batch of %d\n",
              prop.name, cudnnGetVersion(), cublasLtGetVersion(), H, W, kSlot, kBatch);
  std::printf("| layer | path | configuration | n=4 | bits equal | mismatching / elements | max abs diff | n=1 repeat |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  std::mt19937 rng(1234);
  for (const Layer& l : layers) {
    const int oh = (l.h + 2 * l.pad - l.r) / l.stride + 1, ow = (l.w + 2 * l.pad - l.r) / l.stride + 1;
    const size_t in1 = size_t(l.h) * l.w * l.c, out1 = size_t(oh) * ow * l.k;
    const auto w_host = random_halves(size_t(l.k) * l.r * l.r * l.c, rng, 1.f / std::sqrt(float(l.r * l.r * l.c)));
    const auto b_host = random_halves(l.k, rng, 0.1f);
    const auto img = random_halves(in1, rng, 1.f);
    auto batch = random_halves(in1 * kBatch, rng, 1.f);
    std::copy(img.begin(), img.end(), batch.begin() + kSlot * in1);
    const auto z_img = random_halves(out1, rng, 1.f);  // the shortcut, the same image in slot kSlot
    auto z_batch = random_halves(out1 * kBatch, rng, 1.f);
    std::copy(z_img.begin(), z_img.end(), z_batch.begin() + kSlot * out1);
    const DeviceBuffer w = DeviceBuffer::upload(w_host, "w"), bias = DeviceBuffer::upload(b_host, "bias"),
                       x1 = DeviceBuffer::upload(img, "x1"), x4 = DeviceBuffer::upload(batch, "x4"),
                       z1 = DeviceBuffer::upload(z_img, "z1"), z4 = DeviceBuffer::upload(z_batch, "z4");
    const DeviceBuffer y1(out1 * 2, "y1"), y1b(out1 * 2, "y1b"), y4(out1 * kBatch * 2, "y4");
    const Buffers m{w.get(), bias.get(), x1.get(), x4.get(), z1.get(), z4.get(), y1.get(), y1b.get(), y4.get()};
    run_graph(handle, l, l.epilogue, oh, ow, m);
    run_graph(handle, l, GraphEpilogue::kConvOnly, oh, ow, m);
    run_legacy(handle, l, oh, ow, m);
    if (l.r == 1 && l.stride == 1) run_gemm(lt, stream, l, m);
  }
  std::printf("\n%d of %d configurations gave image %d the same bits at n=1 and n=%d; %d differed between two n=1 "
              "runs\n", g_equal, g_total, kSlot, kBatch, g_repeat_differs);
  cudnnDestroy(handle);
  cublasLtDestroy(lt);
  cudaStreamDestroy(stream);
  return 0;
}
}  // namespace

// CUDA failures (MASKRT_CUDA_CHECK, DeviceBuffer) throw maskrt::Error: one line, exit status 1.
int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const maskrt::Error& e) {
    std::fprintf(stderr, "bench_batch_invariance: %s\n", e.what());
    return 1;
  }
}
#else
#include <cstdio>
int main() {
  std::fprintf(stderr, "bench_batch_invariance: built without the CUDA backend\n");
  return 1;
}
#endif
