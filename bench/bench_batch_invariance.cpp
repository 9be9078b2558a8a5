// bench_batch_invariance: does an fp16 NHWC convolution give an image the same bits when it runs alone
// (n = 1) and inside a batch of 4, if both runs use the SAME engine configuration? A measurement for
// issue 3, not a test: --backbone-batch (EngineOptions::backbone_batch) stays opt-in because an image's
// fp16 / tf32 bits depend on whether its neighbours share its size (each batch size gets its own
// planned algorithms). If a configuration chosen at n = 1 also runs at n = 4 with bit-identical
// per-image output, the engine could plan the group from the single-image choice and make the
// backbone batch neighbour-independent (and the default).
//
// For R50-FPN-like layers at a 800x1088 input (fp16 NHWC, float32 accumulation, bias + ReLU):
//   - cuDNN backend (graph) API: every execution plan heuristic mode A offers at n = 1 (up to 5) is
//     asked for again at n = 4 as the preferred configuration (cudnn_graph_conv.h);
//   - cuBLASLt (the engine's 1x1 stride-1 path, conv_cudnn.h): every heuristic algorithm for n = 1
//     (up to 8) is checked for n = 4 with cublasLtMatmulAlgoCheck.
// Each pair runs on the same image (slot 2 of the batch; the other slots hold other random images)
// and the output bits of that image are compared. One line per configuration, a count at the end.
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

#include "backend/cuda/cudnn_graph_conv.h"

using namespace maskrt::cuda;

namespace {

#define CHECK_CUDA(x)                                                                    \
  do {                                                                                   \
    const cudaError_t e_ = (x);                                                          \
    if (e_ != cudaSuccess) {                                                             \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); \
      std::exit(1);                                                                      \
    }                                                                                    \
  } while (0)

constexpr int kBatch = 4, kSlot = 2;

struct Layer {
  const char* name;
  int c, k, r, stride, pad, h, w;  // input channels (stored), output channels, kernel, stride, padding, input size
  GraphEpilogue epilogue;
};

struct DeviceMem {
  void* p = nullptr;
  explicit DeviceMem(size_t bytes) { CHECK_CUDA(cudaMalloc(&p, bytes ? bytes : 16)); }
  ~DeviceMem() { cudaFree(p); }
  DeviceMem(const DeviceMem&) = delete;
  DeviceMem& operator=(const DeviceMem&) = delete;
};

std::vector<__half> random_halves(size_t n, std::mt19937& rng, float scale) {
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<__half> v(n);
  for (auto& x : v) x = __float2half(u(rng));
  return v;
}

void upload(void* dst, const std::vector<__half>& v) {
  CHECK_CUDA(cudaMemcpy(dst, v.data(), v.size() * sizeof(__half), cudaMemcpyHostToDevice));
}

// Bits of image kSlot of y4 against y1 (each `per_image` halves): mismatching elements and the largest
// |difference| among them.
struct Compare {
  size_t mismatches = 0;
  double max_diff = 0;
};
Compare compare(const void* y1, const void* y4, size_t per_image) {
  std::vector<uint16_t> a(per_image), b(per_image);
  CHECK_CUDA(cudaMemcpy(a.data(), y1, per_image * 2, cudaMemcpyDeviceToHost));
  CHECK_CUDA(cudaMemcpy(b.data(), static_cast<const uint16_t*>(y4) + kSlot * per_image, per_image * 2,
                        cudaMemcpyDeviceToHost));
  Compare c;
  for (size_t i = 0; i < per_image; ++i) {
    if (a[i] == b[i]) continue;
    ++c.mismatches;
    __half ha, hb;
    std::memcpy(&ha, &a[i], 2);
    std::memcpy(&hb, &b[i], 2);
    c.max_diff = std::max(c.max_diff, std::fabs(double(__half2float(ha)) - double(__half2float(hb))));
  }
  return c;
}

// Different fill patterns in the two outputs before each pair, so an output a run did not write can
// never compare equal (0x0000 vs 0xFFFF, a NaN pattern).
void clear_outputs(void* y1, void* y4, size_t per_image) {
  CHECK_CUDA(cudaMemset(y1, 0x00, per_image * 2));
  CHECK_CUDA(cudaMemset(y4, 0xFF, per_image * 2 * kBatch));
}

