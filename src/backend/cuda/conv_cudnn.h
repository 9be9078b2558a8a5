#pragma once
// ConvCudnn: one 2-D convolution layer (weights resident on the device) run with cuDNN, with the
// bias, the ReLU and the bottleneck's residual add:
//   kBias:        y = conv(x) + b
//   kBiasRelu:    y = relu(conv(x) + b)
//   kBiasAddRelu: y = relu(conv(x) + b + z)             (z = the shortcut)
// kFP32: kBiasRelu / kBiasAddRelu run cudnnConvolutionBiasActivationForward (fused; if cuDNN reports
// NOT_SUPPORTED the layer falls back, once and for good, to conv, add z, add bias, activation); kBias
// runs cudnnConvolutionForward + cudnnAddTensor. kTF32 / kFP16: cudnnConvolutionForward with the
// measured algorithm + conv_epilogue.h (one pass: bias, z, ReLU), because the fused legacy call with
// ReLU runs cuDNN's non-tensor-core IMPLICIT_PRECOMP_GEMM kernel whatever algorithm was chosen.
//
// Precision (maskrt::Precision):
//   kFP32: float32 NCHW tensors, CUDNN_FMA_MATH (no TF32, no tensor cores): Detectron2's fp32 numerics;
//   kTF32: float32 NCHW tensors, CUDNN_TENSOR_OP_MATH (TF32 tensor cores allowed);
//   kFP16: float16 NHWC tensors (filters KRSC), float32 accumulation (PSEUDO_HALF: conv compute type
//          float), CUDNN_TENSOR_OP_MATH; bias kept as float16 (cuDNN's fp32 path is not used) and
//          float32 (for the epilogue).
//   kTF32 with layout kNHWC (the engine's tf32 default since session 7; MASKRT_TF32_NHWC=0: NCHW):
//          float32 NHWC tensors (filters KRSC float32, input channels padded like fp16's),
//          CUDNN_TENSOR_OP_MATH; every path below takes its fp16 NHWC form in float32 (matmul: one matmul over n*oh*ow rows with bias, shortcut as C and
//          ReLU in cuBLASLt's epilogue, CUBLAS_COMPUTE_32F_FAST_TF32; graph: GraphConvDType::kFloatNhwc,
//          channel counts % 4; epilogue: conv_epilogue_nhwc_float), no im2col. Graph winners are
//          remembered under their own signature ("tf32nhwc").
// Weights come from a host ConvLayer (FrozenBN already folded by ConvLayer::load). `in_channels_padded`
// (fp16 / tf32 NHWC only) pads the filter's input channels with zeros, e.g. 3 -> 8 for the fp16 stem,
// 3 -> 4 for the tf32 NHWC stem (see resize_cuda.h).
//
// Algorithms: chosen once per input shape (n, h, w) by plan() with cudnnFindConvolutionForwardAlgorithmEx
// (measured on scratch buffers that plan() allocates and frees: planning runs at warm-up / for a new
// image size, never in the steady state), or, with MASKRT_CUDNN_FIND=0 or when the scratch does not
// fit, cudnnGetConvolutionForwardAlgorithm_v7 (heuristic); candidates whose workspace is <= the cap
// (max_workspace_bytes(): 64 MiB for fp16, 256 MiB for fp32 / tf32, MASKRT_CONV_WORKSPACE_MB overrides; graph
// plans: the cap plus the layer's input and output bytes, at most the cap per image (n), because
// tf32's tensor-core graph engines need about the layer's input plus output; the measurement scratch
// is the larger of the two) and which honour the math mode are
// kept with the descriptors; plan() returns the workspace bytes that forward() needs and synchronises the stream.
// Frugal choice (every choice among measured candidates: legacy algorithms, matmul algorithms,
// graph plans, and the path itself): the smallest workspace among the candidates within
// max(3 %, 0.003 ms) of the fastest, when that saves at least 4 MiB; else the fastest (the layers
// share one workspace sized by the largest need, and legacy algorithms asking 30-110 MB were seen).
// MASKRT_CUDNN_LOG=1 prints each plan: the candidates cuDNN returned (algo, status, math type, time,
// workspace), each path's time, the choice, and planning host time (this layer, all layers so far).
// Matmul path (tf32 / fp16, groups 1): a layer can run as one cuBLASLt matmul instead, on the input
// itself (1x1 stride 1: the bottleneck's conv1/conv3/shortcut, FPN lateral, RPN and mask predictors) or,
// fp16 only, on a column matrix built by im2col.h in the workspace (other layers, when it fits
// kMaxIm2colBytes and the cap; tf32 with im2col measured slower end to end, so tf32 takes only the
// 1x1 matmul). cuDNN 9.14's legacy algorithms took 85-330 us for 1x1 layers worth a few us of
// tensor-core work on the H200, and tf32 NCHW 3x3 layers ran its non-tensor-core
// implicit_convolve_sgemm (MASKRT_CUDNN_LOG, ncu, 2026-11-29). plan() measures the heuristic's matmul
// candidates (im2col included) on the same scratch buffers. fp16 NHWC: one matmul over n*oh*ow rows
// with bias, shortcut (as C, beta = 1) and ReLU in cuBLASLt's epilogue, i.e. relu(conv + z + b) summed
// in float32 and rounded once, bias in float16; tf32 NCHW: a strided-batched matmul per image, then
// conv_epilogue. MASKRT_CONV_GEMM=0 keeps every layer on cuDNN's legacy API, =1 takes the matmul for
// every eligible layer without measuring (tests). kFP32 never uses it (Detectron2's fp32 numerics stay
// with cuDNN's FMA algorithms).
// Graph path (tf32 / fp16, groups 1; cudnn_graph_conv.h): cuDNN's backend (graph) API reaches the
// sm90 implicit-GEMM and fusion engines that the legacy API does not (R50-FPN fp16 on the H200 spent
// 18% in im2col and 13% in legacy kernels for the p2 3x3 convs; tf32 spent 8.5 of 13.1 ms kernel time
// in legacy non-tensor-core NCHW 3x3 kernels, ncu). fp16: NHWC half tensors; tf32: NCHW float tensors
// (TF32 tensor-core engines, which transpose internally: their workspace is about the layer's input
// plus output, so at large sizes only other engines fit the cap). kFP32 never takes this path (its
// engines may use TF32 tensor cores). plan() builds two operation graphs, conv fused with the
// epilogue (bias [, shortcut z] [, ReLU], float32 intermediates, one rounding; z is added before the
// bias, the order cuDNN's fusion engines accept) and conv alone (then conv_epilogue), and finalises
// execution plans from heuristic mode A: 5 for the first graph, 3 for the second; the fallback list
// (engines measured 0.5-44 ms per run where mode A's took 0.01-0.1 ms) only when mode A gives none.
// Winners are remembered per layer signature (precision, channels, kernel, stride, padding,
// epilogue; process-wide): for a new input size, or another layer of the same signature, the
// remembered configurations are finalised first and, when mode A lists one, 3 plans in all and the
// other graph not built. Engines with fp16 accumulation, down-converted inputs or non-determinism
// are skipped. Each plan is timed on the same scratch buffers (conv-only ones with conv_epilogue):
// one warm run, then two timed runs, or, when the warm run (and a confirming second run: the first
// run of a kernel may include lazy module loading) exceeds 2x the best so far (graph plans and the
// path chosen so far), dropped early. The frugal pick among the graph plans then competes with the
// legacy path (+ epilogue time) and the matmul. forward() runs cudnnBackendExecute with a variant
// pack cached per plan, rebuilt (host memory only) when the tensor pointers change. Any cuDNN
// failure while building a candidate drops that candidate, never the layer. Default: tried for layers
// the plain matmul cannot run (kernel > 1 or stride > 1; tf32: channel counts that are multiples of
// 8); MASKRT_CONV_GRAPH=0 disables it, =1 takes it for every tf32 / fp16 layer some engine supports
// (tests; overrides MASKRT_CONV_GEMM=1); MASKRT_CONV_GRAPH_TF32=0 disables it for tf32 only.
// MASKRT_CUDNN_LOG=1 adds one "maskrt: cudnn graph ..." line per plan: build summary, each candidate
// (fused / conv+epi, mode#rank, engine id, knobs, "pref" when remembered, time and warm time or
// "skipped early", workspace) and the decision.
// chosen_path() reports the path a shape took.
// forward() for an unplanned shape is a bug (asserts); so are graph-path tensors that are not
// 16-byte aligned. Nothing here allocates device memory or synchronises.
// Errors: cuDNN failures throw maskrt::Error(kDevice / kOutOfMemory) via MASKRT_CUDA_CHECK.
// Thread safety: plan() mutates the cache; forward() mutates the graph path's cached variant pack and
// shares cuDNN descriptors: use one layer from one thread at a time (the engine serialises the pipeline).
#include <string>
#include <cublasLt.h>
#include <cudnn.h>

