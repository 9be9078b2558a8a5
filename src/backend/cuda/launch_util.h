#pragma once
// Launch helpers shared by maskrt's element-wise CUDA kernels (host-side, no CUDA types).
// Thread safety: pure functions.
#include <cstdint>

namespace maskrt::cuda {

// Blocks for a grid-stride loop over `work` items with `threads` threads per block: enough to cover
// the work, at most 132 * 32 (about 32 resident blocks per SM of an H200; the loop strides beyond).
inline int grid_stride_blocks(int64_t work, int threads) {
  const int64_t want = (work + threads - 1) / threads;
  return static_cast<int>(want < 132 * 32 ? want : 132 * 32);
}

// True when `p` allows 16-byte (uint4 / float4) accesses.
inline bool is_aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace maskrt::cuda
