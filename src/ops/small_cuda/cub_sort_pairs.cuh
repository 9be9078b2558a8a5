#pragma once
// One CUB stable device radix sort of (key, value) pairs whose buffers come from a WorkspaceCarver
// (cuda_workspace.h): carve() takes keys_in, keys_out, vals_in, vals_out (n items each) and CUB's
// temp storage, sized by CUB for the same n and key bits [0, end_bit) that sort() then uses, so the
// measured workspace and the run cannot disagree. Ascending keys; equal keys keep their input order.
// Host-side; the arrays are device memory. Used by the RPN proposals and box inference ops.
// Errors: CUDA failures throw maskrt::Error (kDevice) via MASKRT_CUDA_CHECK.
#include <cstddef>
#include <cstdint>

#include <cub/device/device_radix_sort.cuh>

#include "backend/cuda/cuda_check.h"
#include "ops/small_cuda/cuda_workspace.h"

namespace maskrt::ops {

template <typename Key, typename Value>
struct CubSortPairs {
  Key* keys_in = nullptr;
  Key* keys_out = nullptr;
  Value* vals_in = nullptr;
  Value* vals_out = nullptr;
  void* temp = nullptr;
  size_t temp_bytes = 0;
  int64_t n = 0;
  int end_bit = 0;

  void carve(WorkspaceCarver& w, int64_t count, int key_bits) {
    n = count;
    end_bit = key_bits;
    keys_in = w.take<Key>(n);
    keys_out = w.take<Key>(n);
    vals_in = w.take<Value>(n);
    vals_out = w.take<Value>(n);
    MASKRT_CUDA_CHECK(
        cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, keys_in, keys_out, vals_in, vals_out, n, 0, end_bit));
    temp = w.take_bytes(temp_bytes);
  }

  void sort(cudaStream_t stream) const {
    size_t bytes = temp_bytes;  // CUB takes the size by reference
    MASKRT_CUDA_CHECK(
        cub::DeviceRadixSort::SortPairs(temp, bytes, keys_in, keys_out, vals_in, vals_out, n, 0, end_bit, stream));
  }
};

}  // namespace maskrt::ops
