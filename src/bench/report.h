#pragma once
// Rendering of benchmark results as a markdown table (for humans and docs/PERFORMANCE.md), CSV (one
// row per run, for spreadsheets) and JSON (everything: metadata, summaries and ALL raw samples, the
// machine-readable record from which any other number can be recomputed).
//
// Versions of the device stack are supplied by the caller (the CUDA backend knows them); host facts
// come from collect_host_info(). Thread safety: pure functions.
#include <array>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/flops.h"
#include "bench/stats.h"
#include "bench/system_info.h"

namespace maskrt::bench {

struct BenchMetadata {
  HostInfo host;                   // maskrt version/commit, CPU, cores, hostname, date (UTC)
  std::string model_name;          // e.g. "mask_rcnn_R_50_FPN_3x"
  std::string config_hash;         // hash of the resolved config (caller computes it)
  std::string device_name;         // e.g. "NVIDIA H200" or "cpu"
  std::string driver_version;      // as strings, "" = not applicable / unknown
  std::string cuda_version;
  std::string cudnn_version;
  std::string cublas_version;
  std::string gpu_sampling;        // "NVML, every 20 ms" or the reason NVML is unavailable
  std::map<std::string, std::string> options;  // the bench options as given (precision, sizes, ...); in
                                               // JSON the keys of kNumericBenchOptions are numbers
                                               // (option_value_json), every other key is a string
};

// The counted cost of one run's model at its network input size (bench/flops.h), for the achieved
// rates: TFLOP/s = counted FLOPs / measured time, GB/s = counted minimum bytes / measured time.
struct RunCost {
  bool available = false;     // false: no cost section for this run
  ModelCost cost;             // per image
  int bytes_per_element = 4;  // 4 (fp32, tf32) or 2 (fp16)
  std::string roi_counts;     // how proposals / detections were chosen (free text, reported)
};

struct BenchReport {
  BenchMetadata meta;
  std::vector<BenchRun> runs;
  std::vector<RunCost> costs;  // empty, or one per run (same order); see RunCost
};

// Achieved rates of one run from its counted cost (all 0 where a time is missing or zero).
// Whole image: counted FLOPs x batch / median iteration latency, and counted FLOPs x images/s.
// Per stage: counted stage FLOPs (bytes) / the stage's median time (stage times are per image).
struct AchievedRates {
  double tflops_at_median = 0, tflops_at_throughput = 0, gbytes_per_s_at_median = 0;
  std::array<double, kNumStages> stage_median_ms{}, stage_tflops{}, stage_gbytes_per_s{};
};
AchievedRates achieved_rates(const BenchRun& run, const RunCost& cost);

enum class ReportFormat { kMarkdown, kCsv, kJson };

// Markdown: metadata as a bullet list, then one table row per run (size, megapixels, batch, streams,
// iterations, first call, median, mean, p90, p99, min, max, stddev, CV, throughput, GPU util), then a
// table of the device-memory breakdown when any run has one (BenchRun::memory: NVML peak beyond the
// context, engine delta, weights, arena, workspace, other, handles, plan buffers, pinned host; MiB with
// 1 decimal), then a table of per-stage medians (rows = runs). Times in ms with 3 decimals. When costs are given: a table
// of counted GFLOPs per stage, minimum bytes, FLOP/byte and achieved TFLOP/s / GB/s per run, and a
// per-stage table (counted work against each stage's median time).
std::string render_markdown(const BenchReport& report);

// CSV (RFC 4180 quoting): a header line, then one line per run; the columns are csv_columns().
// Provenance columns (maskrt_commit, device, model) repeat in every row so a row stands alone.
// Counted-cost columns (net_height ... gbytes_per_s_at_median) follow, empty without a cost; the
// device-memory columns (mem_weights_mib ... mem_used_after_warmup_mib, MiB) come last, empty when not measured.
std::string render_csv(const BenchReport& report);
const std::vector<std::string>& csv_columns();

// JSON: {"schema": "maskrt.bench/2", "metadata": {...}, "runs": [{config, phases with raw samples,
// steady-state stats, per-stage raw samples and stats, throughput, gpu, memory ({"available": false} or
// the EngineMemorySummary fields in MiB plus engine_delta_mib, handles_mib, other_mib), cost (when given)}]}.
nlohmann::json to_json(const BenchReport& report);
nlohmann::json to_json(const SampleStats& stats);
// BenchMetadata::options keys whose values are numbers in JSON (counts and times that maskrt bench
// itself writes with std::to_string). Every other key (paths, names, environment values, "n/a (cpu)",
// backbone_batch and cuda_streams, which carry notes) stays a string, so a key's type never depends on
// its content. (Schema maskrt.bench/1 wrote every value as a string.)
inline const char* const kNumericBenchOptions[] = {"batch", "streams", "warmup", "iterations", "duration_s",
                                                   "engine_load_ms", "engine_warmup_ms", "host_peak_rss_mib",
                                                   "stage_engine_creation_ms"};
// One option value as a JSON number when the whole string is a number in JSON's own grammar
// (-?(0|[1-9]digits)(.digits)?([eE][+-]?digits)?: no leading zeros, '+', hex, inf, nan or spaces) that a
// double holds without overflow or underflow: an integer when it has no fraction or exponent and fits
// int64, else a double. Otherwise the string unchanged. to_json applies it to kNumericBenchOptions only.
nlohmann::json option_value_json(const std::string& value);

// Renders in `format` and writes to `path` (throws maskrt::Error kIo naming the path on failure).
void write_report(const std::string& path, const BenchReport& report, ReportFormat format);
// "md"/"markdown", "csv", "json" -> format; anything else throws kInvalidArgument.
ReportFormat parse_report_format(const std::string& name);

}  // namespace maskrt::bench
