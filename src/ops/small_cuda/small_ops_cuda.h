#pragma once
// Small dense CUDA ops that cuDNN lacks (all: raw device pointers, a stream, no allocation, no host
// synchronisation; launch errors throw maskrt::Error(kDevice); argument errors kInvalidArgument).
// Layouts: see cuda_layout.h (kNchwFp32, kNhwcFp16, kNhwcFp32). fp16 kernels compute in float32 and
// round once to __half; kNhwcFp32 computes exactly as kNchwFp32 (same values, channels-last order,
// padding channels written 0).
// Thread safety: reentrant.
#include <cstdint>

#include <cuda_runtime_api.h>

#include "ops/small_cuda/cuda_layout.h"

namespace maskrt::ops {

// Activation tensor shape for the kernels below. c_stride: channel stride of kNhwcFp16 / kNhwcFp32
// (>= c; ignored for kNchwFp32).
struct CudaTensorDesc {
  int n = 1, c = 0, h = 0, w = 0;
  CudaLayout layout = CudaLayout::kNchwFp32;
  int c_stride = 0;
};

// max_pool2d(kernel 1, stride 2, padding 0), Detectron2's LastLevelMaxPool (P6 from P5):
// out (n, c, (h-1)/2+1, (w-1)/2+1), out[y][x] = in[2y][2x]; same layout and c_stride as in
// (padding channels copied).
void max_pool2d_k1s2_cuda(const CudaTensorDesc& in, const void* d_in, void* d_out, cudaStream_t stream);

// FPN top-down step: d_out = d_lateral + nearest_upsample_2x(d_top) (F.interpolate(scale_factor=2,
// mode="nearest"): out[y][x] = top[y/2][x/2]). lateral (n, c, h, w); top (n, c, h/2, w/2) with
// h, w even (padded inputs); both in lateral's layout/c_stride. d_out may alias d_lateral.
// float32 (NCHW or NHWC): lateral + up rounded once (same as the CPU). fp16: computed in float,
// rounded to __half. NHWC with c_stride % 8 (fp16) / % 4 (fp32) == 0 and 16-byte aligned buffers:
// 16-byte vectors, same arithmetic.
void upsample_nearest2x_add_cuda(const CudaTensorDesc& lateral, const void* d_lateral, const void* d_top,
                                 void* d_out, cudaStream_t stream);

// Mask head tail: for row i < *d_count, d_out[i] = sigmoid(logits[i, ch]) with ch = 0 when
// num_mask_classes == 1 (CLS_AGNOSTIC_MASK) else d_classes[i]; sigmoid = 1 / (1 + exp(-x)) in
// float32 (exp in double rounded to float). logits: desc (n = capacity, c = num_mask_classes, h = w = M)
// in any layout. d_out (capacity, M, M) float32; rows >= *d_count written 0.
void mask_select_sigmoid_cuda(const CudaTensorDesc& logits, const void* d_logits, const int* d_classes,
                              const int* d_count, float* d_out, cudaStream_t stream);

// Elementwise conversions (n elements; round to nearest even).
void fp32_to_fp16_cuda(const float* d_in, void* d_out_half, int64_t n, cudaStream_t stream);
void fp16_to_fp32_cuda(const void* d_in_half, float* d_out, int64_t n, cudaStream_t stream);

// Layout conversions. nchw_fp32_to_nhwc_fp16: in (n, c, h, w) float32 -> out (n, h, w, c_stride)
// __half, channels [c, c_stride) = 0. nhwc_fp16_to_nchw_fp32: the inverse (padding dropped).
// desc describes the NHWC side (layout kNhwcFp16, c_stride >= c).
void nchw_fp32_to_nhwc_fp16_cuda(const CudaTensorDesc& nhwc, const float* d_in, void* d_out, cudaStream_t stream);
void nhwc_fp16_to_nchw_fp32_cuda(const CudaTensorDesc& nhwc, const void* d_in, float* d_out, cudaStream_t stream);
// nhwc_fp32_to_nchw_fp32: (n, h, w, c_stride) float32 -> (n, c, h, w) float32, padding dropped
// (exact copy). desc: layout kNhwcFp32, c_stride >= c. (The tf32 NHWC pipeline's RPN head outputs.)
void nhwc_fp32_to_nchw_fp32_cuda(const CudaTensorDesc& nhwc, const float* d_in, float* d_out, cudaStream_t stream);

// RPN head output split (model/cuda/rpn_cuda.h, NHWC layouts): the fused 1x1 layer
// "objectness_logits+anchor_deltas" writes, per level l, one NHWC tensor head (n, h_l, w_l, c_stride)
// (kNhwcFp16 __half or kNhwcFp32 float) whose channels [0, A) are Detectron2's objectness_logits
// and [A, 5A) its anchor_deltas (channel A + 4a + k = delta k of anchor a), [5A, c_stride) padding
// (not read). One launch for all levels writes the float32 NCHW planes that rpn_proposals_cuda reads:
//   logits_l (n, A, h_l, w_l):  logits_l[b][a][y][x]  = head_l[b][y][x][a]
//   deltas_l (n, 4A, h_l, w_l): deltas_l[b][j][y][x]  = head_l[b][y][x][A + j]
// Exact: float copies, __half -> float is exact. Outputs must not overlap the inputs.
inline constexpr int kRpnHeadSplitMaxLevels = 8;
struct RpnHeadSplitLevel {
  const void* head = nullptr;  // (n, h, w, c_stride) __half or float
  float* logits = nullptr;     // (n, A, h, w)
  float* deltas = nullptr;     // (n, 4A, h, w)
  int h = 0, w = 0;
};
struct RpnHeadSplitParams {
  int num_levels = 0;   // 1..kRpnHeadSplitMaxLevels
  int n = 0;            // images (>= 0; 0: nothing to do)
  int num_anchors = 0;  // A >= 1
  int c_stride = 0;     // channels per pixel of head, >= 5A
  CudaLayout layout = CudaLayout::kNhwcFp16;  // kNhwcFp16 or kNhwcFp32
  RpnHeadSplitLevel levels[kRpnHeadSplitMaxLevels];
};
// Errors (kInvalidArgument): num_levels out of range, n < 0, A < 1, c_stride < 5A, a kNchwFp32
// layout, a level with h or w < 1 or a null pointer (when n > 0); launch errors kDevice.
void rpn_head_split_nhwc_cuda(const RpnHeadSplitParams& p, cudaStream_t stream);

}  // namespace maskrt::ops
