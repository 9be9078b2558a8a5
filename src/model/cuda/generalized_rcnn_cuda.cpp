#include "model/cuda/generalized_rcnn_cuda.h"

#include <vector>
#include <tuple>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>

#include <cublas_v2.h>
#include <cuda_profiler_api.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_context.h"
#include "backend/cuda/device_arena.h"
#include "backend/cuda/device_buffer.h"
#include "backend/cuda/staged_upload.h"
#include "model/backbone/fpn.h"
#include "model/cuda/backbone_cuda.h"
#include "model/cuda/carver.h"
#include "model/cuda/roi_heads_cuda.h"
#include "model/cuda/rpn_cuda.h"
#include "model/postprocessing.h"
#include "ops/paste_mask/paste_mask_cuda.h"
#include "ops/paste_mask/paste_mask_packed.h"
#include "ops/resize/resize.h"
#include "ops/resize/resize_cuda.h"

namespace maskrt::cuda {

bool cuda_available() { return cuda_device_count() > 0; }

bool open_cuda_context(int device) {
  const bool ok = cudaSetDevice(device) == cudaSuccess && cudaFree(nullptr) == cudaSuccess;
  if (!ok) cudaGetLastError();
  return ok;
}

std::string cuda_library_versions() {
  int rt = 0, drv = 0, cublas = 0;
  cudaRuntimeGetVersion(&rt);
  cudaDriverGetVersion(&drv);
  cublasHandle_t h = nullptr;
  if (cublasCreate(&h) == CUBLAS_STATUS_SUCCESS) {
    cublasGetVersion(h, &cublas);
    cublasDestroy(h);
  }
  const size_t dnn = cudnnGetVersion();
  char buf[160];
  std::snprintf(buf, sizeof(buf), "CUDA runtime %d.%d, driver %d.%d, cuDNN %zu.%zu.%zu, cuBLAS %d.%d.%d", rt / 1000,
                (rt % 1000) / 10, drv / 1000, (drv % 1000) / 10, dnn / 10000, (dnn % 10000) / 100, dnn % 100,
                cublas / 10000, (cublas % 10000) / 100, cublas % 100);
  return buf;
}

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// Pinned host memory (RAII), grown on demand outside the steady state.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  ~PinnedBuffer() {
    if (ptr_) cudaFreeHost(ptr_);
  }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  void reserve(size_t bytes, const char* what) {
    if (bytes <= bytes_) return;
    void* fresh = nullptr;  // allocate first: on failure the current buffer stays valid
    if (cudaHostAlloc(&fresh, bytes, cudaHostAllocDefault) != cudaSuccess) {
      cudaGetLastError();
      MASKRT_FAIL(ErrorCode::kOutOfMemory, "out of pinned host memory: ", bytes, " bytes for ", what);
    }
    if (ptr_) cudaFreeHost(ptr_);
    ptr_ = fresh;
    bytes_ = bytes;
  }
  char* get() const { return static_cast<char*>(ptr_); }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// Device memory in use (total - free, whole device) and the total, by cudaMemGetInfo on the current
// device. Never throws: a failed reading returns false and clears the error.
bool device_used_bytes(uint64_t* used, uint64_t* total) {
  size_t free_b = 0, total_b = 0;
  if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  *used = total_b - free_b;
  if (total) *total = total_b;
  return true;
}

// The first reading of Engine::memory_report(): makes `device` current (creating the primary context
// if this process has none yet) and reads the device before the engine's handles exist. Never throws;
// CudaContext reports an unusable device.
DeviceMemoryReport memory_at_start(int device) {
  DeviceMemoryReport m;
  if (cudaSetDevice(device) != cudaSuccess || cudaFree(nullptr) != cudaSuccess) {
    cudaGetLastError();
    return m;
  }
  m.available = device_used_bytes(&m.used_at_start, &m.device_total_bytes);
  return m;
}

// The per-stage event boundaries of ImageResult::times.
enum Stage { kStart, kPreprocessed, kBackbone, kFpn, kRpn, kBoxHead, kMaskHead, kNumEvents };

}  // namespace

struct CudaGeneralizedRCNN::Impl {
  ModelSpec spec;
  Precision precision;
  DeviceMemoryReport mem;  // declared before ctx: its first reading precedes the handles (memory_at_start)
  CudaContext ctx;
  std::unique_ptr<CudaBackbone> backbone;
  std::unique_ptr<CudaRPN> rpn;
  std::unique_ptr<CudaROIHeads> roi_heads;
  std::vector<std::string> rpn_features, roi_features;
  cudaEvent_t events[kNumEvents] = {};
  bool use_graphs = graphs_enabled();
  int max_lanes = 1;  // set_concurrent_images()
  bool profiler_range = false;
  // EngineOptions::backbone_batch or MASKRT_BACKBONE_BATCH (fp16 / tf32; 1 = off): run_batch runs up to
  // this many consecutive images of one size and channel order as one group plan (backbone, FPN and RPN
  // head convs at n images).
  int backbone_batch = 1;
  // With a backbone batch > 1 (unless MASKRT_BACKBONE_BATCH_PIN=0): a group plan's backbone, FPN and
  // RPN-head convolutions keep an n-image plan only where a bit check at planning shows every image
  // gets its single-image bits, else run image by image (ConvCudnn::plan_pinned), so a group member
  // equals its infer() result exactly.
  bool pin_group_convs = false;
  // tf32 only, the default since session 7 (MASKRT_TF32_NHWC=0: NCHW): activations NHWC float32
  // (tf32_nhwc_from_env; carver.h activation_layout).
  bool tf32_nhwc = false;
  // Original sizes whose group plan ran out of device memory: their images run one at a time.
  std::set<std::pair<int, int>> no_group_room;

