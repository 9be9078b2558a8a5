#include "bench/report.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>

#include "core/check.h"
#include "io/atomic_write.h"

namespace maskrt::bench {

namespace {

// Later sizes of one bench run reuse the first size's engine: their engine_creation_ms is 0, which is
// not a measurement ("(same engine)" in markdown, empty in CSV, null in JSON).
bool reuses_engine(const BenchReport& report, size_t ri) {
  return ri > 0 && report.runs[ri].engine_creation_ms == 0;
}

std::string fmt(double v, int decimals = 3) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  return buf;
}

// HEIGHTxWIDTH, as --sizes, the run labels and the "net input (HxW)" column.
std::string size_str(const BenchRun& r) { return std::to_string(r.image_height) + "x" + std::to_string(r.image_width); }

std::string or_dash(const std::string& s) { return s.empty() ? "-" : s; }

// Markdown cells must not contain '|' or newlines.
std::string md_cell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n' || c == '\r') out += ' ';
    else out += c;
  }
  return out;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += "\"\"";
    else out += c;
  }
  return out + "\"";
}

std::string gpu_util_str(const GpuUtilSummary& g) {
  if (!g.available) return "n/a";
  return fmt(g.util_mean_pct, 1) + "% (max " + fmt(g.util_max_pct, 0) + "%)";
}

std::string gpu_mem_str(const GpuUtilSummary& g) {
  if (!g.available) return "n/a";
  const double beyond = g.mem_peak_beyond_context_mib();
  return fmt(g.mem_used_peak_mib, 0) + (beyond >= 0 ? " (+" + fmt(beyond, 0) + ")" : std::string());
}

nlohmann::json gpu_json(const GpuUtilSummary& g) {
  nlohmann::json j;
  j["available"] = g.available;
  if (!g.available) {
    j["reason"] = g.reason;
    return j;
  }
  j["samples"] = g.samples;
  j["interval_ms"] = g.interval_ms;
  j["util_mean_pct"] = g.util_mean_pct;
  j["util_max_pct"] = g.util_max_pct;
  j["mem_used_peak_mib"] = g.mem_used_peak_mib;
  const double beyond = g.mem_peak_beyond_context_mib();
  j["mem_context_baseline_mib"] = beyond >= 0 ? nlohmann::json(g.mem_context_baseline_mib) : nlohmann::json(nullptr);
  j["mem_peak_beyond_context_mib"] = beyond >= 0 ? nlohmann::json(beyond) : nlohmann::json(nullptr);
  j["power_mean_w"] = g.power_available ? nlohmann::json(g.power_mean_w) : nlohmann::json(nullptr);
  j["sm_clock_mean_mhz"] = g.sm_clock_available ? nlohmann::json(g.sm_clock_mean_mhz) : nlohmann::json(nullptr);
  return j;
}

// Device-memory breakdown of one run (EngineMemorySummary), MiB.
nlohmann::json memory_json(const EngineMemorySummary& m) {
  if (!m.available) return {{"available", false}};
  return {{"available", true},
          {"unit", "MiB (2^20 bytes)"},
          {"weights_mib", m.weights_mib},
          {"arena_mib", m.arena_mib},
          {"arena_workspace_mib", m.arena_workspace_mib},
          {"plan_buffers_mib", m.plan_buffers_mib},
          {"num_plans", m.num_plans},
          {"lanes", m.lanes},
          {"pinned_host_mib", m.pinned_host_mib},
          {"used_at_start_mib", m.used_at_start_mib},
          {"used_after_context_mib", m.used_after_context_mib},
          {"used_after_weights_mib", m.used_after_weights_mib},
          {"used_after_warmup_mib", m.used_after_warmup_mib >= 0 ? nlohmann::json(m.used_after_warmup_mib)
                                                                   : nlohmann::json(nullptr)},
          {"used_now_mib", m.used_now_mib},
          {"engine_delta_mib", m.engine_delta_mib()},
          {"handles_mib", m.handles_mib()},
          {"other_mib", m.other_mib()},
          {"definition", "cudaMemGetInfo used (device-wide) at engine start, after handles, after weights, after "
                         "warm-up and after this run; engine_delta = used_now - used_at_start; other = engine_delta "
                         "- weights - arena - plan_buffers (library handles/workspaces, loaded kernels, CUDA graphs, "
                         "allocation rounding); weights/arena/plan_buffers are maskrt's own allocation sizes"}};
}

