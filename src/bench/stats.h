#pragma once
// Statistics for `maskrt bench`: per-iteration latency samples -> summary numbers, and the BenchRun
// record that keeps the phases of a benchmark apart (engine creation, warm-up, first call after
// warm-up, steady state) so that warm-up can never leak into the steady-state numbers.
//
// Units: every time is milliseconds of wall clock (double); throughput is images per second.
// Thread safety: plain value types and pure functions; a BenchRun must not be mutated from two
// threads at once.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "maskrt/instances.h"

namespace maskrt::bench {

// Summary of a set of samples. For an empty set every field is 0 and count is 0.
struct SampleStats {
  int64_t count = 0;
  double min = 0, max = 0, mean = 0, median = 0, p90 = 0, p99 = 0;
  double stddev = 0;  // sample standard deviation (divides by n - 1, like numpy.std(ddof=1)); 0 when n < 2
  double cv = 0;      // coefficient of variation = stddev / mean (0 when mean == 0)
};

// q-th percentile (q in [0, 100]) of `samples` (any order), with linear interpolation between the
// closest ranks — numpy.percentile's default method ("linear"):
//   sort ascending to s[0..n-1]; r = q/100 * (n - 1); i = floor(r); f = r - i;
//   result = s[i] + f * (s[i+1] - s[i])   (result = s[n-1] when i == n - 1).
// So the median of {1,2,3,4} is 2.5 and p90 of {1..10} is 9.1.
// Throws maskrt::Error(kInvalidArgument) for an empty set or q outside [0, 100].
double percentile(std::vector<double> samples, double q);

// All the numbers of SampleStats from raw samples (any order). NaN samples are rejected
// (maskrt::Error kInvalidArgument) rather than silently poisoning the summary.
SampleStats compute_stats(const std::vector<double>& samples_ms);

// images / second = images / (wall_ms / 1000). Throws kInvalidArgument when wall_ms <= 0 or images < 0.
double throughput_images_per_s(int64_t images, double wall_ms);

// The engine stages timed per iteration (mirrors maskrt::StageTimes and Detectron2's module names).
enum class Stage { kPreprocess = 0, kBackbone, kFpn, kRpn, kBoxHead, kMaskHead, kPostprocess };
constexpr int kNumStages = 7;
// "preprocess", "backbone", "fpn", "rpn", "box_head", "mask_head", "postprocess".
const char* stage_name(Stage stage);

// GPU activity over the steady-state phase, as summarised by NvmlSampler (see nvml_sampler.h).
// `available == false` means no numbers were measured; `reason` says why (e.g. NVML not found).
struct GpuUtilSummary {
  bool available = false;
  std::string reason;
  int64_t samples = 0;
  double interval_ms = 0;
  double util_mean_pct = 0, util_max_pct = 0;  // nvmlUtilizationRates.gpu, percent
  double mem_used_peak_mib = 0;                // nvmlMemory.used, MiB (whole device, all processes)
  // nvmlMemory.used read once with this process's CUDA context open and before the engine was created
  // (MiB; < 0: not read). Peak minus this = what the engine added beyond the context: weights, arena,
  // cuDNN/cuBLAS handles and workspaces, CUDA graphs (assuming no other process changed its use).
  double mem_context_baseline_mib = -1;
  double mem_peak_beyond_context_mib() const {
    return available && mem_context_baseline_mib >= 0 ? mem_used_peak_mib - mem_context_baseline_mib : -1;
  }
  bool power_available = false;
  double power_mean_w = 0;                     // nvmlDeviceGetPowerUsage, watts
  bool sm_clock_available = false;
  double sm_clock_mean_mhz = 0;                // nvmlDeviceGetClockInfo(NVML_CLOCK_SM), MHz
};

// The engine's device-memory breakdown (maskrt::DeviceMemoryReport, maskrt/engine.h) in MiB (2^20
// bytes), read after the run's steady state. `available == false`: not measured (CPU backend).
// The cudaMemGetInfo readings are device-wide like NVML's, but taken at fixed points, not sampled.
struct EngineMemorySummary {
  bool available = false;
  double weights_mib = 0;           // layer weights / biases uploaded at load (exact, requested bytes)
  double arena_mib = 0;             // activation arena capacity (activations + the shared op workspace)
  double arena_workspace_mib = 0;   // the shared op workspace inside the arena
  double plan_buffers_mib = 0;      // per-size constants outside the arena (resize coefficients)
  int num_plans = 0;
  int lanes = 0;  // CUDA streams holding an arena (concurrent images in batches)
  double pinned_host_mib = 0;       // page-locked host staging (host RAM, not device memory)
  // cudaMemGetInfo used (total - free), MiB: engine construction began (context current), after the
  // handles, after the weights, after warm-up (< 0: not read), after this run.
  double used_at_start_mib = 0, used_after_context_mib = 0, used_after_weights_mib = 0;
  double used_after_warmup_mib = -1, used_now_mib = 0;
  // What the engine added since it started, by cudaMemGetInfo: used_now - used_at_start.
  double engine_delta_mib() const { return used_now_mib - used_at_start_mib; }
  // The rest of that delta: library handles and workspaces, loaded kernel modules, CUDA graphs,
  // allocation rounding = delta - weights - arena - plan buffers (may be < 0 if another process freed memory).
  double other_mib() const { return engine_delta_mib() - weights_mib - arena_mib - plan_buffers_mib; }
  double handles_mib() const { return used_after_context_mib - used_at_start_mib; }  // stream + cuDNN/cuBLAS(Lt)
};

// One benchmark configuration (one image size / batch / stream count) and everything measured in it.
//
// An *iteration* runs `batch_size` images on each of `streams` streams; the steady-state loop's wall
// clock (`steady_wall_ms`) divides into throughput. When the driver does not set steady_wall_ms the
// sum of the steady-state samples is used (correct for one stream, sequential iterations).
struct BenchRun {
  std::string label;          // free text, e.g. "800x1067 b1"
  int batch_size = 1;
  int streams = 1;
  int image_height = 0;       // pixels of the image fed to the engine (before its resize)
  int image_width = 0;
  int warmup_iterations = 0;  // how many calls record_iteration() routes into warmup_ms

