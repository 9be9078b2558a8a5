#include "backend/cuda/conv_cudnn.h"

#include "backend/cuda/bit_compare.h"
#include "backend/cuda/conv_epilogue.h"
#include "backend/cuda/cudnn_graph_conv.h"
#include "backend/cuda/im2col.h"
#include "backend/cuda/launch_util.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <utility>
#include <vector>

#include "backend/cuda/cuda_check.h"
#include "core/check.h"

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace maskrt::cuda {

struct ConvCudnn::Plan {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  cudnnConvolutionFwdAlgo_t algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM;
  size_t workspace = 0;
  int n = 0, h = 0, w = 0, oh = 0, ow = 0;
  // The convolution as one cuBLASLt matmul (tf32 / fp16; see conv_cudnn.h) when it measured faster.
  bool gemm = false;
  bool im2col = false;    // the matmul reads a column matrix (K > 1, stride or padding), built first
  size_t col_bytes = 0;   // its size, at the start of the workspace (256-byte aligned)
  cublasLtMatrixLayout_t ga = nullptr, gb = nullptr, gd = nullptr;
  cublasLtMatmulAlgo_t galgo{};
  size_t gemm_workspace = 0;
  // The convolution as a cuDNN backend-API execution plan (fp16; see conv_cudnn.h) when it measured
  // fastest (or MASKRT_CONV_GRAPH=1). Fused plans include bias / shortcut / ReLU; conv-only plans are
  // followed by conv_epilogue.
  std::unique_ptr<GraphConvPlan> graph;
  // plan_pinned(): this n-image plan runs each image through the single-image plan (n calls), because
  // the single-image configuration is not offered at n or gave different bits at n.
  bool per_image = false;
  ~Plan() {
    if (x) cudnnDestroyTensorDescriptor(x);
    if (y) cudnnDestroyTensorDescriptor(y);
    if (conv) cudnnDestroyConvolutionDescriptor(conv);
    if (ga) cublasLtMatrixLayoutDestroy(ga);
    if (gb) cublasLtMatrixLayoutDestroy(gb);
    if (gd) cublasLtMatrixLayoutDestroy(gd);
  }
};

namespace {
cudnnDataType_t data_type(Precision p) { return p == Precision::kFP16 ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT; }
cudnnTensorFormat_t tensor_format(bool nhwc) { return nhwc ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW; }
cudnnMathType_t math_type(Precision p) { return p == Precision::kFP32 ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH; }

// plan()'s measurement scratch (input, output, workspace): freed on every path, exceptions included.
struct Scratch {
  void *x = nullptr, *y = nullptr, *ws = nullptr;
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() {
    if (x) cudaFree(x);
    if (y) cudaFree(y);
    if (ws) cudaFree(ws);
  }
};

// plan_pinned()'s check buffers (x, z: n images of input / shortcut; y_n, y_1: the outputs of the
// n-image plan and of n single-image runs; ws; count: count_differing_bytes' result): freed on every path.
struct PinCheckBuffers {
  void *x = nullptr, *z = nullptr, *y_n = nullptr, *y_1 = nullptr, *ws = nullptr, *count = nullptr;
  PinCheckBuffers() = default;
  PinCheckBuffers(const PinCheckBuffers&) = delete;
  PinCheckBuffers& operator=(const PinCheckBuffers&) = delete;
  ~PinCheckBuffers() {
    for (void* p : {x, z, y_n, y_1, ws, count})
      if (p) cudaFree(p);
  }
};

// Fills `count` elements at dst (fp16 when `half`, else float) with deterministic pseudo-random values
// u * 2^-e, u in [-2, 2), e in 0..11 (so outputs span many magnitudes, fp16 subnormals included, where
// two kernels could round or flush differently): a seeded xorshift pattern of kPinPatternLength
// elements (a prime, so it does not line up with image or row sizes; `offset` shifts it per buffer),
// uploaded once and then repeated by doubling device-to-device copies, so the check costs no host work
// per element (planning only; synchronous).
constexpr size_t kPinPatternLength = 1000003;
void fill_pin_check(void* dst, size_t count, bool half, size_t offset) {
  static const std::vector<float> pattern = [] {
    std::vector<float> v(kPinPatternLength + 4096);
    uint32_t s = 0x9e3779b9u;
    for (float& x : v) {
      s ^= s << 13;
      s ^= s >> 17;
      s ^= s << 5;
      x = std::ldexp(static_cast<float>(s >> 8) * (4.0f / 16777216.0f) - 2.0f, -static_cast<int>(s % 12));
    }
    return v;
  }();
  static const std::vector<uint16_t> pattern_half = to_half(pattern.data(), pattern.size());
  const size_t elem = half ? 2 : 4;
  const size_t first = std::min(count, kPinPatternLength);
  offset %= 4096;
  const void* src = half ? static_cast<const void*>(pattern_half.data() + offset)
                         : static_cast<const void*>(pattern.data() + offset);
  MASKRT_CUDA_CHECK(cudaMemcpy(dst, src, first * elem, cudaMemcpyHostToDevice));
  for (size_t done = first; done < count;) {
    const size_t n = std::min(done, count - done);
    MASKRT_CUDA_CHECK(cudaMemcpy(static_cast<char*>(dst) + done * elem, dst, n * elem, cudaMemcpyDeviceToDevice));
    done += n;
  }
}

// Backend-API candidates (see conv_cudnn.h): finalised execution plans per graph from heuristic mode
// A (the first graph tried; the second gets kGraphPlansSecond when the first gave any), with a
// remembered winner in mode A's list kGraphPlansRemembered in all (and the other graph not built),
// from the fallback list only when mode A gave none; at most kMaxGraphRuntimeCompiled compile kernels
// at finalisation (host time at planning). Winners remembered per layer signature: kGraphMemory.
constexpr int kGraphPlansModeA = 5;
constexpr int kGraphPlansSecond = 3;
constexpr int kGraphPlansRemembered = 3;
constexpr int kGraphPlansFallback = 4;
constexpr int kMaxGraphRuntimeCompiled = 2;
constexpr size_t kGraphMemory = 4;

// One measured candidate of a choice (a legacy algorithm, a matmul algorithm, an execution plan, a path).
struct Timed {
  float ms;
  size_t workspace;
};

// Frugal choice among measured candidates (ms >= 0; at least one): the smallest workspace among
// those within max(3 %, 0.003 ms) of the fastest, when it saves at least 4 MiB over the fastest's;
// else the fastest. Returns the index.
int frugal_pick(const std::vector<Timed>& c) {
  int best = -1;
  for (int i = 0; i < static_cast<int>(c.size()); ++i)
    if (c[i].ms >= 0.f && (best < 0 || c[i].ms < c[best].ms)) best = i;
  if (best < 0) return 0;
  const float limit = c[best].ms + std::max(0.03f * c[best].ms, 0.003f);
  int pick = best;
  for (int i = 0; i < static_cast<int>(c.size()); ++i) {
    if (c[i].ms < 0.f || c[i].ms > limit || c[i].workspace + (size_t(4) << 20) > c[best].workspace) continue;
    if (c[i].workspace < c[pick].workspace || (c[i].workspace == c[pick].workspace && c[i].ms < c[pick].ms))
      pick = i;
  }
  return pick;
}

// Host time of every plan() in the process (for MASKRT_CUDNN_LOG); returns the new total.
double add_planning_ms(double ms) {
  static std::mutex m;
  static double total = 0.0;
  std::lock_guard<std::mutex> lock(m);
  total += ms;
  return total;
}

// Graph winners per layer signature (precision, channels, kernel, stride, padding, epilogue), most
// recent first: which configuration plan_graph() finalises first for a new input size, or for
// another layer of the same signature. Process-wide (layers of several engines share it), guarded.
struct GraphWinner {
  bool fused;
  std::string key;  // GraphConvPlan::key()
};
struct GraphWinnerTable {
  std::mutex m;
  std::map<std::string, std::vector<GraphWinner>> table;
};
GraphWinnerTable& graph_winner_table() {
  static GraphWinnerTable t;
  return t;
}
std::vector<GraphWinner> graph_winners(const std::string& signature) {
  GraphWinnerTable& t = graph_winner_table();
  std::lock_guard<std::mutex> lock(t.m);
  auto it = t.table.find(signature);
  return it == t.table.end() ? std::vector<GraphWinner>{} : it->second;
}
void remember_graph_winner(const std::string& signature, const GraphWinner& win) {
  GraphWinnerTable& t = graph_winner_table();
  std::lock_guard<std::mutex> lock(t.m);
  std::vector<GraphWinner>& v = t.table[signature];
  v.erase(std::remove_if(v.begin(), v.end(),
                         [&](const GraphWinner& o) { return o.fused == win.fused && o.key == win.key; }),
          v.end());
  v.insert(v.begin(), win);
  if (v.size() > kGraphMemory) v.resize(kGraphMemory);
}

bool cudnn_log_enabled() {
  const char* log = std::getenv("MASKRT_CUDNN_LOG");
  return log && log[0] == '1';
}

// The two timing events of plan_gemm() / plan_graph(), destroyed on every path.
struct EventPair {
  cudaEvent_t e0 = nullptr, e1 = nullptr;
  EventPair() = default;
  EventPair(const EventPair&) = delete;
  EventPair& operator=(const EventPair&) = delete;
  ~EventPair() {
    if (e0) cudaEventDestroy(e0);
    if (e1) cudaEventDestroy(e1);
  }
};
}  // namespace

ConvCudnn::ConvCudnn(const ConvLayer& layer, Precision precision, ConvEpilogue epilogue, const std::string& name,
                     int in_channels_padded, Layout layout)
    : name_(name), precision_(precision), epilogue_(epilogue),
      nhwc_(precision == Precision::kFP16 || (precision == Precision::kTF32 && layout == Layout::kNHWC)) {
  MASKRT_ASSERT(layout == Layout::kNCHW || precision != Precision::kFP32, name, ": fp32 is NCHW only");
  const Tensor& w = layer.weight;  // (O, C/g, K, K)
  MASKRT_ASSERT(w.dim() == 4 && w.size(2) == w.size(3), name);
  MASKRT_ASSERT(layer.params.stride_h == layer.params.stride_w && layer.params.pad_h == layer.params.pad_w, name);
  out_c_ = static_cast<int>(w.size(0));
  groups_ = layer.params.groups;
  in_c_ = static_cast<int>(w.size(1)) * groups_;
  kernel_ = static_cast<int>(w.size(2));
  stride_ = layer.params.stride_h;
  pad_ = layer.params.pad_h;
  in_c_padded_ = std::max(in_c_, in_channels_padded);
  MASKRT_ASSERT(in_c_padded_ == in_c_ || (groups_ == 1 && nhwc_), name);
  const int cpg = in_c_padded_ / groups_;  // input channels per group (padded)
  const int K = kernel_;
  try {
    MASKRT_CUDA_CHECK(cudnnCreateFilterDescriptor(&filter_desc_));
    MASKRT_CUDA_CHECK(cudnnCreateTensorDescriptor(&bias_desc_));
    MASKRT_CUDA_CHECK(cudnnCreateActivationDescriptor(&relu_desc_));
    MASKRT_CUDA_CHECK(cudnnSetActivationDescriptor(relu_desc_, CUDNN_ACTIVATION_RELU, CUDNN_PROPAGATE_NAN, 0.0));
    MASKRT_CUDA_CHECK(cudnnSetFilter4dDescriptor(filter_desc_, data_type(precision), tensor_format(nhwc_), out_c_,
                                                 cpg, K, K));
    MASKRT_CUDA_CHECK(cudnnSetTensor4dDescriptor(bias_desc_, tensor_format(nhwc_), data_type(precision), 1, out_c_,
                                                 1, 1));
  } catch (...) {
    release();
    throw;
  }
  const int src_cpg = in_c_ / groups_;
  if (nhwc_) {
    // KRSC: (O, K, K, C/g padded), zero-filled padding channels (fp16; tf32 NHWC: float32).
    std::vector<float> krsc(static_cast<size_t>(out_c_) * K * K * cpg, 0.f);
    for (int o = 0; o < out_c_; ++o)
      for (int c = 0; c < src_cpg; ++c)
        for (int ky = 0; ky < K; ++ky)
          for (int kx = 0; kx < K; ++kx)
            krsc[((static_cast<size_t>(o) * K + ky) * K + kx) * cpg + c] =
                w[((static_cast<int64_t>(o) * src_cpg + c) * K + ky) * K + kx];
    if (precision != Precision::kFP16) {  // tf32 NHWC: float32 KRSC, float32 bias
      weight_ = DeviceBuffer::upload(krsc, name + ".weight");
      bias_ = DeviceBuffer::upload(layer.bias.data(), out_c_ * sizeof(float), name + ".bias");
    } else {
      weight_ = DeviceBuffer::upload(to_half(krsc.data(), krsc.size()), name + ".weight");
      bias_ = DeviceBuffer::upload(to_half(layer.bias.data(), out_c_), name + ".bias");
      bias_f32_ = DeviceBuffer::upload(layer.bias.data(), out_c_ * sizeof(float), name + ".bias (fp32 epilogue)");
    }
  } else {
    weight_ = DeviceBuffer::upload(w.data(), w.numel() * sizeof(float), name + ".weight");
    bias_ = DeviceBuffer::upload(layer.bias.data(), out_c_ * sizeof(float), name + ".bias");
  }
  const char* gemm_env = std::getenv("MASKRT_CONV_GEMM");
  if (precision != Precision::kFP32 && groups_ == 1 && !(gemm_env && gemm_env[0] == '0')) {
    force_gemm_ = gemm_env && gemm_env[0] == '1';
    const char* graph_env = std::getenv("MASKRT_CONV_GRAPH");  // tf32 / fp16 (never kFP32)
    graph_mode_ = !graph_env || !graph_env[0] ? GraphMode::kAuto
                  : graph_env[0] == '0'        ? GraphMode::kOff
                  : graph_env[0] == '1'        ? GraphMode::kForce
                                               : GraphMode::kAuto;
    // tf32 graph plans: on by default since session 5 (2026-11-29). They once ended in
    // cudaErrorIllegalAddress whenever a conv-only plan won (forward() ran the fp16 epilogue with the
    // fp16-only bias_f32_, null for tf32; fixed in 7d3faa2); on the H200 the forced tf32 graph test and
    // the tf32 end-to-end parity tests then passed, and tf32 batch-16 throughput rose 169 -> 189
    // images/s. MASKRT_CONV_GRAPH_TF32=0 turns them off.
    const char* tf32_env = std::getenv("MASKRT_CONV_GRAPH_TF32");
    if (precision == Precision::kTF32 && tf32_env && tf32_env[0] == '0') graph_mode_ = GraphMode::kOff;
    try {
      create_gemm_desc();
    } catch (...) {
      release();
      throw;
    }
  }
}

void ConvCudnn::create_gemm_desc() {
  // fp16 NHWC: y (rows = n*h*w, out) = x (rows, in) W^T, bias and ReLU in cuBLASLt's epilogue, the
  //   shortcut z as C with beta = 1: D = relu(W^T x + z + b) in column-major terms (D: out x rows).
  // tf32 NHWC (MASKRT_TF32_NHWC=1): the same in float32 (TF32 tensor cores), bias float32.
  // tf32 NCHW: per image y_i (out, hw) = W (out, in) x_i (in, hw), i.e. column-major D (hw x out) =
  //   x_i (hw x in) * W^T-as-stored (in x out); the bias is per column there, so conv_epilogue follows.
  const bool half = precision_ == Precision::kFP16;
  const cublasComputeType_t compute = half ? CUBLAS_COMPUTE_32F : CUBLAS_COMPUTE_32F_FAST_TF32;
  MASKRT_CUDA_CHECK(cublasLtMatmulDescCreate(&gemm_desc_, compute, CUDA_R_32F));
  const cublasOperation_t ta = nhwc_ ? CUBLAS_OP_T : CUBLAS_OP_N, tb = CUBLAS_OP_N;
  MASKRT_CUDA_CHECK(cublasLtMatmulDescSetAttribute(gemm_desc_, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)));
  MASKRT_CUDA_CHECK(cublasLtMatmulDescSetAttribute(gemm_desc_, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)));
  if (nhwc_) {
    const cublasLtEpilogue_t epi = epilogue_ == ConvEpilogue::kBias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_RELU_BIAS;
    MASKRT_CUDA_CHECK(cublasLtMatmulDescSetAttribute(gemm_desc_, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi)));
    const void* bias_ptr = bias_.get();
    MASKRT_CUDA_CHECK(
        cublasLtMatmulDescSetAttribute(gemm_desc_, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias_ptr, sizeof(bias_ptr)));
    const cudaDataType_t bias_type = half ? CUDA_R_16F : CUDA_R_32F;
    MASKRT_CUDA_CHECK(
        cublasLtMatmulDescSetAttribute(gemm_desc_, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type, sizeof(bias_type)));
  }
}