  // One plan serves n images of one original size at once: n = 1 (every image by default), or a
  // MASKRT_BACKBONE_BATCH group, where the input, the backbone / FPN outputs and the RPN head run at
  // n images (image k at rows(k, 1)), then RPN proposals, ROI heads and the paste run image by image
  // over shared temporaries into n download blocks (out_stride bytes apart).
  struct Plan {
    int in_h = 0, in_w = 0, rh = 0, rw = 0, ph = 0, pw = 0;
    int n = 1;                // images per launch
    size_t out_stride = 0;    // bytes between the download blocks of images k and k + 1
    ops::PreprocessCudaParams pre;
    DeviceBuffer coeff_blob;
    ops::DeviceCoeffs coeffs;
    uint64_t generation = ~uint64_t(0);  // arena generation of the carving below
    uint8_t* input = nullptr;
    CudaBackbone::Buffers bb;
    CudaRPN::Buffers rpn;
    CudaROIHeads::Buffers roi;
    std::vector<DeviceTensor> rpn_in, roi_in;
    void* workspace = nullptr;
    size_t workspace_bytes = 0;
    char* out_block = nullptr;  // n blocks of out_bytes, out_stride apart
    size_t out_bytes = 0;       // one image's download block
    size_t off_boxes = 0, off_scores = 0, off_classes = 0, off_masks = 0, off_paste = 0;
    ops::PasteMaskCudaParams paste;  // device rescale + clip + paste (mask_on only)
    // CUDA graphs of enqueue_compute, one per channel flip; valid for this carving only.
    struct Graph {
      cudaGraphExec_t exec = nullptr;
      bool failed = false;
    };
    Graph graphs[2];
    int eager_runs = 0;
    void drop_graphs() {
      for (Graph& g : graphs) {
        if (g.exec) cudaGraphExecDestroy(g.exec);
        g = Graph{};
      }
      eager_runs = 0;
    }
    ~Plan() { drop_graphs(); }
  };

  using PlanKey = std::tuple<int, int, int>;  // original (h, w), images per launch
  // A lane: one stream with its own activation arena, plans (carvings + CUDA graphs), two slots of
  // pinned staging and their completion events (run_batch keeps an image in flight per slot while
  // an earlier one is decoded on the host). Lane 0 runs on the context's own stream and cuBLAS
  // handle; lanes 1.. (concurrent images in run_batch) own theirs. The layers, their weights and
  // their algorithm plans are shared, so every lane runs the same kernels and an image's results
  // do not depend on its lane.
  struct Lane {
    int index = 0;
    cudaStream_t stream = nullptr;
    cublasHandle_t cublas = nullptr;
    bool owns = false;
    DeviceArena arena;
    PinnedBuffer pinned_in[2], pinned_out[2];
    cudaEvent_t done[2] = {};
    int next_slot = 0;
    // Original sizes this lane (> 0) had no device memory for: they go to lane 0 directly.
    std::set<std::pair<int, int>> no_room;
    // shared_ptr: run_batch keeps the plan of an in-flight image alive across a cache eviction.
    // Keyed by the original size and the images per launch (1, or a MASKRT_BACKBONE_BATCH group).
    std::map<PlanKey, std::shared_ptr<Plan>> plans;

    Lane(CudaContext& ctx, int i) : index(i) {
      try {
        if (i == 0) {
          stream = ctx.own_stream();
          cublas = ctx.own_cublas();
        } else {
          owns = true;
          MASKRT_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
          MASKRT_CUDA_CHECK(cublasCreate(&cublas));
          MASKRT_CUDA_CHECK(cublasSetStream(cublas, stream));
        }
        for (auto& e : done) MASKRT_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
      } catch (...) {
        release();
        throw;
      }
    }
    ~Lane() { release(); }
    Lane(const Lane&) = delete;
    Lane& operator=(const Lane&) = delete;
    void release() noexcept {
      if (stream) cudaStreamSynchronize(stream);
      for (auto& e : done)
        if (e) cudaEventDestroy(e);
      if (owns && cublas) cublasDestroy(cublas);
      if (owns && stream) cudaStreamDestroy(stream);
      for (auto& e : done) e = nullptr;
      cublas = nullptr;
      stream = nullptr;
    }
  };
  // lanes[0] always exists; lanes are destroyed before ctx (declared after it).
  std::vector<std::unique_ptr<Lane>> lanes;

  // Device bytes of every lane's arena together (what MASKRT_CUDA_MEMORY_LIMIT_MB caps).
  size_t arena_total() const {
    size_t b = 0;
    for (const auto& l : lanes) b += l->arena.capacity();
    return b;
  }

  // Points the context (stream, cuBLAS handle, cuDNN's stream) at lane i and returns it.
  Lane& use_lane(size_t i) {
    Lane& l = *lanes.at(i);
    ctx.bind(l.stream, l.cublas);
    return l;
  }

  Impl(const ModelSpec& s, WeightStore& ws, Precision p, int device, int backbone_batch_option)
      : spec(s), precision(p), mem(memory_at_start(device)), ctx(device) {
    // First: a bad value throws before anything is made.
    backbone_batch = backbone_batch_option != 0 ? backbone_batch_from_option(backbone_batch_option, precision)
                                                : backbone_batch_from_env(precision);
    tf32_nhwc = tf32_nhwc_from_env(precision);
    pin_group_convs = pin_group_convs_from_env(backbone_batch);
    device_used_bytes(&mem.used_after_context, nullptr);
    DeviceAllocTally weights;  // every DeviceBuffer the layers upload below
    backbone = std::make_unique<CudaBackbone>(spec, ws, precision, tf32_nhwc);
    rpn_features = spec.rpn_in_features;
    roi_features = spec.roi_in_features;
    std::vector<int> rpn_strides, roi_strides;
    const auto& names = backbone->output_names();
    for (const auto& f : rpn_features) {
      MASKRT_CHECK(std::find(names.begin(), names.end(), f) != names.end(), ErrorCode::kBadConfig,
                   "MODEL.RPN.IN_FEATURES: '", f, "' is not an output of the FPN backbone");
      rpn_strides.push_back(backbone->stride(f));
    }
    for (const auto& f : roi_features) {
      MASKRT_CHECK(std::find(names.begin(), names.end(), f) != names.end(), ErrorCode::kBadConfig,
                   "MODEL.ROI_HEADS.IN_FEATURES: '", f, "' is not an output of the FPN backbone");
      roi_strides.push_back(backbone->stride(f));
    }
    rpn = std::make_unique<CudaRPN>(spec, ws, backbone->out_channels(), rpn_strides, precision, tf32_nhwc);
    roi_heads = std::make_unique<CudaROIHeads>(spec, ws, backbone->out_channels(), roi_strides, precision, tf32_nhwc);
    mem.weights_bytes = weights.bytes();
    mem.weight_buffers = weights.buffers();
    device_used_bytes(&mem.used_after_weights, nullptr);
    for (auto& e : events) MASKRT_CUDA_CHECK(cudaEventCreate(&e));
    lanes.push_back(std::make_unique<Lane>(ctx, 0));
  }

  // EngineOptions::backbone_batch = N (1..8, non-zero: wins over MASKRT_BACKBONE_BATCH, which is then
  // not read; a set variable is named as overridden). 1 = off; fp32 ignores N > 1 (logged), as below.
  // Outside 1..8: kInvalidArgument naming backbone_batch (the Engine checks the range first).
  static int backbone_batch_from_option(int n, Precision precision) {
    MASKRT_CHECK(n >= 1 && n <= kMaxBackboneBatch, ErrorCode::kInvalidArgument,
                 "backbone_batch: expected 0 (MASKRT_BACKBONE_BATCH or off) to ", kMaxBackboneBatch, ", got ", n);
    if (const char* e = std::getenv("MASKRT_BACKBONE_BATCH"); e && *e)
      std::fprintf(stderr, "maskrt: backbone_batch=%d set: MASKRT_BACKBONE_BATCH=%s is not used\n", n, e);
    return backbone_batch_in_effect(n, precision, "backbone_batch=" + std::to_string(n));
  }

