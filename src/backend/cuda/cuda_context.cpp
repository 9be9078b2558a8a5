#include "backend/cuda/cuda_context.h"

#include <cstdio>

#include "backend/cuda/cuda_check.h"
#include "core/check.h"

namespace maskrt::cuda {

int cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" status
    return 0;
  }
  return n;
}

CudaContext::CudaContext(int device) : device_(device) {
  const int count = cuda_device_count();
  MASKRT_CHECK(device >= 0 && device < count, ErrorCode::kDevice, "CUDA device ", device,
               " is not available (the runtime sees ", count, " device(s))");
  MASKRT_CUDA_CHECK(cudaSetDevice(device_));
  MASKRT_CUDA_CHECK(cudaGetDeviceProperties(&props_, device_));
  try {
    MASKRT_CUDA_CHECK(cudaStreamCreateWithFlags(&own_stream_, cudaStreamNonBlocking));
    stream_ = own_stream_;
    MASKRT_CUDA_CHECK(cudnnCreate(&cudnn_));
    MASKRT_CUDA_CHECK(cudnnSetStream(cudnn_, stream_));
    MASKRT_CUDA_CHECK(cublasCreate(&own_cublas_));
    cublas_ = own_cublas_;
    MASKRT_CUDA_CHECK(cublasSetStream(cublas_, stream_));
    MASKRT_CUDA_CHECK(cublasLtCreate(&cublaslt_));
  } catch (...) {
    release();
    throw;
  }
}

CudaContext::~CudaContext() { release(); }

void CudaContext::release() noexcept {
  if (own_stream_) cudaStreamSynchronize(own_stream_);
  if (cublaslt_) cublasLtDestroy(cublaslt_);
  if (own_cublas_) cublasDestroy(own_cublas_);
  if (cudnn_) cudnnDestroy(cudnn_);
  if (own_stream_) cudaStreamDestroy(own_stream_);
  cublaslt_ = nullptr;
  cublas_ = own_cublas_ = nullptr;
  cudnn_ = nullptr;
  stream_ = own_stream_ = nullptr;
}

void CudaContext::bind_own_noexcept() noexcept {
  if (cudnn_ && stream_ != own_stream_) cudnnSetStream(cudnn_, own_stream_);
  stream_ = own_stream_;
  cublas_ = own_cublas_;
}

void CudaContext::bind(cudaStream_t stream, cublasHandle_t cublas) {
  if (stream == stream_ && cublas == cublas_) return;
  MASKRT_CUDA_CHECK(cudnnSetStream(cudnn_, stream));
  stream_ = stream;
  cublas_ = cublas;
}

std::string CudaContext::name() const {
  char buf[512];
  std::snprintf(buf, sizeof(buf), "%s (sm_%d%d, %.0f GiB)", props_.name, props_.major, props_.minor,
                static_cast<double>(props_.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0));
  return buf;
}

void CudaContext::make_current() const { MASKRT_CUDA_CHECK(cudaSetDevice(device_)); }

void CudaContext::synchronize() const { MASKRT_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

}  // namespace maskrt::cuda
