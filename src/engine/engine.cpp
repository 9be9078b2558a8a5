#include "maskrt/engine.h"

#include <omp.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "core/check.h"
#include "io/checkpoint.h"
#include "io/config.h"
#include "model/meta_arch/generalized_rcnn.h"
#include "model/weights.h"

namespace maskrt {

namespace fs = std::filesystem;

std::string default_model_dir() {
  if (const char* env = std::getenv("MASKRT_DEFAULT_MODEL")) return env;
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n > 0) {
    buf[n] = 0;
    const fs::path exe_dir = fs::path(buf).parent_path();
    for (const fs::path& cand : {exe_dir / ".." / "models" / "default", exe_dir / "models" / "default"})
      if (fs::exists(cand / "config.yaml")) return fs::canonical(cand).string();
  }
  return std::string(MASKRT_SOURCE_DIR) + "/models/default";
}

struct Engine::Impl {
  Config config;
  std::unique_ptr<GeneralizedRCNN> model;
  EngineInfo info;
};

Engine::Engine(const EngineOptions& options) : impl_(std::make_unique<Impl>()) {
  const auto t0 = std::chrono::steady_clock::now();
  if (options.device == Device::kCUDA) {
#ifndef MASKRT_WITH_CUDA
    MASKRT_FAIL(ErrorCode::kUnsupported, "device cuda: this maskrt build has no CUDA backend (built without nvcc/cuDNN)");
#endif
  }
  MASKRT_CHECK(options.precision == Precision::kFP32, ErrorCode::kUnsupported,
               "precision: the CPU backend runs fp32 only (tf32/fp16 need --device cuda)");
  if (options.num_threads > 0) omp_set_num_threads(options.num_threads);

  std::string config_path = options.config_path;
  std::string weights_path = options.weights_path;
  std::string model_name;
  if (config_path.empty()) {
    const std::string dir = default_model_dir();
    config_path = dir + "/config.yaml";
    if (weights_path.empty()) weights_path = dir + "/model.pkl";
    model_name = "default";
  } else {
    model_name = fs::path(config_path).stem().string();
  }
  Config& cfg = impl_->config;
  cfg = load_config(config_path, options.opts);
  if (weights_path.empty()) weights_path = cfg.spec.weights;
  MASKRT_CHECK(!weights_path.empty(), ErrorCode::kInvalidArgument, config_path,
               ": no weights given (pass --weights or set MODEL.WEIGHTS)");
  WeightStore ws(load_checkpoint(weights_path), weights_path);
  impl_->model = std::make_unique<GeneralizedRCNN>(cfg.spec, ws);
  ws.finish();

  EngineInfo& info = impl_->info;
  info.model_name = model_name;
  info.config_path = config_path;
  info.weights_path = weights_path;
  info.config_hash = cfg.hash;
  info.device = "cpu (" + std::to_string(omp_get_max_threads()) + " threads)";
  info.precision = "fp32";
  info.num_classes = cfg.spec.num_classes;
  info.mask_on = cfg.spec.mask_on;
  info.load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

  if (options.warmup) {
    // The CPU path has no algorithm selection or graphs; one small inference touches every code path
    // (thread pool start-up, page faults of the weights) so the first user image runs at steady speed.
    const auto t1 = std::chrono::steady_clock::now();
    std::vector<std::pair<int, int>> sizes = options.warmup_sizes;
    if (sizes.empty()) sizes.push_back({480, 640});
    for (const auto& [h, w] : sizes) {
      Image img;
      img.height = h;
      img.width = w;
      img.pixels.resize(static_cast<size_t>(h) * w * 3);
      for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<uint8_t>((i * 2654435761u) >> 24);
      impl_->model->run(img);
    }
    info.warmup_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count();
  }
}

Engine::~Engine() = default;

ImageResult Engine::infer(const Image& image) const {
  try {
    return impl_->model->run(image);
  } catch (const std::bad_alloc&) {
    MASKRT_FAIL(ErrorCode::kOutOfMemory, "out of host memory for a ", image.height, "x", image.width, " image");
  }
}

std::vector<ImageResult> Engine::infer_batch(const std::vector<Image>& images) const {
  std::vector<ImageResult> out;
  out.reserve(images.size());
  for (const Image& img : images) out.push_back(infer(img));
  return out;
}

const EngineInfo& Engine::info() const { return impl_->info; }

}  // namespace maskrt
