#pragma once
// DeconvCublas: the mask head's ConvTranspose2d(C, O, kernel 2, stride 2, padding 0) + bias + ReLU
// (detectron2 MaskRCNNConvUpsampleHead.deconv), as a GEMM with cuBLAS followed by a scatter kernel
// (deconv_scatter.h). With stride == kernel the output pixels of different input pixels never
// overlap, so out[n, o, 2y+ky, 2x+kx] = b[o] + sum_c x[n, c, y, x] * W[c, o, ky, kx] exactly.
//   kFP32 / kTF32: x (N, C, H, W) float32 -> out (N, O, 2H, 2W); one strided-batched GEMM over N,
//                  CUBLAS_COMPUTE_32F (kFP32) or CUBLAS_COMPUTE_32F_FAST_TF32 (kTF32);
//   kFP16: x (N, H, W, C) float16 -> out (N, 2H, 2W, O); one GEMM, float32 accumulation;
//   kTF32 with layout kNHWC (MASKRT_TF32_NHWC=1): x (N, H, W, C) float32 -> out (N, 2H, 2W, O) float32;
//          one GEMM as kFP16's, CUBLAS_COMPUTE_32F_FAST_TF32.
// Weight: (C, O, 2, 2) as in the checkpoint (roi_heads.mask_head.deconv.weight), bias (O).
// Scratch: scratch_bytes(n, h, w) for the GEMM output (the caller carves it from the arena).
// Errors: cuBLAS failures throw maskrt::Error. Thread safety: const after construction; reentrant
// with distinct scratch on distinct streams/handles.
#include <string>

#include "backend/cuda/cuda_context.h"
#include "backend/cuda/device_buffer.h"
#include "backend/cuda/device_tensor.h"
#include "core/tensor.h"
#include "maskrt/engine.h"

namespace maskrt::cuda {

class DeconvCublas {
 public:
  DeconvCublas() = default;
  // layout: kNCHW, or kNHWC for kTF32 (fp16 is always NHWC, fp32 always NCHW).
  DeconvCublas(const Tensor& weight, const Tensor& bias, bool relu, Precision precision, const std::string& name,
               Layout layout = Layout::kNCHW);

  int in_channels() const { return in_c_; }
  int out_channels() const { return out_c_; }
  size_t scratch_bytes(int n, int h, int w) const;
  void forward(const CudaContext& ctx, const DeviceTensor& x, const DeviceTensor& y, void* scratch) const;

 private:
  std::string name_;
  Precision precision_ = Precision::kFP32;
  bool relu_ = true;
  bool nhwc_f32_ = false;  // kTF32 with layout kNHWC
  int in_c_ = 0, out_c_ = 0;
  DeviceBuffer weight_, bias_;
};

}  // namespace maskrt::cuda