  // MASKRT_BACKBONE_BATCH=N (1..8; unset, empty or 1: off). fp32 ignores it (logged): fp32 batch
  // results must equal batch-1 results bit for bit, and other cuDNN algorithms at n > 1 would break
  // that. Malformed values are kInvalidArgument naming the variable.
  static int backbone_batch_from_env(Precision precision) {
    const char* e = std::getenv("MASKRT_BACKBONE_BATCH");
    if (!e || !*e) return 1;
    char* end = nullptr;
    const long v = std::strtol(e, &end, 10);
    MASKRT_CHECK(*end == '\0' && v >= 1 && v <= kMaxBackboneBatch, ErrorCode::kInvalidArgument,
                 "MASKRT_BACKBONE_BATCH: expected an integer 1..", kMaxBackboneBatch, ", got '", e, "'");
    return backbone_batch_in_effect(static_cast<int>(v), precision, "MASKRT_BACKBONE_BATCH=" + std::to_string(v));
  }

  // The group size a valid N (1..8) from `source` ("backbone_batch=N" or "MASKRT_BACKBONE_BATCH=N", as
  // the stderr lines name it) gives: 1 = off; fp32 ignores N > 1 (logged); otherwise announced.
  static int backbone_batch_in_effect(int n, Precision precision, const std::string& source) {
    if (n == 1) return 1;
    if (precision == Precision::kFP32) {
      std::fprintf(stderr, "maskrt: %s ignored for fp32 (fp32 images always run one at a time)\n", source.c_str());
      return 1;
    }
    std::fprintf(stderr,
                 "maskrt: %s: up to %d consecutive same-size images share one backbone, FPN and RPN-head pass\n",
                 source.c_str(), n);
    return n;
  }

  // A 0/1 environment switch: -1 when unset or empty, else its value; anything else is
  // kInvalidArgument naming the variable ("NAME: expected 0 or 1, got 'v'").
  static int env_switch(const char* name) {
    const char* e = std::getenv(name);
    if (!e || !*e) return -1;
    const std::string v(e);
    MASKRT_CHECK(v == "0" || v == "1", ErrorCode::kInvalidArgument, name, ": expected 0 or 1, got '", v, "'");
    return v == "1";
  }

  // MASKRT_BACKBONE_BATCH_PIN: with a backbone batch, group plans' convolutions are planned by
  // ConvCudnn::plan_pinned by default (session 10: each keeps an n-image plan only where a check shows
  // it gives every image its single-image bits, else runs image by image), so a group member equals
  // infer() bit for bit. 0: group convolutions plan n images themselves (announced: faster by 1-4 %
  // on the H200 in session 11, 5-7 % in session 10 before own n-image plans were kept where bit-exact;
  // but an image's fp16 / tf32 bits may then depend on whether its
  // neighbours share its size); 1: the default, announced. Without a backbone batch, 1 is ignored
  // (said so). Other values are kInvalidArgument naming the variable.
  static bool pin_group_convs_from_env(int group) {
    const int v = env_switch("MASKRT_BACKBONE_BATCH_PIN");
    if (group <= 1) {
      if (v == 1) std::fprintf(stderr, "maskrt: MASKRT_BACKBONE_BATCH_PIN=1 ignored: no backbone batch in effect\n");
      return false;
    }
    if (v == 0) {
      std::fprintf(stderr, "maskrt: MASKRT_BACKBONE_BATCH_PIN=0: group convolutions plan n images (an image's "
                           "bits may differ from its infer() bits)\n");
      return false;
    }
    if (v == 1)
      std::fprintf(stderr, "maskrt: MASKRT_BACKBONE_BATCH_PIN=1: group convolutions keep an n-image plan only "
                           "where it gives single-image bits, else run image by image\n");
    return true;
  }

  // MASKRT_TF32_NHWC: tf32 activations NHWC float32 by default since session 7 (2026-11-29; H200,
  // full-width R50: batch 1 5.5 -> 3.4 ms, batch 16 225 -> 384 images/s; the same Detectron2 goldens
  // pass);
  // 0: the NCHW float pipeline (one stderr line); 1: NHWC, announced (one line); ignored for fp32 /
  // fp16 (logged: fp32 stays NCHW for Detectron2's numerics, fp16 is NHWC already). Other values are
  // kInvalidArgument naming the variable.
  static bool tf32_nhwc_from_env(Precision precision) {
    const int v = env_switch("MASKRT_TF32_NHWC");
    if (v < 0) return precision == Precision::kTF32;
    if (v == 0) {
      if (precision == Precision::kTF32)
        std::fprintf(stderr, "maskrt: MASKRT_TF32_NHWC=0: tf32 activations NCHW float\n");
      return false;
    }
    if (precision != Precision::kTF32) {
      std::fprintf(stderr, "maskrt: MASKRT_TF32_NHWC=1 ignored for %s (tf32 only)\n",
                   precision == Precision::kFP16 ? "fp16" : "fp32");
      return false;
    }
    std::fprintf(stderr, "maskrt: MASKRT_TF32_NHWC=1: tf32 activations NHWC float\n");
    return true;
  }
  ~Impl() {
    for (auto& l : lanes) l->release();
    ctx.bind_own_noexcept();
    for (auto& e : events)
      if (e) cudaEventDestroy(e);
  }