void ConvCudnn::release() noexcept {
  plans_.clear();
  if (gemm_desc_) cublasLtMatmulDescDestroy(gemm_desc_);
  gemm_desc_ = nullptr;
  if (filter_desc_) cudnnDestroyFilterDescriptor(filter_desc_);
  if (bias_desc_) cudnnDestroyTensorDescriptor(bias_desc_);
  if (relu_desc_) cudnnDestroyActivationDescriptor(relu_desc_);
  filter_desc_ = nullptr;
  bias_desc_ = nullptr;
  relu_desc_ = nullptr;
}

ConvCudnn::ConvCudnn() = default;
ConvCudnn::~ConvCudnn() { release(); }

ConvCudnn::ConvCudnn(ConvCudnn&& o) noexcept { *this = std::move(o); }

ConvCudnn& ConvCudnn::operator=(ConvCudnn&& o) noexcept {
  if (this != &o) {
    release();
    name_ = std::move(o.name_);
    precision_ = o.precision_;
    epilogue_ = o.epilogue_;
    nhwc_ = o.nhwc_;
    in_c_ = o.in_c_;
    in_c_padded_ = o.in_c_padded_;
    out_c_ = o.out_c_;
    kernel_ = o.kernel_;
    stride_ = o.stride_;
    pad_ = o.pad_;
    groups_ = o.groups_;
    fused_ok_ = o.fused_ok_;
    force_gemm_ = o.force_gemm_;
    graph_mode_ = o.graph_mode_;
    weight_ = std::move(o.weight_);
    bias_ = std::move(o.bias_);
    bias_f32_ = std::move(o.bias_f32_);
    filter_desc_ = std::exchange(o.filter_desc_, nullptr);
    gemm_desc_ = std::exchange(o.gemm_desc_, nullptr);
    bias_desc_ = std::exchange(o.bias_desc_, nullptr);
    relu_desc_ = std::exchange(o.relu_desc_, nullptr);
    plans_ = std::move(o.plans_);
  }
  return *this;
}

