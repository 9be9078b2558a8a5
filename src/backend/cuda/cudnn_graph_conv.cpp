#include "backend/cuda/cudnn_graph_conv.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <set>
#include <utility>

// CUDNN_ATTR_OPERATIONGRAPH_HANDLE / CUDNN_ATTR_EXECUTION_PLAN_HANDLE are marked deprecated in newer
// cuDNN 9 headers (device-property descriptors replace them) but remain the way to bind a handle in
// every cuDNN 9 release, including the 9.14 of the GPU machine.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace maskrt::cuda {

// ---- BackendDescriptor ----------------------------------------------------------------------------

BackendDescriptor& BackendDescriptor::operator=(BackendDescriptor&& o) noexcept {
  if (this != &o) {
    reset();
    d_ = o.d_;
    o.d_ = nullptr;
  }
  return *this;
}

cudnnStatus_t BackendDescriptor::create(cudnnBackendDescriptorType_t type) {
  reset();
  const cudnnStatus_t st = cudnnBackendCreateDescriptor(type, &d_);
  if (st != CUDNN_STATUS_SUCCESS) d_ = nullptr;
  return st;
}

void BackendDescriptor::reset() noexcept {
  if (d_) cudnnBackendDestroyDescriptor(d_);
  d_ = nullptr;
}

// ---- the graph ------------------------------------------------------------------------------------

// Tensor unique ids (variant pack keys). Virtual intermediates (float32) never reach the variant pack.
namespace {
constexpr int64_t kUidX = 1, kUidW = 2, kUidY = 3, kUidBias = 4, kUidZ = 5;
constexpr int64_t kUidConvOut = 101, kUidBiasOut = 102, kUidAddOut = 103;
constexpr int64_t kAlignment = 16;  // bytes; every non-virtual tensor's base address
}  // namespace

struct GraphConvPlan::Graph {
  GraphEpilogue epilogue = GraphEpilogue::kConvOnly;
  // Tensors, the convolution and pointwise descriptors and the operations: the operation graph refers
  // to them, so they live as long as any plan built from it.
  std::vector<BackendDescriptor> parts;
  BackendDescriptor op_graph;
};