  // Lays out every buffer of a plan: the same function measures (arena.is_measuring()) and carves.
  void carve(Plan& p, DeviceArena& a, bool plan_algos = true) {
    a.reset();
    Carver c{ctx, a, precision, tf32_nhwc};
    c.plan_algos = plan_algos;
    p.input = c.raw<uint8_t>(static_cast<size_t>(p.n) * p.in_h * p.in_w * 3);  // n images, back to back
    c.need_workspace(ops::preprocess_workspace_bytes(p.pre));
    c.pin_convs_to_single = pin_group_convs && p.n > 1;  // the layers that run at n images
    backbone->carve(c, p.ph, p.pw, &p.bb, p.n);
    p.rpn_in.clear();
    p.roi_in.clear();
    for (const auto& f : rpn_features) p.rpn_in.push_back(p.bb.features.at(f));
    for (const auto& f : roi_features) p.roi_in.push_back(p.bb.features.at(f));
    rpn->carve(c, p.rpn_in, p.rh, p.rw, &p.rpn);
    c.pin_convs_to_single = false;  // ROI heads plan per image (n = ROIs) as always
    // Download block: count | boxes (D, 4) | scores (D) | classes (D) | masks (D, M, M), one copy.
    const size_t D = roi_heads->detection_capacity(), M = roi_heads->mask_size();
    auto align = [](size_t x) { return (x + 15) / 16 * 16; };
    p.off_boxes = 16;
    p.off_scores = p.off_boxes + align(D * 4 * sizeof(float));
    p.off_classes = p.off_scores + align(D * sizeof(float));
    p.off_masks = p.off_classes + align(D * sizeof(int));
    p.off_paste = p.off_masks + align(spec.mask_on ? D * M * M * sizeof(float) : 0);
    p.out_bytes = p.off_paste;
    if (spec.mask_on) {
      p.paste.capacity = static_cast<int>(D);
      p.paste.mask_size = static_cast<int>(M);
      p.paste.resized_h = p.rh;
      p.paste.resized_w = p.rw;
      p.paste.orig_h = p.in_h;
      p.paste.orig_w = p.in_w;
      p.paste.threshold = 0.5f;  // Detectron2's paste_masks_in_image threshold
      p.paste.words_capacity = ops::paste_mask_default_words_capacity(p.in_h, p.in_w);
      p.out_bytes += ops::paste_mask_block_layout(p.paste).bytes;
    }
    p.out_stride = p.n == 1 ? p.out_bytes : (p.out_bytes + DeviceArena::kAlignment - 1) / DeviceArena::kAlignment *
                                                DeviceArena::kAlignment;
    p.out_block = static_cast<char*>(a.alloc(p.n == 1 ? p.out_bytes : p.out_stride * p.n));
    // The ROI heads' temporaries serve the n images one after another; only the outputs are per image.
    roi_heads->carve(c, image_slice(p.roi_in, 0), p.rh, p.rw, detection_outputs(p, 0), &p.roi);
    p.workspace_bytes = c.workspace;
    // The shared workspace goes above the high-water mark of this carving, not at the current offset:
    // rewound temporaries (backbone stages, laterals) may extend past the offset, and ops use the
    // workspace while those temporaries are live.
    a.rewind(a.peak());
    p.workspace = a.alloc(c.workspace);
  }

  // Image k's slice of n-image features (n outermost in NCHW and NHWC alike).
  static std::vector<DeviceTensor> image_slice(const std::vector<DeviceTensor>& features, int k) {
    std::vector<DeviceTensor> out;
    out.reserve(features.size());
    for (const DeviceTensor& f : features) out.push_back(f.rows(k, 1));
    return out;
  }

  // Image k's outputs in the plan's download blocks.
  DetectionOutputs detection_outputs(const Plan& p, int k) const {
    char* block = p.out_block + static_cast<size_t>(k) * p.out_stride;
    DetectionOutputs out;
    out.count = reinterpret_cast<int*>(block);
    out.boxes = reinterpret_cast<float*>(block + p.off_boxes);
    out.scores = reinterpret_cast<float*>(block + p.off_scores);
    out.classes = reinterpret_cast<int*>(block + p.off_classes);
    out.masks = spec.mask_on ? reinterpret_cast<float*>(block + p.off_masks) : nullptr;
    return out;
  }

  // Optional cap on the arena (MASKRT_CUDA_MEMORY_LIMIT_MB, bytes; 0 = none), e.g. to share a GPU.
  static size_t memory_limit() {
    const char* e = std::getenv("MASKRT_CUDA_MEMORY_LIMIT_MB");
    return e ? static_cast<size_t>(std::strtoull(e, nullptr, 10)) << 20 : 0;
  }

  // The plan of lane `L` (the context bound to it) for an original image size, for n images per
  // launch (n > 1: a MASKRT_BACKBONE_BATCH group plan).
  Plan& plan_for(Lane& L, int h, int w, int n = 1) {
    auto& plans = L.plans;
    DeviceArena& arena = L.arena;
    const PlanKey key{h, w, n};
    auto it = plans.find(key);
    if (it != plans.end() && it->second->generation == arena.generation()) return *it->second;
    const std::string what = (n > 1 ? "group of " + std::to_string(n) + " " : std::string()) + std::to_string(h) +
                             "x" + std::to_string(w) + (n > 1 ? " images" : " image") +
                             (L.index ? " (concurrent stream " + std::to_string(L.index) + ")" : "");
    if (it == plans.end()) {
      if (plans.size() >= 256) plans.clear();  // bound the cache (coefficients are per size)
      auto p = std::make_shared<Plan>();
      p->in_h = h;
      p->in_w = w;
      p->n = n;
      std::tie(p->rh, p->rw) = ops::resize_shortest_edge_shape(h, w, spec.min_size_test, spec.max_size_test);
      const int div = FPN::kSizeDivisibility;
      p->ph = (p->rh + div - 1) / div * div;
      p->pw = (p->rw + div - 1) / div * div;
      ops::PreprocessCudaParams& pre = p->pre;
      pre.in_h = h;
      pre.in_w = w;
      pre.out_h = p->rh;
      pre.out_w = p->rw;
      pre.pad_h = p->ph;
      pre.pad_w = p->pw;
      pre.flip_channels = false;  // set per image (channel order)
      for (int c = 0; c < 3; ++c) {
        pre.mean[c] = spec.pixel_mean[c];
        pre.std[c] = spec.pixel_std[c];
      }
      pre.nhwc_fp16 = precision == Precision::kFP16;
      pre.nhwc_fp32 = tf32_nhwc;  // MASKRT_TF32_NHWC=1: (pad_h, pad_w, 4) float32
      pre.stem_s2d = backbone->stem_s2d();  // MASKRT_STEM_S2D=1 (fp16): the backbone reads the s2d image
      ops::validate_preprocess(pre);
      const ops::PillowCoeffs hc = ops::make_pillow_coeffs(w, p->rw), vc = ops::make_pillow_coeffs(h, p->rh);
      p->coeff_blob = DeviceBuffer::upload(ops::pack_pillow_coeffs(hc, vc), "resize coefficients");
      p->coeffs = ops::device_pillow_coeffs(hc, vc, p->coeff_blob.get());
      if (n > 1)  // every lane: tests read this line to know the group path ran
        std::fprintf(stderr,
                     "maskrt: cuda group plan for %d images of %dx%d (resized %dx%d, padded %dx%d) on stream %d "
                     "(backbone batch)\n",
                     n, h, w, p->rh, p->rw, p->ph, p->pw, L.index);
      else if (L.index == 0)
        std::fprintf(stderr, "maskrt: cuda plan for %dx%d (resized %dx%d, padded %dx%d)\n", h, w, p->rh, p->rw, p->ph,
                     p->pw);
      it = plans.emplace(key, std::move(p)).first;
    }
    Plan& p = *it->second;
    // 1) activations only: reject sizes that cannot fit before asking cuDNN about huge tensors.
    DeviceArena rough = DeviceArena::measuring();
    carve(p, rough, /*plan_algos=*/false);
    size_t free_bytes = 0, total_bytes = 0;
    MASKRT_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    // MASKRT_CUDA_MEMORY_LIMIT_MB caps all lanes' arenas together: this lane gets what the others leave.
    const size_t others = arena_total() - arena.capacity();
    const size_t cap = memory_limit();
    const size_t limit = cap == 0 ? 0 : cap > others ? cap - others : 1;
    const size_t available = std::min(free_bytes + arena.capacity(), limit ? limit : SIZE_MAX);
    MASKRT_CHECK(rough.peak() <= available, ErrorCode::kOutOfMemory, "out of device memory: a ", what, " (resized ",
                 p.rh, "x", p.rw, ") needs at least ", rough.peak() >> 20, " MiB of activations, ", available >> 20,
                 " MiB available", limit ? " (MASKRT_CUDA_MEMORY_LIMIT_MB)" : "");
    // 2) measure with algorithms (their workspaces), 3) grow the arena if needed, 4) carve.
    DeviceArena measure = DeviceArena::measuring();
    carve(p, measure);
    MASKRT_CHECK(!limit || measure.peak() <= limit, ErrorCode::kOutOfMemory, "out of device memory: a ", what,
                 " needs ", measure.peak() >> 20, " MiB, over MASKRT_CUDA_MEMORY_LIMIT_MB");
    const bool sizes_arena = measure.peak() > arena.capacity();
    arena.reserve(measure.peak(), what);  // may throw kOutOfMemory; plan kept, generation stale
    if (sizes_arena && L.index == 0) {  // this plan set the arena's capacity: record what it holds
      mem.arena_workspace_bytes = p.workspace_bytes;  // the measuring carve's, equal to the real one's
      mem.arena_plan_height = h;
      mem.arena_plan_width = w;
    }
    p.drop_graphs();  // captured addresses belong to the previous carving
    carve(p, arena);
    for (int slot = 0; slot < 2; ++slot) {  // may throw kOutOfMemory: the plan then stays invalid
      L.pinned_in[slot].reserve(static_cast<size_t>(n) * h * w * 3, n > 1 ? "the input images" : "the input image");
      L.pinned_out[slot].reserve(n == 1 ? p.out_bytes : p.out_stride * n, "the detections");
    }
    p.generation = arena.generation();
    return p;
  }

