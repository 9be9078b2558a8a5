#pragma once
// WeightStore: strict access to a checkpoint's tensors by Detectron2 state_dict name.
//
// The model asks for every tensor it needs with the shape it expects (`take`). Problems are collected,
// not thrown one at a time, so that `finish()` can report every missing tensor, every shape mismatch
// (name, expected, found) and every tensor the model does not use, in one kBadCheckpoint error.
// Loading is all-or-nothing: a partially matching checkpoint never runs.
//
// Key prefix: when every key starts with "module." (a state_dict saved from a model wrapped in
// DistributedDataParallel), that prefix is removed once at construction, as fvcore's Checkpointer
// (used by Detectron2's DetectionCheckpointer) does; names in messages are then the stripped ones.
// Keys are left as they are when any key lacks the prefix.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/checkpoint.h"

namespace maskrt {

class WeightStore {
 public:
  WeightStore(std::map<std::string, CheckpointTensor> tensors, std::string source);

  // Returns the tensor `name` if present with `expected` shape; otherwise records the problem and
  // returns a zero tensor of the expected shape (so model construction can go on and report all).
  // A tensor holding NaN or Inf values is returned but recorded too (finish() refuses it).
  Tensor take(const std::string& name, const Shape& expected);
  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  // Marks a tensor as intentionally ignored (e.g. BatchNorm's num_batches_tracked) if present.
  void ignore(const std::string& name);

  // Throws maskrt::Error(kBadCheckpoint) listing all problems, if any.
  void finish() const;

 private:
  std::map<std::string, CheckpointTensor> tensors_;
  std::string source_;
  std::set<std::string> used_;
  std::vector<std::string> missing_;
  std::vector<std::string> mismatched_;
  std::vector<std::string> non_finite_;  // tensors taken that hold NaN or Inf values
};

}  // namespace maskrt
