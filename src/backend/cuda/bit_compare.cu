#include "backend/cuda/bit_compare.h"

#include <cstdint>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/launch_util.h"

namespace maskrt::cuda {
namespace {

__device__ __forceinline__ unsigned int nonzero_bytes(uint32_t x) {
  return ((x & 0xffu) != 0) + ((x & 0xff00u) != 0) + ((x & 0xff0000u) != 0) + ((x & 0xff000000u) != 0);
}

// Grid-stride loop over `words` 16-byte words, then the `tail` bytes after them; one atomic per warp.
__global__ void count_differing_kernel(const uint4* a, const uint4* b, int64_t words, const uint8_t* ta,
                                       const uint8_t* tb, int64_t tail, unsigned long long* count) {
  unsigned int n = 0;
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < words; i += stride) {
    const uint4 x = a[i], y = b[i];
    n += nonzero_bytes(x.x ^ y.x) + nonzero_bytes(x.y ^ y.y) + nonzero_bytes(x.z ^ y.z) + nonzero_bytes(x.w ^ y.w);
  }
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < tail; i += stride) n += ta[i] != tb[i];
  for (int off = 16; off > 0; off /= 2) n += __shfl_down_sync(0xffffffffu, n, off);
  if ((threadIdx.x & 31) == 0 && n) atomicAdd(count, static_cast<unsigned long long>(n));
}

}  // namespace

void count_differing_bytes(const void* a, const void* b, size_t bytes, unsigned long long* count,
                           cudaStream_t stream) {
  MASKRT_CUDA_CHECK(cudaMemsetAsync(count, 0, sizeof(unsigned long long), stream));
  if (bytes == 0) return;
  const bool vec = is_aligned16(a) && is_aligned16(b);
  const int64_t words = vec ? static_cast<int64_t>(bytes / 16) : 0;
  const int64_t done = words * 16;
  const auto* ta = static_cast<const uint8_t*>(a) + done;
  const auto* tb = static_cast<const uint8_t*>(b) + done;
  const int64_t tail = static_cast<int64_t>(bytes) - done;
  const int threads = 256;  // a multiple of 32: every warp is full for the shuffle reduction
  const int blocks = grid_stride_blocks(words > tail ? words : tail, threads);
  count_differing_kernel<<<blocks, threads, 0, stream>>>(static_cast<const uint4*>(a), static_cast<const uint4*>(b),
                                                         words, ta, tb, tail, count);
  MASKRT_CUDA_CHECK_LAST();
}

}  // namespace maskrt::cuda