  // The fixed-shape device part of the plan's images, preprocess .. mask paste: what a CUDA graph
  // captures. n = 1: preprocess, backbone, FPN, RPN, ROI heads, paste. A group (n > 1): the n
  // preprocesses into the n slices of the backbone input, backbone + FPN + RPN head at n, then per
  // image k its proposals, ROI heads and paste on slice k of the features into download block k.
  // Stage events (stage_times) are for one-image plans.
  void enqueue_compute(Plan& p, bool flip, bool stage_times) {
    cudaStream_t s = ctx.stream();
    auto mark = [&](Stage st) {
      if (stage_times) MASKRT_CUDA_CHECK(cudaEventRecord(events[st], s));
    };
    MASKRT_ASSERT(p.n == 1 || !stage_times);
    ops::PreprocessCudaParams pre = p.pre;
    pre.flip_channels = flip;
    const size_t in_bytes = static_cast<size_t>(p.in_h) * p.in_w * 3;
    for (int k = 0; k < p.n; ++k)
      ops::preprocess_cuda(pre, p.input + k * in_bytes, p.coeffs, p.bb.image.rows(k, 1).ptr, p.workspace, s);
    mark(kPreprocessed);
    backbone->forward_bottom_up(ctx, p.bb, p.workspace, p.workspace_bytes);
    mark(kBackbone);
    backbone->forward_fpn(ctx, p.bb, p.workspace, p.workspace_bytes);
    mark(kFpn);
    rpn->forward_head(ctx, p.rpn_in, p.rpn, p.workspace, p.workspace_bytes);
    for (int k = 0; k < p.n; ++k) {
      rpn->forward_proposals(ctx, p.rpn, k, p.workspace, p.workspace_bytes);
      mark(kRpn);
      const std::vector<DeviceTensor> roi_in = image_slice(p.roi_in, k);
      CudaROIHeads::Buffers roi = p.roi;  // shared temporaries, image k's outputs
      roi.out = detection_outputs(p, k);
      roi_heads->forward_box(ctx, roi_in, p.rpn.boxes, p.rpn.count, roi, p.workspace, p.workspace_bytes);
      mark(kBoxHead);
      roi_heads->forward_mask(ctx, roi_in, roi, p.workspace, p.workspace_bytes);
      if (spec.mask_on) {  // detector_postprocess on the device: rescale, clip, keep, paste into packed bits
        char* block = p.out_block + static_cast<size_t>(k) * p.out_stride;
        ops::paste_masks_cuda(p.paste, reinterpret_cast<const int*>(block),
                              reinterpret_cast<const float*>(block + p.off_boxes),
                              reinterpret_cast<const float*>(block + p.off_masks), block + p.off_paste, s);
      }
      mark(kMaskHead);
    }
  }

