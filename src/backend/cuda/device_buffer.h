#pragma once
// DeviceBuffer: an owning, non-copyable device allocation (RAII), used for weights uploaded once at
// load and for small per-model constants. Activations and scratch come from DeviceArena instead.
// Errors: allocation failure throws maskrt::Error(kOutOfMemory) naming `what` and the size.
// Thread safety: none needed after construction (read-only use).
#include <cstdint>
#include <cstddef>
#include <string>
#include <vector>

namespace maskrt::cuda {

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(size_t bytes, const std::string& what);
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;

  // Allocates and copies `bytes` from host memory; returns when the data is on the device (load time only).
  static DeviceBuffer upload(const void* host, size_t bytes, const std::string& what);
  template <typename T>
  static DeviceBuffer upload(const std::vector<T>& v, const std::string& what) {
    return upload(v.data(), v.size() * sizeof(T), what);
  }

  void* get() const { return ptr_; }
  template <typename T>
  T* as() const { return static_cast<T*>(ptr_); }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// Counts the bytes of every DeviceBuffer allocated on the constructing thread while it is alive
// (nested tallies each count). The engine wraps model construction in one to report the exact bytes of
// the weights it uploaded (Engine::memory_report()); no process-wide counter exists.
// Thread safety: thread-local; a tally sees only allocations made on the thread that created it.
class DeviceAllocTally {
 public:
  DeviceAllocTally();
  ~DeviceAllocTally();
  DeviceAllocTally(const DeviceAllocTally&) = delete;
  DeviceAllocTally& operator=(const DeviceAllocTally&) = delete;
  size_t bytes() const { return bytes_; }    // requested bytes (cudaMalloc may round up)
  size_t buffers() const { return buffers_; }

 private:
  friend class DeviceBuffer;
  DeviceAllocTally* outer_;
  size_t bytes_ = 0, buffers_ = 0;
};

// Host-side float32 -> float16 (round to nearest even), for weight conversion at load.
std::vector<uint16_t> to_half(const float* src, size_t n);

}  // namespace maskrt::cuda
