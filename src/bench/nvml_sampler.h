#pragma once
// GPU utilisation sampling through NVML, loaded at run time with dlopen("libnvidia-ml.so.1"): no NVML
// header or stub library is needed to build, and on a machine without the NVIDIA driver the sampler
// simply reports `available() == false` with a reason (the bench report then says so).
//
// Usage: NvmlSampler s(0); s.start(20); ...run...; GpuUtilSummary g = s.stop();
// A background thread reads, every `interval_ms`: utilisation (gpu %), memory used, power draw and SM
// clock of one device. Metrics the device does not support (e.g. power on some boards) are skipped
// and flagged in the summary.
//
// Device index: NVML's index order is PCI bus order, which may differ from CUDA's ordering and ignores
// CUDA_VISIBLE_DEVICES; the caller picks the NVML index (0 on a single-GPU machine).
// Thread safety: start/stop/samples from one controlling thread; the sampling thread is internal.
// Memory "used" is the whole device's, including other processes.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/stats.h"

namespace maskrt::bench {

struct GpuSample {
  double t_ms = 0;            // since start()
  double util_gpu_pct = -1;   // -1 = not read
  double mem_used_mib = -1;
  double power_w = -1;
  double sm_clock_mhz = -1;
};

// Summary of samples (mean/max utilisation, peak memory, mean power, mean SM clock); negative values
// in a sample mean "not read" and are left out of that metric. available = !samples.empty().
GpuUtilSummary summarize_gpu_samples(const std::vector<GpuSample>& samples, double interval_ms);

class NvmlSampler {
 public:
  // Loads `library` and initialises NVML for device `device_index`. Never throws: failures leave
  // available() false and reason() set.
  explicit NvmlSampler(int device_index = 0, const std::string& library = "libnvidia-ml.so.1");
  ~NvmlSampler();
  NvmlSampler(const NvmlSampler&) = delete;
  NvmlSampler& operator=(const NvmlSampler&) = delete;

  bool available() const { return available_; }
  const std::string& reason() const { return reason_; }  // why unavailable ("" when available)
  const std::string& device_name() const { return device_name_; }        // "" when unavailable
  const std::string& driver_version() const { return driver_version_; }  // "" when unavailable

  // Starts the sampling thread (interval_ms >= 1; kInvalidArgument otherwise). When unavailable this
  // does nothing. Calling start() while running throws kInvalidArgument.
  void start(int interval_ms);
  // Stops the thread (if running) and summarises the samples. When unavailable returns a summary with
  // available = false and reason set.
  GpuUtilSummary stop();
  std::vector<GpuSample> samples() const;  // copy of the samples of the last/current run

  // One immediate reading (for tests and one-shot reports). Unavailable -> all fields -1.
  GpuSample sample_now() const;

 private:
  struct Api;
  void loop();

  Api* api_ = nullptr;
  void* lib_ = nullptr;
  void* device_ = nullptr;  // nvmlDevice_t
  bool available_ = false;
  std::string reason_, device_name_, driver_version_;

  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_requested_ = false;
  bool running_ = false;
  int interval_ms_ = 0;
  std::vector<GpuSample> samples_;
  double t0_ = 0;
};

}  // namespace maskrt::bench