size_t ConvCudnn::max_workspace_bytes(Precision precision) {
  static const long env_mb = [] {
    const char* env = std::getenv("MASKRT_CONV_WORKSPACE_MB");
    return env && env[0] ? std::strtol(env, nullptr, 10) : 0L;
  }();
  if (env_mb > 0) return size_t(env_mb) << 20;
  return precision == Precision::kFP16 ? kMaxWorkspaceBytes : kMaxWorkspaceBytesFloat;
}

std::unique_ptr<ConvCudnn::Plan> ConvCudnn::new_plan(int n, int h, int w) const {
  auto p = std::make_unique<Plan>();
  p->n = n;
  p->h = h;
  p->w = w;
  p->oh = out_size(h);
  p->ow = out_size(w);
  MASKRT_CHECK(p->oh >= 1 && p->ow >= 1, ErrorCode::kInvalidArgument, name_, ": input ", h, "x", w,
               " is too small for a ", kernel_, "x", kernel_, " stride-", stride_, " convolution");
  const cudnnDataType_t dt = data_type(precision_);
  const cudnnTensorFormat_t fmt = tensor_format(nhwc_);
  MASKRT_CUDA_CHECK(cudnnCreateTensorDescriptor(&p->x));
  MASKRT_CUDA_CHECK(cudnnCreateTensorDescriptor(&p->y));
  MASKRT_CUDA_CHECK(cudnnCreateConvolutionDescriptor(&p->conv));
  MASKRT_CUDA_CHECK(cudnnSetTensor4dDescriptor(p->x, fmt, dt, n, in_c_padded_, h, w));
  MASKRT_CUDA_CHECK(cudnnSetTensor4dDescriptor(p->y, fmt, dt, n, out_c_, p->oh, p->ow));
  // Compute type float in every mode (fp16: PSEUDO_HALF_CONFIG, float32 accumulation).
  MASKRT_CUDA_CHECK(cudnnSetConvolution2dDescriptor(p->conv, pad_, pad_, stride_, stride_, 1, 1,
                                                    CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  MASKRT_CUDA_CHECK(cudnnSetConvolutionGroupCount(p->conv, groups_));
  MASKRT_CUDA_CHECK(cudnnSetConvolutionMathType(p->conv, math_type(precision_)));
  int oh = 0, ow = 0, on = 0, oc = 0;
  MASKRT_CUDA_CHECK(cudnnGetConvolution2dForwardOutputDim(p->conv, p->x, filter_desc_, &on, &oc, &oh, &ow));
  MASKRT_ASSERT(on == n && oc == out_c_ && oh == p->oh && ow == p->ow, name_);
  return p;
}

size_t ConvCudnn::plan_pinned(const CudaContext& ctx, int n, int h, int w) {
  if (n <= 1) return plan(ctx, n, h, w);
  const auto key = std::make_tuple(n, h, w);
  if (auto it = plans_.find(key); it != plans_.end()) return it->second->workspace;
  plan(ctx, 1, h, w);  // the reference: measured as usual (a no-op when already planned)
  const Plan& ref = *plans_.at(std::make_tuple(1, h, w));
  // The check runs the single-image plan on each image's slice of the n-image buffers, and the
  // image-by-image path below runs it there too: both need every slice 16-byte aligned as the
  // single-image plan's arena buffers are (always so for the channel counts ResNet-FPN uses; not,
  // e.g., tf32 NCHW objectness_logits with 3 channels, where cuBLASLt may refuse the pointers or cuDNN
  // take other kernels). Otherwise plan() at n, which may give different bits (logged).
  const size_t elem = dtype_size(dtype());
  const size_t x_image = elem * static_cast<size_t>(in_c_padded_) * h * w;
  const size_t y_image = elem * static_cast<size_t>(out_c_) * out_size(h) * out_size(w);
  const bool slices_aligned = x_image % 16 == 0 && y_image % 16 == 0;
  if (!slices_aligned) {
    if (cudnn_log_enabled())
      std::fprintf(stderr, "maskrt: cudnn plan %s in (%d,%d,%d,%d): cannot take the n=1 configuration (%s): image "
                   "slices not 16-byte aligned\n", name_.c_str(), n, in_c_padded_, h, w, path_name(ref));
    return plan(ctx, n, h, w);
  }
  // The bit check on the n-image plan in plans_[key]; a throw must not leave that unchecked plan behind
  // for the next plan_pinned() to return.
  auto check_bits = [&](std::string* why) {
    try {
      return pinned_bits_equal(ctx, n, h, w, why);
    } catch (...) {
      plans_.erase(key);
      throw;
    }
  };
  // First the plan n would get unpinned (plan(): measured at n, the fastest there; what
  // MASKRT_BACKBONE_BATCH_PIN=0 runs): kept when it gives every image its single-image bits on the same
  // check. Other kernels than the n=1 plan's can still give equal bits (the same reduction order along
  // K); where they do not, the check sees it on the seeded pattern as it does for the pinned plan.
  bool own_planned = true;
  try {
    plan(ctx, n, h, w);  // counts its own planning time
  } catch (const Error& e) {  // e.g. no algorithm at n: the steps below may still serve the group
    cudaGetLastError();
    own_planned = false;
    if (cudnn_log_enabled())
      std::fprintf(stderr, "maskrt: cudnn plan %s in (%d,%d,%d,%d): no own n-image plan (%s)\n", name_.c_str(), n,
                   in_c_padded_, h, w, e.what());
  }
  if (own_planned) {
    const auto t_check = std::chrono::steady_clock::now();
    std::string own_why;
    const bool same = check_bits(&own_why);
    add_planning_ms(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_check).count());
    const Plan& own = *plans_.at(key);
    if (cudnn_log_enabled())
      std::fprintf(stderr, "maskrt: cudnn plan %s in (%d,%d,%d,%d): %s its own n-image plan (%s)%s%s\n",
                   name_.c_str(), n, in_c_padded_, h, w, same ? "keeps" : "drops", path_name(own),
                   same ? ": the same bits as the n=1 configuration" : ": ", same ? "" : own_why.c_str());
    if (same) return own.workspace;
    plans_.erase(key);
  }
  const auto t_start = std::chrono::steady_clock::now();
  auto p = new_plan(n, h, w);
  // A group's workspace and column matrix may be n times a single image's (the reference's choice was
  // made under the single-image caps; its column matrix and most workspaces grow with n), so the caps
  // are n times plan()'s too: otherwise im2col layers would always fall back.
  const size_t cap = max_workspace_bytes(precision_) * static_cast<size_t>(n);
  std::string why;
  bool ok = false;
  if (ref.graph) {
    // At most the cap per image, as plan()'s graph cap. Preferred configurations are looked up in
    // heuristic mode A only, so a reference taken from the fallback list ("F#" labels) is not found
    // here and the layer falls back to plan().
    GraphPlanOptions o;
    o.workspace_limit = cap;
    o.max_plans = 0;  // nothing but the reference (max_plans_with_preferred applies when it is listed)
    o.max_plans_with_preferred = 1;
    o.max_fallback_plans = 0;
    o.max_runtime_compiled = kMaxGraphRuntimeCompiled;
    o.preferred = {ref.graph->key()};
    auto built = build_graph_conv_plans(ctx.cudnn(), graph_shape(*p), ref.graph->epilogue(), o, &why);
    cudaGetLastError();  // as plan_graph: finalisation must not leave an error behind
    if (!built.empty() && built.front()->key() == ref.graph->key()) {
      p->graph = std::move(built.front());
      p->workspace = p->graph->workspace();
      ok = true;
    } else {
      why += "; " + ref.graph->key() + " not offered";
    }
  } else if (ref.gemm) {
    p->gemm_workspace = kNoGemm;
    cublasLtMatmulHeuristicResult_t check{};
    if (gemm_layouts(*p, std::min(kMaxIm2colBytes, max_workspace_bytes(precision_)) * static_cast<size_t>(n)) &&
        cublasLtMatmulAlgoCheck(ctx.cublaslt(), gemm_desc_, p->ga, p->gb, p->gd, p->gd, &ref.galgo, &check) ==
            CUBLAS_STATUS_SUCCESS &&
        check.workspaceSize <= kMaxGemmWorkspaceBytes && p->col_bytes + check.workspaceSize <= cap) {
      p->gemm = true;
      p->galgo = ref.galgo;
      p->gemm_workspace = check.workspaceSize;
      p->workspace = p->col_bytes + p->gemm_workspace;
      ok = true;
    } else {
      why = "the matmul algorithm does not apply at this size";
    }
  } else {
    size_t ws = 0;
    p->algo = ref.algo;
    if (cudnnGetConvolutionForwardWorkspaceSize(ctx.cudnn(), p->x, filter_desc_, p->conv, p->y, p->algo, &ws) ==
            CUDNN_STATUS_SUCCESS &&
        ws <= cap) {
      p->workspace = ws;
      ok = true;
    } else {
      why = "the legacy algorithm does not apply at this size";
    }
  }
  // The same configuration is not always batch-invariant (bench_batch_invariance, H200 session 10: 12
  // of 195 fp16 configurations, e.g. some eng41 / eng62 tilings and legacy algo 1 at res3 3x3, gave
  // an image different bits at n = 4), so the pinned plan is run once on seeded data against n
  // single-image runs and kept only when every image's output bytes are equal.
  const char* outcome = "pinned to";
  if (ok) {
    const auto it = plans_.emplace(key, std::move(p)).first;
    ok = check_bits(&why);
    p = std::move(it->second);
    plans_.erase(it);
  }
  // Otherwise the group runs each image through the single-image plan (n calls): equal bits by
  // construction, at single-image speed for this layer.
  if (!ok) {
    auto q = new_plan(n, h, w);
    q->per_image = true;
    q->workspace = ref.workspace;
    p = std::move(q);
    outcome = "runs each image with";
  }
  add_planning_ms(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_start).count());
  if (cudnn_log_enabled())
    std::fprintf(stderr, "maskrt: cudnn plan %s in (%d,%d,%d,%d): %s the n=1 configuration (%s)%s%s\n",
                 name_.c_str(), n, in_c_padded_, h, w, outcome, path_name(ref), why.empty() ? "" : ": ",
                 why.c_str());
  const size_t ws = p->workspace;
  plans_.emplace(key, std::move(p));
  return ws;
}

