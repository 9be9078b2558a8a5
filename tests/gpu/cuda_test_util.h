#pragma once
// Helpers for the gpu-labelled tests: skip without a GPU, RAII device buffers, copies.
#include <cstdint>
#include <vector>

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include "backend/cuda/cuda_check.h"

namespace maskrt::test {

// True when a CUDA device is usable. GPU-less machines report cudaErrorInsufficientDriver (35) or
// cudaErrorNoDevice (100); both mean "skip".
inline bool cuda_available() {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    return false;
  }
  return n > 0;
}

#define MASKRT_SKIP_WITHOUT_GPU() \
  do {                            \
    if (!::maskrt::test::cuda_available()) GTEST_SKIP() << "no CUDA device"; \
  } while (0)

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes) : bytes_(bytes) {
    if (bytes) MASKRT_CUDA_CHECK(cudaMalloc(&p_, bytes));
  }
  ~DeviceBuffer() {
    if (p_) cudaFree(p_);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : p_(o.p_), bytes_(o.bytes_) { o.p_ = nullptr; o.bytes_ = 0; }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      if (p_) cudaFree(p_);
      p_ = o.p_;
      bytes_ = o.bytes_;
      o.p_ = nullptr;
      o.bytes_ = 0;
    }
    return *this;
  }
  template <typename T>
  T* as() const { return static_cast<T*>(p_); }
  void* get() const { return p_; }
  size_t bytes() const { return bytes_; }

 private:
  void* p_ = nullptr;
  size_t bytes_ = 0;
};

template <typename T>
DeviceBuffer upload(const std::vector<T>& v) {
  DeviceBuffer b(v.size() * sizeof(T));
  if (!v.empty()) {
    MASKRT_CUDA_CHECK(cudaMemcpy(b.get(), v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
    // A pageable copy over 64 KiB may return before its DMA lands, and the code under test runs on
    // non-blocking streams that do not wait for the legacy stream: without this wait a kernel read
    // stale memory (seen on the H200: Tf32NhwcConv's 75 KiB inputs; DeviceBuffer::upload does the same).
    MASKRT_CUDA_CHECK(cudaDeviceSynchronize());
  }
  return b;
}
template <typename T>
DeviceBuffer upload(const T* p, size_t n) {
  DeviceBuffer b(n * sizeof(T));
  if (n) {
    MASKRT_CUDA_CHECK(cudaMemcpy(b.get(), p, n * sizeof(T), cudaMemcpyHostToDevice));
    MASKRT_CUDA_CHECK(cudaDeviceSynchronize());  // as above
  }
  return b;
}
template <typename T>
std::vector<T> download(const DeviceBuffer& b, size_t n) {
  std::vector<T> v(n);
  if (n) MASKRT_CUDA_CHECK(cudaMemcpy(v.data(), b.get(), n * sizeof(T), cudaMemcpyDeviceToHost));
  return v;
}
template <typename T>
T download_one(const DeviceBuffer& b) {
  return download<T>(b, 1)[0];
}
// A workspace filled with garbage, so tests catch reads of uncleared scratch.
inline DeviceBuffer dirty_workspace(size_t bytes) {
  DeviceBuffer b(bytes);
  if (bytes) MASKRT_CUDA_CHECK(cudaMemset(b.get(), 0xA5, bytes));
  return b;
}

}  // namespace maskrt::test
