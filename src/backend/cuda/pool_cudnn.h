#pragma once
// MaxPoolCudnn: max_pool2d with cuDNN (the ResNet stem's 3x3 stride-2 padding-1 pool,
// F.max_pool2d semantics: padded cells never win, floor output size). fp32 NCHW, fp16 NHWC or fp32
// NHWC (tf32 with MASKRT_TF32_NHWC=1) as the DeviceTensor says. Descriptors are cached per input shape by plan(); forward() of an
// unplanned shape asserts. Errors: cuDNN failures throw maskrt::Error. Thread safety: one thread.
#include <cudnn.h>

#include <map>
#include <memory>
#include <tuple>

#include "backend/cuda/cuda_context.h"
#include "backend/cuda/device_tensor.h"

namespace maskrt::cuda {

class MaxPoolCudnn {
 public:
  MaxPoolCudnn(int kernel, int stride, int pad);
  ~MaxPoolCudnn();
  MaxPoolCudnn(const MaxPoolCudnn&) = delete;
  MaxPoolCudnn& operator=(const MaxPoolCudnn&) = delete;

  int out_size(int in) const { return (in + 2 * pad_ - kernel_) / stride_ + 1; }
  void plan(const DeviceTensor& x);
  void forward(const CudaContext& ctx, const DeviceTensor& x, const DeviceTensor& y);

 private:
  struct Plan;
  int kernel_, stride_, pad_;
  std::map<std::tuple<int, int, int, int, int>, std::unique_ptr<Plan>> plans_;
};

}  // namespace maskrt::cuda