  // Phases, kept apart.
  double engine_creation_ms = 0;        // Engine construction (weights, plans, workspace); 0 for a later
                                        // size of one bench run, which reuses the first size's engine
                                        // (reports: "(same engine)" in markdown, empty CSV cell, JSON null)
  std::vector<double> warmup_ms;        // warm-up iterations, never part of steady-state stats
  bool has_first_call = false;
  double first_call_ms = 0;             // the first iteration after warm-up (reported on its own)
  std::vector<double> steady_ms;        // steady-state iterations (the statistics are over these)
  std::array<std::vector<double>, kNumStages> stage_ms;  // per-stage steady-state samples
  // CUDA: per steady-state call, the ms the engine's calling thread blocked on device work, summed over
  // the call's images (StageTimes::host_wait); empty on the CPU. Against steady_ms it shows whether the
  // host or the GPU bounds throughput (host_wait_share()). With --streams > 1 a call's latency also
  // holds its wait for the engine's lock (CUDA calls are serialised), so the share reads low there.
  std::vector<double> host_wait_ms;
  double steady_wall_ms = 0;            // wall clock of the whole steady-state loop (0 = unknown)
  GpuUtilSummary gpu;
  EngineMemorySummary memory;           // the engine's device-memory breakdown after this run

  // Routes one iteration's latency by position: the first `warmup_iterations` calls go to warmup_ms,
  // the next one to first_call_ms, every later one to steady_ms. `stages`, when given, is added to
  // stage_ms only for steady-state iterations.
  void record_iteration(double ms, const StageTimes* stages = nullptr);
  void add_stage_times(const StageTimes& t);  // appends one steady-state sample per stage

  int64_t iterations() const { return static_cast<int64_t>(steady_ms.size()); }
  double megapixels() const { return double(image_height) * double(image_width) / 1e6; }
  SampleStats steady_stats() const { return compute_stats(steady_ms); }
  SampleStats stage_stats(Stage s) const { return compute_stats(stage_ms[static_cast<int>(s)]); }
  // batch_size * streams * iterations() / steady wall time. 0 when there are no steady samples.
  double throughput() const;
  // Median over steady calls of host_wait_ms[i] / steady_ms[i] (0..1); -1 when not recorded.
  double host_wait_share() const;
};

}  // namespace maskrt::bench