#include <map>
#include <memory>
#include <tuple>

#include "backend/cuda/cuda_context.h"
#include "backend/cuda/cudnn_graph_conv.h"
#include "backend/cuda/device_buffer.h"
#include "backend/cuda/device_tensor.h"
#include "maskrt/engine.h"
#include "model/layers.h"

namespace maskrt::cuda {

enum class ConvEpilogue { kBias, kBiasRelu, kBiasAddRelu };

class ConvCudnn {
 public:
  // Workspace cap of every path (and plan()'s measurement scratch): kMaxWorkspaceBytes for fp16,
  // kMaxWorkspaceBytesFloat for fp32 / tf32 (their fast legacy NCHW algorithms need large workspaces:
  // with 64 MiB, tf32 batch 16 ran at half speed on the H200, 2026-11-29); MASKRT_CONV_WORKSPACE_MB
  // overrides both (max_workspace_bytes()).
  static constexpr size_t kMaxWorkspaceBytes = size_t(64) << 20;
  static constexpr size_t kMaxWorkspaceBytesFloat = size_t(256) << 20;
  static constexpr size_t kMaxGemmWorkspaceBytes = size_t(32) << 20;
  static constexpr size_t kMaxIm2colBytes = size_t(128) << 20;  // column matrix cap (matmul path; also <= the cap)
  static size_t max_workspace_bytes(Precision precision);