constexpr Stage kCostStages[] = {Stage::kBackbone, Stage::kFpn, Stage::kRpn, Stage::kBoxHead, Stage::kMaskHead};

const RunCost* cost_of(const BenchReport& report, size_t i) {
  return i < report.costs.size() && report.costs[i].available ? &report.costs[i] : nullptr;
}

double megabytes(const LayerCost& c, int bpe) { return static_cast<double>(c.bytes(bpe)) / 1e6; }

// FLOPs per byte of the counted minimum traffic (0 when no bytes).
double intensity(const LayerCost& c, int bpe) {
  const int64_t b = c.bytes(bpe);
  return b > 0 ? 2.0 * static_cast<double>(c.macs) / static_cast<double>(b) : 0.0;
}

const char* cost_note(int bpe) {
  return bpe == 2 ? "fp16 activations and weights, 2 bytes per element" : "fp32 activations and weights, 4 bytes per element";
}

nlohmann::json layer_cost_json(const LayerCost& c, int bpe) {
  return {{"macs", c.macs},
          {"gflops", c.gflops()},
          {"weight_elems", c.weight_elems},
          {"act_elems", c.act_elems},
          {"bytes", c.bytes(bpe)},
          {"flop_per_byte", intensity(c, bpe)}};
}

}  // namespace

AchievedRates achieved_rates(const BenchRun& run, const RunCost& cost) {
  AchievedRates a;
  if (!cost.available) return a;
  const LayerCost total = cost.cost.total();
  const double median = run.steady_ms.empty() ? 0.0 : run.steady_stats().median;
  if (median > 0) {
    a.tflops_at_median = total.gflops() * run.batch_size / median;  // GFLOP per ms = TFLOP/s
    a.gbytes_per_s_at_median = static_cast<double>(total.bytes(cost.bytes_per_element)) * run.batch_size / median / 1e6;
  }
  a.tflops_at_throughput = total.gflops() * run.throughput() / 1e3;
  for (int i = 0; i < kNumStages; ++i) {
    if (run.stage_ms[i].empty()) continue;
    const double ms = compute_stats(run.stage_ms[i]).median;
    a.stage_median_ms[i] = ms;
    if (ms <= 0) continue;
    a.stage_tflops[i] = cost.cost.stages[i].gflops() / ms;
    a.stage_gbytes_per_s[i] = static_cast<double>(cost.cost.stages[i].bytes(cost.bytes_per_element)) / ms / 1e6;
  }
  return a;
}

nlohmann::json to_json(const SampleStats& s) {
  return nlohmann::json{{"count", s.count}, {"min", s.min},       {"max", s.max},       {"mean", s.mean},
                        {"median", s.median}, {"p90", s.p90},     {"p99", s.p99},       {"stddev", s.stddev},
                        {"cv", s.cv}};
}

