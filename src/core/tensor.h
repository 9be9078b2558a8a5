#pragma once
// Tensor: a contiguous, row-major (C-order) float32 array in host memory, with a shape.
//
// This is the CPU path's tensor and the currency of the checkpoint readers and the op references.
// Copies are cheap (shared storage); use clone() for a deep copy. Not thread-safe for concurrent
// writes to the same storage; concurrent reads are fine.
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "core/check.h"

namespace maskrt {

using Shape = std::vector<int64_t>;

inline int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}
std::string shape_str(const Shape& s);  // "(2, 3, 4)"

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(Shape shape);                         // zero-initialised
  Tensor(Shape shape, std::vector<float> values);       // takes the values (size must match)
  static Tensor empty(Shape shape);                     // uninitialised

  const Shape& shape() const { return shape_; }
  int64_t dim() const { return static_cast<int64_t>(shape_.size()); }
  int64_t size(int64_t i) const { return shape_.at(i < 0 ? i + dim() : i); }
  int64_t numel() const { return shape_numel(shape_); }
  bool defined() const { return storage_ != nullptr; }

  float* data() { return storage_ ? storage_->data() + offset_ : nullptr; }
  const float* data() const { return storage_ ? storage_->data() + offset_ : nullptr; }
  float& operator[](int64_t i) { return data()[i]; }
  float operator[](int64_t i) const { return data()[i]; }

  Tensor reshape(Shape shape) const;   // same storage; numel must match
  Tensor slice0(int64_t begin, int64_t end) const;  // rows [begin, end) of dim 0, shared storage
  Tensor clone() const;

 private:
  Shape shape_;
  std::shared_ptr<std::vector<float>> storage_;
  int64_t offset_ = 0;
};

}  // namespace maskrt
