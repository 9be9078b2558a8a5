#pragma once
// Activation layouts used by the CUDA kernels of src/ops (no CUDA types; host-includable).
//   kNchwFp32: (N, C, H, W) float32, the CPU layout.
//   kNhwcFp16: (N, H, W, C) __half with a channel stride `c_stride` >= C (channels [C, c_stride) are
//              padding, written as 0 by kernels that produce this layout). cuDNN's fp16 tensor-core
//              convolutions want c_stride % 8 == 0.
namespace maskrt::ops {
enum class CudaLayout { kNchwFp32, kNhwcFp16 };
}  // namespace maskrt::ops
