// Chunked, optionally multi-threaded host staging + upload (see staged_upload.h).
#include "backend/cuda/staged_upload.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <string>
#include <thread>

#include "backend/cuda/cuda_check.h"
#include "core/check.h"

namespace maskrt::cuda {
namespace {

constexpr int kMaxChunks = 8;

// Throws for a failed chunk DMA, naming the op, the chunk and the upload's size (the checked
// expression alone would read `err`).
void check_chunk_copy(cudaError_t err, size_t off, size_t n, size_t bytes) {
  if (err == cudaSuccess) return;
  const std::string what = "cudaMemcpyAsync (staged_upload: host->device chunk of " + std::to_string(n) +
                           " bytes at offset " + std::to_string(off) + " of " + std::to_string(bytes) + ")";
  cuda_detail::check(err, what.c_str(), __FILE__, __LINE__);
}

}  // namespace

void staged_upload(void* dst, char* pinned, const char* src, size_t bytes, cudaStream_t stream, int max_threads) {
  if (bytes == 0) return;
  char* const out = static_cast<char*>(dst);
  // Up to kMaxChunks chunks of at least 256 KiB: small inputs go in one or two DMAs.
  const size_t chunk = std::max<size_t>(size_t(256) << 10, (bytes + kMaxChunks - 1) / kMaxChunks);
  const int chunks = static_cast<int>((bytes + chunk - 1) / chunk);
  MASKRT_ASSERT(chunks <= kMaxChunks, "staged_upload: chunk count");  // chunk * kMaxChunks >= bytes
  int team = max_threads > 0 ? max_threads : std::min(kMaxStagingThreads + 1, omp_get_max_threads());
  team = std::min(team, chunks + 1);
  if (bytes < kParallelStagingBytes || team < 2) {
    for (size_t off = 0; off < bytes; off += chunk) {
      const size_t n = std::min(chunk, bytes - off);
      std::memcpy(pinned + off, src + off, n);
      check_chunk_copy(cudaMemcpyAsync(out + off, pinned + off, n, cudaMemcpyHostToDevice, stream), off, n, bytes);
    }
    return;
  }
  // ready[k] = 1 once chunk k is in pinned memory (release by the worker, acquire by the caller).
  std::atomic<int> ready[kMaxChunks];
  for (int k = 0; k < chunks; ++k) ready[k].store(0, std::memory_order_relaxed);
  cudaError_t err = cudaSuccess;
  int failed = -1;  // the chunk whose DMA failed (written by the thread that issues the DMAs)
#pragma omp parallel num_threads(team)
  {
    const int t = omp_get_thread_num(), T = omp_get_num_threads();
    if (T == 1) {  // the runtime gave no workers (nested region, thread limit): stage everything here
      for (int k = 0; k < chunks && err == cudaSuccess; ++k) {
        const size_t off = size_t(k) * chunk, n = std::min(chunk, bytes - off);
        std::memcpy(pinned + off, src + off, n);
        err = cudaMemcpyAsync(out + off, pinned + off, n, cudaMemcpyHostToDevice, stream);
        if (err != cudaSuccess) failed = k;
      }
    } else if (t == 0) {  // the calling thread (its CUDA device is the stream's): DMAs in address order
      for (int k = 0; k < chunks; ++k) {
        while (ready[k].load(std::memory_order_acquire) == 0) std::this_thread::yield();
        if (err != cudaSuccess) continue;  // keep waiting so no worker outlives the region's use of `ready`
        const size_t off = size_t(k) * chunk, n = std::min(chunk, bytes - off);
        err = cudaMemcpyAsync(out + off, pinned + off, n, cudaMemcpyHostToDevice, stream);
        if (err != cudaSuccess) failed = k;
      }
    } else {  // workers 1..T-1 take chunks round-robin, lowest first, so the DMAs can start early
      for (int k = t - 1; k < chunks; k += T - 1) {
        const size_t off = size_t(k) * chunk, n = std::min(chunk, bytes - off);
        std::memcpy(pinned + off, src + off, n);
        ready[k].store(1, std::memory_order_release);
      }
    }
  }
  if (failed >= 0) {
    const size_t off = size_t(failed) * chunk;
    check_chunk_copy(err, off, std::min(chunk, bytes - off), bytes);
  }
}

}  // namespace maskrt::cuda
