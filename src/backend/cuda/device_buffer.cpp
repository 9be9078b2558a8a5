#include "backend/cuda/device_buffer.h"

#include <cuda_fp16.h>

#include <cstring>
#include <utility>

#include "backend/cuda/cuda_check.h"
#include "core/check.h"

namespace maskrt::cuda {

namespace {
thread_local DeviceAllocTally* t_tally = nullptr;  // innermost live tally of this thread
}  // namespace

DeviceAllocTally::DeviceAllocTally() : outer_(t_tally) { t_tally = this; }
DeviceAllocTally::~DeviceAllocTally() { t_tally = outer_; }

DeviceBuffer::DeviceBuffer(size_t bytes, const std::string& what) : bytes_(bytes) {
  if (bytes == 0) return;
  const cudaError_t st = cudaMalloc(&ptr_, bytes);
  if (st != cudaSuccess) {
    cudaGetLastError();
    ptr_ = nullptr;
    MASKRT_FAIL(ErrorCode::kOutOfMemory, "out of device memory allocating ", bytes, " bytes for ", what, " (",
                cudaGetErrorString(st), ")");
  }
  for (DeviceAllocTally* t = t_tally; t; t = t->outer_) {
    t->bytes_ += bytes;
    ++t->buffers_;
  }
}

DeviceBuffer::~DeviceBuffer() {
  if (ptr_) cudaFree(ptr_);
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& o) noexcept { *this = std::move(o); }

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    if (ptr_) cudaFree(ptr_);
    ptr_ = std::exchange(o.ptr_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}

DeviceBuffer DeviceBuffer::upload(const void* host, size_t bytes, const std::string& what) {
  DeviceBuffer b(bytes, what);
  if (bytes) {
    MASKRT_CUDA_CHECK(cudaMemcpy(b.ptr_, host, bytes, cudaMemcpyHostToDevice));
    // A pageable cudaMemcpy may return before the DMA lands; the pipeline's non-blocking stream does
    // not order after the legacy stream, so wait here (load time only).
    MASKRT_CUDA_CHECK(cudaDeviceSynchronize());
  }
  return b;
}

std::vector<uint16_t> to_half(const float* src, size_t n) {
  std::vector<uint16_t> out(n);
  for (size_t i = 0; i < n; ++i) {
    const __half h = __float2half_rn(src[i]);
    std::memcpy(&out[i], &h, 2);
  }
  return out;
}

}  // namespace maskrt::cuda
