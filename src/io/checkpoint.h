#pragma once
// Checkpoint readers, no Python at run time:
//   - Detectron2 model-zoo `.pkl`: a pickle (protocols 2..5) of a dict whose "model" entry (or the dict
//     itself when it has no "model" key) maps parameter names to numpy arrays. Both numpy 1.x and 2.x
//     pickles are read: numpy.core.multiarray._reconstruct / numpy._core.multiarray._reconstruct +
//     BUILD state (the array bytes as bytes, as a Python 2 str, or as latin-1 text through
//     _codecs.encode), and protocol 5's numpy(._)core.numeric._frombuffer with in-band BYTEARRAY8.
//     Extra top-level keys ("__author__", "matching_heuristics", ...) are ignored.
//   - `.pth` written by torch.save with the zip format (torch >= 1.6): <archive>/data.pkl references
//     storages <archive>/data/<key> through persistent ids ('storage', torch.<T>Storage, key, location,
//     numel) and torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...). The top-level dict
//     holds "model" (Detectron2 training checkpoints: "optimizer", "scheduler", "iteration" are skipped
//     and their storages never read) or is the state dict itself (an OrderedDict). Views are
//     materialized through their strides and storage offset (transposed / sliced tensors are fine).
//     Stored zip entries are read in place; deflated ones are inflated with zlib; zip64 is supported;
//     CRC-32 is verified for every entry read. The legacy (pre-1.6, non-zip) torch.save format is
//     detected and rejected ("legacy torch.save format; re-save with torch>=1.6").
// The format is detected from the content (zip magic "PK\x03\x04" vs pickle opcode 0x80), not the
// extension.
//
// dtypes: float32, float64, float16, bfloat16, int64, int32, int16, int8, uint8, bool, in either byte
// order (numpy '<'/'>'; torch's <archive>/byteorder), C or Fortran order; everything is converted to
// float32 (round to nearest; int64 values above 2^24 lose precision, as in numpy's astype(float32)).
// Entries of the state dict that are not tensors (ints, strings, None, nested dicts) are skipped; an
// entry that is an object of an unknown class (e.g. a pickled module or a numpy object array) is an
// error naming its key and the class.
//
// Performance: the file is read once into memory; tensor data are converted in bulk (memcpy for
// float32, F16C for float16 when compiled for x86-64-v3); a 170 MB R50 checkpoint loads in a fraction
// of a second.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "core/tensor.h"

namespace maskrt {

struct CheckpointTensor {
  Tensor value;            // float32, C-order
  std::string src_dtype;   // "float32", "float16", "float64", "bfloat16", "int64", "int32", "int16",
                           // "int8", "uint8", "bool"
};

// Throws maskrt::Error(kIo) if the file cannot be read, kBadCheckpoint (naming the file and what was
// wrong: truncated zip, unknown pickle opcode, missing storage record, unknown global, storage too
// small for a view...) if it is corrupt or unsupported; kOutOfMemory if the host allocation fails.
// Never crashes on malformed input, and never allocates much more than the file's size (tensor
// outputs are capped at 8x the file size + 64 MiB in total, which no real checkpoint approaches).
// Thread-safe (no shared state).
std::map<std::string, CheckpointTensor> load_checkpoint(const std::string& path);

// Same, from a checkpoint already in memory; `name` is used in error messages. `data` is only read
// during the call.
std::map<std::string, CheckpointTensor> load_checkpoint_from_memory(const uint8_t* data, size_t size,
                                                                    const std::string& name);

}  // namespace maskrt
