#pragma once
// Checkpoint readers, no Python at run time:
//   - Detectron2 model-zoo `.pkl`: a pickle (protocols 2..5) of a dict whose "model" entry (or the dict
//     itself when it has no "model" key) maps parameter names to numpy arrays (numpy 1.x and 2.x
//     pickles: numpy.core.multiarray._reconstruct / numpy._core.multiarray._reconstruct), or to torch
//     tensors in a legacy pickle;
//   - `.pth` written by torch.save (zip archive: <name>/data.pkl + <name>/data/<key> storages), whose
//     top-level dict holds "model" (Detectron2 training checkpoints) or is the state dict itself.
// The format is detected from the content (zip magic "PK\x03\x04" vs pickle opcode 0x80), not the
// extension. float32, float64 and float16 tensors are converted to float32; int64 tensors (e.g.
// BatchNorm's num_batches_tracked) are returned too, converted to float.
#include <map>
#include <string>

#include "core/tensor.h"

namespace maskrt {

struct CheckpointTensor {
  Tensor value;            // float32, C-order
  std::string src_dtype;   // "float32", "float16", "float64", "int64", ...
};

// Throws maskrt::Error(kIo) if the file cannot be read, kBadCheckpoint (naming the file and what was
// wrong: truncated zip, unknown pickle opcode, missing storage record, non-contiguous layout the reader
// cannot express...) if it is corrupt. Never crashes on malformed input. Thread-safe.
std::map<std::string, CheckpointTensor> load_checkpoint(const std::string& path);

}  // namespace maskrt
