#pragma once
// cuDNN backend (graph) API convolutions: y = conv(x, w) [+ bias [+ z] [-> ReLU]] as cuDNN operation
// graphs, with execution plans built from the engine heuristics, for ConvCudnn::plan() to time against
// the legacy algorithms and the cuBLASLt matmul path (conv_cudnn.h).
//
// Why: cuDNN 9's legacy API (cudnnFindConvolutionForwardAlgorithmEx) only reaches the old algorithm
// set; the backend API's heuristics (CUDNN_HEUR_MODE_A, then CUDNN_HEUR_MODE_FALLBACK) also offer the
// sm90 implicit-GEMM engines (no column matrix) and runtime-fusion engines that can run the bias, the
// shortcut and the ReLU inside the convolution kernel.
//
// Two tensor flavours (GraphConvShape::dtype), all tensors described to cuDNN as 4-D with dims in
// logical (n, c, h, w) order and 16-byte aligned base addresses:
//   kHalfNhwc (fp16 pipeline): x (n, c, h, w) float16 NHWC storage (strides h*w*c, 1, w*c, c);
//     w (k, c, r, s) float16 KRSC; y, z (n, k, oh, ow) float16 NHWC; bias (1, k, 1, 1) float16.
//   kFloatNchw (tf32 pipeline): the same tensors as float32, NCHW storage (strides c*h*w, h*w, w, 1),
//     filters KCRS. Engines may use TF32 tensor cores (numerical note TENSOR_CORE): callers use this
//     flavour only for Precision::kTF32, never for kFP32 (Detectron2's FMA numerics stay with cuDNN's
//     legacy API there).
//   kFloatNhwc (tf32 pipeline under MASKRT_TF32_NHWC=1): float32 tensors with kHalfNhwc's strides
//     (x, y, z NHWC, w KRSC, bias (1, k, 1, 1)); tf32 only, as kFloatNchw.
// Compute: cross-correlation, compute type float (float32 accumulation); fused graphs keep the
// intermediate sums in float32 virtual tensors and round once to the output type:
//   kConvOnly:     y = conv(x, w)
//   kBias:         y = conv + bias
//   kBiasRelu:     y = relu(conv + bias)
//   kBiasAddRelu:  y = relu((conv + z) + bias)       (the order cuDNN's fusion engines accept; sums in
//                                                    float32, so it differs from Detectron2's
//                                                    (conv + bias) + z only by float32 rounding)
// Engines whose numerical notes say reduced-precision reduction (float16 accumulation), down-converted
// inputs or non-determinism are skipped.
//
// Errors: building candidates never throws for cuDNN failures: each failure drops that candidate (or
// the whole graph) and appends a line to the caller's log string; std::bad_alloc may propagate.
// GraphConvPlan::execute returns the cuDNN status (the caller checks it).
// Thread safety: a GraphConvPlan is used from one thread at a time (execute() caches its variant
// pack); different plans are independent. Everything here is host work except execute(), which
// enqueues on the handle's stream and neither allocates device memory nor synchronises.
#include <cudnn.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace maskrt::cuda {

enum class GraphConvDType { kHalfNhwc, kFloatNchw, kFloatNhwc };

// Shape of one convolution (groups 1, square or not, dilation 1).
struct GraphConvShape {
  GraphConvDType dtype = GraphConvDType::kHalfNhwc;
  int n = 0, c = 0, h = 0, w = 0;  // input (c = padded input channels as stored)
  int k = 0, r = 0, s = 0;         // filter: output channels, kernel height, kernel width
  int oh = 0, ow = 0;              // output spatial size (checked against cuDNN's arithmetic by the caller)
  int pad_h = 0, pad_w = 0, stride_h = 1, stride_w = 1;
};

enum class GraphEpilogue { kConvOnly, kBias, kBiasRelu, kBiasAddRelu };

