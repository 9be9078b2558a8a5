// `maskrt infer`: run the model on image files, write RESULTS.json (and optional pictures).
#include <algorithm>
#include <sstream>
#include <cerrno>
#include <cstring>
#include <set>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <signal.h>
#include <unistd.h>

#include <csignal>

#include <nlohmann/json.hpp>

#include "core/build_info.h"
#include "commands.h"
#include "core/check.h"
#include "io/atomic_write.h"
#include "io/results_json.h"
#include "io/visualize.h"

namespace maskrt::cli {

namespace fs = std::filesystem;

namespace {
// SIGINT / SIGTERM during `infer`: the signal number; the image loop stops before the next batch and
// the results so far are written (README). SA_RESETHAND: a second signal ends the process at once.
volatile std::sig_atomic_t g_stop_signal = 0;
extern "C" void on_stop_signal(int sig) { g_stop_signal = sig; }

// The image files expand_inputs takes from a folder (any case), and a word infer reads as an image path.
bool has_image_extension(const std::string& word) {
  std::string ext = fs::path(word).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

// Whether two paths name one file: the same file by any path (both exist), or the same path once
// made absolute and normalised (either may not exist yet).
bool same_file(const std::string& a, const std::string& b) {
  std::error_code ec;
  return fs::equivalent(a, b, ec) ||
         fs::weakly_canonical(fs::absolute(a, ec), ec) == fs::weakly_canonical(fs::absolute(b, ec), ec);
}
}  // namespace

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND | SA_RESTART;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}
int stop_signal() { return g_stop_signal; }
const char* stop_signal_name(int sig) { return sig == SIGINT ? "SIGINT" : "SIGTERM"; }

void add_model_options(CLI::App* cmd, ModelArgs& a) {
  cmd->add_option("--config", a.config, "Detectron2 config .yaml (default: the embedded default model)");
  cmd->add_option("--weights", a.weights, "checkpoint: model-zoo .pkl or torch.save .pth (default: MODEL.WEIGHTS)");
  // No allow_extra_args: CLI11 splits a "[a, b, c]" word into separate values when extra arguments are
  // allowed; without it the word is kept whole and parsed as a Python list literal, as Detectron2 does.
  // The bound (2^20 words) must stay finite: without allow_extra_args CLI11 (2.1) cuts an "unlimited"
  // maximum down to a single value.
  cmd->add_option("--opts", a.opts, "config overrides KEY VALUE ..., as Detectron2's command line")
      ->expected(0, 1 << 20)
      ->allow_extra_args(false);
  cmd->add_option("--device", a.device,
                  "auto | cpu | cuda (default auto: cuda when a GPU and the CUDA backend are present, else cpu)")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  cmd->add_option("--precision", a.precision, "fp32 | tf32 | fp16 (default fp32; tf32/fp16: cuda only)")
      ->check(CLI::IsMember({"fp32", "tf32", "fp16"}));
  cmd->add_option("--threads", a.threads, "CPU threads (0 = all cores)")->check(CLI::Range(0, 1024));
  cmd->add_option("--batch", a.batch, "images per engine call")->check(CLI::Range(1, 4096));
  cmd->add_option("--cuda-streams", a.cuda_streams,
                  "CUDA: images of one --batch in flight at once, each on its own stream and activation "
                  "arena (0 = default " + std::to_string(kDefaultCudaStreams) + "; results never depend on it)")
      ->check(CLI::Range(0, 8));
  cmd->add_option("--backbone-batch", a.backbone_batch,
                  "CUDA fp16/tf32: run up to N consecutive same-size images of one --batch through one backbone, "
                  "FPN and RPN-head pass (default: 4 when --batch >= 16, unless MASKRT_BACKBONE_BATCH "
                  "is set; 1 = off; each image's result stays equal, bit for bit, to its result alone; "
                  "fp32 ignores it)")
      ->check(CLI::Range(1, kMaxBackboneBatch));
  cmd->add_option("--prepare-sizes", a.prepare_sizes,
                  "original image sizes HxW,... to plan at start-up (CUDA: algorithms, memory, graphs), "
                  "so the first image of each size runs at steady speed (default 480x640)");
}

EngineOptions engine_options(const ModelArgs& a) {
  EngineOptions o;
  o.config_path = a.config;
  o.weights_path = a.weights;
  // A bare --opts (no word after it) reaches us as one empty word: say so instead of "odd number".
  MASKRT_CHECK(!(a.opts.size() == 1 && a.opts[0].empty()), ErrorCode::kInvalidArgument,
               "--opts: no KEY VALUE pair given (e.g. --opts MODEL.ROI_HEADS.SCORE_THRESH_TEST 0.5)");
  o.opts = a.opts;
  o.device = a.device == "cpu" ? Device::kCPU : a.device == "cuda" ? Device::kCUDA : Device::kAuto;
  o.precision = a.precision == "fp16" ? Precision::kFP16 : a.precision == "tf32" ? Precision::kTF32 : Precision::kFP32;
  o.num_threads = a.threads;
  o.cuda_streams = a.cuda_streams;
  o.backbone_batch = a.backbone_batch;
  // Large CUDA fp16 / tf32 batches group same-size images by default (H200, session 11, mean of two runs:
  // fp16 --batch 64 +12 %, --batch 16 +10 %, tf32 --batch 32 +11 %; group members equal infer() bit for
  // bit, ConvCudnn::plan_pinned),
  // unless --backbone-batch or MASKRT_BACKBONE_BATCH says otherwise. Smaller batches keep one image per
  // stream: there a group of 4 takes one stream where 3 streams ran single images at once (not
  // measured below --batch 16), and group plans cost about 4 images' activations per stream.
  constexpr int kDefaultGroupsFromBatch = 16;
  const char* env_bb = std::getenv("MASKRT_BACKBONE_BATCH");
  if (a.backbone_batch == 0 && a.batch >= kDefaultGroupsFromBatch && o.precision != Precision::kFP32 &&
      o.device != Device::kCPU && !(env_bb && *env_bb))
    o.backbone_batch = 4;
  if (!a.prepare_sizes.empty()) o.warmup_sizes = parse_sizes(a.prepare_sizes, "--prepare-sizes");
  return o;
}

std::vector<InferOutcome> infer_images(const Engine& engine, const std::vector<Image>& images) {
  std::vector<InferOutcome> out(images.size());
  std::string batch_error;
  if (images.size() > 1) {
    try {
      std::vector<ImageResult> rs = engine.infer_batch(images);
      for (size_t i = 0; i < images.size(); ++i) out[i] = {true, std::move(rs[i]), {}};
      return out;
    } catch (const Error& err) {  // some image failed: find it (and keep the others) one by one below
      batch_error = err.what();
    }
  }
  bool all_ran = true;
  for (size_t i = 0; i < images.size(); ++i) {
    try {
      out[i] = {true, engine.infer(images[i]), {}};
    } catch (const Error& err) {
      out[i] = {false, {}, err.what()};
      all_ran = false;
    }
  }
  // A batch failure that no single image reproduces is not a bad input: say so, or a systematic
  // batch-path problem (e.g. group planning) would only show as a slow run.
  if (!batch_error.empty() && all_ran)
    std::fprintf(stderr,
                 "maskrt: warning: the batch of %zu images failed (%s); every image then ran alone, results are "
                 "from one-image runs\n",
                 images.size(), batch_error.c_str());
  return out;
}

void report_image_error(nlohmann::json& errors, const std::string& file, const std::string& msg) {
  std::fprintf(stderr, "maskrt: error: %s%s\n", msg.find(file) == std::string::npos ? (file + ": ").c_str() : "",
               msg.c_str());
  errors.push_back({{"file", file}, {"error", msg}});
}

std::vector<std::pair<int, int>> parse_sizes(const std::string& text, const char* option) {
  constexpr long long kMaxSide = 16384;
  std::vector<std::pair<int, int>> sizes;
  // A trailing comma would otherwise be dropped by getline: every comma must separate two sizes.
  MASKRT_CHECK(text.empty() || text.back() != ',', ErrorCode::kInvalidArgument, option, ": '", text,
               "' ends with a comma (sizes are HEIGHTxWIDTH,HEIGHTxWIDTH,...)");
  std::stringstream ss(text);
  std::string tok;
  while (std::getline(ss, tok, ',')) {
    long long h = 0, w = 0;
    char x = 0;
    std::stringstream ts(tok);
    const bool parsed = (ts >> h >> x >> w) && (ts >> std::ws).eof();  // nothing may follow WIDTH
    MASKRT_CHECK(parsed && x == 'x', ErrorCode::kInvalidArgument, option, ": '", tok,
                 "' is not HEIGHTxWIDTH (e.g. 480x640)");
    MASKRT_CHECK(h > 0 && w > 0 && h <= kMaxSide && w <= kMaxSide, ErrorCode::kInvalidArgument, option, ": '", tok,
                 "': height and width must be 1 to ", kMaxSide, " pixels");
    sizes.push_back({static_cast<int>(h), static_cast<int>(w)});
  }
  MASKRT_CHECK(!sizes.empty(), ErrorCode::kInvalidArgument, option, ": no size given");
  return sizes;
}

std::vector<std::string> expand_inputs(const std::vector<std::string>& inputs) {
  std::vector<std::string> files;
  for (const auto& in : inputs) {
    std::error_code ec;
    if (fs::is_directory(in, ec)) {
      std::vector<std::string> found;
      for (const auto& e : fs::directory_iterator(in, ec)) {
        if (!e.is_regular_file()) continue;
        if (has_image_extension(e.path().string())) found.push_back(e.path().string());
      }
      if (found.empty())
        std::fprintf(stderr, "maskrt: warning: %s: no .jpg/.jpeg/.png file in this directory (subdirectories are not searched)\n",
                     in.c_str());
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else {
      files.push_back(in);  // a missing file becomes a per-file error later
    }
  }
  return files;
}

CLI::App* add_infer_command(CLI::App& app, InferArgs& a) {
  CLI::App* cmd = app.add_subcommand("infer", "instance segmentation of image files -> RESULTS.json");
  add_model_options(cmd, a.model);
  cmd->add_option("--output,-o", a.output, "RESULTS.json to write")->required();
  cmd->add_option("--visualize", a.visualize_dir, "write one PNG per image with masks, boxes, classes, scores");
  cmd->add_option("--class-names", a.class_names,
                  "text file, one class name per line in class-index order, for pictures and RESULTS.json "
                  "(default: classes.txt of the default model)");
  cmd->add_option("inputs", a.inputs, "image files or directories")->required();
  return cmd;
}

void check_writable_file(const std::string& path, const char* what) {
  std::error_code ec;
  MASKRT_CHECK(!fs::is_directory(path, ec), ErrorCode::kIo, what, " ", path, ": is a directory");
  const bool existed = fs::exists(path, ec);
  {
    std::ofstream probe(path, std::ios::app);
    MASKRT_CHECK(probe.good(), ErrorCode::kIo, what, " ", path, ": cannot open for writing (", std::strerror(errno), ")");
  }
  // The probe must not leave an empty file behind when the run stops before writing (e.g. a model
  // that cannot be loaded): remove it again if it was the probe that created it.
  if (!existed) fs::remove(path, ec);
}

void check_output_dir(const std::string& dir, const char* what) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  MASKRT_CHECK(!ec && fs::is_directory(dir), ErrorCode::kIo, what, " ", dir, ": cannot create the folder (",
               ec ? ec.message() : std::string("not a directory"), ")");
  // An existing folder may still be read-only: probe with a file of our own (removed at once), so the
  // run stops here rather than failing every image's picture later.
  const fs::path probe = fs::path(dir) / (".maskrt-write-probe-" + std::to_string(::getpid()));
  {
    std::ofstream os(probe);
    MASKRT_CHECK(os.good(), ErrorCode::kIo, what, " ", dir, ": cannot write into the folder (", std::strerror(errno), ")");
  }
  fs::remove(probe, ec);
}

void check_not_input(const std::string& out, const char* what, const std::string& in, const char* in_what) {
  MASKRT_CHECK(out.empty() || in.empty() || !same_file(out, in), ErrorCode::kInvalidArgument, what, " ", out, ": is ",
               in_what, " ", in, " (the run would overwrite it)");
}

void check_distinct_outputs(const std::string& out, const char* what, const std::string& other, const char* other_what) {
  MASKRT_CHECK(out.empty() || other.empty() || !same_file(out, other), ErrorCode::kInvalidArgument, what, " ", out,
               ": is ", other_what, " ", other, " (one would overwrite the other)");
}

void warn_cpu_ignored_options(const ModelArgs& a, const EngineInfo& info) {
  if (a.cuda_streams != 0 && info.device.rfind("cpu", 0) == 0)
    std::fprintf(stderr, "maskrt: warning: --cuda-streams %d has no effect: the model runs on the CPU\n", a.cuda_streams);
  if (a.backbone_batch != 0 && info.device.rfind("cpu", 0) == 0)
    std::fprintf(stderr, "maskrt: warning: --backbone-batch %d has no effect: the model runs on the CPU\n",
                 a.backbone_batch);
}

namespace {

bool looks_like_path(const std::string& word) {
  std::error_code ec;
  if (word.empty()) return false;
  return fs::exists(word, ec) || word.find('/') != std::string::npos || has_image_extension(word);
}

// A Detectron2 config key as typed with --opts: upper-case dotted words (MODEL.ROI_HEADS.NMS_THRESH_TEST),
// not a camera file name such as DSC_0001.JPG.
bool looks_like_config_key(const std::string& word) {
  if (word.find('.') == std::string::npos || word.front() == '.' || word.back() == '.' || has_image_extension(word))
    return false;
  return std::all_of(word.begin(), word.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
  });
}

// Image paths typed after --opts (`--opts K V a.png b.png`) reach us as opts words, all but the last one
// (CLI11 keeps one word for the required positional). A word at a KEY position that cannot be a config
// key because it names an existing file or folder, or looks like a path (a '/', or a .jpg/.jpeg/.png
// ending: a missing image stays a per-image error), ends the pairs: it and every word after it are image
// inputs, in the order typed, ahead of the positional one(s). Words at VALUE positions are never moved
// (MODEL.WEIGHTS takes a file). Returns how many words moved.
size_t move_image_paths_out_of_opts(std::vector<std::string>& opts, std::vector<std::string>& inputs) {
  for (size_t i = 0; i < opts.size(); i += 2) {
    if (!looks_like_path(opts[i])) continue;
    std::vector<std::string> moved(opts.begin() + static_cast<std::ptrdiff_t>(i), opts.end());
    opts.resize(i);
    const size_t n = moved.size();
    moved.insert(moved.end(), inputs.begin(), inputs.end());
    // `--opts K V a.png K2 V2 b.png`: K2 = V2 would otherwise become two unreadable images, and the
    // run would go on without the override.
    for (const auto& w : moved) {
      std::error_code ec;
      MASKRT_CHECK(!looks_like_config_key(w) || fs::exists(w, ec), ErrorCode::kInvalidArgument, "--opts: '", w,
                   "' follows the image path '", moved.front(),
                   "': KEY VALUE pairs must all come before the image paths typed after --opts");
    }
    inputs = std::move(moved);
    return n;
  }
  // Odd: the last word typed after --opts became the (only) image input. If that is no file, the
  // likeliest reading is `--opts K V` with no image at all: say so rather than "K has no value".
  std::error_code ec;
  if (opts.size() % 2 == 1 && inputs.size() == 1 && !fs::exists(inputs[0], ec))
    MASKRT_FAIL(ErrorCode::kInvalidArgument, "--opts: '", opts.back(), "' has no value, and the only image input, '",
                inputs[0], "', is no file: if '", inputs[0], "' is the value of ", opts.back(),
                ", no image was given (image paths go before --opts, or after its KEY VALUE pairs)");
  return 0;
}

}  // namespace

