#pragma once
// DeviceArena: one device allocation carved by a bump allocator.
//
// Measure, then carve, with the same code: the planner runs its carving function once on a
// measuring arena (DeviceArena::measuring(): no memory, alloc() only advances the offset and returns
// offsets from a null base), reads peak(), calls reserve(peak) on the real arena, then runs the same
// carving function on the real arena (reset() first). The pointers handed out stay valid until the
// next reserve() that grows the buffer (generation() then changes and callers re-carve).
// reserve() is the only call that allocates (cudaMalloc) and it runs only when a plan for a larger
// padded image size is made, outside the steady state; growth is logged on stderr.
//
// Errors: reserve() throws maskrt::Error(kOutOfMemory) naming the requested bytes and `what` (e.g.
// the image size); the previous buffer is kept in that case so the engine keeps serving.
// Thread safety: none (owned by one pipeline; the engine serialises use).
#include <cstddef>
#include <cstdint>
#include <string>

namespace maskrt::cuda {

class DeviceArena {
 public:
  static constexpr size_t kAlignment = 256;

  DeviceArena() = default;
  static DeviceArena measuring();  // an arena that hands out offsets from a null base
  ~DeviceArena();
  DeviceArena(const DeviceArena&) = delete;
  DeviceArena& operator=(const DeviceArena&) = delete;
  DeviceArena(DeviceArena&& o) noexcept;
  DeviceArena& operator=(DeviceArena&& o) noexcept;

  // Next `bytes` (aligned to kAlignment). On a real arena, running past capacity() is a bug in the
  // planner (sizes must be measured first) and aborts.
  void* alloc(size_t bytes);
  template <typename T>
  T* alloc_n(size_t count) { return static_cast<T*>(alloc(count * sizeof(T))); }
  // Starts a new carving: offset and peak back to 0 (peak() is the high-water offset since reset()).
  void reset() { offset_ = 0; peak_ = 0; }
  // Stack discipline for temporaries: everything carved after offset() == `mark` is given back.
  void rewind(size_t mark) { offset_ = mark; }

  // Makes capacity() >= bytes (frees and reallocates; contents are lost). `what` goes into the log
  // and the out-of-memory message.
  void reserve(size_t bytes, const std::string& what);

  size_t offset() const { return offset_; }
  size_t peak() const { return peak_; }
  size_t capacity() const { return capacity_; }
  bool is_measuring() const { return measuring_; }
  uint64_t generation() const { return generation_; }

 private:
  char* base_ = nullptr;
  size_t capacity_ = 0;
  size_t offset_ = 0;
  size_t peak_ = 0;
  bool measuring_ = false;
  uint64_t generation_ = 0;
};

}  // namespace maskrt::cuda
