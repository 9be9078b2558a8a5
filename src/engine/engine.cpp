#include "maskrt/engine.h"

#include <omp.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <thread>

#include "core/check.h"
#include "io/checkpoint.h"
#include "io/config.h"
#include "model/meta_arch/generalized_rcnn.h"
#include "model/weights.h"
#include "ops/resize/resize.h"
#ifdef MASKRT_WITH_CUDA
#include "model/cuda/generalized_rcnn_cuda.h"
#endif

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

namespace {
// What a checkpoint error says when the path is MODEL.WEIGHTS: the key, who set it (`where`: "file:line"
// or "opts") and how the path was resolved. Like Detectron2, a relative MODEL.WEIGHTS is opened
// relative to the current directory, not to the config file's folder.
std::string config_weights_context(const std::string& weights, const std::string& where) {
  std::string msg = "MODEL.WEIGHTS '" + weights + "' (" +
                    (where == "opts" ? std::string("set by --opts") : where.empty() ? "the config's" : "set at " + where) + ")";
  if (weights.find("://") != std::string::npos)
    return msg + " is a URL or model-zoo path, which maskrt does not download: download the checkpoint and pass "
                 "--weights FILE (or set MODEL.WEIGHTS to the file)";
  if (fs::path(weights).is_absolute()) return msg;
  std::error_code ec;
  const fs::path cwd = fs::current_path(ec);
  msg += " is relative: resolved against the current directory " + cwd.string() + " as " +
         (cwd / weights).lexically_normal().string() + " (as Detectron2 does), not against the config file's folder";
  if (const size_t colon = where.rfind(':'); colon != std::string::npos && where != "opts") {
    const fs::path beside = fs::path(where.substr(0, colon)).parent_path() / weights;
    if (fs::exists(beside, ec)) msg += " (a file " + beside.string() + " exists: pass --weights " + beside.string() + ")";
  }
  return msg;
}
}  // namespace

// Thread safety: the CPU model's run() is const and reentrant, so CPU calls run concurrently. The CUDA
// pipeline owns one stream and one arena, so CUDA calls are serialised by `cuda_mutex` (one image at a
// time on the GPU; concurrent callers queue). Results do not depend on the interleaving.
struct Engine::Impl {
  Config config;
  std::unique_ptr<GeneralizedRCNN> model;
#ifdef MASKRT_WITH_CUDA
  std::unique_ptr<cuda::CudaGeneralizedRCNN> cuda_model;
  std::mutex cuda_mutex;
#endif
  bool stage_times = false;
  EngineInfo info;

  ImageResult run(const Image& image) {
#ifdef MASKRT_WITH_CUDA
    if (cuda_model) {
      std::lock_guard<std::mutex> lock(cuda_mutex);
      return cuda_model->run(image, stage_times);
    }
#endif
    return model->run(image);
  }

  std::vector<ImageResult> run_batch(const std::vector<Image>& images) {
#ifdef MASKRT_WITH_CUDA
    if (cuda_model) {
      std::lock_guard<std::mutex> lock(cuda_mutex);
      return cuda_model->run_batch(images, stage_times);
    }
#endif
    std::vector<ImageResult> out;
    out.reserve(images.size());
    for (const Image& img : images) out.push_back(model->run(img));
    return out;
  }
};

namespace {
// Detectron2's ResizeShortestEdge rounds a very thin image's short side to 0 (e.g. 1x3000 at
// MIN_SIZE_TEST 800 / MAX_SIZE_TEST 1333); such an image cannot run: say so, naming its size.
void check_resizable(const Image& image, const ModelSpec& spec) {
  if (image.height < 1 || image.width < 1) return;  // an empty image is reported by the model
  const auto [rh, rw] = ops::resize_shortest_edge_shape(image.height, image.width, spec.min_size_test, spec.max_size_test);
  MASKRT_CHECK(rh >= 1 && rw >= 1, ErrorCode::kInvalidArgument, "image ", image.height, "x", image.width,
               " (HxW) too thin: resizes to 0 ", rh < 1 ? "rows" : "columns", " at INPUT.MIN_SIZE_TEST ",
               spec.min_size_test, ", MAX_SIZE_TEST ", spec.max_size_test);
}

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::kFP32: return "fp32";
    case Precision::kTF32: return "tf32";
    case Precision::kFP16: return "fp16";
  }
  return "?";
}
}  // namespace

