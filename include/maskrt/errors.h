#pragma once
// Errors raised by maskrt's public API.
//
// Every failure that a user can cause (bad file, unsupported config, shape mismatch, out of memory,
// CUDA failure) is reported as a maskrt::Error whose message names the thing (file, tensor, config key)
// and the reason. Broken internal invariants abort with file and line (MASKRT_ASSERT); they are bugs.
#include <stdexcept>
#include <string>

namespace maskrt {

enum class ErrorCode {
  kInvalidArgument,   // a caller-provided value is out of range or malformed
  kIo,                // a file cannot be opened, read or written
  kBadImage,          // an image file cannot be decoded (truncated, not an image, absurd header)
  kBadCheckpoint,     // a checkpoint is corrupt, or its tensors do not fit the model
  kBadConfig,         // a config key is unknown, malformed, or has an invalid value
  kUnsupported,       // valid Detectron2, but not implemented by maskrt (C4 heads, cascade, ...)
  kOutOfMemory,       // host or device allocation failed (message carries the size)
  kDevice,            // CUDA / cuDNN / cuBLAS failure other than out-of-memory
  kInternal,
};

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace maskrt