std::string render_markdown(const BenchReport& report) {
  const BenchMetadata& m = report.meta;
  std::ostringstream os;
  os << "# maskrt bench\n\n";
  os << "- maskrt: " << m.host.maskrt_version << " (commit " << m.host.git_commit << ")\n";
  os << "- model: " << or_dash(m.model_name) << " (config hash " << or_dash(m.config_hash) << ")\n";
  os << "- device: " << or_dash(m.device_name) << "; driver " << or_dash(m.driver_version) << ", CUDA "
     << or_dash(m.cuda_version) << ", cuDNN " << or_dash(m.cudnn_version) << ", cuBLAS " << or_dash(m.cublas_version)
     << "\n";
  os << "- host: " << m.host.hostname << ", " << m.host.cpu_model << ", " << m.host.cpu_cores << " cores\n";
  os << "- date (UTC): " << m.host.date_utc << "\n";
  os << "- GPU sampling: " << or_dash(m.gpu_sampling) << "\n";
  if (!m.options.empty()) {
    os << "- options:";
    bool first = true;
    for (const auto& [k, v] : m.options) {
      os << (first ? " " : ", ") << md_cell(k) << "=" << md_cell(v);
      first = false;
    }
    os << "\n";
  }
  os << "\nTimes in ms; statistics over steady-state iterations only (warm-up and the first call after "
        "warm-up are reported apart). Percentiles interpolate linearly between closest ranks.\n\n";
  os << "| run | size (HxW) | MP | batch | streams | iters | warm-up | engine create | first call | median | "
        "mean | p90 | p99 | min | max | stddev | CV | img/s | GPU util | GPU MiB peak (+beyond context) |\n";
  os << "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (size_t ri = 0; ri < report.runs.size(); ++ri) {
    const BenchRun& r = report.runs[ri];
    const SampleStats s = r.steady_stats();
    // Later sizes of one bench run reuse the first size's engine (engine_creation_ms 0 there).
    const std::string create = reuses_engine(report, ri) ? "(same engine)" : fmt(r.engine_creation_ms);
    os << "| " << md_cell(r.label) << " | " << size_str(r) << " | " << fmt(r.megapixels(), 2) << " | " << r.batch_size
       << " | " << r.streams << " | " << r.iterations() << " | " << r.warmup_ms.size() << " | "
       << create << " | " << (r.has_first_call ? fmt(r.first_call_ms) : "-") << " | "
       << fmt(s.median) << " | " << fmt(s.mean) << " | " << fmt(s.p90) << " | " << fmt(s.p99) << " | "
       << fmt(s.min) << " | " << fmt(s.max) << " | " << fmt(s.stddev) << " | " << fmt(s.cv, 4) << " | "
       << fmt(r.throughput(), 2) << " | " << gpu_util_str(r.gpu) << " | " << gpu_mem_str(r.gpu) << " |\n";
  }
  bool any_memory = false;
  for (const BenchRun& r : report.runs) any_memory |= r.memory.available;
  if (any_memory) {
    os << "\nDevice memory (MiB). NVML columns as above; the rest from the engine (Engine::memory_report()): "
          "weights, arena (activations + the shared op workspace) and plan buffers are maskrt's own allocations; "
          "engine delta = cudaMemGetInfo used after the run - at engine start; other = engine delta - weights - "
          "arena - plan buffers (library handles and workspaces, loaded kernels, CUDA graphs); handles = stream + "
          "cuDNN/cuBLAS/cuBLASLt creation (part of other). Pinned host staging is host RAM.\n\n";
    os << "| run | peak beyond context (NVML) | engine delta | weights | arena | of which workspace | other | "
          "handles | plan buffers (plans) | pinned host |\n";
    os << "|---|---|---|---|---|---|---|---|---|---|\n";
    for (const BenchRun& r : report.runs) {
      const EngineMemorySummary& m = r.memory;
      const double beyond = r.gpu.mem_peak_beyond_context_mib();
      os << "| " << md_cell(r.label) << " | " << (beyond >= 0 ? fmt(beyond, 1) : std::string("n/a")) << " | ";
      if (!m.available) {
        os << "n/a | n/a | n/a | n/a | n/a | n/a | n/a | n/a |\n";
        continue;
      }
      os << fmt(m.engine_delta_mib(), 1) << " | " << fmt(m.weights_mib, 1) << " | " << fmt(m.arena_mib, 1) << " | "
         << fmt(m.arena_workspace_mib, 1) << " | " << fmt(m.other_mib(), 1) << " | " << fmt(m.handles_mib(), 1)
         << " | " << fmt(m.plan_buffers_mib, 2) << " (" << m.num_plans << ") | " << fmt(m.pinned_host_mib, 1)
         << " |\n";
    }
  }
  bool any_stages = false;
  for (const BenchRun& r : report.runs)
    for (const auto& v : r.stage_ms) any_stages |= !v.empty();
  if (any_stages) {
    os << "\nPer-stage median (ms):\n\n| run |";
    for (int i = 0; i < kNumStages; ++i) os << " " << stage_name(static_cast<Stage>(i)) << " |";
    os << "\n|---|";
    for (int i = 0; i < kNumStages; ++i) os << "---|";
    os << "\n";
    for (const BenchRun& r : report.runs) {
      os << "| " << md_cell(r.label) << " |";
      for (int i = 0; i < kNumStages; ++i)
        os << " " << (r.stage_ms[i].empty() ? std::string("-") : fmt(compute_stats(r.stage_ms[i]).median)) << " |";
      os << "\n";
    }
  }
  bool any_cost = false;
  for (size_t i = 0; i < report.runs.size(); ++i) any_cost |= cost_of(report, i) != nullptr;
  if (any_cost) {
    int bpe0 = 4;
    for (size_t i = report.runs.size(); i-- > 0;)
      if (const RunCost* c = cost_of(report, i)) bpe0 = c->bytes_per_element;
    os << "\nCounted cost per image (src/bench/flops.h): GFLOPs = 2 x multiply-accumulates of the convolutions, "
          "deconvolution and fully connected layers (fvcore counts 1 per MAC; ROIAlign, NMS, element-wise work "
          "not counted); MB = minimum bytes moved, each weight read once plus every layer's input and output "
          "once ("
       << cost_note(bpe0)
       << "), a lower bound. Achieved = counted work / measured median time.\n\n";
    os << "| run | net input (HxW) | proposals | detections | backbone GFLOPs | fpn | rpn | box_head | mask_head | "
          "total GFLOPs | MB | FLOP/B | TFLOP/s at median | TFLOP/s at img/s | GB/s at median |\n";
    os << "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
    for (size_t i = 0; i < report.runs.size(); ++i) {
      const RunCost* c = cost_of(report, i);
      if (!c) continue;
      const BenchRun& r = report.runs[i];
      const AchievedRates a = achieved_rates(r, *c);
      const LayerCost t = c->cost.total();
      os << "| " << md_cell(r.label) << " | " << c->cost.padded_h << "x" << c->cost.padded_w << " | " << c->cost.proposals
         << " | " << c->cost.detections << " |";
      for (Stage s : kCostStages) os << " " << fmt(c->cost.stage(s).gflops(), 2) << " |";
      os << " " << fmt(t.gflops(), 2) << " | " << fmt(megabytes(t, c->bytes_per_element), 1) << " | "
         << fmt(intensity(t, c->bytes_per_element), 1) << " | " << fmt(a.tflops_at_median, 3) << " | "
         << fmt(a.tflops_at_throughput, 3) << " | " << fmt(a.gbytes_per_s_at_median, 1) << " |\n";
    }
    os << "\nPer stage (counted work / the stage's median time):\n\n";
    os << "| run | stage | GFLOPs | MB | FLOP/B | median ms | TFLOP/s | GB/s |\n|---|---|---|---|---|---|---|---|\n";
    for (size_t i = 0; i < report.runs.size(); ++i) {
      const RunCost* c = cost_of(report, i);
      if (!c) continue;
      const AchievedRates a = achieved_rates(report.runs[i], *c);
      for (Stage s : kCostStages) {
        const int k = static_cast<int>(s);
        const LayerCost& l = c->cost.stage(s);
        const bool timed = a.stage_median_ms[k] > 0;
        os << "| " << md_cell(report.runs[i].label) << " | " << stage_name(s) << " | " << fmt(l.gflops(), 2) << " | "
           << fmt(megabytes(l, c->bytes_per_element), 1) << " | " << fmt(intensity(l, c->bytes_per_element), 1) << " | "
           << (timed ? fmt(a.stage_median_ms[k]) : "-") << " | " << (timed ? fmt(a.stage_tflops[k], 3) : "-") << " | "
           << (timed ? fmt(a.stage_gbytes_per_s[k], 1) : "-") << " |\n";
      }
    }
    for (size_t i = 0; i < report.runs.size(); ++i)
      if (const RunCost* c = cost_of(report, i); c && !c->roi_counts.empty()) {
        os << "\nROI counts: " << md_cell(c->roi_counts) << "\n";
        break;
      }
  }
  return os.str();
}

