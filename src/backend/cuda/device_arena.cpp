#include "backend/cuda/device_arena.h"

#include <cstdio>
#include <utility>

#include "backend/cuda/cuda_check.h"
#include "core/check.h"

namespace maskrt::cuda {

DeviceArena DeviceArena::measuring() {
  DeviceArena a;
  a.measuring_ = true;
  return a;
}

DeviceArena::~DeviceArena() {
  if (base_) cudaFree(base_);
}

DeviceArena::DeviceArena(DeviceArena&& o) noexcept { *this = std::move(o); }

DeviceArena& DeviceArena::operator=(DeviceArena&& o) noexcept {
  if (this != &o) {
    if (base_) cudaFree(base_);
    base_ = std::exchange(o.base_, nullptr);
    capacity_ = std::exchange(o.capacity_, 0);
    offset_ = std::exchange(o.offset_, 0);
    peak_ = std::exchange(o.peak_, 0);
    measuring_ = o.measuring_;
    generation_ = o.generation_ + 1;
  }
  return *this;
}

void* DeviceArena::alloc(size_t bytes) {
  const size_t start = (offset_ + kAlignment - 1) / kAlignment * kAlignment;
  const size_t end = start + (bytes + kAlignment - 1) / kAlignment * kAlignment;
  MASKRT_ASSERT(measuring_ || end <= capacity_, "arena overflow: ", end, " > ", capacity_,
                " bytes (carving differs from measuring)");
  offset_ = end;
  if (end > peak_) peak_ = end;
  return base_ + start;  // base_ is null while measuring: the result is an offset
}

void DeviceArena::reserve(size_t bytes, const std::string& what) {
  MASKRT_ASSERT(!measuring_);
  if (bytes <= capacity_) return;
  void* p = nullptr;
  // Free first: the old buffer's contents are not needed and a large image may need the space.
  if (base_) {
    cudaDeviceSynchronize();
    cudaFree(base_);
    base_ = nullptr;
  }
  const size_t old = capacity_;
  capacity_ = 0;
  const cudaError_t st = cudaMalloc(&p, bytes);
  if (st != cudaSuccess) {
    cudaGetLastError();
    // Restore the previous capacity so the engine keeps serving the sizes it served before.
    if (old > 0 && cudaMalloc(&p, old) == cudaSuccess) {
      base_ = static_cast<char*>(p);
      capacity_ = old;
    } else {
      cudaGetLastError();
    }
    ++generation_;
    MASKRT_FAIL(ErrorCode::kOutOfMemory, "out of device memory: ", what, " needs a ", bytes / (1024.0 * 1024.0),
                " MiB workspace (cudaMalloc: ", cudaGetErrorString(st), ")");
  }
  base_ = static_cast<char*>(p);
  capacity_ = bytes;
  ++generation_;
  std::fprintf(stderr, "maskrt: cuda arena %s %.1f MiB -> %.1f MiB for %s\n", old ? "grows" : "allocates",
               old / (1024.0 * 1024.0), bytes / (1024.0 * 1024.0), what.c_str());
}

}  // namespace maskrt::cuda