// One owned cudnnBackendDescriptor_t (RAII, non-copyable, movable).
class BackendDescriptor {
 public:
  BackendDescriptor() = default;
  ~BackendDescriptor() { reset(); }
  BackendDescriptor(const BackendDescriptor&) = delete;
  BackendDescriptor& operator=(const BackendDescriptor&) = delete;
  BackendDescriptor(BackendDescriptor&& o) noexcept : d_(o.d_) { o.d_ = nullptr; }
  BackendDescriptor& operator=(BackendDescriptor&& o) noexcept;
  // Destroys the current descriptor and creates one of `type`.
  cudnnStatus_t create(cudnnBackendDescriptorType_t type);
  void reset() noexcept;
  cudnnBackendDescriptor_t get() const { return d_; }

 private:
  cudnnBackendDescriptor_t d_ = nullptr;
};

// One finalised execution plan of a convolution graph (one engine configuration).
class GraphConvPlan {
 public:
  struct Graph;  // the tensors, operations and operation graph the plan was built from (shared)
  GraphConvPlan(std::shared_ptr<const Graph> graph, BackendDescriptor config, BackendDescriptor plan,
                size_t workspace, std::string label, std::string key, bool preferred);
  ~GraphConvPlan();
  GraphConvPlan(const GraphConvPlan&) = delete;
  GraphConvPlan& operator=(const GraphConvPlan&) = delete;

  GraphEpilogue epilogue() const;
  size_t workspace() const { return workspace_; }
  // e.g. "A#0 eng62 {2=0,13=1,27=1} rtc": heuristic mode (A, F = fallback) and rank, engine global
  // index, knob choices (cudnnBackendKnobType_t value = choice), "rtc" when runtime-compiled, "pref"
  // when it was finalised first as a preferred configuration. For logs.
  const std::string& label() const { return label_; }
  // The configuration alone, e.g. "eng41 {2=0,13=1,18=0}": the same string for the same engine and
  // knob choices across shapes and heuristic modes (GraphPlanOptions::preferred takes these).
  const std::string& key() const { return key_; }
  bool preferred() const { return preferred_; }

  // Runs the plan on the handle's stream. `bias` is read by fused graphs, `z` by kBiasAddRelu only;
  // `workspace` must hold workspace() bytes. Every pointer 16-byte aligned. Rebuilds the cached
  // variant pack (host memory only) when the pointers differ from the previous call.
  cudnnStatus_t execute(cudnnHandle_t handle, const void* x, const void* w, void* y, const void* bias,
                        const void* z, void* workspace);

 private:
  std::shared_ptr<const Graph> graph_;
  BackendDescriptor config_, plan_, pack_;
  size_t workspace_ = 0;
  std::string label_, key_;
  bool preferred_ = false;
  const void* pack_ptrs_[6] = {};  // pointers bound into pack_ (x, w, y, bias, z, workspace)
};

// How many execution plans build_graph_conv_plans() finalises (each finalisation is host time at
// planning: about 1-3 ms, more for runtime-compiled engines).
struct GraphPlanOptions {
  size_t workspace_limit = 0;     // bytes; configurations needing more are skipped
  int max_plans = 5;              // from heuristic mode A, in its order
  // When at least one `preferred` configuration is in mode A's list: those first (in `preferred`
  // order), then mode A's order, this many plans in all.
  int max_plans_with_preferred = 3;
  int max_fallback_plans = 4;     // from the fallback list, only when mode A gave no usable plan
  int max_runtime_compiled = 2;   // runtime-compiled engines finalised at most
  std::vector<std::string> preferred;  // GraphConvPlan::key() strings, e.g. earlier winners
};

// Builds the graph for `shape` / `epilogue` and finalises execution plans from heuristic mode A (see
// GraphPlanOptions; duplicates, excluded numerical notes and workspaces over the limit skipped); the
// fallback list is consulted only when mode A yields no usable plan (its engines measured 0.5-44 ms
// per run on the H200 where mode A's took 0.01-0.1 ms). Returns an empty vector when cuDNN supports
// nothing; the reasons and a count summary are appended to `*log` ("; "-separated items).
std::vector<std::unique_ptr<GraphConvPlan>> build_graph_conv_plans(cudnnHandle_t handle, const GraphConvShape& shape,
                                                                   GraphEpilogue epilogue,
                                                                   const GraphPlanOptions& options, std::string* log);

}  // namespace maskrt::cuda
