#include "bench/nvml_sampler.h"

#include <dlfcn.h>

#include <algorithm>
#include <chrono>

#include "core/check.h"

namespace maskrt::bench {

// The slice of NVML's C ABI we use, declared here because no NVML header exists on our build machines
// (types and values as documented in NVIDIA's NVML API reference).
namespace {
using nvmlReturn_t = int;  // NVML_SUCCESS == 0
using nvmlDevice_t = void*;
struct nvmlUtilization_t {
  unsigned int gpu;
  unsigned int memory;
};
struct nvmlMemory_t {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};
constexpr int kNvmlSuccess = 0;
constexpr int kNvmlClockSm = 1;  // NVML_CLOCK_SM

using InitFn = nvmlReturn_t (*)();
using ShutdownFn = nvmlReturn_t (*)();
using GetHandleByIndexFn = nvmlReturn_t (*)(unsigned int, nvmlDevice_t*);
using GetUtilizationFn = nvmlReturn_t (*)(nvmlDevice_t, nvmlUtilization_t*);
using GetMemoryInfoFn = nvmlReturn_t (*)(nvmlDevice_t, nvmlMemory_t*);
using GetPowerUsageFn = nvmlReturn_t (*)(nvmlDevice_t, unsigned int*);  // milliwatts
using GetClockInfoFn = nvmlReturn_t (*)(nvmlDevice_t, int, unsigned int*);  // MHz
using GetNameFn = nvmlReturn_t (*)(nvmlDevice_t, char*, unsigned int);
using GetDriverVersionFn = nvmlReturn_t (*)(char*, unsigned int);
using ErrorStringFn = const char* (*)(nvmlReturn_t);

double now_ms() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}
}  // namespace

struct NvmlSampler::Api {
  InitFn init = nullptr;
  ShutdownFn shutdown = nullptr;
  GetHandleByIndexFn get_handle = nullptr;
  GetUtilizationFn get_util = nullptr;
  GetMemoryInfoFn get_mem = nullptr;
  GetPowerUsageFn get_power = nullptr;
  GetClockInfoFn get_clock = nullptr;
  GetNameFn get_name = nullptr;
  GetDriverVersionFn get_driver = nullptr;
  ErrorStringFn error_string = nullptr;  // optional
  bool initialised = false;

  std::string err(nvmlReturn_t r) const {
    std::string s = "NVML error " + std::to_string(r);
    if (error_string) {
      const char* m = error_string(r);
      if (m) s += std::string(" (") + m + ")";
    }
    return s;
  }
};

NvmlSampler::NvmlSampler(int device_index, const std::string& library) {
  lib_ = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib_) {
    const char* e = dlerror();
    reason_ = "NVML not available: cannot load " + library + (e ? std::string(": ") + e : std::string());
    return;
  }
  api_ = new Api();
  auto sym = [&](const char* name) { return dlsym(lib_, name); };
  api_->init = reinterpret_cast<InitFn>(sym("nvmlInit_v2"));
  api_->shutdown = reinterpret_cast<ShutdownFn>(sym("nvmlShutdown"));
  api_->get_handle = reinterpret_cast<GetHandleByIndexFn>(sym("nvmlDeviceGetHandleByIndex_v2"));
  api_->get_util = reinterpret_cast<GetUtilizationFn>(sym("nvmlDeviceGetUtilizationRates"));
  api_->get_mem = reinterpret_cast<GetMemoryInfoFn>(sym("nvmlDeviceGetMemoryInfo"));
  api_->get_power = reinterpret_cast<GetPowerUsageFn>(sym("nvmlDeviceGetPowerUsage"));
  api_->get_clock = reinterpret_cast<GetClockInfoFn>(sym("nvmlDeviceGetClockInfo"));
  api_->get_name = reinterpret_cast<GetNameFn>(sym("nvmlDeviceGetName"));
  api_->get_driver = reinterpret_cast<GetDriverVersionFn>(sym("nvmlSystemGetDriverVersion"));
  api_->error_string = reinterpret_cast<ErrorStringFn>(sym("nvmlErrorString"));
  const char* missing = !api_->init ? "nvmlInit_v2"
                        : !api_->shutdown ? "nvmlShutdown"
                        : !api_->get_handle ? "nvmlDeviceGetHandleByIndex_v2"
                        : !api_->get_util ? "nvmlDeviceGetUtilizationRates"
                        : !api_->get_mem ? "nvmlDeviceGetMemoryInfo"
                        : !api_->get_power ? "nvmlDeviceGetPowerUsage"
                        : !api_->get_clock ? "nvmlDeviceGetClockInfo"
                        : !api_->get_name ? "nvmlDeviceGetName"
                        : !api_->get_driver ? "nvmlSystemGetDriverVersion"
                                            : nullptr;
  if (missing) {
    reason_ = "NVML not available: " + library + " lacks symbol " + missing;
    return;
  }
  nvmlReturn_t r = api_->init();
  if (r != kNvmlSuccess) {
    reason_ = "NVML not available: nvmlInit_v2 failed: " + api_->err(r);
    return;
  }
  api_->initialised = true;
  nvmlDevice_t dev = nullptr;
  r = api_->get_handle(static_cast<unsigned>(device_index), &dev);
  if (r != kNvmlSuccess) {
    reason_ = "NVML: no device at index " + std::to_string(device_index) + ": " + api_->err(r);
    return;
  }
  device_ = dev;
  char buf[256] = {0};
  if (api_->get_name(dev, buf, sizeof(buf)) == kNvmlSuccess) device_name_ = buf;
  char drv[96] = {0};
  if (api_->get_driver(drv, sizeof(drv)) == kNvmlSuccess) driver_version_ = drv;
  available_ = true;
}

