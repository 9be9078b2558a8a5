#include "backend/cuda/pool_cudnn.h"

#include "backend/cuda/cuda_check.h"
#include "core/check.h"

namespace maskrt::cuda {

struct MaxPoolCudnn::Plan {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnPoolingDescriptor_t pool = nullptr;
  ~Plan() {
    if (x) cudnnDestroyTensorDescriptor(x);
    if (y) cudnnDestroyTensorDescriptor(y);
    if (pool) cudnnDestroyPoolingDescriptor(pool);
  }
};

namespace {
std::tuple<int, int, int, int, int> key(const DeviceTensor& t) {
  return {t.n, t.c, t.h, t.w, (t.dtype == DType::kF16 ? 1 : 0) | (t.layout == Layout::kNHWC ? 2 : 0)};
}
}  // namespace

MaxPoolCudnn::MaxPoolCudnn(int kernel, int stride, int pad) : kernel_(kernel), stride_(stride), pad_(pad) {}
MaxPoolCudnn::~MaxPoolCudnn() = default;

void MaxPoolCudnn::plan(const DeviceTensor& x) {
  if (plans_.count(key(x))) return;
  auto p = std::make_unique<Plan>();
  const cudnnDataType_t dt = x.dtype == DType::kF16 ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT;
  const cudnnTensorFormat_t fmt = x.layout == Layout::kNHWC ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
  MASKRT_CUDA_CHECK(cudnnCreateTensorDescriptor(&p->x));
  MASKRT_CUDA_CHECK(cudnnCreateTensorDescriptor(&p->y));
  MASKRT_CUDA_CHECK(cudnnCreatePoolingDescriptor(&p->pool));
  MASKRT_CUDA_CHECK(cudnnSetPooling2dDescriptor(p->pool, CUDNN_POOLING_MAX, CUDNN_PROPAGATE_NAN, kernel_, kernel_, pad_,
                                                pad_, stride_, stride_));
  MASKRT_CUDA_CHECK(cudnnSetTensor4dDescriptor(p->x, fmt, dt, x.n, x.c, x.h, x.w));
  MASKRT_CUDA_CHECK(cudnnSetTensor4dDescriptor(p->y, fmt, dt, x.n, x.c, out_size(x.h), out_size(x.w)));
  plans_.emplace(key(x), std::move(p));
}

void MaxPoolCudnn::forward(const CudaContext& ctx, const DeviceTensor& x, const DeviceTensor& y) {
  auto it = plans_.find(key(x));
  MASKRT_ASSERT(it != plans_.end(), "max_pool2d: forward on an unplanned shape");
  MASKRT_ASSERT(y.h == out_size(x.h) && y.w == out_size(x.w) && y.c == x.c && y.n == x.n);
  const float one = 1.f, zero = 0.f;
  MASKRT_CUDA_CHECK(cudnnPoolingForward(ctx.cudnn(), it->second->pool, &one, it->second->x, x.ptr, &zero,
                                        it->second->y, y.ptr));
}

}  // namespace maskrt::cuda