bool ConvCudnn::pinned_bits_equal(const CudaContext& ctx, int n, int h, int w, std::string* why) {
  Plan& pn = *plans_.at(std::make_tuple(n, h, w));
  const Plan& p1 = *plans_.at(std::make_tuple(1, h, w));
  const bool half = precision_ == Precision::kFP16;
  DeviceTensor x{nullptr, n, in_c_padded_, h, w, dtype(), layout()};
  DeviceTensor y{nullptr, n, out_c_, pn.oh, pn.ow, dtype(), layout()};
  const bool with_z = epilogue_ == ConvEpilogue::kBiasAddRelu;
  const size_t ws_bytes = std::max<size_t>({pn.workspace, p1.workspace, 256});
  PinCheckBuffers b;
  if (cudaMalloc(&b.x, x.bytes()) != cudaSuccess || cudaMalloc(&b.y_n, y.bytes()) != cudaSuccess ||
      cudaMalloc(&b.y_1, y.bytes()) != cudaSuccess || cudaMalloc(&b.ws, ws_bytes) != cudaSuccess ||
      cudaMalloc(&b.count, sizeof(unsigned long long)) != cudaSuccess ||
      (with_z && cudaMalloc(&b.z, y.bytes()) != cudaSuccess)) {
    cudaGetLastError();
    *why += (why->empty() ? "" : "; ") + std::string("no device memory to compare the bits at n");
    return false;
  }
  // Padded input channels (if any) hold pattern values too: both runs read the same bytes.
  fill_pin_check(b.x, static_cast<size_t>(x.numel()), half, 0);
  if (with_z) fill_pin_check(b.z, static_cast<size_t>(y.numel()), half, 1234);
  // Device-to-device cudaMemcpy may return before it lands, and ctx's stream need not order with the
  // legacy stream: wait for the fills before the convolutions read them.
  MASKRT_CUDA_CHECK(cudaDeviceSynchronize());
  x.ptr = b.x;
  DeviceTensor yn = y, y1 = y, z = y;
  yn.ptr = b.y_n;
  y1.ptr = b.y_1;
  z.ptr = b.z;
  forward(ctx, x, yn, with_z ? &z : nullptr, b.ws, ws_bytes);
  forward_each_image(ctx, x, y1, with_z ? &z : nullptr, b.ws, ws_bytes);
  // Compared on the device (session 10's host download and memcmp of both outputs cost most of the
  // check's time: tf32 engine creation 2.0 -> 6.9 s with groups of 4 on the H200).
  auto* count = static_cast<unsigned long long*>(b.count);
  count_differing_bytes(b.y_n, b.y_1, y.bytes(), count, ctx.stream());
  unsigned long long differ = 0;
  MASKRT_CUDA_CHECK(cudaMemcpyAsync(&differ, count, sizeof(differ), cudaMemcpyDeviceToHost, ctx.stream()));
  MASKRT_CUDA_CHECK(cudaStreamSynchronize(ctx.stream()));
  if (differ == 0) return true;
  *why += (why->empty() ? "" : "; ") + std::string("the configuration gives different bits at n (") +
          std::to_string(differ) + " of " + std::to_string(y.bytes()) + " output bytes)";
  return false;
}

