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
// invalid image (kInvalidArgument) or out-of-memory (kOutOfMemory, with the size); the engine stays usable.
// Thread safety: infer() and infer_batch() may be called concurrently from several threads on one
// Engine; results are identical to single-threaded calls.
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
  std::string weights_path;              // .pkl / .pth; "" = MODEL.WEIGHTS of the config (or the default model's)
  std::vector<std::string> opts;         // KEY VALUE ... overrides, like Detectron2's --opts
  Device device = Device::kAuto;         // kAuto: CUDA when a GPU and the CUDA backend are present, else CPU
  Precision precision = Precision::kFP32;  // CPU supports kFP32 only
  int num_threads = 0;                   // CPU threads (0 = all cores / OMP_NUM_THREADS)
  bool warmup = true;                    // run a warm-up inference at creation
  std::vector<std::pair<int, int>> warmup_sizes;  // (height, width) of original images to prepare for
  bool stage_times = false;              // CUDA: fill ImageResult::times per stage with CUDA events (the
                                         // CPU always fills them; CUDA always fills total and postprocess)
  int cuda_device = 0;                   // CUDA device index
};

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
  // its empty slot). Each image's result equals infer(image). On CUDA the batch is pipelined (image
  // i+1 runs on the GPU while image i's masks are encoded on the host); a bad image throws as infer()
  // would, and the results of the batch are then not returned (call infer() per image to keep them).
  std::vector<ImageResult> infer_batch(const std::vector<Image>& images) const;

  const EngineInfo& info() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Directory of the embedded default model (config.yaml + model.pkl): $MASKRT_DEFAULT_MODEL if set,
// else <executable dir>/../models/default, else <source tree>/models/default.
std::string default_model_dir();

}  // namespace maskrt