Engine::Engine(const EngineOptions& options) : impl_(std::make_unique<Impl>()) {
  const auto t0 = std::chrono::steady_clock::now();
  bool use_cuda = false;
  if (options.device == Device::kCUDA) {
#ifndef MASKRT_WITH_CUDA
    MASKRT_FAIL(ErrorCode::kUnsupported, "device cuda: this maskrt build has no CUDA backend (configured with MASKRT_WITH_CUDA=OFF, or nvcc / cuDNN were not found)");
#else
    MASKRT_CHECK(cuda::cuda_available(), ErrorCode::kDevice, "device cuda: no CUDA device is available");
    use_cuda = true;
#endif
  } else if (options.device == Device::kAuto) {
#ifdef MASKRT_WITH_CUDA
    use_cuda = cuda::cuda_available();
#endif
  }
  MASKRT_CHECK(use_cuda || options.precision == Precision::kFP32, ErrorCode::kUnsupported,
               "precision: the CPU backend runs fp32 only (tf32/fp16 need --device cuda)",
               options.device == Device::kAuto ? "; device auto found no usable CUDA device, so the model would run on "
                                                 "the CPU"
                                               : "");
  MASKRT_CHECK(options.cuda_streams >= 0 && options.cuda_streams <= 8, ErrorCode::kInvalidArgument,
               "cuda_streams: expected 0 (default) to 8, got ", options.cuda_streams);
  // Checked on every device (a CPU engine ignores the value, but a bad one is still a caller's bug).
  MASKRT_CHECK(options.backbone_batch >= 0 && options.backbone_batch <= kMaxBackboneBatch, ErrorCode::kInvalidArgument,
               "backbone_batch: expected 0 (MASKRT_BACKBONE_BATCH or off) to ", kMaxBackboneBatch, ", got ",
               options.backbone_batch);
  impl_->stage_times = options.stage_times;
  // MASKRT_BACKBONE_BATCH is a CUDA switch: on the CPU a set value (well-formed or not) is named in a
  // warning, as the CLI names --backbone-batch, instead of being ignored silently.
  if (const char* e = std::getenv("MASKRT_BACKBONE_BATCH"); !use_cuda && e && *e)
    std::fprintf(stderr, "maskrt: warning: MASKRT_BACKBONE_BATCH=%s has no effect: the model runs on the CPU\n", e);
  if (options.num_threads > 0) omp_set_num_threads(options.num_threads);

  std::string config_path = options.config_path;
  std::string weights_path = options.weights_path;
  std::string model_name;
  if (config_path.empty()) {
    const std::string dir = default_model_dir();
    config_path = dir + "/config.yaml";
    // --weights wins, then MODEL.WEIGHTS given in opts (read from the loaded config below, as
    // Detectron2 would), then the default model's own model.pkl.
    bool weights_in_opts = false;
    for (size_t i = 0; i + 1 < options.opts.size(); i += 2) weights_in_opts |= options.opts[i] == "MODEL.WEIGHTS";
    if (weights_path.empty() && !weights_in_opts) weights_path = dir + "/model.pkl";
    model_name = "default";
  } else {
    model_name = fs::path(config_path).stem().string();
  }
  Config& cfg = impl_->config;
  cfg = load_config(config_path, options.opts);
  const bool weights_from_config = weights_path.empty();
  if (weights_path.empty()) weights_path = cfg.spec.weights;
  MASKRT_CHECK(!weights_path.empty(), ErrorCode::kInvalidArgument, config_path,
               ": no weights given (pass --weights or set MODEL.WEIGHTS)");
  std::map<std::string, CheckpointTensor> checkpoint;
  try {
    checkpoint = load_checkpoint(weights_path);
  } catch (const Error& e) {
    if (!weights_from_config || e.code() != ErrorCode::kIo) throw;
    throw Error(e.code(), config_weights_context(weights_path, cfg.spec.weights_where) + ": " + e.what());
  }
  WeightStore ws(std::move(checkpoint), weights_path);
#ifdef MASKRT_WITH_CUDA
  if (use_cuda)
  {
    impl_->cuda_model = std::make_unique<cuda::CudaGeneralizedRCNN>(cfg.spec, ws, options.precision,
                                                                    options.cuda_device, options.backbone_batch);
    impl_->cuda_model->set_concurrent_images(options.cuda_streams > 0 ? options.cuda_streams : kDefaultCudaStreams);
  }
  else
#endif
    impl_->model = std::make_unique<GeneralizedRCNN>(cfg.spec, ws);
  ws.finish();

  EngineInfo& info = impl_->info;
  info.model_name = model_name;
  info.config_path = config_path;
  info.weights_path = weights_path;
  info.config_hash = cfg.hash;
  info.device = "cpu (" + std::to_string(omp_get_max_threads()) + " threads)";
  info.precision = precision_name(use_cuda ? options.precision : Precision::kFP32);
#ifdef MASKRT_WITH_CUDA
  if (use_cuda) {
    info.device = impl_->cuda_model->device_name();
    info.libraries = cuda::cuda_library_versions();
    info.backbone_batch = impl_->cuda_model->backbone_batch();
    info.activation_layout = impl_->cuda_model->activation_layout();
  }
#endif
  info.num_classes = cfg.spec.num_classes;
  info.mask_on = cfg.spec.mask_on;
  info.load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

  if (options.warmup) {
    // CPU: one small inference touches every code path (thread pool start-up, page faults of the
    // weights) so the first user image runs at steady speed. CUDA: every size is planned first
    // (cuDNN / cuBLASLt algorithms; the arena reaches the largest size, so no later growth drops a
    // plan's graph), then each runs twice: eager (lazy module loading), then graph capture.
    const auto t1 = std::chrono::steady_clock::now();
    std::vector<std::pair<int, int>> sizes = options.warmup_sizes;
    if (sizes.empty()) sizes.push_back({480, 640});
#ifdef MASKRT_WITH_CUDA
    if (impl_->cuda_model)
      for (const auto& [h, w] : sizes) impl_->cuda_model->prepare(h, w);
#endif
    for (const auto& [h, w] : sizes) {
      Image img;
      img.height = h;
      img.width = w;
      img.pixels.resize(static_cast<size_t>(h) * w * 3);
      for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<uint8_t>((i * 2654435761u) >> 24);
      impl_->run(img);
#ifdef MASKRT_WITH_CUDA
      if (impl_->cuda_model) impl_->run(img);  // the second run of a size captures its CUDA graph
      // Streams asked for explicitly: a batch of one image per stream, twice, gives every extra
      // stream its arena, plans and graphs now instead of in the first user batch.
      if (impl_->cuda_model && options.cuda_streams > 1)
        for (int rep = 0; rep < 2; ++rep)
          impl_->run_batch(std::vector<Image>(static_cast<size_t>(options.cuda_streams), img));
      // Backbone batches on (N > 1): one group of N copies per stream a batch would use, twice (eager,
      // then graph capture), so the first user batch of this size finds its group plans ready (without
      // this, the H200's first fp16 batch-16 call took 888 ms instead of 34).
      const int group = impl_->cuda_model ? impl_->cuda_model->backbone_batch() : 1;
      if (group > 1) {
        const int lanes = options.cuda_streams > 0 ? options.cuda_streams : kDefaultCudaStreams;
        for (int rep = 0; rep < 2; ++rep)
          impl_->run_batch(std::vector<Image>(static_cast<size_t>(group) * lanes, img));
      }
#endif
    }
    info.warmup_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count();
#ifdef MASKRT_WITH_CUDA
    if (impl_->cuda_model) impl_->cuda_model->record_warmup_memory();
#endif
  }
#ifdef MASKRT_WITH_CUDA
  if (const char* e = std::getenv("MASKRT_CUDA_PROFILER_RANGE"); e && std::string(e) == "1" && impl_->cuda_model)
    impl_->cuda_model->set_profiler_range(true);
#endif
}

Engine::~Engine() = default;

ImageResult Engine::infer(const Image& image) const {
  check_resizable(image, impl_->config.spec);
  try {
    return impl_->run(image);
  } catch (const std::bad_alloc&) {
    MASKRT_FAIL(ErrorCode::kOutOfMemory, "out of host memory for a ", image.height, "x", image.width, " image");
  }
}

std::vector<ImageResult> Engine::infer_batch(const std::vector<Image>& images) const {
  for (const Image& image : images) check_resizable(image, impl_->config.spec);
  try {
    return impl_->run_batch(images);
  } catch (const std::bad_alloc&) {
    MASKRT_FAIL(ErrorCode::kOutOfMemory, "out of host memory for a batch of ", images.size(), " images");
  }
}

const EngineInfo& Engine::info() const { return impl_->info; }

DeviceMemoryReport Engine::memory_report() const {
#ifdef MASKRT_WITH_CUDA
  if (impl_->cuda_model) {
    std::lock_guard<std::mutex> lock(impl_->cuda_mutex);
    return impl_->cuda_model->memory_report();
  }
#endif
  return DeviceMemoryReport{};
}

}  // namespace maskrt