namespace {

// Collects the first failure of a build step as "what: cuDNN's error string".
struct Steps {
  std::string* log;
  bool ok(cudnnStatus_t st, const char* what) {
    if (st == CUDNN_STATUS_SUCCESS) return true;
    if (log) {
      if (!log->empty()) *log += "; ";
      *log += what;
      *log += ": ";
      *log += cudnnGetErrorString(st);
    }
    return false;
  }
};

cudnnStatus_t set_attr(const BackendDescriptor& d, cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type,
                       int64_t count, const void* values) {
  return cudnnBackendSetAttribute(d.get(), name, type, count, values);
}

// A finalised 4-D tensor descriptor: dims (n, c, h, w); `nhwc` selects channels-last strides (KRSC
// for filters), else NCHW (KCRS).
bool make_tensor(Steps& s, BackendDescriptor& t, int64_t uid, cudnnDataType_t dtype, int64_t n, int64_t c, int64_t h,
                 int64_t w, bool is_virtual, bool nhwc) {
  const int64_t dims[4] = {n, c, h, w};
  int64_t strides[4] = {h * w * c, 1, w * c, c};
  if (!nhwc) {
    strides[1] = h * w;
    strides[2] = w;
    strides[3] = 1;
  }
  const bool virt = is_virtual;
  return s.ok(t.create(CUDNN_BACKEND_TENSOR_DESCRIPTOR), "create tensor") &&
         s.ok(set_attr(t, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &dtype), "tensor data type") &&
         s.ok(set_attr(t, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims), "tensor dims") &&
         s.ok(set_attr(t, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides), "tensor strides") &&
         s.ok(set_attr(t, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid), "tensor uid") &&
         s.ok(set_attr(t, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &kAlignment), "tensor alignment") &&
         s.ok(set_attr(t, CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &virt), "tensor virtual") &&
         s.ok(cudnnBackendFinalize(t.get()), "finalize tensor");
}

// A pointwise operation y = mode(x[, b]) with float32 math; `b` null for unary modes (ReLU).
bool make_pointwise(Steps& s, std::vector<BackendDescriptor>& parts, cudnnPointwiseMode_t mode,
                    const BackendDescriptor& x, const BackendDescriptor* b, const BackendDescriptor& y,
                    BackendDescriptor& op) {
  BackendDescriptor pw;
  const cudnnDataType_t prec = CUDNN_DATA_FLOAT;
  const float one = 1.f;
  const cudnnBackendDescriptor_t xd = x.get(), yd = y.get(), bd = b ? b->get() : nullptr;
  bool ok = s.ok(pw.create(CUDNN_BACKEND_POINTWISE_DESCRIPTOR), "create pointwise") &&
            s.ok(set_attr(pw, CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode), "pointwise mode") &&
            s.ok(set_attr(pw, CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, 1, &prec), "pointwise precision") &&
            s.ok(cudnnBackendFinalize(pw.get()), "finalize pointwise");
  if (!ok) return false;
  const cudnnBackendDescriptor_t pwd = pw.get();
  ok = s.ok(op.create(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR), "create pointwise op") &&
       s.ok(set_attr(op, CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &pwd),
            "pointwise op descriptor") &&
       s.ok(set_attr(op, CUDNN_ATTR_OPERATION_POINTWISE_XDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &xd), "pointwise x") &&
       (!b || s.ok(set_attr(op, CUDNN_ATTR_OPERATION_POINTWISE_BDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &bd),
                   "pointwise b")) &&
       s.ok(set_attr(op, CUDNN_ATTR_OPERATION_POINTWISE_YDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &yd), "pointwise y") &&
       s.ok(set_attr(op, CUDNN_ATTR_OPERATION_POINTWISE_ALPHA1, CUDNN_TYPE_FLOAT, 1, &one), "pointwise alpha1") &&
       s.ok(set_attr(op, CUDNN_ATTR_OPERATION_POINTWISE_ALPHA2, CUDNN_TYPE_FLOAT, 1, &one), "pointwise alpha2") &&
       s.ok(cudnnBackendFinalize(op.get()), "finalize pointwise op");
  parts.push_back(std::move(pw));
  return ok;
}

// Tensors -> convolution -> [bias add -> [z add] -> [ReLU]] -> operation graph.
bool build_graph(cudnnHandle_t handle, const GraphConvShape& sh, GraphEpilogue epi, GraphConvPlan::Graph& g,
                 std::string* log) {
  Steps s{log};
  g.epilogue = epi;
  const bool fused = epi != GraphEpilogue::kConvOnly;
  const bool nhwc = sh.dtype != GraphConvDType::kFloatNchw;
  const cudnnDataType_t io = sh.dtype == GraphConvDType::kHalfNhwc ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT;
  const cudnnDataType_t f32 = CUDNN_DATA_FLOAT;
  BackendDescriptor x, w, y, bias, z, conv_out, bias_out, add_out;
  if (!make_tensor(s, x, kUidX, io, sh.n, sh.c, sh.h, sh.w, false, nhwc) ||
      !make_tensor(s, w, kUidW, io, sh.k, sh.c, sh.r, sh.s, false, nhwc) ||
      !make_tensor(s, y, kUidY, io, sh.n, sh.k, sh.oh, sh.ow, false, nhwc))
    return false;
  if (fused && !make_tensor(s, conv_out, kUidConvOut, f32, sh.n, sh.k, sh.oh, sh.ow, true, nhwc)) return false;
  if (fused && !make_tensor(s, bias, kUidBias, io, 1, sh.k, 1, 1, false, nhwc)) return false;
  const bool relu = epi == GraphEpilogue::kBiasRelu || epi == GraphEpilogue::kBiasAddRelu;
  if (relu && !make_tensor(s, bias_out, kUidBiasOut, f32, sh.n, sh.k, sh.oh, sh.ow, true, nhwc)) return false;
  if (epi == GraphEpilogue::kBiasAddRelu &&
      (!make_tensor(s, z, kUidZ, io, sh.n, sh.k, sh.oh, sh.ow, false, nhwc) ||
       !make_tensor(s, add_out, kUidAddOut, f32, sh.n, sh.k, sh.oh, sh.ow, true, nhwc)))
    return false;

  // Convolution descriptor: 2 spatial dims, float32 compute, cross-correlation, dilation 1.
  BackendDescriptor conv;
  const int64_t spatial = 2;
  const cudnnDataType_t compute = CUDNN_DATA_FLOAT;
  const cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  const int64_t pads[2] = {sh.pad_h, sh.pad_w}, strides[2] = {sh.stride_h, sh.stride_w}, dil[2] = {1, 1};
  if (!s.ok(conv.create(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR), "create convolution") ||
      !s.ok(set_attr(conv, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &spatial), "conv dims") ||
      !s.ok(set_attr(conv, CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &compute), "conv compute") ||
      !s.ok(set_attr(conv, CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode), "conv mode") ||
      !s.ok(set_attr(conv, CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, 2, pads), "conv pre pad") ||
      !s.ok(set_attr(conv, CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, 2, pads), "conv post pad") ||
      !s.ok(set_attr(conv, CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, 2, strides), "conv strides") ||
      !s.ok(set_attr(conv, CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, 2, dil), "conv dilations") ||
      !s.ok(cudnnBackendFinalize(conv.get()), "finalize convolution"))
    return false;

  BackendDescriptor conv_op;
  const float alpha = 1.f, beta = 0.f;
  const cudnnBackendDescriptor_t xd = x.get(), wd = w.get(), yd = fused ? conv_out.get() : y.get(), cd = conv.get();
  if (!s.ok(conv_op.create(CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR), "create conv op") ||
      !s.ok(set_attr(conv_op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &xd),
            "conv op x") ||
      !s.ok(set_attr(conv_op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &wd),
            "conv op w") ||
      !s.ok(set_attr(conv_op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &yd),
            "conv op y") ||
      !s.ok(set_attr(conv_op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
                     &cd),
            "conv op descriptor") ||
      !s.ok(set_attr(conv_op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_TYPE_FLOAT, 1, &alpha),
            "conv op alpha") ||
      !s.ok(set_attr(conv_op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, CUDNN_TYPE_FLOAT, 1, &beta),
            "conv op beta") ||
      !s.ok(cudnnBackendFinalize(conv_op.get()), "finalize conv op"))
    return false;

  std::vector<BackendDescriptor> ops;
  ops.push_back(std::move(conv_op));
  if (fused) {
    // kBias:        conv_out + bias -> y
    // kBiasRelu:    conv_out + bias -> bias_out; relu -> y
    // kBiasAddRelu: conv_out + z -> bias_out; + bias -> add_out; relu -> y. The shortcut is added
    //   before the bias: cuDNN 9.19's heuristics offer no engine for (conv + bias) + z (checked offline
    //   with an H200 device description), and they do for this order. Both sums are float32.
    const BackendDescriptor* last = &bias_out;
    if (epi == GraphEpilogue::kBiasAddRelu) {
      BackendDescriptor add_z, add_bias;
      if (!make_pointwise(s, g.parts, CUDNN_POINTWISE_ADD, conv_out, &z, bias_out, add_z)) return false;
      ops.push_back(std::move(add_z));
      if (!make_pointwise(s, g.parts, CUDNN_POINTWISE_ADD, bias_out, &bias, add_out, add_bias)) return false;
      ops.push_back(std::move(add_bias));
      last = &add_out;
    } else {
      BackendDescriptor add_bias;
      if (!make_pointwise(s, g.parts, CUDNN_POINTWISE_ADD, conv_out, &bias, relu ? bias_out : y, add_bias))
        return false;
      ops.push_back(std::move(add_bias));
    }
    if (relu) {
      BackendDescriptor act;
      if (!make_pointwise(s, g.parts, CUDNN_POINTWISE_RELU_FWD, *last, nullptr, y, act)) return false;
      ops.push_back(std::move(act));
    }
  }
  std::vector<cudnnBackendDescriptor_t> op_ptrs;
  for (const BackendDescriptor& op : ops) op_ptrs.push_back(op.get());
  if (!s.ok(g.op_graph.create(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR), "create operation graph") ||
      !s.ok(set_attr(g.op_graph, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle), "graph handle") ||
      !s.ok(set_attr(g.op_graph, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                     static_cast<int64_t>(op_ptrs.size()), op_ptrs.data()),
            "graph ops") ||
      !s.ok(cudnnBackendFinalize(g.op_graph.get()), "finalize operation graph"))
    return false;
  for (BackendDescriptor* d : {&x, &w, &y, &bias, &z, &conv_out, &bias_out, &add_out, &conv})
    if (d->get()) g.parts.push_back(std::move(*d));
  for (BackendDescriptor& op : ops) g.parts.push_back(std::move(op));
  return true;
}

// What the heuristics say about one engine configuration.
struct ConfigInfo {
  std::string key;  // "eng<id> {type=value,...}": identifies the configuration across heuristic modes
  bool excluded = false;  // numerical notes we do not accept
  bool runtime_compiled = false;
  int64_t workspace = -1;  // from the configuration, -1 when cuDNN does not say
};

ConfigInfo inspect_config(const BackendDescriptor& cfg) {
  ConfigInfo info;
  BackendDescriptor engine;
  int64_t count = 0;
  cudnnBackendDescriptor_t ed = nullptr;
  int64_t engine_id = -1;
  bool have_engine = engine.create(CUDNN_BACKEND_ENGINE_DESCRIPTOR) == CUDNN_STATUS_SUCCESS;
  if (have_engine) {
    ed = engine.get();
    have_engine = cudnnBackendGetAttribute(cfg.get(), CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
                                           &count, &ed) == CUDNN_STATUS_SUCCESS;
  }
  if (have_engine) {
    cudnnBackendGetAttribute(engine.get(), CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &count, &engine_id);
    cudnnBackendNumericalNote_t notes[CUDNN_NUMERICAL_NOTE_TYPE_COUNT];
    int64_t n_notes = 0;
    if (cudnnBackendGetAttribute(engine.get(), CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE,
                                 CUDNN_NUMERICAL_NOTE_TYPE_COUNT, &n_notes, notes) == CUDNN_STATUS_SUCCESS)
      for (int64_t i = 0; i < n_notes && i < CUDNN_NUMERICAL_NOTE_TYPE_COUNT; ++i)
        info.excluded |= notes[i] == CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION ||
                         notes[i] == CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS ||
                         notes[i] == CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC;
    cudnnBackendBehaviorNote_t behaviour[CUDNN_BEHAVIOR_NOTE_TYPE_COUNT];
    int64_t n_behaviour = 0;
    if (cudnnBackendGetAttribute(engine.get(), CUDNN_ATTR_ENGINE_BEHAVIOR_NOTE, CUDNN_TYPE_BEHAVIOR_NOTE,
                                 CUDNN_BEHAVIOR_NOTE_TYPE_COUNT, &n_behaviour, behaviour) == CUDNN_STATUS_SUCCESS)
      for (int64_t i = 0; i < n_behaviour && i < CUDNN_BEHAVIOR_NOTE_TYPE_COUNT; ++i)
        info.runtime_compiled |= behaviour[i] == CUDNN_BEHAVIOR_NOTE_RUNTIME_COMPILATION;
  }
  info.key = "eng" + std::to_string(engine_id) + " {";
  // Knob choices: cuDNN fills up to the requested number of pre-created knob-choice descriptors (as
  // many as this header's knob types; a newer library with more types would report the count).
  std::vector<BackendDescriptor> knobs(CUDNN_KNOB_TYPE_COUNTS);
  std::vector<cudnnBackendDescriptor_t> kd;
  bool created = true;
  for (BackendDescriptor& k : knobs) {
    created = created && k.create(CUDNN_BACKEND_KNOB_CHOICE_DESCRIPTOR) == CUDNN_STATUS_SUCCESS;
    kd.push_back(k.get());
  }
  int64_t n_knobs = 0;
  if (created && cudnnBackendGetAttribute(cfg.get(), CUDNN_ATTR_ENGINECFG_KNOB_CHOICES, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                                          CUDNN_KNOB_TYPE_COUNTS, &n_knobs, kd.data()) == CUDNN_STATUS_SUCCESS) {
    for (int64_t i = 0; i < n_knobs && i < CUDNN_KNOB_TYPE_COUNTS; ++i) {
      cudnnBackendKnobType_t type{};
      int64_t value = 0, c = 0;
      if (cudnnBackendGetAttribute(kd[i], CUDNN_ATTR_KNOB_CHOICE_KNOB_TYPE, CUDNN_TYPE_KNOB_TYPE, 1, &c, &type) !=
              CUDNN_STATUS_SUCCESS ||
          cudnnBackendGetAttribute(kd[i], CUDNN_ATTR_KNOB_CHOICE_KNOB_VALUE, CUDNN_TYPE_INT64, 1, &c, &value) !=
              CUDNN_STATUS_SUCCESS)
        continue;
      info.key += (i ? "," : "") + std::to_string(static_cast<int>(type)) + "=" + std::to_string(value);
    }
  }
  info.key += "}";
#if CUDNN_VERSION >= 90200  // the configuration's workspace before finalisation (cuDNN >= 9.2)
  int64_t ws = -1;
  if (cudnnBackendGetAttribute(cfg.get(), CUDNN_ATTR_ENGINECFG_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &count, &ws) ==
      CUDNN_STATUS_SUCCESS)
    info.workspace = ws;
#endif
  return info;
}

}  // namespace