int g_total = 0, g_equal = 0;

void report(const Layer& l, const char* path, const std::string& config, const char* note, const Compare* c,
            size_t per_image) {
  std::printf("| %s | %s | %s | %s |", l.name, path, config.c_str(), note);
  if (c) {
    ++g_total;
    g_equal += c->mismatches == 0;
    std::printf(" %s | %zu / %zu | %.3g |\n", c->mismatches == 0 ? "yes" : "no", c->mismatches, per_image,
                c->max_diff);
  } else {
    std::printf(" - | - | - |\n");
  }
}

void run_graph(cudnnHandle_t handle, const Layer& l, int oh, int ow, const void* w, const void* bias, const void* x1,
               const void* x4, void* y1, void* y4) {
  GraphConvShape s1{GraphConvDType::kHalfNhwc, 1, l.c, l.h, l.w, l.k, l.r, l.r, oh, ow, l.pad, l.pad, l.stride, l.stride};
  GraphConvShape s4 = s1;
  s4.n = kBatch;
  GraphPlanOptions opt;
  opt.workspace_limit = size_t(256) << 20;
  opt.max_plans = 5;
  std::string log;
  auto plans1 = build_graph_conv_plans(handle, s1, l.epilogue, opt, &log);
  if (plans1.empty()) report(l, "graph", "none at n=1", log.c_str(), nullptr, 0);
  const size_t per_image = size_t(oh) * ow * l.k;
  for (auto& p1 : plans1) {
    GraphPlanOptions o4 = opt;
    o4.preferred = {p1->key()};
    o4.max_plans_with_preferred = 1;
    std::string log4;
    auto plans4 = build_graph_conv_plans(handle, s4, l.epilogue, o4, &log4);
    if (plans4.empty() || plans4[0]->key() != p1->key()) {
      report(l, "graph", p1->key(), "not offered at n=4", nullptr, 0);
      continue;
    }
    DeviceMem ws(std::max(p1->workspace(), plans4[0]->workspace()));
    clear_outputs(y1, y4, per_image);
    const cudnnStatus_t a = p1->execute(handle, x1, w, y1, bias, nullptr, ws.p);
    const cudnnStatus_t b = plans4[0]->execute(handle, x4, w, y4, bias, nullptr, ws.p);
    CHECK_CUDA(cudaDeviceSynchronize());
    if (a != CUDNN_STATUS_SUCCESS || b != CUDNN_STATUS_SUCCESS) {
      report(l, "graph", p1->key(), "execute failed", nullptr, 0);
      continue;
    }
    const Compare c = compare(y1, y4, per_image);
    report(l, "graph", p1->key(), "same config at n=4", &c, per_image);
  }
}

