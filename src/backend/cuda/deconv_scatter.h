#pragma once
// Scatter step of the 2x2 stride-2 transposed convolution computed as a GEMM (deconv_cublas.h):
// G holds, for every input pixel p = (n, y, x), the O*4 products sum_c x[n,c,y,x] * W[c,o,ky,kx];
// this kernel writes out[n, o, 2y+ky, 2x+kx] = act(G + bias[o]).
//   nchw_fp32: G (N, O*4, H*W) float (index ((n*O*4 + o*4 + ky*2 + kx) * H*W + y*W + x)),
//              out (N, O, 2H, 2W) float, bias float.
//   nhwc_fp16: G (N*H*W, 4*O) __half (index ((n*H*W + y*W + x) * 4 + ky*2 + kx) * O + o: taps outer,
//              channels contiguous), out (N, 2H, 2W, O) __half, bias __half; the sum is formed in
//              float. O % 8 == 0 with 16-byte aligned buffers: 8 channels per thread.
//   nhwc_fp32: G (N*H*W, 4*O) float in nhwc_fp16's order, out (N, 2H, 2W, O) float, bias float; the
//              sum as nchw_fp32's. O % 4 == 0 with 16-byte aligned buffers: 4 channels per thread.
//              (tf32 with MASKRT_TF32_NHWC=1.)
// Errors: kInvalidArgument (also for nhwc_fp16 && nhwc_fp32) when the output has more than 2^31 - 256 values (int indexing).
// No workspace, no synchronisation. Thread safety: reentrant.
#include <cuda_runtime_api.h>

namespace maskrt::cuda {

struct DeconvScatterParams {
  int n = 0, out_channels = 0, in_h = 0, in_w = 0;
  bool nhwc_fp16 = false;
  bool nhwc_fp32 = false;
  bool relu = true;
};

void deconv2x2_scatter(const DeconvScatterParams& p, const void* gemm_out, const void* bias, void* out,
                       cudaStream_t stream);

}  // namespace maskrt::cuda
