#pragma once
// im2col for fp16 convolutions run as one matmul (conv_cudnn.h): the column matrix of a K x K
// convolution with stride s and zero padding p, groups 1, in the order the layer's stored weights expect:
// x: (n, h, w, c) __half NHWC (c = the layer's padded input channels); col (n*oh*ow, K*K*c) row-major,
// row = (image, oy, ox), column = (ky, kx, ch) with ch fastest (KRSC weights).
// Taps outside the input read 0 (Detectron2/torch zero padding). Values are copied, not rounded.
// col must hold im2col_elements() elements of x's type. One kernel, no allocation, stream-ordered,
// capturable in CUDA graphs. Thread safety: reentrant.
#include <cuda_runtime_api.h>

#include <cstdint>

namespace maskrt::cuda {

struct Im2colShape {
  int n = 0, c = 0, h = 0, w = 0;  // input
  int k = 1, stride = 1, pad = 0;
  int oh = 0, ow = 0;  // output: (h + 2 pad - k) / stride + 1, likewise ow
};

inline int64_t im2col_elements(const Im2colShape& s) {
  return int64_t{s.n} * s.oh * s.ow * s.c * s.k * s.k;
}

void im2col_nhwc_half(const Im2colShape& s, const void* x, void* col, cudaStream_t stream);

}  // namespace maskrt::cuda
