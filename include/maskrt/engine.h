#pragma once
// maskrt::Engine — Detectron2 Mask R-CNN (GeneralizedRCNN, ResNet-FPN) inference.
//
// Create once (reads the Detectron2 yaml config and the checkpoint, folds FrozenBN, warms up), then call
// infer() on decoded images. Results equal Detectron2's DefaultPredictor for the same config,
// checkpoint and image (see docs/DESIGN.md and ../shared/reference/detectron2-parity.md):
// boxes/masks are in ORIGINAL image pixels; an image's results never depend on other images.
//
// Errors: the constructor throws maskrt::Error (kBadConfig / kUnsupported naming the config key,
// kBadCheckpoint naming the file and listing tensors, kIo). infer() throws maskrt::Error for an
// invalid image (kInvalidArgument; also an image so thin that ResizeShortestEdge gives it 0 rows or
// columns, e.g. 1x3000 at MIN_SIZE_TEST 800) or out-of-memory (kOutOfMemory, with the size); the engine stays usable.
// Thread safety: infer() and infer_batch() may be called concurrently from several threads on one
// Engine; results are identical to single-threaded calls.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "maskrt/errors.h"
#include "maskrt/image.h"
#include "maskrt/instances.h"

namespace maskrt {

enum class Device { kAuto, kCPU, kCUDA };
enum class Precision { kFP32, kTF32, kFP16 };

struct EngineOptions {
  std::string config_path;               // Detectron2 .yaml; "" = the embedded default model
  std::string weights_path;              // .pkl / .pth; "" = MODEL.WEIGHTS of the config after opts (default
                                         // model: MODEL.WEIGHTS when opts set it, else its model.pkl)
  std::vector<std::string> opts;         // KEY VALUE ... overrides, like Detectron2's --opts
  Device device = Device::kAuto;         // kAuto: CUDA when a GPU and the CUDA backend are present, else CPU
  Precision precision = Precision::kFP32;  // CPU supports kFP32 only
  int num_threads = 0;                   // CPU threads (0 = all cores / OMP_NUM_THREADS)
  bool warmup = true;                    // run a warm-up inference at creation
  std::vector<std::pair<int, int>> warmup_sizes;  // (height, width) of original images to prepare for
  bool stage_times = false;              // CUDA: fill ImageResult::times per stage with CUDA events (the
                                         // CPU always fills them; CUDA always fills total and postprocess)
  int cuda_device = 0;                   // CUDA device index
  int cuda_streams = 0;                  // CUDA: images of one infer_batch() in flight at once, each on
                                         // its own stream with its own activation arena (1..8; 0 = the
                                         // default, kDefaultCudaStreams). Results never depend on it;
                                         // each extra stream costs about the batch-1 activation memory,
                                         // allocated on the first batch that uses it, or at creation
                                         // (with warm-up) when set explicitly above 1. infer() uses one.
  int backbone_batch = 0;                // CUDA fp16 / tf32: infer_batch() runs up to this many consecutive
                                         // images of one size and channel order through ONE backbone, FPN
                                         // and RPN-head pass (then proposals, ROI heads, paste per image).
                                         // 0 = take MASKRT_BACKBONE_BATCH from the environment, else off;
                                         // 1 = off; 2..8 = group size (wins over the variable). The library
                                         // keeps it off unless asked (group plans cost about N times the
                                         // activation memory per stream, made at creation with warm-up);
                                         // the CLI turns it on (N = 4) for --batch >= 16. Each
                                         // group convolution keeps its own N-image plan where that gives
                                         // every image the same bits as at n = 1 (checked once at planning
                                         // on seeded data), else takes its layer's single-image
                                         // configuration where that passes the same check, else runs image
                                         // by image (ConvCudnn::plan_pinned), so a group member's result
                                         // equals infer() of that image bit for bit (gpu test
                                         // PinnedGroupsEqualSingleImagesBitForBit; sessions 10-11).
                                         // MASKRT_BACKBONE_BATCH_PIN=0 lets cuDNN plan the N-image convs
                                         // unchecked instead (faster by 1-4 % on the H200 in session 11,
                                         // but an image's bits may then depend on whether its neighbours
                                         // share its size, never on their content). With warm-up, the
                                         // group plans of each warm-up size are made at creation (one
                                         // group per stream of cuda_streams, default 3). fp32 ignores it
                                         // (logged: fp32 batch results stay equal to infer()); CPU: no
                                         // effect. Measured (H200, session 11; full-width R50, 640x480 ->
                                         // 800x1067, N = 4, two runs each): fp16 --batch 64 591-633 ->
                                         // 678-693, tf32 --batch 32 395-396 -> 437-439 images/s
                                         // (docs/PERFORMANCE.md). Outside 0..8: kInvalidArgument naming
                                         // backbone_batch at creation (CPU and CUDA).
};
// H200 fp16 batch 16, session 5 (docs/PERFORMANCE.md): 1 / 2 / 3 / 4 streams 431 / 490 / 541 / 536 images/s
inline constexpr int kDefaultCudaStreams = 3;
inline constexpr int kMaxBackboneBatch = 8;   // EngineOptions::backbone_batch / MASKRT_BACKBONE_BATCH upper bound

struct EngineInfo {
  std::string model_name;     // config file stem, or "default"
  std::string config_path;
  std::string weights_path;
  std::string config_hash;    // hash of the effective (merged) config
  std::string device;         // "cpu (N threads)" or the GPU name
  std::string precision;      // "fp32", "tf32", "fp16"
  std::string libraries;      // CUDA runtime/driver, cuDNN and cuBLAS versions (CUDA device), or ""
  int num_classes = 0;
  bool mask_on = true;
  double load_ms = 0;         // config + checkpoint + model construction
  double warmup_ms = 0;       // warm-up inferences
  int backbone_batch = 1;     // images per backbone pass in effect (EngineOptions::backbone_batch or
                              // MASKRT_BACKBONE_BATCH; 1 = off, always 1 on the CPU and for fp32)
  std::string activation_layout = "NCHW fp32";  // how activations are stored: "NCHW fp32" (CPU, CUDA
                              // fp32, tf32 with MASKRT_TF32_NHWC=0), "NHWC fp32" (CUDA tf32, the default
                              // since session 7), "NHWC fp16" (CUDA fp16)
};

// Where the engine's device memory goes (CUDA backend; `available` is false on the CPU). Bytes.
//
// Exact counts of what maskrt itself allocates:
//   weights_bytes        every layer weight / bias (and the fp32 epilogue biases of fp16 convolutions,
//                        the RPN's cell anchors) uploaded at load, one cudaMalloc each (requested bytes)
//   arena_bytes          the activation arenas: per stream (lanes, EngineOptions::cuda_streams) one
//                        allocation sized for the largest image planned on it; it holds every
//                        activation of a plan plus one workspace region shared by all ops
//   lanes                streams that hold an arena (1 until a batch runs several images at once)
//   arena_workspace_bytes  that workspace region (the largest cuDNN / cuBLASLt / im2col scratch of any
//                        op) in the plan that sized the first stream's arena; with one stream (lanes
//                        == 1) arena_bytes - this = activations + outputs
//   arena_plan_height/width  the original image size whose plan sized the arena (0 = none yet)
//   plan_buffer_bytes    per-size constants outside the arena (resize coefficients), all cached plans
//   num_plans            image sizes planned and cached
//   pinned_host_bytes    page-locked HOST staging (input image + download block, two slots): host RAM,
//                        not device memory; reported because it scales with the image size
// Device-wide readings (cudaMemGetInfo: used = total - free, every process on the device):
//   used_at_start        when engine construction began, with the CUDA context current (a process's
//                        first engine creates the primary context here; `maskrt bench` opens it before)
//   used_after_context   + the engine's stream and cuDNN / cuBLAS / cuBLASLt handles
//   used_after_weights   + the weights upload
//   used_after_warmup    + planning (algorithm search), the arena, warm-up runs (lazily loaded kernel
//                        modules, library workspaces, CUDA graphs); 0 when the engine has no warm-up
//   used_now             at the memory_report() call
// other_bytes() = used_now - used_at_start - weights - arena - plan buffers: what the libraries and the
// driver hold for the engine (handles, cuBLAS's own workspace, loaded kernels, graphs, cudaMalloc
// rounding of the weight buffers). Negative or wrong if another process changes its use meanwhile.
struct DeviceMemoryReport {
  bool available = false;
  uint64_t weights_bytes = 0;
  uint64_t weight_buffers = 0;  // number of weight allocations
  uint64_t arena_bytes = 0;
  uint64_t arena_workspace_bytes = 0;
  int arena_plan_height = 0, arena_plan_width = 0;
  uint64_t plan_buffer_bytes = 0;
  int num_plans = 0;  // image sizes planned on the first stream
  int lanes = 0;
  uint64_t pinned_host_bytes = 0;
  uint64_t device_total_bytes = 0;
  uint64_t used_at_start = 0, used_after_context = 0, used_after_weights = 0, used_after_warmup = 0, used_now = 0;
  int64_t other_bytes() const {
    return static_cast<int64_t>(used_now) - static_cast<int64_t>(used_at_start) -
           static_cast<int64_t>(weights_bytes + arena_bytes + plan_buffer_bytes);
  }
};

class Engine {
 public:
  explicit Engine(const EngineOptions& options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // One image (RGB or BGR per image.channel_order, any size). Instances sorted by score, descending.
  ImageResult infer(const Image& image) const;
  // Several images; exactly one result per image, in input order (an image with no detections keeps
  // its empty slot). Each image's result equals infer(image), bit for bit (with a backbone batch too,
  // unless MASKRT_BACKBONE_BATCH_PIN=0: see EngineOptions::backbone_batch). On CUDA the
  // batch is pipelined over EngineOptions::cuda_streams streams (several images on the GPU at once
  // while earlier ones are encoded on the host; docs/DESIGN-cuda.md); a bad image throws as infer() would,
  // and the results of the batch are then not returned (call infer() per image to keep them). An
  // out-of-memory on an extra stream moves that image to the first stream; on the first stream the
  // extra streams' memory is released and the image retried, so streams never cost an image.
  // Reproducibility: bit for bit within one engine. Two engines (or processes) on CUDA may differ at
  // rounding level (about 1e-3 px in fp16 boxes, measured on the H200 in session 11), because each
  // measures its convolution algorithms when it plans (cudnnFind and our own timings, as PyTorch's
  // cudnn.benchmark) and timing noise can pick another kernel; with MASKRT_CUDNN_FIND=0 the plans
  // depend only on the shapes, the GPU and the library versions (cuDNN's heuristic order; may be
  // slower).
  std::vector<ImageResult> infer_batch(const std::vector<Image>& images) const;

  const EngineInfo& info() const;
  // Device memory accounting (see DeviceMemoryReport); reads cudaMemGetInfo now for used_now. Never
  // throws (a failed reading leaves used_now 0). Thread-safe: serialised with inference calls.
  DeviceMemoryReport memory_report() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Directory of the embedded default model (config.yaml + model.pkl): $MASKRT_DEFAULT_MODEL if set,
// else <executable dir>/../models/default, else <source tree>/models/default.
std::string default_model_dir();

}  // namespace maskrt
