#pragma once
// Convolution epilogue on the device, in place: y = relu?((y + bias[c]) + z?), one pass over y
// (Detectron2's order: conv + bias, then the shortcut; ReLU keeps NaN as torch's does).
// Used after cudnnConvolutionForward where cuDNN's fused cudnnConvolutionBiasActivationForward would
// run a slow kernel: with ReLU the legacy fused call executes IMPLICIT_PRECOMP_GEMM whatever algorithm
// was found, which for fp16 NHWC and TF32 is a non-tensor-core kernel (measured on the H200 with ncu:
// implicit_convolve_sgemm<__half> took ~9 ms of an 8-15 ms image; docs/PERFORMANCE.md).
// Layout: fp16 -> NHWC __half (channel = index % c); fp32/tf32 -> NCHW float (channel = index / hw % c).
// The sum is formed in float32 (y, z converted), then rounded once to the storage type.
// Thread safety: stream-ordered; capturable in CUDA graphs (one kernel, no allocation).
#include <cuda_runtime_api.h>

#include <cstdint>

namespace maskrt::cuda {

void conv_epilogue(bool half_nhwc, void* y, const void* z, const float* bias, int64_t n, int c, int64_t hw,
                   bool relu, cudaStream_t stream);

// The same for NHWC float32 (the tf32 pipeline under MASKRT_TF32_NHWC=1): y, z (n, hw, c) float32,
// channel = index % c; the arithmetic is the NCHW float path's (one float32 rounding per add).
void conv_epilogue_nhwc_float(float* y, const float* z, const float* bias, int64_t n, int c, int64_t hw, bool relu,
                              cudaStream_t stream);

}  // namespace maskrt::cuda