size_t ConvCudnn::plan(const CudaContext& ctx, int n, int h, int w) {
  const auto key = std::make_tuple(n, h, w);
  auto it = plans_.find(key);
  if (it != plans_.end()) return it->second->workspace;
  const auto t_start = std::chrono::steady_clock::now();
  auto p = new_plan(n, h, w);
  const size_t cap = max_workspace_bytes(precision_);
  // Graph plans may use more than the cap (tf32's tensor-core engines transpose the input and the
  // output in their workspace, so a flat cap would exclude them at batch 16; batch 1: the same cap).
  // tf32 NCHW: only channel counts that are multiples of 8 (as verified on the H200; the stem's 3 input
  // channels and odd head widths stay on the legacy and matmul paths). tf32 NHWC: stored channel
  // counts that are multiples of 4 (16-byte pixels; the stem's input is padded to 4), verified on
  // the H200 in session 7 (Tf32NhwcConv tests, stem at 4 channels included).
  const bool tf32_channels_ok = nhwc_ ? in_c_padded_ % 4 == 0 && out_c_ % 4 == 0 : in_c_ % 8 == 0 && out_c_ % 8 == 0;
  const bool may_graph = precision_ != Precision::kFP32 && groups_ == 1 && graph_mode_ != GraphMode::kOff &&
                         (graph_mode_ == GraphMode::kForce || kernel_ > 1 || stride_ > 1) &&
                         (precision_ != Precision::kTF32 || tf32_channels_ok);
  // Graph cap: the cap plus the layer's input and output bytes (what tf32's transposing engines need),
  // at most the cap per image. Not cap * n alone: for head convs n is the ROI count (100 mask ROIs ->
  // 6.4 GiB of measurement scratch per layer in fp16; reviewer's note).
  const size_t elem_bytes = precision_ == Precision::kFP16 ? 2 : 4;
  const size_t x_bytes = elem_bytes * static_cast<size_t>(n) * in_c_padded_ * h * w;
  const size_t y_bytes = elem_bytes * static_cast<size_t>(n) * out_c_ * p->oh * p->ow;
  const size_t graph_cap =
      may_graph ? std::max(cap, std::min(cap * static_cast<size_t>(std::max(n, 1)), cap + x_bytes + y_bytes)) : cap;

  cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  int returned = 0;
  bool found = false;
  float cudnn_ms = -1.f;  // measured time of the chosen cuDNN candidate (< 0: not measured)
  // Takes perf[] entries that succeeded, fit the cap and honour the math mode; when measured, the
  // smallest workspace among those within the tolerance of the fastest (frugal_pick), else the first.
  auto pick = [&](bool measured) {
    std::vector<Timed> timed;
    std::vector<int> idx;
    for (int i = 0; i < returned; ++i) {
      if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].memory > cap) continue;
      if (precision_ == Precision::kFP32 && perf[i].mathType != CUDNN_FMA_MATH &&
          perf[i].mathType != CUDNN_DEFAULT_MATH)
        continue;
      // Re-query the size for the math type actually set (the heuristic may report another one).
      size_t ws = 0;
      if (cudnnGetConvolutionForwardWorkspaceSize(ctx.cudnn(), p->x, filter_desc_, p->conv, p->y, perf[i].algo,
                                                  &ws) != CUDNN_STATUS_SUCCESS || ws > cap)
        continue;
      const size_t need = measured ? std::max(ws, perf[i].memory) : ws;
      timed.push_back({measured ? perf[i].time : 0.f, need});
      idx.push_back(i);
      if (!measured) break;
    }
    if (idx.empty()) return;
    const int k = measured ? frugal_pick(timed) : 0;
    p->algo = perf[idx[k]].algo;
    p->workspace = timed[k].workspace;
    if (measured) cudnn_ms = perf[idx[k]].time;
    found = true;
  };
  // Measured choice (cudnnFind, on scratch buffers allocated here: planning is outside the steady
  // state; the workspace scratch is the cap, or the graph cap when graph plans are tried, and Find and
  // the matmul see at most the cap); MASKRT_CUDNN_FIND=0 or a failed scratch allocation selects the
  // heuristic instead.
  const char* env = std::getenv("MASKRT_CUDNN_FIND");
  Scratch scratch;
  size_t ws_limit = graph_cap;
  if (!(env && env[0] == '0')) {
    bool ok = cudaMalloc(&scratch.x, x_bytes) == cudaSuccess && cudaMalloc(&scratch.y, y_bytes) == cudaSuccess;
    while (ok && cudaMalloc(&scratch.ws, ws_limit) != cudaSuccess && ws_limit > (size_t(1) << 20)) {
      cudaGetLastError();
      scratch.ws = nullptr;
      ws_limit /= 4;
    }
    ok = ok && scratch.ws != nullptr;
    if (ok && cudnnFindConvolutionForwardAlgorithmEx(ctx.cudnn(), p->x, scratch.x, filter_desc_, weight_.get(),
                                                     p->conv, p->y, scratch.y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT,
                                                     &returned, perf, scratch.ws, std::min(ws_limit, cap)) ==
                  CUDNN_STATUS_SUCCESS)
      pick(true);
    cudaGetLastError();
  }
  if (!found) {
    MASKRT_CUDA_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(ctx.cudnn(), p->x, filter_desc_, p->conv, p->y,
                                                             CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned, perf));
    pick(false);
  }
  const size_t legacy_ws = found ? p->workspace : 0;
  const bool have_scratch = scratch.x && scratch.y && scratch.ws;
  // conv_epilogue's time alone (tf32 / fp16: the legacy path, the tf32 matmul and conv-only graphs
  // pay it), so that every path is compared as forward() runs it.
  float epi_ms = -1.f;
  if (precision_ != Precision::kFP32 && have_scratch) epi_ms = time_epilogue(ctx, *p, scratch.y);
  const float epi = std::max(epi_ms, 0.f);
  float gemm_ms = -1.f;
  bool gemm_ok = false;  // the matmul path exists (measured or not)
  if (gemm_desc_) {
    gemm_ms = plan_gemm(ctx, *p, have_scratch ? scratch.x : nullptr, scratch.y, scratch.ws, std::min(ws_limit, cap));
    gemm_ok = p->gemm_workspace != kNoGemm;
  }
  // cuDNN backend-API candidates (tf32 / fp16, groups 1; auto: layers the plain matmul cannot run,
  // i.e. kernel > 1 or stride > 1, see conv_cudnn.h), timed on the same scratch buffers against the
  // path chosen so far. MASKRT_CONV_GEMM=1 keeps its forced matmul unless MASKRT_CONV_GRAPH=1 forces
  // the graph.
  const bool forced_graph = graph_mode_ == GraphMode::kForce;
  const bool try_graph = may_graph && (forced_graph || !(force_gemm_ && gemm_ok));
  // The path chosen so far, as forward() pays it (< 0: not measured): the bar for the graph candidates.
  float legacy_total = found && cudnn_ms >= 0.f ? cudnn_ms + (precision_ == Precision::kFP32 ? 0.f : epi) : -1.f;
  float gemm_total =
      gemm_ok && gemm_ms >= 0.f ? gemm_ms + (nhwc_ ? 0.f : epi) : -1.f;
  float current_ms = legacy_total;
  if (gemm_total >= 0.f && (current_ms < 0.f || gemm_total < current_ms)) current_ms = gemm_total;
  float graph_ms = -1.f;
  double graph_host_ms = 0.0;
  std::string graph_log;
  if (try_graph) {
    const auto t0 = std::chrono::steady_clock::now();
    graph_ms = plan_graph(ctx, *p, have_scratch ? scratch.x : nullptr, scratch.y, scratch.ws, ws_limit, graph_cap,
                          forced_graph ? -1.f : current_ms, &graph_log);
    graph_host_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  }
  // The choice. Forced paths first (tests), then, when the legacy algorithm was measured (or none
  // exists), the frugal pick among the measured paths; else the rules without measurements (the
  // plain 1x1 matmul over a heuristic cuDNN algorithm; the graph only when nothing else exists).
  enum { kLegacy, kGemm, kGraph } path = kLegacy;
  if (forced_graph && p->graph) {
    path = kGraph;
  } else if (force_gemm_ && gemm_ok) {
    path = kGemm;
  } else if (found && cudnn_ms < 0.f) {
    path = gemm_ok && !p->im2col ? kGemm : kLegacy;
  } else {
    std::vector<Timed> cands;
    std::vector<int> which;
    auto add = [&](int w, float ms, size_t ws) {
      if (ms < 0.f) return;
      cands.push_back({ms, ws});
      which.push_back(w);
    };
    if (found) add(kLegacy, legacy_total, legacy_ws);
    if (gemm_ok) add(kGemm, gemm_total, p->col_bytes + p->gemm_workspace);
    if (p->graph) add(kGraph, graph_ms, p->graph->workspace());
    if (!cands.empty()) path = static_cast<decltype(path)>(which[frugal_pick(cands)]);
    else if (!found && gemm_ok) path = kGemm;
    else if (!found && p->graph) path = kGraph;
  }
  found = found || path != kLegacy;
  p->gemm = path == kGemm;
  if (path == kGemm) p->workspace = p->col_bytes + p->gemm_workspace;
  if (path == kGraph) p->workspace = p->graph->workspace();
  else p->graph.reset();
  MASKRT_CHECK(found, ErrorCode::kDevice, name_, ": cuDNN offers no forward algorithm for input (", n, ", ",
               in_c_padded_, ", ", h, ", ", w, ")");
  const double plan_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_start).count();
  const double cum_ms = add_planning_ms(plan_ms);
  if (cudnn_log_enabled()) {
    // Planning diagnostics: the candidates cuDNN returned (measured or heuristic), the graph candidates
    // (one more line) and the choice.
    std::fprintf(stderr,
                 "maskrt: cudnn plan %s k%d s%d g%d in (%d,%d,%d,%d) out %d: %s algo %d ws %zu; legacy %.3fms ws "
                 "%zu, gemm %.3fms, graph %.3fms, epilogue %.3fms; planning %.1f ms host (graph %.1f), all layers "
                 "%.0f ms |",
                 name_.c_str(), kernel_, stride_, groups_, n, in_c_padded_, h, w, out_c_, path_name(*p),
                 static_cast<int>(p->algo), p->workspace, legacy_total, legacy_ws, gemm_total, graph_ms, epi_ms,
                 plan_ms, graph_host_ms, cum_ms);
    for (int i = 0; i < returned; ++i)
      std::fprintf(stderr, " [a%d st%d m%d %.3fms %zuB]", static_cast<int>(perf[i].algo), static_cast<int>(perf[i].status),
                   static_cast<int>(perf[i].mathType), perf[i].time, perf[i].memory);
    std::fprintf(stderr, "\n");
    if (try_graph)
      std::fprintf(stderr, "maskrt: cudnn graph %s in (%d,%d,%d,%d): %s -> %s\n", name_.c_str(), n, in_c_padded_, h, w,
                   graph_log.c_str(), path == kGraph ? "graph" : "kept");
  }
  const size_t ws = p->workspace;
  plans_.emplace(key, std::move(p));
  return ws;
}