const std::vector<std::string>& csv_columns() {
  static const std::vector<std::string> cols = [] {
    std::vector<std::string> c = {"run", "width", "height", "megapixels", "batch", "streams", "iterations",
                                  "warmup_iterations", "engine_creation_ms", "warmup_mean_ms", "first_call_ms",
                                  "min_ms", "median_ms", "mean_ms", "p90_ms", "p99_ms", "max_ms", "stddev_ms", "cv",
                                  "throughput_img_s"};
    for (int i = 0; i < kNumStages; ++i) c.push_back(std::string(stage_name(static_cast<Stage>(i))) + "_median_ms");
    for (const char* g : {"gpu_util_mean_pct", "gpu_util_max_pct", "gpu_mem_peak_mib", "gpu_mem_beyond_context_mib",
                          "gpu_power_mean_w",
                          "gpu_sm_clock_mean_mhz", "maskrt_version", "maskrt_commit", "model", "device", "date_utc"})
      c.push_back(g);
    for (const char* g : {"net_height", "net_width", "proposals", "detections"}) c.push_back(g);
    for (Stage s : kCostStages) c.push_back(std::string("gflops_") + stage_name(s));
    for (const char* g : {"gflops_total", "mbytes_total", "bytes_per_element", "tflops_at_median",
                          "tflops_at_throughput", "gbytes_per_s_at_median"})
      c.push_back(g);
    for (const char* g : {"mem_weights_mib", "mem_arena_mib", "mem_arena_workspace_mib", "mem_other_mib",
                          "mem_engine_delta_mib", "mem_handles_mib", "mem_plan_buffers_mib", "mem_pinned_host_mib",
                          "mem_used_at_start_mib", "mem_used_after_warmup_mib"})
      c.push_back(g);
    return c;
  }();
  return cols;
}

