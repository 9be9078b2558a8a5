#pragma once
// One generic checker for CUDA runtime, cuBLAS and cuDNN status codes.
//
//   MASKRT_CUDA_CHECK(cudaMemcpyAsync(...));
//   MASKRT_CUDA_CHECK(cublasGemmEx(...));
//   MASKRT_CUDA_CHECK(cudnnConvolutionForward(...));
//
// A failure throws maskrt::Error whose message carries the library's error name and string, the
// checked expression, and file:line. The code is ErrorCode::kOutOfMemory for
// cudaErrorMemoryAllocation / CUBLAS_STATUS_ALLOC_FAILED / cuDNN host or device
// allocation failures and
// ErrorCode::kDevice for every other failure. (Pattern: ggml's CUDA_CHECK_GEN.)
//
// MASKRT_CUDA_CHECK_LAST() checks cudaGetLastError() (use after every kernel launch).
//
// Header-only and usable from .cu files (no spdlog/fmt). Includes cuda_runtime_api.h, and cublas_v2.h
// and cudnn.h when __has_include finds them (their overloads exist only then).
// Thread safety: stateless.
#include <cuda_runtime_api.h>

#if __has_include(<cublas_v2.h>)
#include <cublas_v2.h>
#define MASKRT_CUDA_CHECK_HAS_CUBLAS 1
#endif
#if __has_include(<cudnn.h>)
#include <cudnn.h>
#define MASKRT_CUDA_CHECK_HAS_CUDNN 1
#endif

#include <string>

#include "maskrt/errors.h"

namespace maskrt::cuda_detail {

// Each overload returns true on success; on failure fills `name` / `code`.
inline bool status_ok(cudaError_t s, std::string* what, ErrorCode* code) {
  if (s == cudaSuccess) return true;
  *what = std::string(cudaGetErrorName(s)) + " (" + cudaGetErrorString(s) + ")";
  *code = (s == cudaErrorMemoryAllocation) ? ErrorCode::kOutOfMemory : ErrorCode::kDevice;
  return false;
}

#ifdef MASKRT_CUDA_CHECK_HAS_CUBLAS
inline const char* cublas_status_name(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
    default: return "CUBLAS_STATUS_<unknown>";
  }
}
inline bool status_ok(cublasStatus_t s, std::string* what, ErrorCode* code) {
  if (s == CUBLAS_STATUS_SUCCESS) return true;
  *what = std::string(cublas_status_name(s)) + " (" + std::to_string(static_cast<int>(s)) + ")";
  *code = (s == CUBLAS_STATUS_ALLOC_FAILED) ? ErrorCode::kOutOfMemory : ErrorCode::kDevice;
  return false;
}
#endif

#ifdef MASKRT_CUDA_CHECK_HAS_CUDNN
inline bool status_ok(cudnnStatus_t s, std::string* what, ErrorCode* code) {
  if (s == CUDNN_STATUS_SUCCESS) return true;
  *what = std::string(cudnnGetErrorString(s)) + " (" + std::to_string(static_cast<int>(s)) + ")";
#if defined(CUDNN_MAJOR) && CUDNN_MAJOR >= 9
  const bool oom = s == CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED ||
                   s == CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED;
#else
  const bool oom = s == CUDNN_STATUS_ALLOC_FAILED;
#endif
  *code = oom ? ErrorCode::kOutOfMemory : ErrorCode::kDevice;
  return false;
}
#endif

template <typename Status>
inline void check(Status s, const char* expr, const char* file, int line) {
  std::string what;
  ErrorCode code = ErrorCode::kDevice;
  if (status_ok(s, &what, &code)) return;
  throw Error(code, std::string("CUDA call failed: ") + what + " in `" + expr + "` at " + file + ":" +
                        std::to_string(line));
}

}  // namespace maskrt::cuda_detail

#define MASKRT_CUDA_CHECK(expr) ::maskrt::cuda_detail::check((expr), #expr, __FILE__, __LINE__)
#define MASKRT_CUDA_CHECK_LAST() ::maskrt::cuda_detail::check(cudaGetLastError(), "cudaGetLastError()", __FILE__, __LINE__)
