// `maskrt bench`: a measurement instrument. Engine creation (with its warm-up), the first call after
// creation, extra warm-up iterations and the steady state are timed and reported separately; the
// steady state gets min/median/mean/p90/p99/CV, images/s, per-stage times, and (on NVIDIA GPUs)
// utilisation, memory, power and SM clock sampled through NVML. --sizes sweeps input sizes and
// --plot draws median and p90 latency against megapixels (one unit on the axis; throughput is in the report).
//
// Where the time goes: per-stage times come from the steady-state loop on the CPU (the CPU backend
// always times its stages). On CUDA the steady-state loop runs without per-stage events (they would
// serialise the stream and disable CUDA graphs), so after every size has been measured a second engine
// with EngineOptions::stage_times on runs kStagePassIterations more iterations per size; their CUDA
// event times replace the (empty) per-stage samples. Each run also carries the model's counted cost at
// its network input size (bench/flops.h: GFLOPs per stage, minimum bytes), from which the reports give
// achieved TFLOP/s and GB/s per stage and in all. After each size's steady state the engine's device-memory
// breakdown (Engine::memory_report(): weights, arena, its workspace, other = the cudaMemGetInfo delta
// minus maskrt's own allocations) is recorded next to the NVML peak.
#include <sys/resource.h>
#include <unistd.h>  // environ

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <system_error>
#include <thread>

#include "bench/flops.h"
#include "bench/nvml_sampler.h"
#include "bench/plot.h"
#include "bench/progress.h"
#include "bench/report.h"
#include "bench/system_info.h"
#include "commands.h"
#include "core/check.h"
#include "io/config.h"
#include "ops/resize/resize.h"
#ifdef MASKRT_WITH_CUDA
#include "model/cuda/generalized_rcnn_cuda.h"
#endif

namespace maskrt::cli {

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kStagePassIterations = 10;  // CUDA: per-stage event timing pass per size
double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// The engine's device-memory breakdown in MiB for the report (available == false on the CPU).
bench::EngineMemorySummary memory_summary(const DeviceMemoryReport& r) {
  bench::EngineMemorySummary m;
  m.available = r.available;
  if (!r.available) return m;
  auto mib = [](uint64_t b) { return static_cast<double>(b) / (1024.0 * 1024.0); };
  m.weights_mib = mib(r.weights_bytes);
  m.arena_mib = mib(r.arena_bytes);
  m.arena_workspace_mib = mib(r.arena_workspace_bytes);
  m.plan_buffers_mib = mib(r.plan_buffer_bytes);
  m.num_plans = r.num_plans;
  m.lanes = r.lanes;
  m.pinned_host_mib = mib(r.pinned_host_bytes);
  m.used_at_start_mib = mib(r.used_at_start);
  m.used_after_context_mib = mib(r.used_after_context);
  m.used_after_weights_mib = mib(r.used_after_weights);
  m.used_after_warmup_mib = r.used_after_warmup ? mib(r.used_after_warmup) : -1;
  m.used_now_mib = mib(r.used_now);
  return m;
}

Image resized_copy(const Image& src, int h, int w) {
  if (src.height == h && src.width == w) return src;
  Image out;
  out.height = h;
  out.width = w;
  out.channel_order = src.channel_order;
  out.pixels.resize(static_cast<size_t>(h) * w * 3);
  ops::resize_bilinear_pillow_cpu(ops::ResizeParams{src.height, src.width, h, w, 3}, src.pixels.data(), out.pixels.data());
  return out;
}

}  // namespace

CLI::App* add_bench_command(CLI::App& app, BenchArgs& a) {
  CLI::App* cmd = app.add_subcommand("bench", "measure latency, throughput and GPU use (warm-up kept apart)");
  add_model_options(cmd, a.model);
  cmd->add_option("--streams", a.streams, "concurrent threads calling the shared engine")->check(CLI::Range(1, 1024));
  cmd->add_option("--warmup", a.warmup, "warm-up iterations after the first call (excluded from statistics)")
      ->check(CLI::Range(0, 1000000));
  cmd->add_option("--iterations", a.iterations, "steady-state iterations per size (per stream)")
      ->check(CLI::Range(1, 100000000));
  cmd->add_option("--duration", a.duration_s, "steady-state seconds per size (overrides --iterations)")
      ->check(CLI::Range(0.0, 1e7));
  cmd->add_option("--sizes", a.sizes,
                  "original image sizes HxW,... (the config's resize still applies; use --opts "
                  "INPUT.MIN_SIZE_TEST 0 to feed them to the network unchanged)");
  cmd->add_option("--images", a.images, "image file or directory: the first image is used (default: samples/images)");
  cmd->add_option("--format", a.format, "md | csv | json")->check(CLI::IsMember({"md", "csv", "json"}));
  cmd->add_option("--output,-o", a.output, "write the report here (default: stdout)");
  cmd->add_option("--plot", a.plot, "PNG of median and p90 latency (ms) against input megapixels");
  return cmd;
}