  // Records enqueue_compute into a CUDA graph (stream capture). On any failure the capture is ended,
  // the reason logged once, and the plan runs eagerly from then on (results are the same).
  void capture(Plan& p, bool flip) {
    cudaStream_t s = ctx.stream();
    Plan::Graph& g = p.graphs[flip];
    cudaGraph_t graph = nullptr;
    std::string why;
    if (cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal) != cudaSuccess) {
      why = cudaGetErrorString(cudaGetLastError());
    } else {
      try {
        enqueue_compute(p, flip, /*stage_times=*/false);
      } catch (const std::exception& e) {
        why = e.what();
      }
      const cudaError_t st = cudaStreamEndCapture(s, &graph);
      if (why.empty() && st != cudaSuccess) why = cudaGetErrorString(st);
      if (why.empty() && cudaGraphInstantiate(&g.exec, graph, 0) != cudaSuccess) {
        why = cudaGetErrorString(cudaGetLastError());
        g.exec = nullptr;
      }
      if (graph) cudaGraphDestroy(graph);
    }
    cudaGetLastError();  // capture errors are not sticky; clear them
    if (!why.empty()) {
      g.failed = true;
      std::fprintf(stderr, "maskrt: CUDA graph capture failed for the %dx%d plan%s (%s); running it eagerly\n",
                   p.in_h, p.in_w, p.n > 1 ? (" (group of " + std::to_string(p.n) + ")").c_str() : "", why.c_str());
    }
  }

  static bool graphs_enabled() {
    const char* e = std::getenv("MASKRT_CUDA_GRAPHS");
    return !(e && std::string(e) == "0");
  }

  // Uploads the plan's p.n consecutive images (images[0 .. p.n), one size and channel order) and enqueues their
  // whole pipeline + the result download into slot `slot` (pinned staging buffers and completion
  // event of that slot). Nothing here waits for the GPU.
  void enqueue(Lane& L, Plan& p, const Image* images, int slot, bool stage_times) {
    cudaStream_t s = ctx.stream();
    MASKRT_ASSERT(s == L.stream, "enqueue: the context is not bound to the lane");
    PinnedBuffer* pinned_in = L.pinned_in;
    PinnedBuffer* pinned_out = L.pinned_out;
    cudaEvent_t* done = L.done;
    if (stage_times) MASKRT_CUDA_CHECK(cudaEventRecord(events[kStart], s));
    // Staging and upload in chunks: the DMA of chunk k overlaps the host copy of chunk k+1, and large
    // images are staged by several host threads (staged_upload.h; copy then upload of a whole
    // 1344x1344 image was ~0.6 ms of its latency).
    for (int k = 0; k < p.n; ++k) {
      const Image& image = images[k];
      const size_t bytes = image.pixels.size();
      MASKRT_ASSERT(image.height == p.in_h && image.width == p.in_w && bytes == size_t(p.in_h) * p.in_w * 3 &&
                    image.channel_order == images[0].channel_order);
      staged_upload(p.input + k * bytes, pinned_in[slot].get() + k * bytes,
                    reinterpret_cast<const char*>(image.pixels.data()), bytes, s);
    }
    const bool flip = (images[0].channel_order == ChannelOrder::kBGR) != (spec.input_format == "BGR");
    Plan::Graph& g = p.graphs[flip];
    // The first run of a plan is eager (lazy module loading, library-internal first-use set-up);
    // the second captures a graph, and later runs replay it.
    if (!stage_times && use_graphs && !g.failed && g.exec == nullptr && p.eager_runs > 0) capture(p, flip);
    if (!stage_times && g.exec != nullptr) {
      MASKRT_CUDA_CHECK(cudaGraphLaunch(g.exec, s));
    } else {
      enqueue_compute(p, flip, stage_times);
      ++p.eager_runs;
    }
    MASKRT_CUDA_CHECK(cudaMemcpyAsync(pinned_out[slot].get(), p.out_block,
                                      p.n == 1 ? p.out_bytes : p.out_stride * p.n, cudaMemcpyDeviceToHost, s));
    MASKRT_CUDA_CHECK(cudaEventRecord(done[slot], s));
  }

  // Waits for slot `slot` and turns image k's download (k < p.n) into instances in original-image pixels.
  ImageResult finish(Lane& L, const Plan& p, int slot, int k, int height, int width, bool stage_times,
                     CudaDebugOutputs* debug) {
    const auto t_wait = std::chrono::steady_clock::now();
    MASKRT_CUDA_CHECK(cudaEventSynchronize(L.done[slot]));
    MASKRT_ASSERT(k >= 0 && k < p.n && (p.n == 1 || (!stage_times && !debug)));
    ImageResult result;
    result.height = height;
    result.width = width;
    result.times.host_wait = ms_since(t_wait);
    const auto t_post = std::chrono::steady_clock::now();
    const char* h = L.pinned_out[slot].get() + static_cast<size_t>(k) * p.out_stride;
    const int D = std::min(*reinterpret_cast<const int*>(h), roi_heads->detection_capacity());
    MASKRT_ASSERT(D >= 0, "negative detection count");
    const int M = roi_heads->mask_size();
    const float* sc = reinterpret_cast<const float*>(h + p.off_scores);
    const int* cl = reinterpret_cast<const int*>(h + p.off_classes);
    const float* masks = spec.mask_on ? reinterpret_cast<const float*>(h + p.off_masks) : nullptr;
    Detections det;
    if (debug || !spec.mask_on) {  // the host path: boxes only, or intermediate outputs for tests
      det.pred_boxes = Tensor({D, 4}, std::vector<float>(reinterpret_cast<const float*>(h + p.off_boxes),
                                                         reinterpret_cast<const float*>(h + p.off_boxes) + D * 4));
      det.scores.assign(sc, sc + D);
      det.pred_classes.assign(cl, cl + D);
      if (spec.mask_on) det.mask_probs = Tensor({D, M, M}, std::vector<float>(masks, masks + size_t(D) * M * M));
    }
    if (spec.mask_on)  // rescaled, clipped and pasted on the device; RLE-encoded here
      result.instances = ops::unpack_pasted_masks(p.paste, h + p.off_paste, sc, cl, masks);
    else
      result.instances = detector_postprocess(det, p.rh, p.rw, height, width, false);
    result.times.postprocess = ms_since(t_post);
    if (stage_times) {
      auto el = [&](Stage a, Stage b) {
        float ms = 0;
        MASKRT_CUDA_CHECK(cudaEventElapsedTime(&ms, events[a], events[b]));
        return static_cast<double>(ms);
      };
      result.times.preprocess = el(kStart, kPreprocessed);
      result.times.backbone = el(kPreprocessed, kBackbone);
      result.times.fpn = el(kBackbone, kFpn);
      result.times.rpn = el(kFpn, kRpn);
      result.times.box_head = el(kRpn, kBoxHead);
      result.times.mask_head = el(kBoxHead, kMaskHead);
    }
    if (debug) {
      debug->resized_h = p.rh;
      debug->resized_w = p.rw;
      debug->padded_h = p.ph;
      debug->padded_w = p.pw;
      MASKRT_CUDA_CHECK(cudaMemcpy(&debug->num_proposals, p.rpn.count, sizeof(int), cudaMemcpyDeviceToHost));
      debug->detections = std::move(det);
    }
    return result;
  }

  DeviceMemoryReport memory_report() const {
    DeviceMemoryReport m = mem;
    m.num_plans = static_cast<int>(lanes[0]->plans.size());
    m.arena_bytes = arena_total();
    m.lanes = 0;
    for (const auto& l : lanes) {
      if (l->arena.capacity() > 0) ++m.lanes;
      for (const auto& kv : l->plans) m.plan_buffer_bytes += kv.second->coeff_blob.bytes();
      for (const PinnedBuffer* b : {&l->pinned_in[0], &l->pinned_in[1], &l->pinned_out[0], &l->pinned_out[1]})
        m.pinned_host_bytes += b->bytes();
    }
    if (!m.available || cudaSetDevice(ctx.device()) != cudaSuccess || !device_used_bytes(&m.used_now, nullptr)) {
      cudaGetLastError();
      m.used_now = 0;
    }
    return m;
  }

  static void check_image(const Image& image) {
    MASKRT_CHECK(!image.empty() && image.pixels.size() == static_cast<size_t>(image.height) * image.width * 3,
                 ErrorCode::kInvalidArgument, "image: expected height*width*3 bytes, got ", image.pixels.size(),
                 " for ", image.height, "x", image.width);
  }

  // A plan for the image on lane L (the context bound to it), made safe to use while earlier images
  // may still be in flight: (re)planning reallocates the lane's arena and pinned buffers, so it first
  // waits for the lane's stream.
  // n > 1: the MASKRT_BACKBONE_BATCH group plan of n such images.
  static bool plan_ready(const Lane& L, const Image& image, int n = 1) {
    const auto it = L.plans.find(PlanKey{image.height, image.width, n});
    return it != L.plans.end() && it->second->generation == L.arena.generation();
  }
  Plan& ready_plan(Lane& L, const Image& image, int n = 1) {
    if (!plan_ready(L, image, n)) ctx.synchronize();
    return plan_for(L, image.height, image.width, n);
  }

  // Images from `first` on that run_batch runs as one group: backbone_batch when that many
  // consecutive images share the first one's size and channel order (and that size's group plan has
  // not run out of memory before), else 1 (the one-image path).
  int group_size_at(const std::vector<Image>& images, size_t first) const {
    const int n = backbone_batch;
    if (n <= 1 || images.size() - first < static_cast<size_t>(n)) return 1;
    const Image& a = images[first];
    if (no_group_room.count({a.height, a.width})) return 1;
    for (size_t k = first + 1; k < first + n; ++k) {
      const Image& b = images[k];
      if (b.height != a.height || b.width != a.width || b.channel_order != a.channel_order) return 1;
    }
    return n;
  }

  void sync_lanes() noexcept {
    for (auto& l : lanes)
      if (l->stream) cudaStreamSynchronize(l->stream);
    cudaGetLastError();
  }

  ImageResult run(const Image& image, bool stage_times, CudaDebugOutputs* debug) {
    check_image(image);
    const auto t_start = std::chrono::steady_clock::now();
    ctx.make_current();
    Plan& p = lane0_plan(image, [] {});  // nothing of run() is in flight across calls
    Lane& L = *lanes[0];
    if (profiler_range) cudaProfilerStart();
    ImageResult result;
    try {
      enqueue(L, p, &image, 0, stage_times);
      result = finish(L, p, 0, 0, image.height, image.width, stage_times, debug);
    } catch (...) {  // nothing of this image may stay in flight (its staging buffers are reused)
      cudaStreamSynchronize(ctx.stream());
      cudaGetLastError();
      if (profiler_range) cudaProfilerStop();
      throw;
    }
    if (profiler_range) cudaProfilerStop();
    result.times.total = ms_since(t_start);
    return result;
  }

  // Lanes for a batch of n images: up to max_lanes, created on first use with an arena of lane 0's
  // size (so they do not regrow, dropping their graphs, image by image). A lane that cannot be
  // created, or whose arena would break MASKRT_CUDA_MEMORY_LIMIT_MB (all arenas together), is
  // logged and the engine runs on fewer from then on.
  size_t lanes_for(size_t n) {
    const size_t want = std::min<size_t>(std::max(1, max_lanes), std::max<size_t>(n, 1));
    while (lanes.size() < want) {
      const size_t bytes = lanes[0]->arena.capacity();
      const size_t held = arena_total();
      const size_t cap = memory_limit();
      std::string why;
      if (cap && held + bytes > cap) {
        why = "MASKRT_CUDA_MEMORY_LIMIT_MB leaves no room for another arena";
      } else {
        try {
          auto lane = std::make_unique<Lane>(ctx, static_cast<int>(lanes.size()));
          if (bytes) lane->arena.reserve(bytes, "concurrent stream " + std::to_string(lanes.size()));
          lanes.push_back(std::move(lane));
          continue;
        } catch (const std::exception& e) {
          why = e.what();
        }
      }
      std::fprintf(stderr, "maskrt: cannot add concurrent stream %zu (%s); using %zu\n", lanes.size(), why.c_str(),
                   lanes.size());
      max_lanes = static_cast<int>(lanes.size());
      break;
    }
    return std::min(want, lanes.size());
  }

  // Frees lanes 1.. (their arenas, plans and pinned slots; nothing of theirs may be in flight) when
  // lane 0 has no device memory for an image: concurrency never turns an image that one stream
  // could serve into an error. Later batches create them again (sized then).
  void drop_extra_lanes(const Image& image) {
    const size_t bytes = arena_total() - lanes[0]->arena.capacity();
    std::fprintf(stderr, "maskrt: releasing %zu concurrent stream(s) (%zu MiB of arenas) for a %dx%d image\n",
                 lanes.size() - 1, bytes >> 20, image.height, image.width);
    sync_lanes();
    ctx.bind_own_noexcept();
    lanes.resize(1);
  }

  // ready_plan on lane 0 (bound on return), retried once without the extra lanes when it runs out of
  // device memory while they hold some. The caller has drained whatever the retry would free.
  Plan& lane0_plan(const Image& image, const std::function<void()>& drain_all) {
    use_lane(0);
    try {
      return ready_plan(*lanes[0], image);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kOutOfMemory || lanes.size() == 1) throw;
      drain_all();
      drop_extra_lanes(image);
      use_lane(0);
      return ready_plan(*lanes[0], image);
    }
  }

  // Pipelined over the lanes: unit u (an image, or a MASKRT_BACKBONE_BATCH group of images) goes to
  // lane u % lanes (its own stream and arena), so up to `lanes` units run on the GPU at once, and each
  // lane keeps a second unit queued while the host decodes an earlier one (download, RLE). Results
  // come back in input order; one-image units equal run() bit for bit, group members equal it up to
  // the last bits of different cuDNN kernels at n > 1 (never on the other images' content).
  // A lane > 0 that runs out of device memory for an image size hands images of that size to lane 0
  // from then on (logged once per lane and size); when lane 0 itself runs out, the extra lanes are
  // released first (drop_extra_lanes), so concurrency never turns a servable image into an error.
  // A group plan that runs out of device memory sends that size's images one at a time (logged).
  std::vector<ImageResult> run_batch(const std::vector<Image>& images, bool stage_times) {
    std::vector<ImageResult> out;
    out.reserve(images.size());
    if (stage_times) {  // stage events are per image: no overlap
      for (const Image& img : images) out.push_back(run(img, true, nullptr));
      return out;
    }
    ctx.make_current();
    size_t nl = lanes_for(images.size());
    if (profiler_range) cudaProfilerStart();
    struct InFlight {
      std::shared_ptr<const Plan> plan;
      size_t lane;
      int slot, k, h, w;  // k: the image's index in its unit's plan
      bool last;          // the unit's last image
      std::chrono::steady_clock::time_point t0;
    };
    std::vector<InFlight> pending;
    size_t units_in_flight = 0;
    auto drain_one = [&]() {
      const InFlight f = pending.front();
      pending.erase(pending.begin());
      if (f.last) --units_in_flight;
      out.push_back(finish(*lanes[f.lane], *f.plan, f.slot, f.k, f.h, f.w, false, nullptr));
      out.back().times.total = ms_since(f.t0);
    };
    auto drain_all = [&]() {
      while (!pending.empty()) drain_one();
    };
    // Drains (in order) until nothing pending uses lane `l` at all (all = true) or its slot `slot`.
    auto drain_lane = [&](size_t l, int slot, bool all) {
      auto busy = [&] {
        for (const InFlight& f : pending)
          if (f.lane == l && (all || f.slot == slot)) return true;
        return false;
      };
      while (busy()) drain_one();
    };
    try {
      size_t unit = 0;
      for (size_t i = 0; i < images.size(); ++unit) {
        const Image& img = images[i];
        check_image(img);
        const auto t0 = std::chrono::steady_clock::now();
        const auto size = std::make_pair(img.height, img.width);
        size_t l = unit % nl;
        Plan* p = nullptr;
        int n = group_size_at(images, i);
        if (n > 1) {  // MASKRT_BACKBONE_BATCH group: images i .. i+n-1 on lane l
          for (int k = 1; k < n; ++k) check_image(images[i + k]);
          if (!plan_ready(*lanes[l], img, n)) drain_lane(l, 0, true);
          use_lane(l);
          try {
            p = &ready_plan(*lanes[l], img, n);
          } catch (const Error& e) {
            if (e.code() != ErrorCode::kOutOfMemory) throw;
            no_group_room.insert(size);
            std::fprintf(stderr, "maskrt: no device memory to run %dx%d images in groups of %d (%s); one at a time\n",
                         img.height, img.width, n, e.what());
            n = 1;
          }
        }
        if (n == 1) {
          if (l != 0 && lanes[l]->no_room.count(size)) l = 0;
          // (Re)planning may reallocate the lane's arena and pinned slots: decode its images in flight first.
          if (!plan_ready(*lanes[l], img)) drain_lane(l, 0, true);
          if (l != 0) {
            use_lane(l);
            try {
              p = &ready_plan(*lanes[l], img);
            } catch (const Error& e) {
              if (e.code() != ErrorCode::kOutOfMemory) throw;
              lanes[l]->no_room.insert(size);
              std::fprintf(stderr,
                           "maskrt: concurrent stream %zu has no room for %dx%d images (%s); they run on stream 0\n",
                           l, img.height, img.width, e.what());
              l = 0;
              if (!plan_ready(*lanes[0], img)) drain_lane(0, 0, true);
            }
          }
          if (l == 0) {
            p = &lane0_plan(img, drain_all);
            nl = std::min(nl, lanes.size());  // drop_extra_lanes may have left lane 0 alone
          }
        }
        Lane* L = lanes[l].get();
        const int slot = L->next_slot;
        L->next_slot ^= 1;
        drain_lane(l, slot, false);  // the slot's staging buffers must be free
        enqueue(*L, *p, &images[i], slot, false);  // images i .. i+n-1
        const std::shared_ptr<const Plan> plan = L->plans.at(PlanKey{img.height, img.width, n});
        for (int k = 0; k < n; ++k) pending.push_back({plan, l, slot, k, img.height, img.width, k + 1 == n, t0});
        ++units_in_flight;
        i += n;
        while (units_in_flight >= 2 * nl) drain_one();
      }
      drain_all();
    } catch (...) {
      sync_lanes();
      if (profiler_range) cudaProfilerStop();
      ctx.bind_own_noexcept();
      throw;
    }
    if (profiler_range) cudaProfilerStop();
    ctx.bind_own();
    return out;
  }
};

