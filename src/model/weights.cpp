#include "model/weights.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace maskrt {

WeightStore::WeightStore(std::map<std::string, CheckpointTensor> tensors, std::string source)
    : tensors_(std::move(tensors)), source_(std::move(source)) {
  // A model saved while wrapped in DistributedDataParallel: every key starts with "module.". Strip it
  // once, only when all keys have it (fvcore Checkpointer's rule for the same prefix).
  const std::string prefix = "module.";
  const bool all_prefixed = std::all_of(tensors_.begin(), tensors_.end(), [&](const auto& kv) {
    return kv.first.empty() || kv.first.compare(0, prefix.size(), prefix) == 0;
  });
  if (!all_prefixed || tensors_.empty()) return;
  std::map<std::string, CheckpointTensor> stripped;
  for (auto& kv : tensors_) stripped.emplace(kv.first.substr(std::min(prefix.size(), kv.first.size())), std::move(kv.second));
  tensors_ = std::move(stripped);
}

Tensor WeightStore::take(const std::string& name, const Shape& expected) {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) {
    missing_.push_back(name + " " + shape_str(expected));
    return Tensor(expected);
  }
  used_.insert(name);
  const Tensor& t = it->second.value;
  if (t.shape() != expected) {
    mismatched_.push_back(name + ": expected " + shape_str(expected) + ", found " + shape_str(t.shape()));
    return Tensor(expected);
  }
  // NaN / Inf weights (a diverged training run, a corrupted export) would load and run, giving
  // NaN scores or silently fewer detections: refuse them, naming the tensor.
  const float* p = t.data();
  int64_t bad = 0;
  for (int64_t i = 0; i < t.numel(); ++i) bad += !std::isfinite(p[i]);
  if (bad > 0)
    non_finite_.push_back(name + " " + shape_str(t.shape()) + ": " + std::to_string(bad) + " of " +
                          std::to_string(t.numel()) + " values are NaN or Inf");
  return t;
}

void WeightStore::ignore(const std::string& name) {
  if (tensors_.count(name)) used_.insert(name);
}

void WeightStore::finish() const {
  std::vector<std::string> unused;
  for (const auto& kv : tensors_)
    if (!used_.count(kv.first)) unused.push_back(kv.first + " " + shape_str(kv.second.value.shape()));
  if (missing_.empty() && mismatched_.empty() && unused.empty() && non_finite_.empty()) return;
  std::ostringstream os;
  os << source_ << ": checkpoint does not fit the model described by the config";
  auto list = [&os](const char* what, const std::vector<std::string>& v) {
    if (v.empty()) return;
    os << "\n  " << v.size() << " " << what << ":";
    size_t shown = 0;
    for (const auto& s : v) {
      if (++shown > 40) {
        os << "\n    ... and " << v.size() - 40 << " more";
        break;
      }
      os << "\n    " << s;
    }
  };
  list("shape mismatch(es) (e.g. NUM_CLASSES differs from the checkpoint's heads)", mismatched_);
  list("missing tensor(s)", missing_);
  list("tensor(s) the model does not use", unused);
  list("tensor(s) with NaN or Inf values (a diverged training run or a corrupted file?)", non_finite_);
  MASKRT_FAIL(ErrorCode::kBadCheckpoint, os.str());
}

}  // namespace maskrt