std::string render_csv(const BenchReport& report) {
  std::ostringstream os;
  const auto& cols = csv_columns();
  for (size_t i = 0; i < cols.size(); ++i) os << (i ? "," : "") << cols[i];
  os << "\n";
  const BenchMetadata& m = report.meta;
  for (size_t ri = 0; ri < report.runs.size(); ++ri) {
    const BenchRun& r = report.runs[ri];
    const SampleStats s = r.steady_stats();
    std::vector<std::string> f = {csv_field(r.label), std::to_string(r.image_width), std::to_string(r.image_height),
                                  fmt(r.megapixels(), 6), std::to_string(r.batch_size), std::to_string(r.streams),
                                  std::to_string(r.iterations()), std::to_string(r.warmup_ms.size()),
                                  reuses_engine(report, ri) ? "" : fmt(r.engine_creation_ms, 6),
                                  r.warmup_ms.empty() ? "" : fmt(compute_stats(r.warmup_ms).mean, 6),
                                  r.has_first_call ? fmt(r.first_call_ms, 6) : "",
                                  fmt(s.min, 6), fmt(s.median, 6), fmt(s.mean, 6), fmt(s.p90, 6), fmt(s.p99, 6),
                                  fmt(s.max, 6), fmt(s.stddev, 6), fmt(s.cv, 6), fmt(r.throughput(), 6)};
    for (int i = 0; i < kNumStages; ++i)
      f.push_back(r.stage_ms[i].empty() ? "" : fmt(compute_stats(r.stage_ms[i]).median, 6));
    const GpuUtilSummary& g = r.gpu;
    f.push_back(g.available ? fmt(g.util_mean_pct, 3) : "");
    f.push_back(g.available ? fmt(g.util_max_pct, 3) : "");
    f.push_back(g.available ? fmt(g.mem_used_peak_mib, 3) : "");
    f.push_back(g.mem_peak_beyond_context_mib() >= 0 ? fmt(g.mem_peak_beyond_context_mib(), 3) : "");
    f.push_back(g.available && g.power_available ? fmt(g.power_mean_w, 3) : "");
    f.push_back(g.available && g.sm_clock_available ? fmt(g.sm_clock_mean_mhz, 3) : "");
    for (const std::string* v : {&m.host.maskrt_version, &m.host.git_commit, &m.model_name, &m.device_name, &m.host.date_utc})
      f.push_back(csv_field(*v));
    if (const RunCost* c = cost_of(report, ri)) {
      const AchievedRates a = achieved_rates(r, *c);
      const LayerCost t = c->cost.total();
      for (int64_t v : {int64_t(c->cost.padded_h), int64_t(c->cost.padded_w), c->cost.proposals, c->cost.detections})
        f.push_back(std::to_string(v));
      for (Stage st : kCostStages) f.push_back(fmt(c->cost.stage(st).gflops(), 6));
      f.push_back(fmt(t.gflops(), 6));
      f.push_back(fmt(megabytes(t, c->bytes_per_element), 6));
      f.push_back(std::to_string(c->bytes_per_element));
      f.push_back(fmt(a.tflops_at_median, 6));
      f.push_back(fmt(a.tflops_at_throughput, 6));
      f.push_back(fmt(a.gbytes_per_s_at_median, 6));
    } else {
      f.resize(f.size() + 4 + std::size(kCostStages) + 6);  // the cost columns, empty
    }
    const EngineMemorySummary& mem = r.memory;
    for (double v : {mem.weights_mib, mem.arena_mib, mem.arena_workspace_mib, mem.other_mib(), mem.engine_delta_mib(),
                     mem.handles_mib(), mem.plan_buffers_mib, mem.pinned_host_mib, mem.used_at_start_mib})
      f.push_back(mem.available ? fmt(v, 3) : "");
    f.push_back(mem.available && mem.used_after_warmup_mib >= 0 ? fmt(mem.used_after_warmup_mib, 3) : "");
    MASKRT_ASSERT(f.size() == cols.size(), "csv row/header mismatch");
    for (size_t i = 0; i < f.size(); ++i) os << (i ? "," : "") << f[i];
    os << "\n";
  }
  return os.str();
}

