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

// Host-side float32 -> float16 (round to nearest even), for weight conversion at load.
std::vector<uint16_t> to_half(const float* src, size_t n);

}  // namespace maskrt::cuda
