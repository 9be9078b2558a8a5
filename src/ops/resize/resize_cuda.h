#pragma once
// CUDA preprocess: Pillow-exact bilinear resize (bit-identical to resize_bilinear_pillow_cpu, same
// pass order and intermediate uint8 rounding, see resize.h), then Detectron2's
// GeneralizedRCNN.preprocess_image: channel flip to INPUT.FORMAT, (float(v) - mean[c]) / std[c]
// (float32, true division), zero padding to (pad_h, pad_w) (value 0 after normalisation, as
// ImageList.from_tensors pads the normalised image).
//
// Input  d_src_hwc: (in_h, in_w, 3) uint8, interleaved (the decoded image, e.g. RGB).
// Output d_dst:
//   nhwc_fp16 == nhwc_fp32 == false: (3, pad_h, pad_w) float32 (NCHW, N = 1);
//   nhwc_fp16 == true:  (pad_h, pad_w, kPreprocessNhwcChannels = 8) __half, 16-byte aligned (one
//     16-byte store per pixel; a misaligned pointer is a bug and asserts); channels 3..7 are 0 so
//     cuDNN can use tensor cores (C % 8 == 0). The stem conv (backbone.bottom_up.stem.conv1.weight,
//     (64, 3, 7, 7)) must be padded the same way: (64, 7, 7, 8) KRSC with input channels 3..7 = 0.
//   nhwc_fp32 == true (tf32 with MASKRT_TF32_NHWC=1): (pad_h, pad_w, kPreprocessNhwcF32Channels = 4)
//     float32, 16-byte aligned (one 16-byte store per pixel; asserts otherwise); channel 3 is 0 and the
//     values are exactly the NCHW output's. The stem conv's filter is padded to 4 input channels (KRSC).
//   nhwc_fp16 && stem_s2d (MASKRT_STEM_S2D=1, model/cuda/backbone_cuda.h): the same fp16 values
//     rearranged for the space-to-depth stem (ops/stem_s2d/stem_s2d.h): (stem_s2d_size(pad_h),
//     stem_s2d_size(pad_w), kStemS2dChannels = 16) __half, 16-byte aligned (two 16-byte stores per
//     pixel), pixel (Y, X) channel stem_s2d_channel(dy, dx, c) = the padded image's
//     (stem_s2d_source(Y, dy), stem_s2d_source(X, dx), c), 0 outside it (the 2-before / 1-after zero
//     border, the size-divisibility padding) and in channels 12..15. Bit-identical to applying
//     stem_s2d_input to the plain fp16 output. The stem conv is then 4x4 / stride 1 / pad 0 with
//     stem_s2d_weight's filter.
// Output channel c reads input channel (flip_channels ? 2 - c : c); mean/std are indexed by the
// OUTPUT channel (the model's PIXEL_MEAN / PIXEL_STD order).
// Requires out_h <= pad_h, out_w <= pad_w, all sizes >= 1, not both nhwc_fp16 and nhwc_fp32, and
// nhwc_fp16 when stem_s2d
// (validate_preprocess throws maskrt::Error(kInvalidArgument) otherwise; preprocess_cuda calls it).
//
// Coefficients: make_pillow_coeffs(in_w, out_w) (horizontal) and make_pillow_coeffs(in_h, out_h)
// (vertical) on the host, packed with pack_pillow_coeffs into one blob that the caller copies to the
// device once per (in, out) size; device_pillow_coeffs() makes the view of that device copy.
// Workspace: preprocess_workspace_bytes(params) bytes (two uint8 intermediates), 256-byte aligned.
// No allocation, no host synchronisation; errors from the launch throw maskrt::Error(kDevice).
// Thread safety: reentrant; concurrent calls need distinct workspaces / outputs.
#include <cstddef>
#include <cstdint>
#include <vector>

#include <cuda_runtime_api.h>

#include "ops/resize/pillow_coeffs.h"

namespace maskrt::ops {

inline constexpr int kPreprocessNhwcChannels = 8;
inline constexpr int kPreprocessNhwcF32Channels = 4;

struct PreprocessCudaParams {
  int in_h = 0, in_w = 0;    // decoded image
  int out_h = 0, out_w = 0;  // resized (ResizeShortestEdge) size
  int pad_h = 0, pad_w = 0;  // padded to SIZE_DIVISIBILITY
  bool flip_channels = false;
  float mean[3] = {0.f, 0.f, 0.f};
  float std[3] = {1.f, 1.f, 1.f};
  bool nhwc_fp16 = false;
  bool nhwc_fp32 = false;  // tf32 NHWC pipeline (see above); exclusive with nhwc_fp16
  bool stem_s2d = false;  // nhwc_fp16 only: write the space-to-depth stem input (see above)
};

void validate_preprocess(const PreprocessCudaParams& p);

// Device view of uploaded coefficients (pointers into one device blob).
struct DeviceCoeffs {
  const int32_t* h_first = nullptr;  // horizontal axis (in_w -> out_w)
  const int32_t* h_count = nullptr;
  const int32_t* h_weights = nullptr;
  int h_max_taps = 0;
  const int32_t* v_first = nullptr;  // vertical axis (in_h -> out_h)
  const int32_t* v_count = nullptr;
  const int32_t* v_weights = nullptr;
  int v_max_taps = 0;
};

// Host blob holding both axes (int32 words): copy it to device memory as is.
std::vector<int32_t> pack_pillow_coeffs(const PillowCoeffs& horizontal, const PillowCoeffs& vertical);
DeviceCoeffs device_pillow_coeffs(const PillowCoeffs& horizontal, const PillowCoeffs& vertical,
                                  const void* d_blob);

size_t preprocess_workspace_bytes(const PreprocessCudaParams& p);
void preprocess_cuda(const PreprocessCudaParams& p, const uint8_t* d_src_hwc, const DeviceCoeffs& coeffs,
                     void* d_dst, void* workspace, cudaStream_t stream);

// Resize only (uint8 HWC, channels 1..4) -> d_dst (out_h, out_w, channels) uint8; for tests and
// tools. Workspace: resize_cuda_workspace_bytes.
size_t resize_cuda_workspace_bytes(int in_h, int in_w, int out_h, int out_w, int channels);
void resize_bilinear_pillow_cuda(int in_h, int in_w, int out_h, int out_w, int channels, const uint8_t* d_src,
                                 const DeviceCoeffs& coeffs, uint8_t* d_dst, void* workspace, cudaStream_t stream);

}  // namespace maskrt::ops