void ConvCudnn::run_epilogue(void* y, const void* z, int n, int64_t hw, cudaStream_t stream) const {
  const bool half = precision_ == Precision::kFP16;
  if (nhwc_ && !half) {  // tf32 NHWC
    conv_epilogue_nhwc_float(static_cast<float*>(y), static_cast<const float*>(z), static_cast<const float*>(bias_.get()),
                             n, out_c_, hw, epilogue_ != ConvEpilogue::kBias, stream);
    return;
  }
  conv_epilogue(half, y, z, static_cast<const float*>(half ? bias_f32_.get() : bias_.get()), n, out_c_, hw,
                epilogue_ != ConvEpilogue::kBias, stream);
}

float ConvCudnn::time_epilogue(const CudaContext& ctx, const Plan& p, void* dy) const {
  // The shortcut's traffic is what matters for timing: y itself stands in for z.
  const void* z = epilogue_ == ConvEpilogue::kBiasAddRelu ? dy : nullptr;
  EventPair ev;
  MASKRT_CUDA_CHECK(cudaEventCreate(&ev.e0));
  MASKRT_CUDA_CHECK(cudaEventCreate(&ev.e1));
  auto run = [&] { run_epilogue(dy, z, p.n, int64_t{p.oh} * p.ow, ctx.stream()); };
  run();
  cudaEventRecord(ev.e0, ctx.stream());
  constexpr int kReps = 2;
  for (int r = 0; r < kReps; ++r) run();
  cudaEventRecord(ev.e1, ctx.stream());
  float ms = 0.f;
  if (cudaEventSynchronize(ev.e1) != cudaSuccess || cudaEventElapsedTime(&ms, ev.e0, ev.e1) != cudaSuccess) {
    cudaGetLastError();
    return -1.f;
  }
  return ms / kReps;
}

bool ConvCudnn::gemm_layouts(Plan& p, size_t col_cap) const {
  const bool half = precision_ == Precision::kFP16;  // dtype; nhwc_: the matrix layout
  const cudaDataType_t dt = half ? CUDA_R_16F : CUDA_R_32F;
  const size_t es = half ? 2 : 4;
  const uint64_t hw = static_cast<uint64_t>(p.oh) * p.ow;  // output pixels per image
  const uint64_t kc = static_cast<uint64_t>(in_c_padded_) * kernel_ * kernel_;  // reduction length
  p.im2col = !(kernel_ == 1 && stride_ == 1 && pad_ == 0);
  // tf32 NCHW: only the plain 1x1 matmul. With im2col (measured faster per layer at plan time) the
  // whole tf32 pipeline ran slower on the H200 (6.09 -> 6.53 ms, 2026-11-29): not offered. tf32 NHWC:
  // not offered either (im2col.h is fp16 only; its 3x3 layers go to the graph path).
  if (p.im2col && !half) return false;
  p.col_bytes = p.im2col ? (kc * hw * p.n * es + 255) / 256 * 256 : 0;
  if (p.col_bytes > col_cap) return false;
  if (nhwc_) {  // A = W (kc x out, op T), B = x or col (kc x rows), D = y (out x rows); rows = n*oh*ow
    const uint64_t rows = hw * p.n;
    MASKRT_CUDA_CHECK(cublasLtMatrixLayoutCreate(&p.ga, dt, kc, out_c_, kc));
    MASKRT_CUDA_CHECK(cublasLtMatrixLayoutCreate(&p.gb, dt, kc, rows, kc));
    MASKRT_CUDA_CHECK(cublasLtMatrixLayoutCreate(&p.gd, dt, out_c_, rows, out_c_));
  } else {  // per image: A = x_i (hw x kc), B = W as stored (kc x out), D = y_i (hw x out); batch n
    MASKRT_CUDA_CHECK(cublasLtMatrixLayoutCreate(&p.ga, dt, hw, kc, hw));
    MASKRT_CUDA_CHECK(cublasLtMatrixLayoutCreate(&p.gb, dt, kc, out_c_, kc));
    MASKRT_CUDA_CHECK(cublasLtMatrixLayoutCreate(&p.gd, dt, hw, out_c_, hw));
    if (p.n > 1) {
      const int32_t count = p.n;
      const int64_t sa = static_cast<int64_t>(hw * kc), sb = 0, sd = static_cast<int64_t>(hw) * out_c_;
      for (auto [layout, stride] : {std::pair{p.ga, sa}, std::pair{p.gb, sb}, std::pair{p.gd, sd}}) {
        MASKRT_CUDA_CHECK(
            cublasLtMatrixLayoutSetAttribute(layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof(count)));
        MASKRT_CUDA_CHECK(cublasLtMatrixLayoutSetAttribute(layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET,
                                                           &stride, sizeof(stride)));
      }
    }
  }
  return true;
}

GraphConvShape ConvCudnn::graph_shape(const Plan& p) const {
  GraphConvShape s;
  s.dtype = precision_ == Precision::kFP16 ? GraphConvDType::kHalfNhwc
            : nhwc_                        ? GraphConvDType::kFloatNhwc
                                           : GraphConvDType::kFloatNchw;
  s.n = p.n;
  s.c = in_c_padded_;
  s.h = p.h;
  s.w = p.w;
  s.k = out_c_;
  s.r = s.s = kernel_;
  s.oh = p.oh;
  s.ow = p.ow;
  s.pad_h = s.pad_w = pad_;
  s.stride_h = s.stride_w = stride_;
  return s;
}

GraphEpilogue ConvCudnn::fused_graph_epilogue() const {
  return epilogue_ == ConvEpilogue::kBias       ? GraphEpilogue::kBias
         : epilogue_ == ConvEpilogue::kBiasRelu ? GraphEpilogue::kBiasRelu
                                                : GraphEpilogue::kBiasAddRelu;
}

