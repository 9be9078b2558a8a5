#pragma once
// GeneralizedRCNN inference on one CUDA device: the twin of model/meta_arch/generalized_rcnn.h.
//   upload (pinned staging) -> ops::preprocess_cuda (Pillow-exact resize, flip, normalise, pad to 32)
//   -> CudaBackbone (ResNet + FPN) -> CudaRPN -> CudaROIHeads (box + mask) -> paste_masks_cuda
//   (detector_postprocess on the device: rescale, clip, keep nonempty, paste + threshold into packed
//   bits, ops/paste_mask/paste_mask_cuda.h) -> ONE cudaMemcpyAsync of counts + boxes + scores +
//   classes + (D, M, M) soft masks + the packed block into pinned memory -> ONE event sync -> COCO RLE
//   on the host (ops::unpack_pasted_masks; detections whose bits did not fit the block are pasted on
//   the CPU from the soft masks, same bits). MODEL.MASK_ON False: detector_postprocess on the host.
// CUDA graphs: a plan's first run is eager; its second captures preprocess..mask head into a graph
// (one per channel order) that later runs replay (MASKRT_CUDA_GRAPHS=0 disables; a failed capture is
// logged and the plan stays eager). Graphs are dropped when the arena is re-carved.
// Fixed capacities (POST_NMS_TOPK_TEST proposals, DETECTIONS_PER_IMAGE detections) with device-side
// counts: nothing in the per-image pipeline waits for the host.
//
// Plans: one per original image size (h, w): the resized / padded sizes, the resize coefficients
// (uploaded once), cuDNN / cuBLASLt algorithms (cached per shape, so sizes with the same padded size
// share them), and the carving of one DeviceArena (measured with the same code, grown only when a
// plan needs more; growth and new plans are logged on stderr). prepare() makes a plan ahead of time.
// Errors: maskrt::Error(kInvalidArgument) for a malformed image; kOutOfMemory naming the image size
// when the plan does not fit on the device (the previous plans keep working); kDevice for CUDA errors.
// Thread safety: NOT thread-safe (the lanes are driven from the calling thread): the Engine
// serialises calls with a mutex.
#include <memory>
#include <string>
#include <vector>

#include "io/config.h"
#include "maskrt/engine.h"
#include "maskrt/image.h"
#include "maskrt/instances.h"
#include "model/roi_heads/roi_heads.h"
#include "model/weights.h"

namespace maskrt::cuda {

// Intermediate results copied back for tests (filled only on request; costs extra copies and syncs).
struct CudaDebugOutputs {
  int resized_h = 0, resized_w = 0, padded_h = 0, padded_w = 0;
  int num_proposals = 0;
  Detections detections;  // resized-image pixels, with mask_probs (D, M, M)
};

class CudaGeneralizedRCNN {
 public:
  // backbone_batch: EngineOptions::backbone_batch (0 = MASKRT_BACKBONE_BATCH, else off; see run_batch).
  CudaGeneralizedRCNN(const ModelSpec& spec, WeightStore& ws, Precision precision, int device = 0,
                      int backbone_batch = 0);
  ~CudaGeneralizedRCNN();
  CudaGeneralizedRCNN(const CudaGeneralizedRCNN&) = delete;
  CudaGeneralizedRCNN& operator=(const CudaGeneralizedRCNN&) = delete;

  // stage_times: record CUDA events between stages and fill ImageResult::times per stage (total and
  // postprocess are always filled, from the host clock).
  ImageResult run(const Image& image, bool stage_times = false, CudaDebugOutputs* debug = nullptr);
  // Several images, pipelined over up to concurrent_images() streams ("lanes"): image i runs on lane
  // i % lanes, each lane with its own stream, activation arena, CUDA graphs and pinned staging, so
  // several images' kernels overlap on the GPU; each lane keeps a second image queued while the host
  // decodes an earlier one. The layers and their algorithm plans are shared, so every lane runs the
  // same kernels: results equal run() on each image, bit for bit, whatever the lane. Lanes beyond
  // the first are created (and their arenas sized) on first use; a lane that lacks device memory
  // for an image hands it to lane 0. Throws on the first bad image (after every lane is drained);
  // images before it are lost with the throw (callers that need per-image errors call run()).
  // Backbone batches: the constructor's backbone_batch = N, or when that is 0 MASKRT_BACKBONE_BATCH=N
  // (2..8, read at construction; fp16 / tf32, fp32 ignores it, logged; off by default; one stderr line
  // announces it): each N consecutive images of one size and channel order run on one lane as a group
  // plan keyed by (h, w, N): backbone, FPN and RPN head convs at N images, then proposals, ROI heads
  // and the paste per image on its slice of the features. Their results never depend on the other
  // images but may differ in the last bits from run() (other cuDNN kernels at N > 1); shorter runs
  // take the one-image path (run()'s bits). A value outside 1..8 (option: 0..8) makes the constructor
  // throw kInvalidArgument naming backbone_batch or the variable.
  std::vector<ImageResult> run_batch(const std::vector<Image>& images, bool stage_times = false);
  // Images in flight at once in run_batch (1..kMaxConcurrentImages; default 1): each extra one costs
  // an arena (about the batch-1 activation memory) and a stream + cuBLAS handle. kInvalidArgument
  // outside the range. run() always uses lane 0.
  static constexpr int kMaxConcurrentImages = 8;
  void set_concurrent_images(int n);
  // Plans for an original image size (h, w) ahead of time (warm-up).
  void prepare(int height, int width);
  std::string device_name() const;
  // Images per backbone pass in effect (1 = off; always 1 for fp32).
  int backbone_batch() const;
  // "NCHW fp32" (fp32, tf32 with MASKRT_TF32_NHWC=0), "NHWC fp32" (tf32's default), "NHWC fp16" (fp16).
  const char* activation_layout() const;
  size_t arena_bytes() const;
  // Device memory accounting (maskrt/engine.h DeviceMemoryReport): weights tallied at construction,
  // arena / plan / pinned sizes now, cudaMemGetInfo readings at construction (start, after the
  // handles, after the weights), at record_warmup_memory() and now. memory_report() never throws.
  // Not thread-safe (like run()): the Engine calls both under its mutex.
  void record_warmup_memory();
  DeviceMemoryReport memory_report() const;
  // Profiling aid: when on, every later run() / run_batch() is bracketed by cudaProfilerStart/Stop, so
  // `ncu --profile-from-start off` (or nsys --capture-range=cudaProfilerApi) sees the steady state
  // only, not planning (cuDNN algorithm search) or warm-up. The engine turns it on after warm-up
  // when MASKRT_CUDA_PROFILER_RANGE=1. run() plans before the range starts; run_batch() plans inside
  // it (lane by lane), so a batch is steady only when warm-up already planned and captured every lane
  // and group size it uses (explicit --cuda-streams > 1 and/or --backbone-batch, see engine.cpp).
  void set_profiler_range(bool on);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// True when the CUDA runtime sees at least one device (never throws).
bool cuda_available();
// Creates this process's primary CUDA context on `device` (cudaSetDevice + cudaFree(nullptr)) and
// nothing else: lets a benchmark read the device memory of the bare context before an engine exists.
// Returns false (never throws) when the device cannot be used.
bool open_cuda_context(int device);
// "CUDA runtime X.Y, driver X.Y, cuDNN X.Y.Z, cuBLAS X.Y.Z" of the loaded libraries (for reports).
std::string cuda_library_versions();

}  // namespace maskrt::cuda
