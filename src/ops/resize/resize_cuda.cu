// CUDA Pillow-exact bilinear resize + Detectron2 preprocess (see resize_cuda.h). The two passes
// use the host-made fixed-point coefficients (pillow_coeffs.h) and the same int32 arithmetic as
// resize_cpu.cpp; the intermediate image is uint8 (rounded and clipped), so results are bit-identical.
#include "ops/resize/resize_cuda.h"

#include <algorithm>

#include <cuda_fp16.h>

#include "backend/cuda/cuda_check.h"
#include "core/check.h"
#include "ops/resize/resize.h"
#include "ops/small_cuda/cuda_workspace.h"

namespace maskrt::ops {
namespace {

constexpr int kThreads = 256;
unsigned blocks_for(int64_t n) { return static_cast<unsigned>((n + kThreads - 1) / kThreads); }

__device__ __forceinline__ uint8_t round_clip(int32_t acc) {
  const int32_t v = acc >> kPillowPrecisionBits;
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// out (rows, out_w, C) from source rows [row_first, row_first + rows) of (*, in_w, C).
__global__ void horizontal_kernel(const uint8_t* in, int in_w, int row_first, int rows, int out_w, int C,
                                  const int32_t* first, const int32_t* count, const int32_t* weights, int max_taps,
                                  uint8_t* out) {
  const int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (i >= int64_t{rows} * out_w * C) return;
  const int ch = static_cast<int>(i % C);
  const int x = static_cast<int>((i / C) % out_w);
  const int y = static_cast<int>(i / (int64_t{C} * out_w));
  const uint8_t* s = in + (int64_t{y + row_first} * in_w + first[x]) * C + ch;
  const int32_t* w = weights + int64_t{x} * max_taps;
  int32_t acc = 1 << (kPillowPrecisionBits - 1);
  for (int k = 0; k < count[x]; ++k) acc += static_cast<int32_t>(s[k * C]) * w[k];
  out[i] = round_clip(acc);
}

// out (out_h, row_len) from src rows (absolute index minus src_row0) of length row_len.
__global__ void vertical_kernel(const uint8_t* src, int src_row0, int row_len, int out_h, const int32_t* first,
                                const int32_t* count, const int32_t* weights, int max_taps, uint8_t* out) {
  const int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (i >= int64_t{out_h} * row_len) return;
  const int col = static_cast<int>(i % row_len);
  const int y = static_cast<int>(i / row_len);
  const int32_t* w = weights + int64_t{y} * max_taps;
  const uint8_t* s = src + int64_t{first[y] - src_row0} * row_len + col;
  int32_t acc = 1 << (kPillowPrecisionBits - 1);
  for (int k = 0; k < count[y]; ++k) acc += static_cast<int32_t>(s[int64_t{k} * row_len]) * w[k];
  out[i] = round_clip(acc);
}

struct NormParams {
  int out_h, out_w, pad_h, pad_w;
  bool flip;
  float mean[3], std[3];
};

__global__ void normalize_nchw_kernel(NormParams p, const uint8_t* img, float* dst) {
  const int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (i >= int64_t{3} * p.pad_h * p.pad_w) return;
  const int x = static_cast<int>(i % p.pad_w);
  const int y = static_cast<int>((i / p.pad_w) % p.pad_h);
  const int c = static_cast<int>(i / (int64_t{p.pad_w} * p.pad_h));
  float v = 0.f;
  if (y < p.out_h && x < p.out_w) {
    const int sc = p.flip ? 2 - c : c;
    v = __fdiv_rn(__fsub_rn(static_cast<float>(img[(int64_t{y} * p.out_w + x) * 3 + sc]), p.mean[c]), p.std[c]);
  }
  dst[i] = v;
}

__global__ void normalize_nhwc_fp16_kernel(NormParams p, const uint8_t* img, __half* dst) {
  const int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (i >= int64_t{p.pad_h} * p.pad_w * kPreprocessNhwcChannels) return;
  const int c = static_cast<int>(i % kPreprocessNhwcChannels);
  const int x = static_cast<int>((i / kPreprocessNhwcChannels) % p.pad_w);
  const int y = static_cast<int>(i / (int64_t{kPreprocessNhwcChannels} * p.pad_w));
  float v = 0.f;
  if (c < 3 && y < p.out_h && x < p.out_w) {
    const int sc = p.flip ? 2 - c : c;
    v = __fdiv_rn(__fsub_rn(static_cast<float>(img[(int64_t{y} * p.out_w + x) * 3 + sc]), p.mean[c]), p.std[c]);
  }
  dst[i] = __float2half_rn(v);
}

// The resize passes; `dst` receives (out_h, out_w, C). Carves its intermediate from `w`.
void resize_passes(int in_h, int in_w, int out_h, int out_w, int C, const uint8_t* src, const DeviceCoeffs& k,
                   uint8_t* dst, WorkspaceCarver& w, cudaStream_t stream, bool vertical_first) {
  const bool need_h = out_w != in_w, need_v = out_h != in_h;
  // Intermediate: the larger of the two pass orders' needs (measured and carved identically).
  uint8_t* tmp = w.take<uint8_t>(std::max(int64_t{out_h} * in_w, int64_t{in_h} * out_w) * C);
  if (w.measuring() || dst == nullptr) return;
  if (!need_h && !need_v) {
    MASKRT_CUDA_CHECK(cudaMemcpyAsync(dst, src, size_t(in_h) * in_w * C, cudaMemcpyDeviceToDevice, stream));
    return;
  }
  if (!need_h) {
    vertical_kernel<<<blocks_for(int64_t{out_h} * in_w * C), kThreads, 0, stream>>>(
        src, 0, in_w * C, out_h, k.v_first, k.v_count, k.v_weights, k.v_max_taps, dst);
  } else if (!need_v) {
    horizontal_kernel<<<blocks_for(int64_t{in_h} * out_w * C), kThreads, 0, stream>>>(
        src, in_w, 0, in_h, out_w, C, k.h_first, k.h_count, k.h_weights, k.h_max_taps, dst);
  } else if (vertical_first) {
    vertical_kernel<<<blocks_for(int64_t{out_h} * in_w * C), kThreads, 0, stream>>>(
        src, 0, in_w * C, out_h, k.v_first, k.v_count, k.v_weights, k.v_max_taps, tmp);
    MASKRT_CUDA_CHECK_LAST();
    horizontal_kernel<<<blocks_for(int64_t{out_h} * out_w * C), kThreads, 0, stream>>>(
        tmp, in_w, 0, out_h, out_w, C, k.h_first, k.h_count, k.h_weights, k.h_max_taps, dst);
  } else {
    // Horizontal over every source row (rows outside the vertical taps are computed but unused;
    // each row is independent, so the result equals Pillow's restricted pass).
    horizontal_kernel<<<blocks_for(int64_t{in_h} * out_w * C), kThreads, 0, stream>>>(
        src, in_w, 0, in_h, out_w, C, k.h_first, k.h_count, k.h_weights, k.h_max_taps, tmp);
    MASKRT_CUDA_CHECK_LAST();
    vertical_kernel<<<blocks_for(int64_t{out_h} * out_w * C), kThreads, 0, stream>>>(
        tmp, 0, out_w * C, out_h, k.v_first, k.v_count, k.v_weights, k.v_max_taps, dst);
  }
  MASKRT_CUDA_CHECK_LAST();
}

bool vertical_first_for(int in_h, int in_w, int out_h, int out_w, int C) {
  ResizeParams rp;
  rp.in_height = in_h;
  rp.in_width = in_w;
  rp.out_height = out_h;
  rp.out_width = out_w;
  rp.channels = C;
  return resize_vertical_first(rp);
}

}  // namespace

void validate_preprocess(const PreprocessCudaParams& p) {
  MASKRT_CHECK(p.in_h >= 1 && p.in_w >= 1 && p.out_h >= 1 && p.out_w >= 1 && p.pad_h >= p.out_h &&
                   p.pad_w >= p.out_w,
               ErrorCode::kInvalidArgument, "preprocess_cuda: sizes in ", p.in_h, "x", p.in_w, ", out ", p.out_h,
               "x", p.out_w, ", padded ", p.pad_h, "x", p.pad_w, " are not usable");
  for (int c = 0; c < 3; ++c)
    MASKRT_CHECK(p.std[c] != 0.f, ErrorCode::kInvalidArgument, "preprocess_cuda: PIXEL_STD[", c, "] is 0");
}

std::vector<int32_t> pack_pillow_coeffs(const PillowCoeffs& h, const PillowCoeffs& v) {
  std::vector<int32_t> blob;
  for (const PillowCoeffs* a : {&h, &v}) {
    blob.insert(blob.end(), a->first.begin(), a->first.end());
    blob.insert(blob.end(), a->count.begin(), a->count.end());
    blob.insert(blob.end(), a->weights.begin(), a->weights.end());
  }
  return blob;
}

DeviceCoeffs device_pillow_coeffs(const PillowCoeffs& h, const PillowCoeffs& v, const void* d_blob) {
  const int32_t* p = static_cast<const int32_t*>(d_blob);
  DeviceCoeffs d;
  d.h_first = p;
  d.h_count = p + h.out_size;
  d.h_weights = p + 2 * h.out_size;
  d.h_max_taps = h.max_taps;
  p += h.first.size() + h.count.size() + h.weights.size();
  d.v_first = p;
  d.v_count = p + v.out_size;
  d.v_weights = p + 2 * v.out_size;
  d.v_max_taps = v.max_taps;
  return d;
}

size_t resize_cuda_workspace_bytes(int in_h, int in_w, int out_h, int out_w, int channels) {
  WorkspaceCarver w(nullptr);
  resize_passes(in_h, in_w, out_h, out_w, channels, nullptr, DeviceCoeffs{}, nullptr, w, nullptr, false);
  return w.bytes();
}

void resize_bilinear_pillow_cuda(int in_h, int in_w, int out_h, int out_w, int channels, const uint8_t* d_src,
                                 const DeviceCoeffs& coeffs, uint8_t* d_dst, void* workspace, cudaStream_t stream) {
  MASKRT_CHECK(in_h >= 1 && in_w >= 1 && out_h >= 1 && out_w >= 1 && channels >= 1 && channels <= 4,
               ErrorCode::kInvalidArgument, "resize_bilinear_pillow_cuda: bad sizes ", in_h, "x", in_w, " -> ", out_h,
               "x", out_w, " channels ", channels);
  WorkspaceCarver w(workspace);
  resize_passes(in_h, in_w, out_h, out_w, channels, d_src, coeffs, d_dst, w, stream,
                vertical_first_for(in_h, in_w, out_h, out_w, channels));
}

size_t preprocess_workspace_bytes(const PreprocessCudaParams& p) {
  validate_preprocess(p);
  WorkspaceCarver w(nullptr);
  w.take<uint8_t>(size_t(p.out_h) * p.out_w * 3);
  resize_passes(p.in_h, p.in_w, p.out_h, p.out_w, 3, nullptr, DeviceCoeffs{}, nullptr, w, nullptr, false);
  return w.bytes();
}

void preprocess_cuda(const PreprocessCudaParams& p, const uint8_t* d_src_hwc, const DeviceCoeffs& coeffs, void* d_dst,
                     void* workspace, cudaStream_t stream) {
  validate_preprocess(p);
  WorkspaceCarver w(workspace);
  uint8_t* resized = w.take<uint8_t>(size_t(p.out_h) * p.out_w * 3);
  const uint8_t* img = d_src_hwc;
  if (p.out_h != p.in_h || p.out_w != p.in_w) {
    resize_passes(p.in_h, p.in_w, p.out_h, p.out_w, 3, d_src_hwc, coeffs, resized, w, stream,
                  vertical_first_for(p.in_h, p.in_w, p.out_h, p.out_w, 3));
    img = resized;
  }
  NormParams n{p.out_h, p.out_w, p.pad_h, p.pad_w, p.flip_channels, {}, {}};
  for (int c = 0; c < 3; ++c) {
    n.mean[c] = p.mean[c];
    n.std[c] = p.std[c];
  }
  if (p.nhwc_fp16) {
    normalize_nhwc_fp16_kernel<<<blocks_for(int64_t{p.pad_h} * p.pad_w * kPreprocessNhwcChannels), kThreads, 0,
                                 stream>>>(n, img, static_cast<__half*>(d_dst));
  } else {
    normalize_nchw_kernel<<<blocks_for(int64_t{3} * p.pad_h * p.pad_w), kThreads, 0, stream>>>(
        n, img, static_cast<float*>(d_dst));
  }
  MASKRT_CUDA_CHECK_LAST();
}

}  // namespace maskrt::ops