int run_infer(const InferArgs& args) {
  InferArgs a = args;
  if (const size_t n = move_image_paths_out_of_opts(a.model.opts, a.inputs))
    std::fprintf(stderr, "maskrt: note: %zu word%s after --opts taken as image input%s (from '%s': a path, not "
                 "a config key)\n", n, n == 1 ? "" : "s", n == 1 ? "" : "s", a.inputs.front().c_str());
  // Output locations are checked before any work, so a typo does not cost a whole run.
  check_writable_file(a.output, "--output");
  if (!a.visualize_dir.empty()) check_output_dir(a.visualize_dir, "--visualize");
  std::string names_file = a.class_names;
  if (names_file.empty() && a.model.config.empty() && fs::exists(default_model_dir() + "/classes.txt"))
    names_file = default_model_dir() + "/classes.txt";
  std::vector<std::string> class_names;
  if (!names_file.empty()) {
    std::ifstream is(names_file);
    MASKRT_CHECK(is.good(), ErrorCode::kIo, "--class-names ", names_file, ": cannot open");
    for (std::string line; std::getline(is, line);) {
      if (!line.empty() && line.back() == '\r') line.pop_back();  // a file saved with CRLF line ends
      if (!line.empty()) class_names.push_back(line);
    }
  }
  const std::vector<std::string> files = expand_inputs(a.inputs);
  // `-o photo.jpg photo.jpg`, or pictures written into the input folder: never overwrite an input.
  for (const auto& f : files) {
    check_not_input(a.output, "--output", f, "the input image");
    if (!a.visualize_dir.empty())
      check_not_input((fs::path(a.visualize_dir) / (fs::path(f).stem().string() + ".png")).string(),
                      "--visualize picture", f, "the input image");
  }
  install_stop_handlers();  // from here on an interrupt keeps the finished images' results
  Engine engine(engine_options(a.model));
  const EngineInfo& info = engine.info();
  MASKRT_CHECK(names_file.empty() || static_cast<int>(class_names.size()) == info.num_classes, ErrorCode::kInvalidArgument,
               "--class-names ", names_file, ": has ", class_names.size(), " names but the model has ", info.num_classes,
               " classes");
  warn_cpu_ignored_options(a.model, info);
  std::fprintf(stderr, "maskrt: model %s (%s), device %s, loaded in %.0f ms, warm-up %.0f ms\n",
               info.model_name.c_str(), info.weights_path.c_str(), info.device.c_str(), info.load_ms, info.warmup_ms);
  nlohmann::json images = nlohmann::json::array();
  nlohmann::json errors = nlohmann::json::array();
  std::set<std::string> picture_names;
  // Images are decoded and run --batch at a time (pipelined on CUDA); results keep the input order.
  const size_t step = static_cast<size_t>(std::max(a.model.batch, 1));
  size_t not_run = 0;  // images left when a SIGINT / SIGTERM stopped the loop
  for (size_t first = 0; first < files.size(); first += step) {
    if (g_stop_signal) {
      not_run = files.size() - first;
      break;
    }
    std::vector<std::string> names;
    std::vector<Image> batch;
    std::vector<double> decode_ms;
    for (size_t k = first; k < std::min(files.size(), first + step); ++k) {
      try {
        const auto t0 = std::chrono::steady_clock::now();
        Image img = read_image(files[k]);
        decode_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        batch.push_back(std::move(img));
        names.push_back(files[k]);
      } catch (const Error& e) {
        report_image_error(errors, files[k], e.what());
      }
    }
    std::vector<InferOutcome> outcomes = infer_images(engine, batch);
    for (size_t k = 0; k < batch.size(); ++k) {
      const std::string& file = names[k];
      if (!outcomes[k].ok) {
        report_image_error(errors, file, outcomes[k].error);
        continue;
      }
      try {
        const ImageResult& r = outcomes[k].result;
        nlohmann::json j;
        j["file"] = file;
        j["height"] = r.height;
        j["width"] = r.width;
        j["instances"] = instances_to_json(r);
        if (!class_names.empty())
          for (auto& inst : j["instances"]) inst["category_name"] = class_names.at(inst["category_id"].get<int>());
        j["time_ms"] = r.times.total;
        j["stage_ms"] = {{"decode", decode_ms[k]},    {"preprocess", r.times.preprocess}, {"backbone", r.times.backbone},
                         {"fpn", r.times.fpn},        {"rpn", r.times.rpn},               {"box_head", r.times.box_head},
                         {"mask_head", r.times.mask_head}, {"postprocess", r.times.postprocess}};
        images.push_back(std::move(j));
        if (!a.visualize_dir.empty()) {
          // Inputs from different folders can share a stem: number the later ones instead of overwriting.
          std::string stem = fs::path(file).stem().string();
          for (int n = 1; !picture_names.insert(stem).second; ++n)
            stem = fs::path(file).stem().string() + "_" + std::to_string(n);
          const std::string out = (fs::path(a.visualize_dir) / (stem + ".png")).string();
          write_png(out, render_instances(batch[k], r, class_names));
          images.back()["picture"] = out;  // which picture shows this input (stems may be numbered)
        }
        std::fprintf(stderr, "maskrt: %s: %zu instances, %.1f ms\n", file.c_str(), r.instances.size(), r.times.total);
      } catch (const Error& e) {
        report_image_error(errors, file, e.what());
      }
    }
  }
  nlohmann::json doc;
  doc["maskrt"] = {{"version", MASKRT_VERSION}, {"commit", maskrt::build_git_commit()}};
  doc["model"] = engine_info_to_json(info);
  doc["images"] = std::move(images);
  doc["errors"] = errors;
  const int stop_signal = g_stop_signal;
  if (stop_signal) {
    doc["interrupted"] = {{"signal", stop_signal_name(stop_signal)}, {"images_not_run", not_run}};
    std::fprintf(stderr, "maskrt: warning: stopped by %s: %zu image(s) not run; the results of the others are written\n",
                 stop_signal_name(stop_signal), not_run);
  }
  // error_handler replace: a non-UTF-8 file name must not lose every result (U+FFFD instead).
  // Atomic: a failed write (disk full) leaves the previous file as it was (io/atomic_write.h).
  io::write_file_atomically(a.output, doc.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  std::printf("results: %s (%zu images, %zu error%s)\n", a.output.c_str(), doc["images"].size(), errors.size(),
              errors.size() == 1 ? "" : "s");
  if (!a.visualize_dir.empty()) std::printf("pictures: %s\n", a.visualize_dir.c_str());
  if (files.empty()) std::fprintf(stderr, "maskrt: warning: no image was processed (exit status 1)\n");
  if (stop_signal) return 128 + stop_signal;  // as a shell reports a process ended by that signal
  return errors.empty() && !files.empty() ? 0 : 1;
}

}  // namespace maskrt::cli