  ConvCudnn();
  // `layer.params.relu` is ignored: the epilogue decides. Uploads the weights (synchronous).
  // layout: kNCHW, or kNHWC for kTF32 (NHWC float; asserted never for kFP32); kFP16 is always NHWC.
  ConvCudnn(const ConvLayer& layer, Precision precision, ConvEpilogue epilogue, const std::string& name,
            int in_channels_padded = 0, Layout layout = Layout::kNCHW);
  ~ConvCudnn();
  ConvCudnn(const ConvCudnn&) = delete;
  ConvCudnn& operator=(const ConvCudnn&) = delete;
  ConvCudnn(ConvCudnn&&) noexcept;
  ConvCudnn& operator=(ConvCudnn&&) noexcept;

  int in_channels() const { return in_c_; }
  int out_channels() const { return out_c_; }
  int out_size(int in) const { return (in + 2 * pad_ - kernel_) / stride_ + 1; }
  const std::string& name() const { return name_; }
  DType dtype() const { return precision_ == Precision::kFP16 ? DType::kF16 : DType::kF32; }
  Layout layout() const { return nhwc_ ? Layout::kNHWC : Layout::kNCHW; }

  // Chooses and caches the algorithm for input (n, in_channels, h, w); returns its workspace bytes.
  size_t plan(const CudaContext& ctx, int n, int h, int w);
  // Plans input (n, in_channels, h, w) for a backbone-batch group so that every image's output equals,
  // bit for bit, what the single-image plan for (1, in_channels, h, w) gives it (planned first when
  // missing; infer() runs that one). In order: (1) plan()'s own choice at n, kept when a check on
  // seeded data (pinned_bits_equal: the n-image plan against n single-image runs, every output byte;
  // inputs spread over 12 binary orders of magnitude, so differences in rounding, accumulation order
  // or subnormal handling show; a check, not a proof, for kernels other than the n=1 plan's) passes; (2) the single-image configuration (the same path and legacy algorithm, cuBLASLt algorithm
  // or cuDNN engine configuration, GraphConvPlan::key(), nothing measured), kept when it applies at n
  // (offered in heuristic mode A; workspace and column matrix within n times plan()'s caps) and passes
  // the same check (12 of 195 fp16 R50-FPN configurations did not on the H200 in session 10:
  // bench/bench_batch_invariance.cpp); (3) otherwise the n-image plan runs each image through the
  // single-image plan (n calls; equal bits by construction). Only when an image's slice would not be
  // 16-byte aligned (not for ResNet-FPN's NHWC layers) does it fall back to plan() at n unchecked.
  // Each outcome is logged with MASKRT_CUDNN_LOG=1. The default for group plans unless
  // MASKRT_BACKBONE_BATCH_PIN=0 (generalized_rcnn_cuda.cpp). n <= 1: plan(). Returns the workspace
  // bytes. Allocates and synchronises (planning only).
  size_t plan_pinned(const CudaContext& ctx, int n, int h, int w);
  // y must be (n, out_channels, out_size(h), out_size(w)); z (kBiasAddRelu only) has y's shape.
  void forward(const CudaContext& ctx, const DeviceTensor& x, const DeviceTensor& y, const DeviceTensor* z,
               void* workspace, size_t workspace_bytes);
  // The path plan() chose for input (n, in_channels, h, w): "cudnn" (legacy algorithm + epilogue),
  // "gemm", "im2col-gemm", "graph" (backend-API conv + epilogue), "graph-fused"; nullptr when that
  // shape is not planned. For tests and logs.
  const char* chosen_path(int n, int h, int w) const;