int run_bench(const BenchArgs& a) {
  if (!a.output.empty()) check_writable_file(a.output, "--output");
  if (!a.plot.empty()) check_writable_file(a.plot, "--plot");
  check_not_input(a.output, "--output", a.images, "the --images file");
  check_not_input(a.plot, "--plot", a.images, "the --images file");
  check_distinct_outputs(a.plot, "--plot", a.output, "the --output file");
  bench::BenchReport report;
  report.meta.host = bench::collect_host_info();
  std::vector<std::pair<int, int>> sizes = parse_sizes(a.sizes);

  // The source picture: a real photo, so the detection count (and the heads' work) is realistic.
  std::string src_path = a.images;
  if (src_path.empty()) src_path = std::string(MASKRT_SOURCE_DIR) + "/samples/images";
  const std::vector<std::string> files = expand_inputs({src_path});
  MASKRT_CHECK(!files.empty(), ErrorCode::kIo, src_path, ": no image found for the benchmark");
  const Image source = read_image(files.front());

  EngineOptions eo = engine_options(a.model);
  eo.warmup_sizes.insert(eo.warmup_sizes.end(), sizes.begin(), sizes.end());  // + --prepare-sizes
  bench::NvmlSampler nvml;
  // Device memory with this process's bare CUDA context open, before the engine exists: the baseline
  // of "peak beyond the context" (the memory target). NVML reads the whole device.
  double context_baseline_mib = -1;
#ifdef MASKRT_WITH_CUDA
  if (eo.device != Device::kCPU && nvml.available() && cuda::cuda_available() &&
      cuda::open_cuda_context(eo.cuda_device))
    context_baseline_mib = nvml.sample_now().mem_used_mib;
#endif
  const auto tc0 = Clock::now();
  Engine engine(eo);
  const double creation_ms = ms_between(tc0, Clock::now());
  const EngineInfo& info = engine.info();
  const bool on_cuda = !info.libraries.empty();  // the CUDA backend reports its library versions
  warn_cpu_ignored_options(a.model, info);
  // The effective config again (same files and opts as the engine) for the cost counter.
  const ModelSpec spec = load_config(info.config_path, eo.opts).spec;
  const int bytes_per_element = info.precision == "fp16" ? 2 : 4;

  report.meta.model_name = info.model_name;
  report.meta.config_hash = info.config_hash;
  report.meta.device_name = info.device;
  report.meta.driver_version = nvml.driver_version();
  report.meta.cuda_version = info.libraries;  // "CUDA runtime X.Y, driver X.Y, cuDNN ..., cuBLAS ..." (CUDA runs)
  report.meta.gpu_sampling = nvml.available() ? "NVML, every 20 ms"
                             : on_cuda        ? "unavailable: " + nvml.reason()
                                              : "n/a (cpu run; NVML: " + nvml.reason() + ")";
  report.meta.options = {{"precision", info.precision},         {"batch", std::to_string(a.model.batch)},
                         {"streams", std::to_string(a.streams)},  {"warmup", std::to_string(a.warmup)},
                         {"cuda_streams", on_cuda ? std::to_string(a.model.cuda_streams ? a.model.cuda_streams : kDefaultCudaStreams)
                                                  : std::string("n/a (cpu)")},
                         {"iterations", std::to_string(a.iterations)},
                         {"sizes", a.sizes},                      {"image", files.front()},
                         {"weights", info.weights_path},          {"engine_load_ms", std::to_string(info.load_ms)},
                         {"engine_warmup_ms", std::to_string(info.warmup_ms)}};
  if (a.duration_s > 0) {  // --duration overrides --iterations: record the one that ruled
    report.meta.options["duration_s"] = std::to_string(a.duration_s);
    report.meta.options.erase("iterations");
  }
  // Images per backbone pass in effect (--backbone-batch, else MASKRT_BACKBONE_BATCH; 1 = off), and a
  // requested value the engine did not use.
  const std::string bb_flag = "--backbone-batch " + std::to_string(a.model.backbone_batch);
  if (on_cuda)
    report.meta.options["backbone_batch"] =
        std::to_string(info.backbone_batch) +
        (a.model.backbone_batch > 1 && info.backbone_batch != a.model.backbone_batch
             ? " (" + bb_flag + " ignored for " + info.precision + ")"
             : "");
  else
    report.meta.options["backbone_batch"] =
        a.model.backbone_batch ? "n/a (cpu; " + bb_flag + " has no effect)" : std::string("n/a (cpu)");
  report.meta.options["activation_layout"] = info.activation_layout;  // tf32: NHWC since session 7, NCHW before
  for (size_t i = 0; i < a.model.opts.size(); ++i) report.meta.options["opts"] += (i ? " " : "") + a.model.opts[i];
  const std::string env_switches = bench::maskrt_env_settings(environ);  // they change what is measured
  report.meta.options["maskrt_env"] = env_switches.empty() ? "none set" : env_switches;
  if (on_cuda) {  // lazy loading decides how much kernel code the libraries put on the device ("other")
    const char* ml = std::getenv("CUDA_MODULE_LOADING");
    report.meta.options["cuda_module_loading"] = ml ? ml : "unset (the driver's default)";
  }

  bool first_size = true;
  for (const auto& [h, w] : sizes) {
    bench::BenchRun run;
    run.label = std::to_string(h) + "x" + std::to_string(w) + " b" + std::to_string(a.model.batch);
    run.batch_size = a.model.batch;
    run.streams = a.streams;
    run.image_height = h;
    run.image_width = w;
    run.engine_creation_ms = first_size ? creation_ms : 0.0;
    const std::vector<Image> batch(a.model.batch, resized_copy(source, h, w));
    size_t detections = 0;  // written by the first call only (the steady loop calls from --streams threads)
    // Returns the call's latency and its first image's stage times, with host_wait the sum over the
    // batch (how long the calling thread blocked on device work during the call).
    auto call = [&](size_t* num_detections = nullptr) -> std::pair<double, StageTimes> {
      const auto t0 = Clock::now();
      std::vector<ImageResult> r = engine.infer_batch(batch);
      const double ms = ms_between(t0, Clock::now());
      if (num_detections) *num_detections = r.front().instances.size();  // the same image every call
      StageTimes st = r.front().times;
      st.host_wait = 0;
      for (const ImageResult& x : r) st.host_wait += x.times.host_wait;
      return {ms, st};
    };
    // First call after engine creation (engine warm-up already ran for this size).
    run.has_first_call = true;
    run.first_call_ms = call(&detections).first;
    {
      // Counted cost at this size: the real detection count of this image; proposals at their bound.
      bench::RunCost rc;
      rc.available = true;
      rc.bytes_per_element = bytes_per_element;
      const auto [ph, pw] = bench::network_input_size(spec, h, w);
      // The CUDA mask head runs on all DETECTIONS_PER_IMAGE rows (fixed capacity), the CPU one on the
      // detections found: count what each actually computes.
      const int64_t mask_rows = on_cuda ? spec.detections_per_image : static_cast<int64_t>(detections);
      rc.cost = bench::count_model_cost(spec, ph, pw, bench::max_proposals(spec, ph, pw), mask_rows);
      rc.roi_counts = std::string(on_cuda ? "detections = TEST.DETECTIONS_PER_IMAGE (the CUDA mask head runs its fixed "
                                            "capacity; this image returned " + std::to_string(detections) + ")"
                                          : "detections = the instances the engine returned for this image") +
                      "; proposals = the most the RPN can return at this size (min(POST_NMS_TOPK_TEST, sum over "
                      "levels of min(PRE_NMS_TOPK_TEST, anchors))), which the real count reaches unless NMS leaves fewer";
      report.costs.push_back(rc);
    }
    for (int i = 0; i < a.warmup; ++i) run.warmup_ms.push_back(call().first);
    run.warmup_iterations = a.warmup;

    if (nvml.available()) nvml.start(20);
    const int64_t per_stream = a.duration_s > 0 ? INT64_MAX : a.iterations;
    const auto deadline = Clock::now() + std::chrono::duration<double>(a.duration_s > 0 ? a.duration_s : 1e9);
    std::mutex mu;
    std::atomic<int64_t> done{0};
    bench::ProgressBar bar(run.label, a.duration_s > 0 ? 0 : per_stream * a.streams);
    const auto ts0 = Clock::now();
    // A worker's exception (or a thread that cannot be started) must not reach a joinable std::thread's
    // destructor (std::terminate): workers stop, every started thread is joined, then the first error is
    // rethrown as an ordinary error.
    std::vector<std::thread> threads;
    std::exception_ptr failure;
    std::atomic<bool> stop{false};
    try {
      for (int s = 0; s < a.streams; ++s) {
        threads.emplace_back([&]() {
          try {
            for (int64_t i = 0; i < per_stream && Clock::now() < deadline && !stop; ++i) {
              auto [ms, st] = call();
              {
                std::lock_guard<std::mutex> lock(mu);
                run.steady_ms.push_back(ms);
                run.add_stage_times(st);
                if (on_cuda) run.host_wait_ms.push_back(st.host_wait);
              }
              bar.update(++done);
            }
          } catch (...) {
            std::lock_guard<std::mutex> lock(mu);
            if (!failure) failure = std::current_exception();
            stop = true;
          }
        });
      }
    } catch (const std::system_error& e) {
      stop = true;
      for (auto& t : threads) t.join();
      MASKRT_FAIL(ErrorCode::kInvalidArgument, "--streams ", a.streams, ": could not start thread ", threads.size() + 1,
                  " (", e.what(), ")");
    }
    for (auto& t : threads) t.join();
    if (failure) std::rethrow_exception(failure);
    run.steady_wall_ms = ms_between(ts0, Clock::now());
    bar.finish();
    run.memory = memory_summary(engine.memory_report());
    if (nvml.available()) {
      run.gpu = nvml.stop();
      run.gpu.mem_context_baseline_mib = context_baseline_mib;
    }
    else {
      run.gpu.available = false;
      run.gpu.reason = nvml.reason();
    }
    report.runs.push_back(std::move(run));
    first_size = false;
  }

  // Host memory: peak resident set of this process over the steady-state measurements (getrusage),
  // taken before the CUDA stage pass loads its second engine.
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  report.meta.options["host_peak_rss_mib"] = std::to_string(static_cast<double>(ru.ru_maxrss) / 1024.0);

  if (on_cuda) {
    // Per-stage CUDA event times, apart from the steady-state timing (which has run to completion).
    EngineOptions so = eo;
    so.stage_times = true;
    const auto t0 = Clock::now();
    try {  // a second engine on the device: if it does not fit, the report keeps everything else
      Engine stage_engine(so);
      report.meta.options["stage_engine_creation_ms"] = std::to_string(ms_between(t0, Clock::now()));
      for (bench::BenchRun& run : report.runs) {
        const Image image = resized_copy(source, run.image_height, run.image_width);
        for (auto& v : run.stage_ms) v.clear();
        stage_engine.infer(image);  // one more untimed call (the engine's warm-up already ran this size)
        for (int i = 0; i < kStagePassIterations; ++i) run.add_stage_times(stage_engine.infer(image).times);
      }
      report.meta.options["stage_times"] = "CUDA events, separate pass: a second engine with stage_times on, " +
                                           std::to_string(kStagePassIterations) +
                                           " iterations of one image per size after all steady-state runs";
    } catch (const Error& e) {
      for (bench::BenchRun& run : report.runs)
        for (auto& v : run.stage_ms) v.clear();
      report.meta.options["stage_times"] = std::string("not measured: the stage-time engine failed: ") + e.what();
      std::fprintf(stderr, "maskrt: bench: per-stage times not measured: %s\n", e.what());
    }
  } else {
    report.meta.options["stage_times"] = "host clock, every steady-state iteration (first image of the batch)";
  }
  const bench::ReportFormat fmt = bench::parse_report_format(a.format);
  if (a.output.empty()) {
    if (fmt == bench::ReportFormat::kJson)
      std::cout << bench::to_json(report).dump(1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    else if (fmt == bench::ReportFormat::kCsv) std::cout << bench::render_csv(report);
    else std::cout << bench::render_markdown(report);
  } else {
    bench::write_report(a.output, report, fmt);
    std::fprintf(stderr, "maskrt: report written to %s\n", a.output.c_str());
  }
  if (!a.plot.empty()) {
    // Latency only: images/s on the same axis would be a flat line at another scale.
    bench::PlotSeries med{"median latency (ms)", {}, {}}, p90{"p90 latency (ms)", {}, {}};
    for (const auto& r : report.runs) {
      const bench::SampleStats s = r.steady_stats();
      med.xs.push_back(r.megapixels());
      med.ys.push_back(s.median);
      p90.xs.push_back(r.megapixels());
      p90.ys.push_back(s.p90);
    }
    bench::write_line_plot_png(a.plot, "maskrt " + info.model_name + " on " + info.device + " (" + info.precision + ")",
                               "input megapixels (original image)", "ms per call (batch " +
                               std::to_string(a.model.batch) + ")", {med, p90});
    std::fprintf(stderr, "maskrt: plot written to %s\n", a.plot.c_str());
  }
  return 0;
}

}  // namespace maskrt::cli