NvmlSampler::~NvmlSampler() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_requested_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (api_ && api_->initialised) api_->shutdown();
  delete api_;
  if (lib_) dlclose(lib_);
}

GpuSample NvmlSampler::sample_now() const {
  GpuSample s;
  if (!available_) return s;
  nvmlDevice_t dev = device_;
  nvmlUtilization_t u{};
  if (api_->get_util(dev, &u) == kNvmlSuccess) s.util_gpu_pct = u.gpu;
  nvmlMemory_t m{};
  if (api_->get_mem(dev, &m) == kNvmlSuccess) s.mem_used_mib = double(m.used) / (1024.0 * 1024.0);
  unsigned mw = 0;
  if (api_->get_power(dev, &mw) == kNvmlSuccess) s.power_w = mw / 1000.0;
  unsigned mhz = 0;
  if (api_->get_clock(dev, kNvmlClockSm, &mhz) == kNvmlSuccess) s.sm_clock_mhz = mhz;
  return s;
}

void NvmlSampler::start(int interval_ms) {
  MASKRT_CHECK(interval_ms >= 1, ErrorCode::kInvalidArgument, "NvmlSampler: interval_ms must be >= 1, got ", interval_ms);
  MASKRT_CHECK(!running_, ErrorCode::kInvalidArgument, "NvmlSampler: start() called while already sampling");
  interval_ms_ = interval_ms;
  if (!available_) return;
  {
    std::lock_guard<std::mutex> lk(mu_);
    samples_.clear();
    stop_requested_ = false;
  }
  running_ = true;
  t0_ = now_ms();
  thread_ = std::thread([this] { loop(); });
}

void NvmlSampler::loop() {
  std::unique_lock<std::mutex> lk(mu_);
  while (!stop_requested_) {
    lk.unlock();
    GpuSample s = sample_now();
    s.t_ms = now_ms() - t0_;
    lk.lock();
    samples_.push_back(s);
    cv_.wait_for(lk, std::chrono::milliseconds(interval_ms_), [this] { return stop_requested_; });
  }
}

GpuUtilSummary NvmlSampler::stop() {
  if (!available_) {
    GpuUtilSummary g;
    g.available = false;
    g.reason = reason_;
    g.interval_ms = interval_ms_;
    return g;
  }
  if (running_) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_requested_ = true;
    }
    cv_.notify_all();
    thread_.join();
    running_ = false;
  }
  std::lock_guard<std::mutex> lk(mu_);
  GpuUtilSummary g = summarize_gpu_samples(samples_, interval_ms_);
  if (!g.available) g.reason = "NVML: no samples were taken (run shorter than the first reading?)";
  return g;
}

std::vector<GpuSample> NvmlSampler::samples() const {
  std::lock_guard<std::mutex> lk(mu_);
  return samples_;
}

GpuUtilSummary summarize_gpu_samples(const std::vector<GpuSample>& samples, double interval_ms) {
  GpuUtilSummary g;
  g.interval_ms = interval_ms;
  g.samples = static_cast<int64_t>(samples.size());
  g.available = !samples.empty();
  double util_sum = 0, power_sum = 0, clock_sum = 0;
  int64_t util_n = 0, power_n = 0, clock_n = 0;
  for (const GpuSample& s : samples) {
    if (s.util_gpu_pct >= 0) {
      util_sum += s.util_gpu_pct;
      g.util_max_pct = std::max(g.util_max_pct, s.util_gpu_pct);
      ++util_n;
    }
    if (s.mem_used_mib >= 0) g.mem_used_peak_mib = std::max(g.mem_used_peak_mib, s.mem_used_mib);
    if (s.power_w >= 0) {
      power_sum += s.power_w;
      ++power_n;
    }
    if (s.sm_clock_mhz >= 0) {
      clock_sum += s.sm_clock_mhz;
      ++clock_n;
    }
  }
  if (util_n) g.util_mean_pct = util_sum / double(util_n);
  g.power_available = power_n > 0;
  if (power_n) g.power_mean_w = power_sum / double(power_n);
  g.sm_clock_available = clock_n > 0;
  if (clock_n) g.sm_clock_mean_mhz = clock_sum / double(clock_n);
  return g;
}

}  // namespace maskrt::bench
