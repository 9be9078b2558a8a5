#pragma once
// stem_s2d: the ResNet stem convolution (backbone.bottom_up.stem.conv1: 7x7, stride 2, padding 3,
// 3 input channels, no dilation, no groups) rewritten EXACTLY as a 4x4, stride 1, padding 0
// convolution over a space-to-depth ("s2d") copy of the image. Used by the fp16 CUDA pipeline when
// MASKRT_STEM_S2D=1 (model/cuda/backbone_cuda.h; the preprocess writes the s2d tensor directly,
// ops/resize/resize_cuda.h): cuDNN runs the dense 16-channel stride-1 conv far closer to the tensor
// cores' peak than the strided 7x7 over 8 (3 + 5 zero) channels. Not a Detectron2 layer: a pure
// re-indexing of the same sum, so only the summation order changes.
//
// Derivation (one axis; the other is the same). The stem computes, for output row y,
//   out[y] = sum_{ky=0..6} W[ky] * in[2y - 3 + ky]            (in = 0 outside the image)
// Write the input row as 2*Y + dy (dy in {0, 1}), i.e. S[Y][dy] = in[2Y + dy]. With ky = 2j + dy - 1
// (j = 0..3): 2y - 3 + ky = 2(y + j - 2) + dy, so
//   out[y] = sum_{j=0..3} sum_{dy} W'[j][dy] * S[y + j - 2][dy],  W'[j][dy] = W[2j + dy - 1]
// where the one tap with 2j + dy - 1 = -1 (j = 0, dy = 0) is zero. S row y + j - 2 runs from y - 2
// to y + 1: the s2d image needs kStemS2dPadBefore = 2 zero rows before and kStemS2dPadAfter = 1 after
// (an asymmetric border, which cuDNN cannot express, hence written into the tensor itself) and then
// the conv has padding 0. Output rows: ceil(H / 2) = (H + 2*3 - 7) / 2 + 1, the stem's own count.
//
// Layout of the s2d tensor (logical NCHW here; the CUDA preprocess writes it NHWC fp16):
//   S (N, kStemS2dChannels = 16, stem_s2d_size(H), stem_s2d_size(W)),
//   S[n][stem_s2d_channel(dy, dx, c)][Y][X] = x[n][c][stem_s2d_source(Y, dy)][stem_s2d_source(X, dx)]
//   with channel (dy * 2 + dx) * 3 + c (12 used, 12..15 zero), source 2 * (Y - 2) + dy, and 0 for a
//   source outside [0, H) x [0, W) (the stem's zero padding, and the border).
// Weights: W' (O, 16, 4, 4) from the folded stem weight W (O, 3, 7, 7):
//   W'[o][stem_s2d_channel(dy, dx, c)][jy][jx] = W[o][c][2 jy + dy - 1][2 jx + dx - 1], 0 when either
//   tap index is -1 and for channels 12..15. The bias (FrozenBN folded) and the ReLU are unchanged.
// `x` is the image exactly as the stem sees it: normalised and zero-padded to SIZE_DIVISIBILITY
// (those zeros are ordinary input; H and W may be odd here, the pipeline's are multiples of 32).
// Errors: maskrt::Error(kInvalidArgument) for x not (N, 3, H, W) with H, W >= 1, or w not (O, 3, 7, 7).
// Thread safety: reentrant.
#include "core/tensor.h"
#include "ops/conv2d/conv2d.h"

namespace maskrt::ops {

inline constexpr int kStemKernel = 7, kStemStride = 2, kStemPad = 3, kStemInChannels = 3;
inline constexpr int kStemS2dChannels = 16;  // 4 phases x 3 colour channels, padded to a multiple of 8
inline constexpr int kStemS2dKernel = 4;
inline constexpr int kStemS2dPadBefore = 2, kStemS2dPadAfter = 1;

// Rows (or columns) of the s2d tensor, border included, for an image of n rows (columns).
inline constexpr int stem_s2d_size(int n) { return (n + 1) / 2 + kStemS2dPadBefore + kStemS2dPadAfter; }
// s2d channel of phase (dy, dx) and colour channel c.
inline constexpr int stem_s2d_channel(int dy, int dx, int c) { return (dy * 2 + dx) * kStemInChannels + c; }
// Image row (column) that s2d row (column) `s` holds in phase `d` (may be outside the image: then 0).
inline constexpr int stem_s2d_source(int s, int d) { return 2 * (s - kStemS2dPadBefore) + d; }

// Whether a conv layer is the stem this rewrite covers (7x7, stride 2, padding 3, dilation 1,
// groups 1, 3 input channels): `weight_shape` is (O, C, KH, KW).
bool stem_s2d_applicable(const Conv2dParams& p, const Shape& weight_shape);
// The conv parameters of the rewritten layer (stride 1, padding 0), keeping p.relu.
Conv2dParams stem_s2d_conv_params(const Conv2dParams& p);
// (N, 3, H, W) -> (N, 16, stem_s2d_size(H), stem_s2d_size(W)). Host reference of the CUDA preprocess's
// s2d output (and the test oracle's input).
Tensor stem_s2d_input(const Tensor& x);
// (O, 3, 7, 7) -> (O, 16, 4, 4).
Tensor stem_s2d_weight(const Tensor& w);

}  // namespace maskrt::ops