float ConvCudnn::plan_gemm(const CudaContext& ctx, Plan& p, void* dx, void* dy, void* dws, size_t ws_limit) {
  p.gemm_workspace = kNoGemm;
  if (!gemm_layouts(p, std::min(kMaxIm2colBytes, max_workspace_bytes(precision_)))) return -1.f;
  cublasLtMatmulPreference_t pref = nullptr;
  MASKRT_CUDA_CHECK(cublasLtMatmulPreferenceCreate(&pref));
  if (dws && p.col_bytes >= ws_limit) dws = nullptr;  // no room to measure: take the heuristic's choice
  const size_t max_ws = std::min(kMaxGemmWorkspaceBytes, dws ? ws_limit - p.col_bytes : kMaxGemmWorkspaceBytes);
  constexpr int kCandidates = 6;
  cublasLtMatmulHeuristicResult_t res[kCandidates];
  int returned = 0;
  const cublasStatus_t st1 =
      cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &max_ws, sizeof(max_ws));
  const cublasStatus_t st2 = cublasLtMatmulAlgoGetHeuristic(ctx.cublaslt(), gemm_desc_, p.ga, p.gb, p.gd, p.gd, pref,
                                                            kCandidates, res, &returned);
  cublasLtMatmulPreferenceDestroy(pref);
  if (st1 != CUBLAS_STATUS_SUCCESS || st2 != CUBLAS_STATUS_SUCCESS || returned <= 0) return -1.f;
  p.galgo = res[0].algo;
  p.gemm_workspace = res[0].workspaceSize;
  if (!dx || !dws) return -1.f;  // nothing to measure on: the heuristic's first choice
  // Measure each candidate (one untimed run, then kReps timed) on the scratch buffers.
  constexpr int kReps = 3;
  EventPair ev;
  MASKRT_CUDA_CHECK(cudaEventCreate(&ev.e0));
  MASKRT_CUDA_CHECK(cudaEventCreate(&ev.e1));
  const float one = 1.f, zero = 0.f;
  // With im2col the column matrix sits at the start of the scratch workspace (contents do not matter
  // for timing, but its construction is timed with each run, as forward() will pay it).
  void* src = p.im2col ? dws : dx;
  void* mm_ws = static_cast<char*>(dws) + p.col_bytes;
  const void* a = nhwc_ ? weight_.get() : src;
  const void* b = nhwc_ ? src : weight_.get();
  std::vector<Timed> timed;
  std::vector<int> idx;
  for (int i = 0; i < returned; ++i) {
    auto run = [&] {
      if (p.im2col) build_columns(p, dx, dws, ctx.stream());
      return cublasLtMatmul(ctx.cublaslt(), gemm_desc_, &one, a, p.ga, b, p.gb, &zero, dy, p.gd, dy, p.gd,
                            &res[i].algo, mm_ws, res[i].workspaceSize, ctx.stream());
    };
    if (run() != CUBLAS_STATUS_SUCCESS) continue;
    cudaEventRecord(ev.e0, ctx.stream());
    bool ok = true;
    for (int r = 0; r < kReps && ok; ++r) ok = run() == CUBLAS_STATUS_SUCCESS;
    cudaEventRecord(ev.e1, ctx.stream());
    float ms = 0.f;
    if (!ok || cudaEventSynchronize(ev.e1) != cudaSuccess || cudaEventElapsedTime(&ms, ev.e0, ev.e1) != cudaSuccess) {
      cudaGetLastError();
      continue;
    }
    timed.push_back({ms / kReps, res[i].workspaceSize});
    idx.push_back(i);
  }
  MASKRT_CUDA_CHECK(cudaStreamSynchronize(ctx.stream()));
  if (idx.empty()) {
    p.gemm_workspace = kNoGemm;  // no candidate ran
    return -1.f;
  }
  const int k = frugal_pick(timed);
  p.galgo = res[idx[k]].algo;
  p.gemm_workspace = res[idx[k]].workspaceSize;
  return timed[k].ms;
}

const char* ConvCudnn::path_name(const Plan& p) {
  if (p.per_image) return "per-image";
  if (p.graph) return p.graph->epilogue() == GraphEpilogue::kConvOnly ? "graph" : "graph-fused";
  if (p.gemm) return p.im2col ? "im2col-gemm" : "gemm";
  return "cudnn";
}

const char* ConvCudnn::chosen_path(int n, int h, int w) const {
  auto it = plans_.find(std::make_tuple(n, h, w));
  return it == plans_.end() ? nullptr : path_name(*it->second);
}

float ConvCudnn::plan_graph(const CudaContext& ctx, Plan& p, void* dx, void* dy, void* dws, size_t ws_limit,
                            size_t graph_cap, float bar_ms, std::string* log) {
  // Never for kFP32: the graph engines may use TF32 tensor cores (cudnn_graph_conv.h).
  MASKRT_ASSERT(precision_ != Precision::kFP32 && groups_ == 1, name_);
  const bool half = precision_ == Precision::kFP16;
  const GraphConvShape s = graph_shape(p);
  const GraphEpilogue fused = fused_graph_epilogue();
  const size_t limit = dws ? std::min(ws_limit, graph_cap) : graph_cap;
  // Earlier winners of this layer signature (other input sizes, other layers of the same shape):
  // their graph kind first, their configurations first; when one is in mode A's list, few plans
  // and not the other graph.
  char sig[96];
  std::snprintf(sig, sizeof(sig), "%s c%d k%d r%d s%d p%d e%d", half ? "fp16" : nhwc_ ? "tf32nhwc" : "tf32",
                in_c_padded_, out_c_, kernel_, stride_, pad_, static_cast<int>(epilogue_));
  const std::vector<GraphWinner> winners = graph_winners(sig);
  const bool conv_only_first = !winners.empty() && !winners.front().fused;
  std::vector<std::unique_ptr<GraphConvPlan>> cands;
  bool hit = false;
  const GraphEpilogue order[2] = {conv_only_first ? GraphEpilogue::kConvOnly : fused,
                                  conv_only_first ? fused : GraphEpilogue::kConvOnly};
  for (const GraphEpilogue e : order) {
    const bool is_fused = e != GraphEpilogue::kConvOnly;
    *log += log->empty() ? "" : " ";
    *log += is_fused ? "fused: " : "conv-only: ";
    if (hit) {
      *log += "not built (a remembered winner was found)";
      continue;
    }
    GraphPlanOptions o;
    o.workspace_limit = limit;
    o.max_plans = cands.empty() ? kGraphPlansModeA : kGraphPlansSecond;
    o.max_plans_with_preferred = kGraphPlansRemembered;
    o.max_fallback_plans = kGraphPlansFallback;
    o.max_runtime_compiled = kMaxGraphRuntimeCompiled;
    for (const GraphWinner& w : winners)
      if (w.fused == is_fused) o.preferred.push_back(w.key);
    std::string why;
    auto built = build_graph_conv_plans(ctx.cudnn(), s, e, o, &why);
    *log += why;
    for (auto& c : built) {
      hit = hit || c->preferred();
      cands.push_back(std::move(c));
    }
  }
  cudaGetLastError();  // plan finalisation must not leave a CUDA error behind for later launches
  if (cands.empty()) return -1.f;
  if (!dx || !dws) {
    p.graph = std::move(cands.front());
    *log += " | not measured (no scratch): first candidate " + p.graph->label();
    return -1.f;
  }
  // The shortcut z of fused kBiasAddRelu graphs needs its own scratch (y's size); conv-only
  // candidates' epilogue times read it too when it exists (else y itself: same traffic).
  Scratch zs;
  const size_t y_bytes = size_t(half ? 2 : 4) * p.n * out_c_ * p.oh * p.ow;
  if (epilogue_ == ConvEpilogue::kBiasAddRelu && cudaMalloc(&zs.x, y_bytes) != cudaSuccess) {
    cudaGetLastError();
    zs.x = nullptr;
  }
  const void* z_epi = epilogue_ != ConvEpilogue::kBiasAddRelu ? nullptr : zs.x ? zs.x : dy;
  EventPair ev;
  MASKRT_CUDA_CHECK(cudaEventCreate(&ev.e0));
  MASKRT_CUDA_CHECK(cudaEventCreate(&ev.e1));
  // Times `reps` calls of `run` (no untimed call); < 0 when a call or the events fail.
  auto time_runs = [&](auto&& run, int reps) -> float {
    cudaEventRecord(ev.e0, ctx.stream());
    bool ok = true;
    for (int r = 0; r < reps && ok; ++r) ok = run();
    cudaEventRecord(ev.e1, ctx.stream());
    float ms = 0.f;
    if (!ok || cudaEventSynchronize(ev.e1) != cudaSuccess || cudaEventElapsedTime(&ms, ev.e0, ev.e1) != cudaSuccess) {
      cudaGetLastError();
      return -1.f;
    }
    return ms / reps;
  };
  // Each candidate: one timed warm run; when it is more than 2x the best so far (graph candidates,
  // and the path chosen so far unless forced), one more run confirms (the first run of a kernel can
  // include lazy module loading) and the candidate is dropped when that is slow too; else two timed
  // runs.
  constexpr int kTimed = 2;
  std::vector<Timed> timed;
  std::vector<size_t> timed_idx;
  float best = -1.f;
  for (size_t i = 0; i < cands.size(); ++i) {
    GraphConvPlan& g = *cands[i];
    const bool conv_only = g.epilogue() == GraphEpilogue::kConvOnly;
    cudnnStatus_t last = CUDNN_STATUS_SUCCESS;
    auto run = [&] {
      last = g.execute(ctx.cudnn(), dx, weight_.get(), dy, bias_.get(), zs.x, dws);
      if (last != CUDNN_STATUS_SUCCESS) return false;
      if (conv_only) run_epilogue(dy, z_epi, p.n, int64_t{p.oh} * p.ow, ctx.stream());
      return true;
    };
    const char* kind = conv_only ? "conv+epi" : "fused";
    char buf[384];
    if (g.epilogue() == GraphEpilogue::kBiasAddRelu && !zs.x) {
      std::snprintf(buf, sizeof(buf), " [%s %s: no z scratch]", kind, g.label().c_str());
      *log += buf;
      continue;
    }
    float ref = best;
    if (bar_ms >= 0.f && (ref < 0.f || bar_ms < ref)) ref = bar_ms;
    const float warm = time_runs(run, 1);
    float ms = -1.f;
    if (warm >= 0.f && ref >= 0.f && warm > 2.f * ref) {
      const float again = time_runs(run, 1);
      if (again >= 0.f && again > 2.f * ref) {
        std::snprintf(buf, sizeof(buf), " [%s %s warm %.3f/%.3fms > 2x %.3fms: skipped early, ws %zu]", kind,
                      g.label().c_str(), warm, again, ref, g.workspace());
        *log += buf;
        continue;
      }
      const float more = again >= 0.f ? time_runs(run, 1) : -1.f;
      ms = more >= 0.f ? 0.5f * (again + more) : -1.f;
    } else if (warm >= 0.f) {
      ms = time_runs(run, kTimed);
    }
    if (ms >= 0.f)
      std::snprintf(buf, sizeof(buf), " [%s %s %.3fms (warm %.3f) ws %zu]", kind, g.label().c_str(), ms, warm,
                    g.workspace());
    else
      std::snprintf(buf, sizeof(buf), " [%s %s failed: %s]", kind, g.label().c_str(),
                    last != CUDNN_STATUS_SUCCESS ? cudnnGetErrorString(last) : "timing");
    *log += buf;
    if (ms < 0.f) continue;
    timed.push_back({ms, g.workspace()});
    timed_idx.push_back(i);
    if (best < 0.f || ms < best) best = ms;
  }
  MASKRT_CUDA_CHECK(cudaStreamSynchronize(ctx.stream()));
  if (timed.empty()) return -1.f;
  const int k = frugal_pick(timed);
  p.graph = std::move(cands[timed_idx[k]]);
  remember_graph_winner(sig, {p.graph->epilogue() != GraphEpilogue::kConvOnly, p.graph->key()});
  char buf[96];
  std::snprintf(buf, sizeof(buf), " | best %.3fms ws %zu: ", timed[k].ms, timed[k].workspace);
  *log += buf + p.graph->label();
  return timed[k].ms;
}

