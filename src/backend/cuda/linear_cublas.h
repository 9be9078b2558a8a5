#pragma once
// LinearCublas: a fully connected layer y = x W^T + b (optionally ReLU) with cuBLASLt, bias and ReLU
// fused through the matmul epilogue (CUBLASLT_EPILOGUE_BIAS / RELU_BIAS). Row-major host view:
// x (rows, in), W (out, in) as stored in the checkpoint, y (rows, out).
//
// Precision: kFP32 float32 with CUBLAS_COMPUTE_32F (no TF32); kTF32 float32 with
// CUBLAS_COMPUTE_32F_FAST_TF32; kFP16: x and W float16, float32 accumulation (CUBLAS_COMPUTE_32F);
// y float16, or float32 when `fp32_output` (the predictors: cls_score / bbox_pred feed fp32 box
// decoding); the bias has y's type.
// `in_permutation` (optional, size in): column j of the device weight is column in_permutation[j] of
// the checkpoint's W, e.g. to read pooled features stored (R, 7, 7, C) with weights made for (R, C, 7, 7).
// plan(rows) picks the algorithm (cublasLtMatmulAlgoGetHeuristic) once per row count and returns the
// workspace bytes forward() needs. Nothing here allocates or synchronises after construction.
// Errors: cuBLAS failures throw maskrt::Error(kDevice / kOutOfMemory).
// Thread safety: as ConvCudnn (one thread at a time).
#include <cublasLt.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backend/cuda/cuda_context.h"
#include "backend/cuda/device_buffer.h"
#include "backend/cuda/device_tensor.h"
#include "maskrt/engine.h"
#include "model/layers.h"

namespace maskrt::cuda {

class LinearCublas {
 public:
  static constexpr size_t kMaxWorkspaceBytes = size_t(32) << 20;

  LinearCublas();
  LinearCublas(const LinearLayer& layer, Precision precision, bool fp32_output, const std::string& name,
               const std::vector<int>& in_permutation = {});
  ~LinearCublas();
  LinearCublas(const LinearCublas&) = delete;
  LinearCublas& operator=(const LinearCublas&) = delete;
  LinearCublas(LinearCublas&&) noexcept;
  LinearCublas& operator=(LinearCublas&&) noexcept;

  int in_features() const { return in_; }
  int out_features() const { return out_; }
  DType in_dtype() const { return precision_ == Precision::kFP16 ? DType::kF16 : DType::kF32; }
  DType out_dtype() const { return fp32_output_ ? DType::kF32 : in_dtype(); }

  size_t plan(const CudaContext& ctx, int rows);
  // x: (rows, in) of in_dtype(); y: (rows, out) of out_dtype() (DeviceTensor n = rows).
  void forward(const CudaContext& ctx, const DeviceTensor& x, const DeviceTensor& y, void* workspace,
               size_t workspace_bytes);

 private:
  struct Plan;
  void release() noexcept;

  std::string name_;
  Precision precision_ = Precision::kFP32;
  bool fp32_output_ = true;
  bool relu_ = false;
  int in_ = 0, out_ = 0;
  DeviceBuffer weight_, bias_;
  cublasLtMatmulDesc_t desc_ = nullptr;
  cublasLtMatrixLayout_t a_layout_ = nullptr;  // W: (in x out) column-major, transposed in the op
  std::map<int, std::unique_ptr<Plan>> plans_;
};

}  // namespace maskrt::cuda
