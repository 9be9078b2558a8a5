#pragma once
// Activation layouts used by the CUDA kernels of src/ops (no CUDA types; host-includable).
//   kNchwFp32: (N, C, H, W) float32, the CPU layout.
//   kNhwcFp16: (N, H, W, C) __half with a channel stride `c_stride` >= C (channels [C, c_stride) are
//              padding, written as 0 by kernels that produce this layout). cuDNN's fp16 tensor-core
//              convolutions want c_stride % 8 == 0.
//   kNhwcFp32: (N, H, W, C) float32 with a channel stride `c_stride` >= C, padding as kNhwcFp16: the
//              tf32 pipeline's activations under MASKRT_TF32_NHWC=1 (docs/DESIGN-cuda.md). Kernels
//              take 16-byte vectors (4 floats) when c_stride % 4 == 0 and the buffers are aligned.
namespace maskrt::ops {
enum class CudaLayout { kNchwFp32, kNhwcFp16, kNhwcFp32 };

// Whether the layout stores channels last (with a channel stride) / stores __half values.
constexpr bool is_nhwc(CudaLayout l) { return l != CudaLayout::kNchwFp32; }
constexpr bool is_half(CudaLayout l) { return l == CudaLayout::kNhwcFp16; }
}  // namespace maskrt::ops