 private:
  struct Plan;
  static constexpr size_t kNoGemm = ~size_t(0);
  void release() noexcept;
  void create_gemm_desc();
  // Sets up the matmul of a plan; measures the heuristic's candidates when scratch buffers are given
  // and keeps the frugal pick (returns its time in ms, else -1). p.gemm_workspace == kNoGemm when
  // cuBLASLt offers none.
  // plan_pinned(): runs the planned (n, h, w) and (1, h, w) plans on seeded data (n images, and each
  // image alone) and compares the outputs byte for byte; false (with the reason appended to *why)
  // when they differ or the check buffers cannot be allocated. Synchronises ctx's stream.
  bool pinned_bits_equal(const CudaContext& ctx, int n, int h, int w, std::string* why);
  float plan_gemm(const CudaContext& ctx, Plan& p, void* dx, void* dy, void* dws, size_t ws_limit);
  // forward() of each image of x alone (rows k of x, y and z through the (1, h, w) plan): plan_pinned's
  // image-by-image plans and its check's reference.
  void forward_each_image(const CudaContext& ctx, const DeviceTensor& x, const DeviceTensor& y, const DeviceTensor* z,
                          void* workspace, size_t workspace_bytes);
  // conv_epilogue (bias, shortcut z, ReLU as epilogue_ says) on y = (n, out_channels, hw pixels) in
  // this precision's layout and float bias: fp16 NHWC half with bias_f32_, tf32 NCHW float with bias_,
  // tf32 NHWC float with bias_ (conv_epilogue_nhwc_float).
  // tf32 / fp16 only; the one place that maps precision to layout and bias for every path.
  void run_epilogue(void* y, const void* z, int n, int64_t hw, cudaStream_t stream) const;
  // conv_epilogue's time on the scratch output dy (ms, < 0 on failure). tf32 / fp16 only.
  float time_epilogue(const CudaContext& ctx, const Plan& p, void* dy) const;
  void build_columns(const Plan& p, const void* x, void* col, cudaStream_t stream) const;
  // tf32 / fp16: builds the backend-API candidates (fused and conv-only graphs) and, given scratch
  // buffers, times each (conv-only ones with conv_epilogue; candidates whose warm runs exceed 2x
  // min(best so far, bar_ms) are dropped early; bar_ms < 0: no bar) and keeps the frugal pick in
  // p.graph; returns its time in ms (-1: none measured; then p.graph is the first candidate, if any).
  // Appends the candidates and times to *log.
  // Plans' workspaces <= min(ws_limit, graph_cap) (graph_cap alone without scratch).
  float plan_graph(const CudaContext& ctx, Plan& p, void* dx, void* dy, void* dws, size_t ws_limit, size_t graph_cap,
                   float bar_ms, std::string* log);
  static const char* path_name(const Plan& p);
  // A plan for input (n, in_c_padded_, h, w) with its cuDNN tensor / convolution descriptors set and
  // the output size checked; nothing chosen yet.
  std::unique_ptr<Plan> new_plan(int n, int h, int w) const;
  // The matmul path's matrix layouts for p (and p.im2col / p.col_bytes); false when this plan cannot
  // take the matmul (tf32 with a column matrix, column matrix over col_cap bytes).
  bool gemm_layouts(Plan& p, size_t col_cap) const;
  // The backend-API shape of p, and this layer's fused graph epilogue.
  GraphConvShape graph_shape(const Plan& p) const;
  GraphEpilogue fused_graph_epilogue() const;

  std::string name_;
  Precision precision_ = Precision::kFP32;
  ConvEpilogue epilogue_ = ConvEpilogue::kBias;
  bool nhwc_ = false;  // NHWC tensors: kFP16, or kTF32 built with layout kNHWC
  int in_c_ = 0, in_c_padded_ = 0, out_c_ = 0, kernel_ = 1, stride_ = 1, pad_ = 0, groups_ = 1;
  bool fused_ok_ = true;
  bool force_gemm_ = false;  // MASKRT_CONV_GEMM=1: the matmul whenever the layer allows it (tests)
  // MASKRT_CONV_GRAPH (fp16 and tf32, tf32 off with MASKRT_CONV_GRAPH_TF32=0; kFP32 never): 0 off,
  // 1 force (every layer some engine supports), else auto.
  enum class GraphMode { kOff, kAuto, kForce };
  GraphMode graph_mode_ = GraphMode::kOff;
  DeviceBuffer weight_, bias_;
  DeviceBuffer bias_f32_;  // fp16 only: float bias for conv_epilogue
  cudnnFilterDescriptor_t filter_desc_ = nullptr;
  cudnnTensorDescriptor_t bias_desc_ = nullptr;
  cudnnActivationDescriptor_t relu_desc_ = nullptr;
  cublasLtMatmulDesc_t gemm_desc_ = nullptr;  // 1x1 stride-1 layers in tf32 / fp16 only
  std::map<std::tuple<int, int, int>, std::unique_ptr<Plan>> plans_;
};

}  // namespace maskrt::cuda
