#pragma once
// Sub-commands of the maskrt CLI. Each add_* registers its options on the CLI11 app; run_* executes
// and returns the process exit status.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

#include "maskrt/engine.h"

namespace maskrt::cli {

// Options shared by every command that creates an engine.
struct ModelArgs {
  std::string config;
  std::string weights;
  std::vector<std::string> opts;
  std::string device = "auto";
  std::string precision = "fp32";
  int threads = 0;
  int batch = 1;
  int cuda_streams = 0;  // --cuda-streams: images of one batch in flight at once on CUDA (0 = default)
  int backbone_batch = 0;  // --backbone-batch: images per backbone pass on CUDA fp16/tf32 (0 = not given)
  std::string prepare_sizes;  // --prepare-sizes HxW,...: original image sizes planned at engine creation
};
// One outcome per image: its result, or the error (what()) that image raised.
struct InferOutcome {
  bool ok = false;
  ImageResult result;
  std::string error;
};
// Runs `images` (one --batch worth, chunked by the caller) as one Engine::infer_batch call (pipelined
// on CUDA). If that call fails, the images are re-run one by one, so each error belongs to its own
// image and the others keep their results. Only maskrt::Error is caught.
std::vector<InferOutcome> infer_images(const Engine& engine, const std::vector<Image>& images);
// Prints "maskrt: error: FILE: MESSAGE" (the file named once, whether or not the message already
// does) and appends {"file", "error"} to a RESULTS.json / METRICS.json errors array.
void report_image_error(nlohmann::json& errors, const std::string& file, const std::string& msg);
// "HxW,HxW,..." -> (h, w) pairs; kInvalidArgument naming `option` and the bad token.
std::vector<std::pair<int, int>> parse_sizes(const std::string& text, const char* option = "--sizes");
void add_model_options(CLI::App* cmd, ModelArgs& a);
EngineOptions engine_options(const ModelArgs& a);

struct InferArgs {
  ModelArgs model;
  std::string class_names;  // file with one class name per line (0-based order)
  std::string output;
  std::string visualize_dir;
  std::vector<std::string> inputs;
};
CLI::App* add_infer_command(CLI::App& app, InferArgs& a);
int run_infer(const InferArgs& a);

struct BenchArgs {
  ModelArgs model;
  int streams = 1;
  int warmup = 5;
  int iterations = 20;
  double duration_s = 0;
  std::string sizes = "480x640";
  std::string images;
  std::string format = "md";
  std::string output;
  std::string plot;
};
CLI::App* add_bench_command(CLI::App& app, BenchArgs& a);
int run_bench(const BenchArgs& a);

struct EvalArgs {
  ModelArgs model;
  std::string annotations;
  std::string images;
  std::string results;
  std::string output;
  std::string save_detections;
};
CLI::App* add_eval_command(CLI::App& app, EvalArgs& a);
int run_eval(const EvalArgs& a);

// Throw maskrt::Error(kIo) naming the path when a result file / folder cannot be written.
void check_writable_file(const std::string& path, const char* what);
void check_output_dir(const std::string& dir, const char* what);
// Throw maskrt::Error(kInvalidArgument) when the output file `out` is the input file `in` (the same
// file, by any path): the run would overwrite its own input. Nothing is checked when either is missing.
void check_not_input(const std::string& out, const char* what, const std::string& in, const char* in_what);
// Throw maskrt::Error(kInvalidArgument) when two outputs of one run name one file (by any spelling,
// existing or not yet): one would overwrite the other. Nothing is checked when either is empty.
void check_distinct_outputs(const std::string& out, const char* what, const std::string& other, const char* other_what);

// SIGINT / SIGTERM: once install_stop_handlers() ran, stop_signal() is the signal received (0: none);
// infer and eval stop before their next batch and write what they have (README). A second signal
// ends the process at once.
void install_stop_handlers();
int stop_signal();
const char* stop_signal_name(int sig);  // "SIGINT" or "SIGTERM"

// Warns on stderr about options given on the command line that the engine's device ignores
// (--cuda-streams and --backbone-batch on a CPU engine, e.g. --device cpu or auto without a GPU).
void warn_cpu_ignored_options(const ModelArgs& a, const EngineInfo& info);

// Expands files and directories (image files by extension, sorted) in the given order.
std::vector<std::string> expand_inputs(const std::vector<std::string>& inputs);

}  // namespace maskrt::cli
