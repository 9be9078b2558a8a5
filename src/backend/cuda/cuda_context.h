#pragma once
// CudaContext: the execution context of the CUDA backend (RAII): one device, one non-blocking stream,
// one cuDNN handle, one cuBLAS handle and one cuBLASLt handle bound to that stream, and the device's
// properties. Created once per engine; handles are never created per call.
//
// Errors: the constructor throws maskrt::Error(kDevice) when there is no usable CUDA device (message
// names the device index and the CUDA error) and kDevice/kOutOfMemory for handle creation failures.
// Thread safety: a context is used by one thread at a time (the engine serialises its pipeline).
//
// Lanes: an engine that keeps several images in flight at once (CudaGeneralizedRCNN's concurrent
// streams) gives each extra lane its own stream and cuBLAS handle (cuBLAS keeps a default workspace
// per handle, which two streams must not share) and points the context at them with bind() while it
// enqueues that lane's work; the cuDNN handle is re-bound to the lane's stream (cudnnSetStream) and
// cuBLASLt takes the stream per call. bind_own() returns to the context's own stream and handles.
// Every op reads stream() / cudnn() / cublas() when it enqueues, so one host thread can interleave
// lanes; the plans (algorithm choices) are shared, so every lane runs the same kernels.
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <string>

namespace maskrt::cuda {

class CudaContext {
 public:
  explicit CudaContext(int device = 0);
  ~CudaContext();
  CudaContext(const CudaContext&) = delete;
  CudaContext& operator=(const CudaContext&) = delete;

  int device() const { return device_; }
  cudaStream_t stream() const { return stream_; }  // the bound stream (own or a lane's)
  cudnnHandle_t cudnn() const { return cudnn_; }
  cublasHandle_t cublas() const { return cublas_; }
  cublasLtHandle_t cublaslt() const { return cublaslt_; }
  const cudaDeviceProp& properties() const { return props_; }
  std::string name() const;  // e.g. "NVIDIA H200 (sm_90, 139 GiB)"

  // Binds another stream and cuBLAS handle (a lane's, see above); the cuDNN handle follows the stream.
  void bind(cudaStream_t stream, cublasHandle_t cublas);
  void bind_own() { bind(own_stream_, own_cublas_); }
  // bind_own() for exception and destructor paths: never throws (a failed cudnnSetStream is ignored).
  void bind_own_noexcept() noexcept;
  cudaStream_t own_stream() const { return own_stream_; }
  cublasHandle_t own_cublas() const { return own_cublas_; }

  // Makes this context's device current on the calling thread.
  void make_current() const;
  // Blocks the host until all work on the bound stream is done (warm-up, planning and tests only).
  void synchronize() const;

 private:
  void release() noexcept;

  int device_ = 0;
  cudaStream_t stream_ = nullptr, own_stream_ = nullptr;
  cudnnHandle_t cudnn_ = nullptr;
  cublasHandle_t cublas_ = nullptr, own_cublas_ = nullptr;
  cublasLtHandle_t cublaslt_ = nullptr;
  cudaDeviceProp props_{};
};

// Number of CUDA devices the runtime sees (0 when no driver / no GPU; never throws).
int cuda_device_count();

}  // namespace maskrt::cuda
