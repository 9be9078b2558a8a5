#pragma once
// DeviceTensor: a non-owning view of a dense tensor in device memory (pointer, shape, dtype, layout).
//
// Storage comes from a DeviceArena (activations, workspace) or from the model's weight allocation;
// the view never frees anything. Shapes are always given in logical NCHW order (n, c, h, w) whatever
// the memory layout: kNCHW stores w fastest, kNHWC stores c fastest. 2-D tensors (rows, cols) use
// n = rows, c = cols, h = w = 1 (both layouts then coincide).
// Header-only, no CUDA types (usable from .cpp and .cu). Thread safety: a plain value.
#include <cstddef>
#include <cstdint>

namespace maskrt::cuda {

enum class DType { kF32, kF16 };
enum class Layout { kNCHW, kNHWC };

inline size_t dtype_size(DType t) { return t == DType::kF32 ? 4 : 2; }

struct DeviceTensor {
  void* ptr = nullptr;
  int n = 0, c = 0, h = 1, w = 1;  // logical NCHW extents
  DType dtype = DType::kF32;
  Layout layout = Layout::kNCHW;

  int64_t numel() const { return static_cast<int64_t>(n) * c * h * w; }
  size_t bytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype); }
  template <typename T>
  T* as() const { return static_cast<T*>(ptr); }
  // Rows [begin, begin+count) along n (contiguous in both layouts).
  DeviceTensor rows(int begin, int count) const {
    DeviceTensor t = *this;
    t.ptr = static_cast<char*>(ptr) + static_cast<size_t>(begin) * c * h * w * dtype_size(dtype);
    t.n = count;
    return t;
  }
};

}  // namespace maskrt::cuda