nlohmann::json option_value_json(const std::string& value) {
  // Grammar: -?(0|[1-9]digits)(.digits)?([eE][+-]?digits)?  (JSON's number grammar).
  size_t i = 0;
  const size_t n = value.size();
  auto digits = [&] {
    const size_t start = i;
    while (i < n && value[i] >= '0' && value[i] <= '9') ++i;
    return i > start;
  };
  if (i < n && value[i] == '-') ++i;
  bool integral = true;
  const bool leading_zero = i + 1 < n && value[i] == '0' && value[i + 1] >= '0' && value[i + 1] <= '9';
  bool ok = !leading_zero && digits();
  if (ok && i < n && value[i] == '.') {
    ++i;
    integral = false;
    ok = digits();
  }
  if (ok && i < n && (value[i] == 'e' || value[i] == 'E')) {
    ++i;
    integral = false;
    if (i < n && (value[i] == '+' || value[i] == '-')) ++i;
    ok = digits();
  }
  if (!ok || i != n) return value;
  if (integral) {
    errno = 0;
    char* end = nullptr;
    const long long v = std::strtoll(value.c_str(), &end, 10);
    if (errno == 0 && end == value.c_str() + n) return static_cast<int64_t>(v);
  }
  errno = 0;
  char* end = nullptr;
  const double d = std::strtod(value.c_str(), &end);
  if (errno != 0 || end != value.c_str() + n || !std::isfinite(d)) return value;
  return d;
}