CudaGeneralizedRCNN::CudaGeneralizedRCNN(const ModelSpec& spec, WeightStore& ws, Precision precision, int device,
                                         int backbone_batch)
    : impl_(std::make_unique<Impl>(spec, ws, precision, device, backbone_batch)) {}

CudaGeneralizedRCNN::~CudaGeneralizedRCNN() = default;

ImageResult CudaGeneralizedRCNN::run(const Image& image, bool stage_times, CudaDebugOutputs* debug) {
  return impl_->run(image, stage_times, debug);
}

std::vector<ImageResult> CudaGeneralizedRCNN::run_batch(const std::vector<Image>& images, bool stage_times) {
  return impl_->run_batch(images, stage_times);
}

void CudaGeneralizedRCNN::prepare(int height, int width) {
  impl_->ctx.make_current();
  impl_->plan_for(impl_->use_lane(0), height, width);
}

void CudaGeneralizedRCNN::set_concurrent_images(int n) {
  MASKRT_CHECK(n >= 1 && n <= kMaxConcurrentImages, ErrorCode::kInvalidArgument,
               "concurrent images (CUDA streams): expected 1..", kMaxConcurrentImages, ", got ", n);
  impl_->max_lanes = n;
}

std::string CudaGeneralizedRCNN::device_name() const { return impl_->ctx.name(); }

int CudaGeneralizedRCNN::backbone_batch() const { return impl_->backbone_batch; }

const char* CudaGeneralizedRCNN::activation_layout() const {
  if (impl_->precision == Precision::kFP16) return "NHWC fp16";
  return impl_->tf32_nhwc ? "NHWC fp32" : "NCHW fp32";
}

void CudaGeneralizedRCNN::set_profiler_range(bool on) { impl_->profiler_range = on; }

size_t CudaGeneralizedRCNN::arena_bytes() const { return impl_->arena_total(); }

void CudaGeneralizedRCNN::record_warmup_memory() {
  if (!impl_->mem.available) return;
  impl_->ctx.make_current();
  device_used_bytes(&impl_->mem.used_after_warmup, nullptr);
}

DeviceMemoryReport CudaGeneralizedRCNN::memory_report() const { return impl_->memory_report(); }

}  // namespace maskrt::cuda