// ---- GraphConvPlan --------------------------------------------------------------------------------

GraphConvPlan::GraphConvPlan(std::shared_ptr<const Graph> graph, BackendDescriptor config, BackendDescriptor plan,
                             size_t workspace, std::string label, std::string key, bool preferred)
    : graph_(std::move(graph)),
      config_(std::move(config)),
      plan_(std::move(plan)),
      workspace_(workspace),
      label_(std::move(label)),
      key_(std::move(key)),
      preferred_(preferred) {}

GraphConvPlan::~GraphConvPlan() = default;

GraphEpilogue GraphConvPlan::epilogue() const { return graph_->epilogue; }

cudnnStatus_t GraphConvPlan::execute(cudnnHandle_t handle, const void* x, const void* w, void* y, const void* bias,
                                     const void* z, void* workspace) {
  const GraphEpilogue epi = graph_->epilogue;
  const void* bound[6] = {x, w, y, epi == GraphEpilogue::kConvOnly ? nullptr : bias,
                          epi == GraphEpilogue::kBiasAddRelu ? z : nullptr, workspace};
  if (!pack_.get() || std::memcmp(bound, pack_ptrs_, sizeof(bound)) != 0) {
    // The variant pack binds the pointers at finalisation: a new one when they change (host memory
    // only; in the steady state the arena hands every layer the same addresses, so this runs once).
    int64_t uids[5] = {kUidX, kUidW, kUidY, kUidBias, kUidZ};
    void* ptrs[5] = {const_cast<void*>(x), const_cast<void*>(w), y, const_cast<void*>(bias), const_cast<void*>(z)};
    const int64_t count = epi == GraphEpilogue::kConvOnly ? 3 : epi == GraphEpilogue::kBiasAddRelu ? 5 : 4;
    std::memset(pack_ptrs_, 0, sizeof(pack_ptrs_));
    cudnnStatus_t st = pack_.create(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
    if (st == CUDNN_STATUS_SUCCESS)
      st = set_attr(pack_, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, count, uids);
    if (st == CUDNN_STATUS_SUCCESS)
      st = set_attr(pack_, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, count, ptrs);
    if (st == CUDNN_STATUS_SUCCESS)
      st = set_attr(pack_, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &workspace);
    if (st == CUDNN_STATUS_SUCCESS) st = cudnnBackendFinalize(pack_.get());
    if (st != CUDNN_STATUS_SUCCESS) {
      pack_.reset();
      return st;
    }
    std::memcpy(pack_ptrs_, bound, sizeof(bound));
  }
  return cudnnBackendExecute(handle, plan_.get(), pack_.get());
}

// ---- candidates -----------------------------------------------------------------------------------

namespace {

// One heuristic mode's engine configurations for the graph, in its order (empty on failure).
std::vector<BackendDescriptor> heuristic_configs(Steps& s, const GraphConvPlan::Graph& graph,
                                                 cudnnBackendHeurMode_t mode) {
  std::vector<BackendDescriptor> configs;
  BackendDescriptor heur;
  const cudnnBackendDescriptor_t gd = graph.op_graph.get();
  int64_t count = 0;
  if (!s.ok(heur.create(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR), "create heuristics") ||
      !s.ok(set_attr(heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &gd),
            "heuristics graph") ||
      !s.ok(set_attr(heur, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode), "heuristics mode") ||
      !s.ok(cudnnBackendFinalize(heur.get()), mode == CUDNN_HEUR_MODE_A ? "heuristics A" : "heuristics fallback") ||
      !s.ok(cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0,
                                     &count, nullptr),
            "heuristics count") ||
      count <= 0)
    return configs;
  configs.resize(static_cast<size_t>(count));
  std::vector<cudnnBackendDescriptor_t> cd;
  for (BackendDescriptor& c : configs) {
    if (!s.ok(c.create(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR), "create engine config")) return {};
    cd.push_back(c.get());
  }
  int64_t got = 0;
  if (!s.ok(cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, count,
                                     &got, cd.data()),
            "heuristics results"))
    return {};
  configs.resize(static_cast<size_t>(std::max<int64_t>(0, std::min(got, count))));
  return configs;
}

}  // namespace