nlohmann::json to_json(const BenchReport& report) {
  const BenchMetadata& m = report.meta;
  nlohmann::json options = nlohmann::json::object();
  for (const auto& [k, v] : m.options) options[k] = v;
  for (const char* k : kNumericBenchOptions)
    if (auto it = m.options.find(k); it != m.options.end()) options[k] = option_value_json(it->second);
  nlohmann::json meta = {
      {"maskrt_version", m.host.maskrt_version},
      {"maskrt_commit", m.host.git_commit},
      {"model", m.model_name},
      {"config_hash", m.config_hash},
      {"device", m.device_name},
      {"driver_version", m.driver_version},
      {"cuda_version", m.cuda_version},
      {"cudnn_version", m.cudnn_version},
      {"cublas_version", m.cublas_version},
      {"cpu_model", m.host.cpu_model},
      {"cpu_cores", m.host.cpu_cores},
      {"hostname", m.host.hostname},
      {"date_utc", m.host.date_utc},
      {"gpu_sampling", m.gpu_sampling},
      {"options", options},
      {"percentile_method", "linear interpolation between closest ranks (numpy.percentile default)"},
      {"stddev", "sample (n - 1)"},
      {"time_unit", "ms"},
  };
  nlohmann::json runs = nlohmann::json::array();
  for (size_t ri = 0; ri < report.runs.size(); ++ri) {
    const BenchRun& r = report.runs[ri];
    nlohmann::json stages = nlohmann::json::object();
    for (int i = 0; i < kNumStages; ++i) {
      const auto& v = r.stage_ms[i];
      stages[stage_name(static_cast<Stage>(i))] = {{"samples_ms", v}, {"stats", to_json(compute_stats(v))}};
    }
    runs.push_back({
        {"label", r.label},
        {"batch_size", r.batch_size},
        {"streams", r.streams},
        {"image_height", r.image_height},
        {"image_width", r.image_width},
        {"megapixels", r.megapixels()},
        {"iterations", r.iterations()},
        {"warmup_iterations", r.warmup_iterations},
        {"engine_creation_ms", reuses_engine(report, ri) ? nlohmann::json(nullptr) : nlohmann::json(r.engine_creation_ms)},
        {"warmup_ms", r.warmup_ms},
        {"first_call_ms", r.has_first_call ? nlohmann::json(r.first_call_ms) : nlohmann::json(nullptr)},
        {"steady_ms", r.steady_ms},
        {"steady_wall_ms", r.steady_wall_ms},
        {"stats", to_json(r.steady_stats())},
        {"throughput_img_s", r.throughput()},
        {"stages", stages},
        {"host_wait",
         r.host_wait_ms.empty()
             ? nlohmann::json(nullptr)
             : nlohmann::json{{"definition", "per steady call: ms the calling thread blocked on device work "
                                             "(cudaEventSynchronize), summed over the call's images; share = "
                                             "median over calls of host_wait / latency (near 0: the host "
                                             "thread bounds throughput; large: the GPU does)"},
                              {"samples_ms", r.host_wait_ms},
                              {"stats", to_json(compute_stats(r.host_wait_ms))},
                              {"share_median", r.host_wait_share()}}},
        {"gpu", gpu_json(r.gpu)},
        {"memory", memory_json(r.memory)},
    });
    if (const RunCost* c = cost_of(report, ri)) {
      const AchievedRates a = achieved_rates(r, *c);
      const int bpe = c->bytes_per_element;
      nlohmann::json st = nlohmann::json::object();
      for (Stage s : kCostStages) {
        const int k = static_cast<int>(s);
        nlohmann::json e = layer_cost_json(c->cost.stage(s), bpe);
        e["median_ms"] = a.stage_median_ms[k] > 0 ? nlohmann::json(a.stage_median_ms[k]) : nlohmann::json(nullptr);
        e["tflops"] = a.stage_median_ms[k] > 0 ? nlohmann::json(a.stage_tflops[k]) : nlohmann::json(nullptr);
        e["gbytes_per_s"] = a.stage_median_ms[k] > 0 ? nlohmann::json(a.stage_gbytes_per_s[k]) : nlohmann::json(nullptr);
        st[stage_name(s)] = e;
      }
      runs.back()["cost"] = {
          {"net_height", c->cost.padded_h},
          {"net_width", c->cost.padded_w},
          {"proposals", c->cost.proposals},
          {"detections", c->cost.detections},
          {"roi_counts", c->roi_counts},
          {"bytes_per_element", bpe},
          {"definition", std::string("per image; gflops = 2 x MACs of conv/deconv/linear layers (fvcore counts 1 "
                                     "per MAC); bytes = weights once + each layer's input and output once, ") +
                             cost_note(bpe) + " (a lower bound)"},
          {"stages", st},
          {"total", layer_cost_json(c->cost.total(), bpe)},
          {"tflops_at_median", a.tflops_at_median},
          {"tflops_at_throughput", a.tflops_at_throughput},
          {"gbytes_per_s_at_median", a.gbytes_per_s_at_median},
      };
    }
  }
  return {{"schema", "maskrt.bench/2"}, {"metadata", meta}, {"runs", runs}};
}

void write_report(const std::string& path, const BenchReport& report, ReportFormat format) {
  std::string text;
  switch (format) {
    case ReportFormat::kMarkdown: text = render_markdown(report); break;
    case ReportFormat::kCsv: text = render_csv(report); break;
    case ReportFormat::kJson:  // replace: a non-UTF-8 image path must not throw away the whole report
      text = to_json(report).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
      break;
  }
  try {
    io::write_file_atomically(path, text);  // all or nothing (io/atomic_write.h)
  } catch (const Error& e) {
    throw Error(e.code(), std::string("bench report: ") + e.what());
  }
}

ReportFormat parse_report_format(const std::string& name) {
  if (name == "md" || name == "markdown") return ReportFormat::kMarkdown;
  if (name == "csv") return ReportFormat::kCsv;
  if (name == "json") return ReportFormat::kJson;
  MASKRT_FAIL(ErrorCode::kInvalidArgument, "unknown report format '", name, "' (expected md, csv or json)");
}

}  // namespace maskrt::bench
