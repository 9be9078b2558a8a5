#pragma once
// conv2d: 2-D cross-correlation, as torch.nn.functional.conv2d (zero padding, padding_mode="zeros"),
// with optional bias and fused ReLU. FrozenBN is folded into weight/bias at load by the model, so no
// norm here. Detectron2's Conv2d (detectron2/layers/wrappers.py) calls F.conv2d then norm then
// activation; with the norm folded that is conv + bias + ReLU, which is what this op computes.
//   x (N, C, H, W) float32, w (O, C/groups, KH, KW), bias (O) or undefined -> y (N, O, OH, OW)
//   OH = (H + 2*pad_h - dilation_h*(KH-1) - 1) / stride_h + 1 (floor), same for OW.
//
// Errors (maskrt::Error kInvalidArgument, message names the tensor and the mismatch): x or w not 4-D,
// C not divisible by groups, w.size(1) != C/groups, O not divisible by groups, bias defined but not
// (O,), stride/dilation < 1, pad < 0, groups < 1, or an empty output (OH < 1 or OW < 1). N == 0 is
// allowed and gives an empty y.
//
// Thread safety: the functions are reentrant (no shared mutable state) except that conv2d_cpu sets
// OpenBLAS's process-global thread count to 1 and, on its first call, may switch OpenBLAS to its
// AVX-512/AVX2 kernels when OpenBLAS fell back to SSE3 ones (see ops/linear/blas_threading.h).
// Concurrent calls are safe but each uses omp_get_max_threads() threads, so they oversubscribe.
#include <cstddef>
#include <vector>

#include "core/tensor.h"

namespace maskrt::ops {

struct Conv2dParams {
  int stride_h = 1, stride_w = 1;
  int pad_h = 0, pad_w = 0;
  int dilation_h = 1, dilation_w = 1;
  int groups = 1;
  bool relu = false;  // y = max(y, 0) after the bias
};

// Validates shapes (throws maskrt::Error kInvalidArgument naming the mismatch) and returns y's shape.
Shape conv2d_output_shape(const Conv2dParams& p, const Shape& x, const Shape& w);

// Scalar reference: direct 7-loop convolution, double accumulation. The oracle for the other versions.
Tensor conv2d_ref(const Conv2dParams& p, const Tensor& x, const Tensor& w, const Tensor& bias);

// CPU: OpenMP over (image, group, tile of output positions); per tile, im2col into a per-thread
// buffer then single-threaded OpenBLAS sgemm writing straight into y, then bias + ReLU on the tile
// while it is in cache. 1x1 convs with no padding skip im2col: stride 1 reads x in place, stride > 1
// gathers the subsampled pixels. Threads: omp_get_max_threads(). Float accumulation (OpenBLAS), so
// results differ from conv2d_ref by rounding only (relative ~1e-6 * sqrt(C*KH*KW)).
Tensor conv2d_cpu(const Conv2dParams& p, const Tensor& x, const Tensor& w, const Tensor& bias);

// Scratch conv2d_cpu allocates internally for one call (bytes, all threads together), for memory
// planning and benchmarks. Validates like conv2d_output_shape.
size_t conv2d_cpu_workspace_bytes(const Conv2dParams& p, const Shape& x, const Shape& w, int num_threads);

// Filters of a conv2d: weight (O, C/groups, KH, KW) and bias (O) or undefined (no bias).
struct Conv2dFilters {
  Tensor weight;
  Tensor bias;
};

// Several convolutions that read the same input with the same Conv2dParams (groups == 1) stacked
// into one along the output channels: the result's output is torch.cat([conv_0(x), conv_1(x), ...],
// dim=1) followed by `out_channels_padded - sum(O_i)` padding channels whose filters and bias are 0
// (so their output is 0, also after ReLU). Undefined biases count as zeros; the result's bias is
// always defined, (out_channels_padded). Values are copied exactly. Used by the CUDA RPN head to run
// objectness_logits and anchor_deltas as one 1x1 layer (model/cuda/rpn_cuda.h).
// Errors (kInvalidArgument, naming the part and the mismatch): groups != 1, no parts, a weight not
// 4-D or with (C, KH, KW) differing from part 0's, a defined bias not (O_i), out_channels_padded <
// sum(O_i).
Conv2dFilters concat_conv2d_out_channels(const Conv2dParams& p, const std::vector<Conv2dFilters>& parts,
                                         int64_t out_channels_padded);

}  // namespace maskrt::ops
