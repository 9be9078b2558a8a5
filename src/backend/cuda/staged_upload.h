#pragma once
// Host -> device upload of a pageable host buffer (an input image's uint8 pixels) through a pinned
// staging buffer, in chunks, so that the DMA of one chunk overlaps the host copy of the next.
//
// Large buffers (>= kParallelStagingBytes, e.g. a 1344x1344x3 image, 5.4 MB) are copied into the
// pinned buffer by several host threads (an OpenMP team: the calling thread issues each chunk's
// cudaMemcpyAsync in order as soon as a worker has staged it; the workers only run memcpy, so no
// CUDA call is made from a thread whose current device may differ). One thread's memcpy into pinned
// memory ran at ~10 GB/s on the GPU machine, the stage's cost at 1344x1344 (0.69 ms, bench stage
// "preprocess"); the DMA itself is faster. Smaller buffers, a team of one (e.g. when called from
// inside another OpenMP parallel region) or max_threads <= 1 use the calling thread only.
//
// dst: device memory of at least `bytes`; pinned: page-locked host memory of at least `bytes` that no
// pending DMA still reads (the caller's slot discipline); src: `bytes` of host memory. All copies are
// enqueued on `stream` in address order before this returns; the data is on the device once the
// stream reaches that point (later work on `stream` sees it). Nothing waits for the GPU.
// Errors: a failed cudaMemcpyAsync throws maskrt::Error (kDevice, or kOutOfMemory for
// cudaErrorMemoryAllocation; the message names staged_upload, the chunk and the size) after every host
// thread has finished; chunks after the failed one are not enqueued. Nothing throws inside the
// OpenMP region.
// Thread safety: reentrant (no shared state); concurrent calls must use distinct pinned buffers. Each
// calling host thread gets its own OpenMP team (calls from N threads at once use up to 5N threads).
#include <cstddef>

#include <cuda_runtime_api.h>

namespace maskrt::cuda {

constexpr size_t kParallelStagingBytes = size_t(2) << 20;  // 2 MiB
constexpr int kMaxStagingThreads = 4;                       // memcpy workers beside the calling thread

// max_threads caps the team (calling thread included); 0 (or negative) = min(kMaxStagingThreads + 1,
// omp_get_max_threads()). The team never exceeds the chunk count + 1 (at most 8 chunks).
void staged_upload(void* dst, char* pinned, const char* src, size_t bytes, cudaStream_t stream, int max_threads = 0);

}  // namespace maskrt::cuda
