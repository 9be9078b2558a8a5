#include "core/tensor.h"

#include <cstring>
#include <sstream>

namespace maskrt {

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  if (s.size() == 1) os << ",";
  os << ")";
  return os.str();
}

Tensor::Tensor(Shape shape) : shape_(std::move(shape)) {
  for (int64_t d : shape_) MASKRT_ASSERT(d >= 0, "negative dimension");
  storage_ = std::make_shared<std::vector<float>>(static_cast<size_t>(shape_numel(shape_)), 0.0f);
}

Tensor::Tensor(Shape shape, std::vector<float> values) : shape_(std::move(shape)) {
  MASKRT_ASSERT(static_cast<int64_t>(values.size()) == shape_numel(shape_), "value count does not match shape");
  storage_ = std::make_shared<std::vector<float>>(std::move(values));
}

Tensor Tensor::empty(Shape shape) {
  Tensor t;
  t.shape_ = std::move(shape);
  auto v = std::make_shared<std::vector<float>>();
  v->resize(static_cast<size_t>(shape_numel(t.shape_)));
  t.storage_ = std::move(v);
  return t;
}

Tensor Tensor::reshape(Shape shape) const {
  MASKRT_ASSERT(shape_numel(shape) == numel(), "reshape ", shape_str(shape_), " -> ", shape_str(shape));
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::slice0(int64_t begin, int64_t end) const {
  MASKRT_ASSERT(dim() >= 1 && begin >= 0 && begin <= end && end <= shape_[0]);
  Tensor t = *this;
  int64_t row = shape_[0] ? numel() / shape_[0] : 0;
  t.shape_[0] = end - begin;
  t.offset_ = offset_ + begin * row;
  return t;
}

Tensor Tensor::clone() const {
  Tensor t = Tensor::empty(shape_);
  if (numel()) std::memcpy(t.data(), data(), sizeof(float) * static_cast<size_t>(numel()));
  return t;
}

}  // namespace maskrt
