#pragma once
// Workspace carving for the CUDA ops (CUB's two-phase temp-storage pattern): one function walks the
// same sequence of take<T>(n) calls twice, first with base == nullptr to measure, then with the real
// buffer to carve, so the size and the layout cannot disagree. Every piece is 256-byte aligned.
// Host-only, no CUDA types. Thread safety: a carver is a local value.
#include <cstddef>
#include <cstdint>

namespace maskrt::ops {

class WorkspaceCarver {
 public:
  static constexpr size_t kAlign = 256;
  explicit WorkspaceCarver(void* base) : base_(static_cast<char*>(base)) {}
  template <typename T>
  T* take(size_t count) {
    offset_ = (offset_ + kAlign - 1) / kAlign * kAlign;
    T* p = base_ ? reinterpret_cast<T*>(base_ + offset_) : nullptr;
    offset_ += count * sizeof(T);
    return p;
  }
  void* take_bytes(size_t bytes) { return take<char>(bytes); }
  size_t bytes() const { return (offset_ + kAlign - 1) / kAlign * kAlign; }
  bool measuring() const { return base_ == nullptr; }

 private:
  char* base_;
  size_t offset_ = 0;
};

}  // namespace maskrt::ops