// The engine's 1x1 stride-1 matmul (conv_cudnn.cpp, NHWC): column-major D (k x rows) =
// relu(W^T (c x k, op T) * X (c x rows) + bias), rows = n * h * w, float32 compute, fp16 data and bias.
void run_gemm(cublasLtHandle_t lt, cudaStream_t stream, const Layer& l, const void* w, const void* bias,
              const void* x1, const void* x4, void* y1, void* y4) {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F);
  const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
  cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta));
  cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb));
  const cublasLtEpilogue_t epi =
      l.epilogue == GraphEpilogue::kBias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_RELU_BIAS;
  cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi));
  cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias));
  const cudaDataType_t bt = CUDA_R_16F;
  cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof(bt));
  const uint64_t rows1 = uint64_t(l.h) * l.w, rows4 = rows1 * kBatch;
  cublasLtMatrixLayout_t a = nullptr, b1 = nullptr, d1 = nullptr, b4 = nullptr, d4 = nullptr;
  cublasLtMatrixLayoutCreate(&a, CUDA_R_16F, l.c, l.k, l.c);
  cublasLtMatrixLayoutCreate(&b1, CUDA_R_16F, l.c, rows1, l.c);
  cublasLtMatrixLayoutCreate(&d1, CUDA_R_16F, l.k, rows1, l.k);
  cublasLtMatrixLayoutCreate(&b4, CUDA_R_16F, l.c, rows4, l.c);
  cublasLtMatrixLayoutCreate(&d4, CUDA_R_16F, l.k, rows4, l.k);
  cublasLtMatmulPreference_t pref = nullptr;
  cublasLtMatmulPreferenceCreate(&pref);
  const size_t max_ws = size_t(32) << 20;
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &max_ws, sizeof(max_ws));
  cublasLtMatmulHeuristicResult_t res[8];
  int returned = 0;
  cublasLtMatmulAlgoGetHeuristic(lt, desc, a, b1, d1, d1, pref, 8, res, &returned);
  DeviceMem ws(max_ws);
  const float one = 1.f, zero = 0.f;
  const size_t per_image = rows1 * l.k;
  if (returned <= 0) report(l, "gemm", "none at n=1", "", nullptr, 0);
  for (int i = 0; i < returned; ++i) {
    int id = -1, tile = -1, splitk = -1, stages = -1;
    size_t got = 0;
    cublasLtMatmulAlgoConfigGetAttribute(&res[i].algo, CUBLASLT_ALGO_CONFIG_ID, &id, sizeof(id), &got);
    cublasLtMatmulAlgoConfigGetAttribute(&res[i].algo, CUBLASLT_ALGO_CONFIG_TILE_ID, &tile, sizeof(tile), &got);
    cublasLtMatmulAlgoConfigGetAttribute(&res[i].algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &splitk, sizeof(splitk), &got);
    cublasLtMatmulAlgoConfigGetAttribute(&res[i].algo, CUBLASLT_ALGO_CONFIG_STAGES_ID, &stages, sizeof(stages), &got);
    char cfg[96];
    std::snprintf(cfg, sizeof(cfg), "algo %d tile %d splitK %d stages %d ws %zu", id, tile, splitk, stages,
                  res[i].workspaceSize);
    cublasLtMatmulHeuristicResult_t check{};
    if (cublasLtMatmulAlgoCheck(lt, desc, a, b4, d4, d4, &res[i].algo, &check) != CUBLAS_STATUS_SUCCESS ||
        check.workspaceSize > max_ws) {
      report(l, "gemm", cfg, "not applicable at n=4", nullptr, 0);
      continue;
    }
    clear_outputs(y1, y4, per_image);
    const cublasStatus_t s1 = cublasLtMatmul(lt, desc, &one, w, a, x1, b1, &zero, y1, d1, y1, d1, &res[i].algo, ws.p,
                                             res[i].workspaceSize, stream);
    const cublasStatus_t s4 = cublasLtMatmul(lt, desc, &one, w, a, x4, b4, &zero, y4, d4, y4, d4, &res[i].algo, ws.p,
                                             check.workspaceSize, stream);
    CHECK_CUDA(cudaStreamSynchronize(stream));
    if (s1 != CUBLAS_STATUS_SUCCESS || s4 != CUBLAS_STATUS_SUCCESS) {
      report(l, "gemm", cfg, "matmul failed", nullptr, 0);
      continue;
    }
    const Compare c = compare(y1, y4, per_image);
    report(l, "gemm", cfg, "same algo at n=4", &c, per_image);
  }
  cublasLtMatmulPreferenceDestroy(pref);
  for (auto m : {a, b1, d1, b4, d4}) cublasLtMatrixLayoutDestroy(m);
  cublasLtMatmulDescDestroy(desc);
}

}  // namespace