void ConvCudnn::build_columns(const Plan& p, const void* x, void* col, cudaStream_t stream) const {
  Im2colShape s;
  s.n = p.n;
  s.c = in_c_padded_;
  s.h = p.h;
  s.w = p.w;
  s.k = kernel_;
  s.stride = stride_;
  s.pad = pad_;
  s.oh = p.oh;
  s.ow = p.ow;
  MASKRT_ASSERT(precision_ == Precision::kFP16, name_);
  im2col_nhwc_half(s, x, col, stream);
}

void ConvCudnn::forward_each_image(const CudaContext& ctx, const DeviceTensor& x, const DeviceTensor& y,
                                   const DeviceTensor* z, void* workspace, size_t workspace_bytes) {
  for (int k = 0; k < x.n; ++k) {
    const DeviceTensor zk = z ? z->rows(k, 1) : DeviceTensor{};
    forward(ctx, x.rows(k, 1), y.rows(k, 1), z ? &zk : nullptr, workspace, workspace_bytes);
  }
}

void ConvCudnn::forward(const CudaContext& ctx, const DeviceTensor& x, const DeviceTensor& y, const DeviceTensor* z,
                        void* workspace, size_t workspace_bytes) {
  auto it = plans_.find(std::make_tuple(x.n, x.h, x.w));
  MASKRT_ASSERT(it != plans_.end(), name_, ": forward on an unplanned shape");
  Plan& p = *it->second;
  MASKRT_ASSERT(x.c == in_c_padded_ && y.c == out_c_ && y.n == x.n && y.h == p.oh && y.w == p.ow, name_);
  MASKRT_ASSERT(workspace_bytes >= p.workspace, name_);
  MASKRT_ASSERT((epilogue_ == ConvEpilogue::kBiasAddRelu) == (z != nullptr), name_);
  if (p.per_image) {  // plan_pinned(): image by image through the single-image plan
    forward_each_image(ctx, x, y, z, workspace, workspace_bytes);
    return;
  }
  const float one = 1.f, zero = 0.f;
  if (p.graph) {
    // The plan promised cuDNN 16-byte aligned tensors (arena buffers are 256-byte aligned).
    MASKRT_ASSERT(is_aligned16(x.ptr) && is_aligned16(y.ptr) && (!z || is_aligned16(z->ptr)), name_);
    MASKRT_CUDA_CHECK(p.graph->execute(ctx.cudnn(), x.ptr, weight_.get(), y.ptr, bias_.get(), z ? z->ptr : nullptr,
                                       workspace));
    if (p.graph->epilogue() == GraphEpilogue::kConvOnly)
      run_epilogue(y.ptr, z ? z->ptr : nullptr, y.n, int64_t{y.h} * y.w, ctx.stream());
    return;
  }
  if (p.gemm) {
    // NHWC (fp16, tf32 NHWC): one matmul with bias / ReLU in cuBLASLt's epilogue; NCHW: conv_epilogue after.
    const bool add_z = nhwc_ && z != nullptr;  // NHWC: the shortcut enters as C (beta = 1)
    const void* src = x.ptr;
    if (p.im2col) {
      build_columns(p, x.ptr, workspace, ctx.stream());
      src = workspace;
    }
    MASKRT_CUDA_CHECK(cublasLtMatmul(ctx.cublaslt(), gemm_desc_, &one, nhwc_ ? weight_.get() : src, p.ga,
                                     nhwc_ ? src : weight_.get(), p.gb, add_z ? &one : &zero,
                                     add_z ? z->ptr : y.ptr, p.gd, y.ptr, p.gd, &p.galgo,
                                     static_cast<char*>(workspace) + p.col_bytes, p.gemm_workspace, ctx.stream()));
    if (!nhwc_) run_epilogue(y.ptr, z ? z->ptr : nullptr, y.n, int64_t{y.h} * y.w, ctx.stream());
    return;
  }
  cudnnHandle_t h = ctx.cudnn();
  if (precision_ != Precision::kFP32) {
    // tf32 / fp16: the found (tensor-core) algorithm, then our one-pass epilogue. cuDNN's fused
    // conv+bias+ReLU would run its non-tensor-core IMPLICIT_PRECOMP_GEMM kernel (conv_epilogue.h).
    MASKRT_CUDA_CHECK(cudnnConvolutionForward(h, &one, p.x, x.ptr, filter_desc_, weight_.get(), p.conv, p.algo,
                                              workspace, p.workspace, &zero, p.y, y.ptr));
    run_epilogue(y.ptr, z ? z->ptr : nullptr, y.n, int64_t{y.h} * y.w, ctx.stream());
    return;
  }
  if (epilogue_ != ConvEpilogue::kBias && fused_ok_) {
    const void* zp = z ? z->ptr : y.ptr;  // alpha2 == 0: z is not read, but must be a valid tensor
    const float alpha2 = z ? 1.f : 0.f;
    const cudnnStatus_t st = cudnnConvolutionBiasActivationForward(
        h, &one, p.x, x.ptr, filter_desc_, weight_.get(), p.conv, p.algo, workspace, p.workspace, &alpha2, p.y, zp,
        bias_desc_, bias_.get(), relu_desc_, p.y, y.ptr);
    if (st == CUDNN_STATUS_SUCCESS) return;
    if (st != CUDNN_STATUS_NOT_SUPPORTED) MASKRT_CUDA_CHECK(st);
    cudaGetLastError();
    fused_ok_ = false;  // fall back for good (logged once)
    std::fprintf(stderr, "maskrt: %s: fused cuDNN conv+bias+relu not supported, using separate calls\n", name_.c_str());
  }
  MASKRT_CUDA_CHECK(cudnnConvolutionForward(h, &one, p.x, x.ptr, filter_desc_, weight_.get(), p.conv, p.algo, workspace,
                                            p.workspace, &zero, p.y, y.ptr));
  if (z) MASKRT_CUDA_CHECK(cudnnAddTensor(h, &one, p.y, z->ptr, &one, p.y, y.ptr));
  MASKRT_CUDA_CHECK(cudnnAddTensor(h, &one, bias_desc_, bias_.get(), &one, p.y, y.ptr));
  if (epilogue_ != ConvEpilogue::kBias)
    MASKRT_CUDA_CHECK(cudnnActivationForward(h, relu_desc_, &one, p.y, y.ptr, &zero, p.y, y.ptr));
}

}  // namespace maskrt::cuda
