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
// Weights come from a host ConvLayer (FrozenBN already folded by ConvLayer::load). `in_channels_padded`
// (fp16 only) pads the filter's input channels with zeros, e.g. 3 -> 8 for the stem (see resize_cuda.h).
//
// Algorithms: chosen once per input shape (n, h, w) by plan() with cudnnFindConvolutionForwardAlgorithmEx
// (measured on scratch buffers that plan() allocates and frees: planning runs at warm-up / for a new
// image size, never in the steady state), or, with MASKRT_CUDNN_FIND=0 or when the scratch does not
// fit, cudnnGetConvolutionForwardAlgorithm_v7 (heuristic); the fastest candidate whose workspace is
// <= kMaxWorkspaceBytes and which honours the math mode is cached with the descriptors; plan()
// returns the workspace bytes that forward() needs. plan() synchronises the stream (Find runs on it).
// MASKRT_CUDNN_LOG=1 prints each plan: the candidates cuDNN returned (algo, status, math type, time,
// workspace) and the choice.
// Matmul path (tf32 / fp16, groups 1): a layer can run as one cuBLASLt matmul instead, on the input
// itself (1x1 stride 1: the bottleneck's conv1/conv3/shortcut, FPN lateral, RPN and mask predictors) or,
// fp16 only, on a column matrix built by im2col.h in the workspace (other layers, when it fits
// kMaxIm2colBytes; tf32 with im2col measured slower end to end, so tf32 takes only the 1x1 matmul).
// cuDNN 9.14's legacy algorithms took 85-330 us for 1x1 layers worth a few us of tensor-core work on
// the H200, and tf32 NCHW 3x3 layers ran its non-tensor-core implicit_convolve_sgemm (MASKRT_CUDNN_LOG,
// ncu, 2026-11-29). plan() measures the heuristic's matmul candidates (im2col included) on the same
// scratch buffers and keeps the matmul when it is faster than the chosen cuDNN algorithm (or when
// nothing was measured, or when cuDNN offers no algorithm). fp16 NHWC: one matmul over n*oh*ow rows
// with bias, shortcut (as C, beta = 1) and ReLU in cuBLASLt's epilogue, i.e. relu(conv + z + b) summed
// in float32 and rounded once, bias in float16; tf32 NCHW: a strided-batched matmul per image, then
// conv_epilogue. MASKRT_CONV_GEMM=0 keeps every layer on cuDNN, =1 takes the matmul for every eligible
// layer without measuring (tests). kFP32 never uses it (Detectron2's fp32 numerics stay with cuDNN's
// FMA algorithms).
// Graph path (fp16 NHWC, groups 1; cudnn_graph_conv.h): cuDNN's backend (graph) API reaches the sm90
// implicit-GEMM and fusion engines that the legacy API does not (R50-FPN fp16 on the H200 spent 18% in
// im2col and 13% in legacy kernels for the p2 3x3 convs, ncu). plan() builds two operation graphs,
// conv fused with the epilogue (bias [, shortcut z] [, ReLU], float32 intermediates, one fp16
// rounding; z is added before the bias, the order cuDNN's fusion engines accept) and conv alone
// (then conv_epilogue), finalises up to 8 execution plans each from the heuristics (mode A, then the
// fallback list; engines with fp16 accumulation, down-converted inputs or non-determinism skipped;
// workspace <= the measurement scratch), times them on the same scratch buffers (conv-only ones with
// conv_epilogue), and takes the fastest when it beats the path chosen so far (legacy time +
// epilogue time, or the matmul's time). forward() then runs cudnnBackendExecute with a variant pack
// cached per plan, rebuilt (host memory only) when the tensor pointers change. Any cuDNN failure
// while building a candidate drops that candidate, never the layer. Default: tried for kernels > 1
// (1x1 layers keep the matmul, which already fuses the epilogue); MASKRT_CONV_GRAPH=0 disables it,
// =1 takes it for every fp16 layer some engine supports (tests; overrides MASKRT_CONV_GEMM=1).
// MASKRT_CUDNN_LOG=1 adds one "maskrt: cudnn graph ..." line per plan: build summary, each candidate
// (fused / conv+epi, mode#rank, engine id, knobs, time, workspace) and the decision.
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
#include "backend/cuda/device_buffer.h"
#include "backend/cuda/device_tensor.h"
#include "maskrt/engine.h"
#include "model/layers.h"

namespace maskrt::cuda {

enum class ConvEpilogue { kBias, kBiasRelu, kBiasAddRelu };

class ConvCudnn {
 public:
  static constexpr size_t kMaxWorkspaceBytes = size_t(256) << 20;
  static constexpr size_t kMaxGemmWorkspaceBytes = size_t(32) << 20;
  static constexpr size_t kMaxIm2colBytes = size_t(128) << 20;  // column matrix cap (matmul path)

  ConvCudnn();
  // `layer.params.relu` is ignored: the epilogue decides. Uploads the weights (synchronous).
  ConvCudnn(const ConvLayer& layer, Precision precision, ConvEpilogue epilogue, const std::string& name,
            int in_channels_padded = 0);
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
  Layout layout() const { return precision_ == Precision::kFP16 ? Layout::kNHWC : Layout::kNCHW; }

  // Chooses and caches the algorithm for input (n, in_channels, h, w); returns its workspace bytes.
  size_t plan(const CudaContext& ctx, int n, int h, int w);
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
  // Sets up the matmul of a 1x1 plan; measures the heuristic's candidates when scratch buffers are given
  // (returns the best time in ms, else -1). p.gemm_workspace == kNoGemm when cuBLASLt offers none.
  float plan_gemm(const CudaContext& ctx, Plan& p, void* dx, void* dy, void* dws, size_t ws_limit);
  void build_columns(const Plan& p, const void* x, void* col, cudaStream_t stream) const;
  // fp16: builds the backend-API candidates (fused and conv-only graphs) and, given scratch buffers,
  // times each (conv-only ones with conv_epilogue) and keeps the fastest in p.graph; returns its time
  // in ms (-1: none measured; then p.graph is the first candidate, if any). *epi_ms: conv_epilogue's
  // time alone (-1 if not measured). Appends the candidates and times to *log.
  float plan_graph(const CudaContext& ctx, Plan& p, void* dx, void* dy, void* dws, size_t ws_limit, float* epi_ms,
                   std::string* log);
  static const char* path_name(const Plan& p);

  std::string name_;
  Precision precision_ = Precision::kFP32;
  ConvEpilogue epilogue_ = ConvEpilogue::kBias;
  int in_c_ = 0, in_c_padded_ = 0, out_c_ = 0, kernel_ = 1, stride_ = 1, pad_ = 0, groups_ = 1;
  bool fused_ok_ = true;
  bool force_gemm_ = false;  // MASKRT_CONV_GEMM=1: the matmul whenever the layer allows it (tests)
  // MASKRT_CONV_GRAPH (fp16 only): 0 off, 1 force (every layer some engine supports), else auto.
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