int main(int argc, char** argv) {
  const int scale = argc > 1 ? std::max(1, std::atoi(argv[1])) : 1;
  int dev_count = 0;
  if (cudaGetDeviceCount(&dev_count) != cudaSuccess || dev_count == 0) {
    std::fprintf(stderr, "bench_batch_invariance: no CUDA device\n");
    return 1;
  }
  cudnnHandle_t handle = nullptr;
  cublasLtHandle_t lt = nullptr;
  cudaStream_t stream = nullptr;
  CHECK_CUDA(cudaStreamCreate(&stream));
  if (cudnnCreate(&handle) != CUDNN_STATUS_SUCCESS || cublasLtCreate(&lt) != CUBLAS_STATUS_SUCCESS) {
    std::fprintf(stderr, "bench_batch_invariance: cannot create cuDNN / cuBLASLt handles\n");
    return 1;
  }
  cudnnSetStream(handle, stream);
  // R50-FPN at 800x1088 (stem input channels padded 3 -> 8, as the engine stores them).
  const int H = 800 / scale, W = 1088 / scale;
  const Layer layers[] = {
      {"stem 7x7 s2", 8, 64, 7, 2, 3, H, W, GraphEpilogue::kBiasRelu},
      {"res2 conv1 1x1", 64, 64, 1, 1, 0, H / 4, W / 4, GraphEpilogue::kBiasRelu},
      {"res2 conv2 3x3", 64, 64, 3, 1, 1, H / 4, W / 4, GraphEpilogue::kBiasRelu},
      {"res2 conv3 1x1", 64, 256, 1, 1, 0, H / 4, W / 4, GraphEpilogue::kBias},
      {"res3 conv1 1x1 s2", 256, 128, 1, 2, 0, H / 4, W / 4, GraphEpilogue::kBiasRelu},
      {"res3 conv2 3x3", 128, 128, 3, 1, 1, H / 8, W / 8, GraphEpilogue::kBiasRelu},
      {"res3 shortcut 1x1 s2", 256, 512, 1, 2, 0, H / 4, W / 4, GraphEpilogue::kBias},
      {"res4 conv2 3x3", 256, 256, 3, 1, 1, H / 16, W / 16, GraphEpilogue::kBiasRelu},
      {"res5 conv1 1x1", 1024, 512, 1, 1, 0, H / 32, W / 32, GraphEpilogue::kBiasRelu},
      {"fpn output p2 3x3", 256, 256, 3, 1, 1, H / 4, W / 4, GraphEpilogue::kBias},
  };
  int dev = 0;
  cudaDeviceProp prop{};
  cudaGetDevice(&dev);
  cudaGetDeviceProperties(&prop, dev);
  std::printf("bench_batch_invariance: %s, cuDNN %zu, cuBLASLt %zu, input %dx%d, image %d of a batch of %d\n",
              prop.name, cudnnGetVersion(), cublasLtGetVersion(), H, W, kSlot, kBatch);
  std::printf("| layer | path | configuration | n=4 | bits equal | mismatching / elements | max abs diff |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  std::mt19937 rng(1234);
  for (const Layer& l : layers) {
    const int oh = (l.h + 2 * l.pad - l.r) / l.stride + 1, ow = (l.w + 2 * l.pad - l.r) / l.stride + 1;
    const size_t in1 = size_t(l.h) * l.w * l.c, out1 = size_t(oh) * ow * l.k;
    const auto w_host = random_halves(size_t(l.k) * l.r * l.r * l.c, rng, 1.f / std::sqrt(float(l.r * l.r * l.c)));
    const auto b_host = random_halves(l.k, rng, 0.1f);
    const auto img = random_halves(in1, rng, 1.f);
    auto batch = random_halves(in1 * kBatch, rng, 1.f);
    std::copy(img.begin(), img.end(), batch.begin() + kSlot * in1);
    DeviceMem w(w_host.size() * 2), bias(b_host.size() * 2), x1(in1 * 2), x4(in1 * kBatch * 2), y1(out1 * 2),
        y4(out1 * kBatch * 2);
    upload(w.p, w_host);
    upload(bias.p, b_host);
    upload(x1.p, img);
    upload(x4.p, batch);
    run_graph(handle, l, oh, ow, w.p, bias.p, x1.p, x4.p, y1.p, y4.p);
    if (l.r == 1 && l.stride == 1) run_gemm(lt, stream, l, w.p, bias.p, x1.p, x4.p, y1.p, y4.p);
  }
  std::printf("\n%d of %d configurations gave image %d the same bits at n=1 and n=%d\n", g_equal, g_total, kSlot,
              kBatch);
  cudnnDestroy(handle);
  cublasLtDestroy(lt);
  cudaStreamDestroy(stream);
  return 0;
}
#else
#include <cstdio>
int main() {
  std::fprintf(stderr, "bench_batch_invariance: built without the CUDA backend\n");
  return 1;
}
#endif