std::vector<std::unique_ptr<GraphConvPlan>> build_graph_conv_plans(cudnnHandle_t handle, const GraphConvShape& shape,
                                                                   GraphEpilogue epilogue,
                                                                   const GraphPlanOptions& options, std::string* log) {
  std::vector<std::unique_ptr<GraphConvPlan>> plans;
  auto graph = std::make_shared<GraphConvPlan::Graph>();
  if (!build_graph(handle, shape, epilogue, *graph, log)) return plans;
  Steps s{log};
  std::set<std::string> seen;
  int rtc_tried = 0;
  int n_configs = 0, n_notes = 0, n_workspace = 0, n_rtc_cap = 0, n_unsupported = 0, n_preferred = 0;
  bool used_fallback = false;
  // Mode A first; the fallback list only when mode A gave no usable plan.
  for (const cudnnBackendHeurMode_t mode : {CUDNN_HEUR_MODE_A, CUDNN_HEUR_MODE_FALLBACK}) {
    if (mode == CUDNN_HEUR_MODE_FALLBACK) {
      if (!plans.empty() || options.max_fallback_plans <= 0) break;
      used_fallback = true;
    }
    const char* mode_name = mode == CUDNN_HEUR_MODE_A ? "A" : "F";
    std::vector<BackendDescriptor> configs = heuristic_configs(s, *graph, mode);
    std::vector<ConfigInfo> infos;
    for (const BackendDescriptor& c : configs) infos.push_back(inspect_config(c));
    n_configs += static_cast<int>(configs.size());
    // The order to try: preferred configurations first (mode A only), then the heuristic's order.
    std::vector<size_t> order;
    int cap = mode == CUDNN_HEUR_MODE_A ? options.max_plans : options.max_fallback_plans;
    std::vector<bool> is_pref(configs.size(), false);
    if (mode == CUDNN_HEUR_MODE_A) {
      for (const std::string& want : options.preferred)
        for (size_t i = 0; i < infos.size(); ++i)
          if (!is_pref[i] && infos[i].key == want) {
            is_pref[i] = true;
            order.push_back(i);
            break;
          }
      if (!order.empty()) cap = options.max_plans_with_preferred;
    }
    for (size_t i = 0; i < configs.size(); ++i)
      if (!is_pref[i]) order.push_back(i);
    for (const size_t i : order) {
      if (static_cast<int>(plans.size()) >= cap) break;
      const ConfigInfo& info = infos[i];
      if (!seen.insert(info.key).second) continue;  // duplicate configuration
      if (info.excluded) {
        ++n_notes;
        continue;
      }
      if (info.workspace > static_cast<int64_t>(options.workspace_limit)) {
        ++n_workspace;
        continue;
      }
      if (info.runtime_compiled && rtc_tried >= options.max_runtime_compiled) {
        ++n_rtc_cap;
        continue;
      }
      rtc_tried += info.runtime_compiled ? 1 : 0;
      BackendDescriptor plan;
      const cudnnBackendDescriptor_t cfg = configs[i].get();
      int64_t ws = 0, c = 0;
      if (plan.create(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR) != CUDNN_STATUS_SUCCESS ||
          set_attr(plan, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle) != CUDNN_STATUS_SUCCESS ||
          set_attr(plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &cfg) !=
              CUDNN_STATUS_SUCCESS ||
          cudnnBackendFinalize(plan.get()) != CUDNN_STATUS_SUCCESS ||
          cudnnBackendGetAttribute(plan.get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &c,
                                   &ws) != CUDNN_STATUS_SUCCESS ||
          ws < 0) {
        ++n_unsupported;
        continue;
      }
      if (static_cast<size_t>(ws) > options.workspace_limit) {
        ++n_workspace;
        continue;
      }
      n_preferred += is_pref[i] ? 1 : 0;
      std::string label = std::string(mode_name) + "#" + std::to_string(i) + " " + info.key +
                          (info.runtime_compiled ? " rtc" : "") + (is_pref[i] ? " pref" : "");
      plans.push_back(std::make_unique<GraphConvPlan>(graph, std::move(configs[i]), std::move(plan),
                                                      static_cast<size_t>(ws), std::move(label), info.key,
                                                      is_pref[i]));
    }
  }
  if (log) {
    char buf[240];
    std::snprintf(buf, sizeof(buf),
                  "%d configs, %zu plans (%d preferred%s), skipped: %d notes, %d workspace, %d rtc cap, %d not "
                  "finalised",
                  n_configs, plans.size(), n_preferred, used_fallback ? ", fallback list" : "", n_notes, n_workspace,
                  n_rtc_cap, n_unsupported);
    if (!log->empty()) *log += "; ";
    *log += buf;
  }
  return plans;
}

}  // namespace maskrt::cuda
