// CUDA Pillow-exact bilinear resize + Detectron2 preprocess (see resize_cuda.h). The two passes
// use the host-made fixed-point coefficients (pillow_coeffs.h) and the same int32 arithmetic as
// resize_cpu.cpp; the intermediate image is uint8 (rounded and clipped), so results are bit-identical.
#include "ops/resize/resize_cuda.h"

#include <algorithm>

#include <cuda_fp16.h>

#include "backend/cuda/cuda_check.h"
#include "core/check.h"
#include "ops/resize/resize.h"
#include "ops/stem_s2d/stem_s2d.h"
#include "ops/small_cuda/cuda_workspace.h"

namespace maskrt::ops {
namespace {

__device__ __forceinline__ uint8_t round_clip(int32_t acc) {
  const int32_t v = acc >> kPillowPrecisionBits;
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// Launch shape of the row kernels below: blockIdx.y walks the rows (grid-stride when there are more
// than 65535), blockIdx.x * blockDim.x + threadIdx.x the position inside a row. No 64-bit division
// per element (the first version's flat-index kernels spent most of their time in it: the fp16
// normalise took 78 us for an 800x1088 image on the H200, ncu).
constexpr int kRowThreads = 128;
dim3 row_grid(int64_t row_elems, int rows) {
  return dim3(static_cast<unsigned>((row_elems + kRowThreads - 1) / kRowThreads),
              static_cast<unsigned>(std::min(rows, 65535)));
}

// out (rows, out_w, C) from source rows [row_first, row_first + rows) of (*, in_w, C); one thread per
// output pixel, all C channels (C <= 4).
__global__ void horizontal_kernel(const uint8_t* in, int in_w, int row_first, int rows, int out_w, int C,
                                  const int32_t* first, const int32_t* count, const int32_t* weights, int max_taps,
                                  uint8_t* out) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  if (x >= out_w) return;
  const int n = count[x];
  const int32_t* w = weights + int64_t{x} * max_taps;
  for (int y = blockIdx.y; y < rows; y += gridDim.y) {
    const uint8_t* s = in + (int64_t{y + row_first} * in_w + first[x]) * C;
    uint8_t* o = out + (int64_t{y} * out_w + x) * C;
    for (int ch = 0; ch < C; ++ch) {
      int32_t acc = 1 << (kPillowPrecisionBits - 1);
      for (int k = 0; k < n; ++k) acc += static_cast<int32_t>(s[k * C + ch]) * w[k];
      o[ch] = round_clip(acc);
    }
  }
}

// out (out_h, row_len) from src rows (absolute index minus src_row0) of length row_len; one thread
// per byte of an output row.
__global__ void vertical_kernel(const uint8_t* src, int src_row0, int row_len, int out_h, const int32_t* first,
                                const int32_t* count, const int32_t* weights, int max_taps, uint8_t* out) {
  const int col = blockIdx.x * blockDim.x + threadIdx.x;
  if (col >= row_len) return;
  for (int y = blockIdx.y; y < out_h; y += gridDim.y) {
    const int32_t* w = weights + int64_t{y} * max_taps;
    const uint8_t* s = src + int64_t{first[y] - src_row0} * row_len + col;
    int32_t acc = 1 << (kPillowPrecisionBits - 1);
    const int n = count[y];
    for (int k = 0; k < n; ++k) acc += static_cast<int32_t>(s[int64_t{k} * row_len]) * w[k];
    out[int64_t{y} * row_len + col] = round_clip(acc);
  }
}

struct NormParams {
  int out_h, out_w, pad_h, pad_w;
  bool flip;
  float mean[3], std[3];
};

// (float(v) - mean[c]) / std[c], rounded once per operation as Detectron2's float32 tensor ops.
__device__ __forceinline__ float normalise(const NormParams& p, const uint8_t* px, int c) {
  const int sc = p.flip ? 2 - c : c;
  return __fdiv_rn(__fsub_rn(static_cast<float>(px[sc]), p.mean[c]), p.std[c]);
}

// The 3 normalised values of padded pixel (y, x); zeros in the padding (beyond out_h x out_w).
__device__ __forceinline__ void pixel_values(const NormParams& p, const uint8_t* img, int y, int x, float (&v)[3]) {
  if (y < p.out_h && x < p.out_w) {
    const uint8_t* px = img + (int64_t{y} * p.out_w + x) * 3;
    for (int c = 0; c < 3; ++c) v[c] = normalise(p, px, c);
  } else {
    for (int c = 0; c < 3; ++c) v[c] = 0.f;
  }
}

// One thread per padded pixel: its 3 channel planes (coalesced per plane across the threads).
__global__ void normalize_nchw_kernel(NormParams p, const uint8_t* img, float* dst) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  if (x >= p.pad_w) return;
  const int64_t plane = int64_t{p.pad_h} * p.pad_w;
  for (int y = blockIdx.y; y < p.pad_h; y += gridDim.y) {
    const int64_t o = int64_t{y} * p.pad_w + x;
    float v[3];
    pixel_values(p, img, y, x, v);
    for (int c = 0; c < 3; ++c) dst[c * plane + o] = v[c];
  }
}

// One thread per padded pixel: its 8 half channels (3 values, 5 zeros) as one 16-byte store.
__global__ void normalize_nhwc_fp16_kernel(NormParams p, const uint8_t* img, uint4* dst) {
  static_assert(kPreprocessNhwcChannels == 8, "one uint4 store per pixel");
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  if (x >= p.pad_w) return;
  for (int y = blockIdx.y; y < p.pad_h; y += gridDim.y) {
    float v[3];
    pixel_values(p, img, y, x, v);
    union {
      uint4 u;
      __half2 h[4];
    } pack;
    pack.h[0] = __halves2half2(__float2half_rn(v[0]), __float2half_rn(v[1]));
    pack.h[1] = __halves2half2(__float2half_rn(v[2]), __float2half_rn(0.f));
    pack.h[2] = pack.h[3] = __halves2half2(__float2half_rn(0.f), __float2half_rn(0.f));
    dst[int64_t{y} * p.pad_w + x] = pack.u;
  }
}

// One thread per padded pixel: its 4 float channels (3 values, 1 zero) as one 16-byte store (the
// tf32 NHWC pipeline, MASKRT_TF32_NHWC=1); the values are normalize_nchw_kernel's.
__global__ void normalize_nhwc_fp32_kernel(NormParams p, const uint8_t* img, float4* dst) {
  static_assert(kPreprocessNhwcF32Channels == 4, "one float4 store per pixel");
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  if (x >= p.pad_w) return;
  for (int y = blockIdx.y; y < p.pad_h; y += gridDim.y) {
    float v[3];
    pixel_values(p, img, y, x, v);
    dst[int64_t{y} * p.pad_w + x] = make_float4(v[0], v[1], v[2], 0.f);
  }
}

// One thread per space-to-depth pixel (border included, ops/stem_s2d/stem_s2d.h): its 16 half
// channels (4 phases x 3 values, 4 zeros) as two 16-byte stores; the values are normalise()'s, rounded
// to half as in normalize_nhwc_fp16_kernel.
__global__ void normalize_s2d_fp16_kernel(NormParams p, const uint8_t* img, int s2d_h, int s2d_w, uint4* dst) {
  static_assert(kStemS2dChannels == 16, "two uint4 stores per pixel");
  const int X = blockIdx.x * blockDim.x + threadIdx.x;
  if (X >= s2d_w) return;
  for (int Y = blockIdx.y; Y < s2d_h; Y += gridDim.y) {
    float v[kStemS2dChannels];
#pragma unroll
    for (int i = 0; i < kStemS2dChannels; ++i) v[i] = 0.f;
#pragma unroll
    for (int dy = 0; dy < 2; ++dy) {
      const int r = stem_s2d_source(Y, dy);  // row of the padded image; >= out_h is padding (0)
#pragma unroll
      for (int dx = 0; dx < 2; ++dx) {
        const int q = stem_s2d_source(X, dx);
        if (r < 0 || r >= p.out_h || q < 0 || q >= p.out_w) continue;
        const uint8_t* px = img + (int64_t{r} * p.out_w + q) * 3;
#pragma unroll
        for (int c = 0; c < 3; ++c) v[stem_s2d_channel(dy, dx, c)] = normalise(p, px, c);
      }
    }
    union {
      uint4 u[2];
      __half2 h[8];
    } pack;
#pragma unroll
    for (int i = 0; i < 8; ++i) pack.h[i] = __halves2half2(__float2half_rn(v[2 * i]), __float2half_rn(v[2 * i + 1]));
    uint4* o = dst + (int64_t{Y} * s2d_w + X) * 2;
    o[0] = pack.u[0];
    o[1] = pack.u[1];
  }
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
    vertical_kernel<<<row_grid(int64_t{in_w} * C, out_h), kRowThreads, 0, stream>>>(
        src, 0, in_w * C, out_h, k.v_first, k.v_count, k.v_weights, k.v_max_taps, dst);
  } else if (!need_v) {
    horizontal_kernel<<<row_grid(out_w, in_h), kRowThreads, 0, stream>>>(
        src, in_w, 0, in_h, out_w, C, k.h_first, k.h_count, k.h_weights, k.h_max_taps, dst);
  } else if (vertical_first) {
    vertical_kernel<<<row_grid(int64_t{in_w} * C, out_h), kRowThreads, 0, stream>>>(
        src, 0, in_w * C, out_h, k.v_first, k.v_count, k.v_weights, k.v_max_taps, tmp);
    MASKRT_CUDA_CHECK_LAST();
    horizontal_kernel<<<row_grid(out_w, out_h), kRowThreads, 0, stream>>>(
        tmp, in_w, 0, out_h, out_w, C, k.h_first, k.h_count, k.h_weights, k.h_max_taps, dst);
  } else {
    // Horizontal over every source row (rows outside the vertical taps are computed but unused;
    // each row is independent, so the result equals Pillow's restricted pass).
    horizontal_kernel<<<row_grid(out_w, in_h), kRowThreads, 0, stream>>>(
        src, in_w, 0, in_h, out_w, C, k.h_first, k.h_count, k.h_weights, k.h_max_taps, tmp);
    MASKRT_CUDA_CHECK_LAST();
    vertical_kernel<<<row_grid(int64_t{out_w} * C, out_h), kRowThreads, 0, stream>>>(
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
  MASKRT_CHECK(!p.stem_s2d || p.nhwc_fp16, ErrorCode::kInvalidArgument,
               "preprocess_cuda: the space-to-depth stem input (stem_s2d) needs the fp16 NHWC output");
  MASKRT_CHECK(!(p.nhwc_fp16 && p.nhwc_fp32), ErrorCode::kInvalidArgument,
               "preprocess_cuda: nhwc_fp16 and nhwc_fp32 are exclusive");
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
  if (p.stem_s2d) {
    MASKRT_ASSERT(reinterpret_cast<uintptr_t>(d_dst) % 16 == 0, "preprocess_cuda: s2d fp16 output not 16-byte aligned");
    const int sh = stem_s2d_size(p.pad_h), sw = stem_s2d_size(p.pad_w);
    normalize_s2d_fp16_kernel<<<row_grid(sw, sh), kRowThreads, 0, stream>>>(n, img, sh, sw, static_cast<uint4*>(d_dst));
  } else if (p.nhwc_fp16) {
    MASKRT_ASSERT(reinterpret_cast<uintptr_t>(d_dst) % 16 == 0, "preprocess_cuda: NHWC fp16 output not 16-byte aligned");
    normalize_nhwc_fp16_kernel<<<row_grid(p.pad_w, p.pad_h), kRowThreads, 0, stream>>>(n, img,
                                                                                       static_cast<uint4*>(d_dst));
  } else if (p.nhwc_fp32) {
    MASKRT_ASSERT(reinterpret_cast<uintptr_t>(d_dst) % 16 == 0, "preprocess_cuda: NHWC fp32 output not 16-byte aligned");
    normalize_nhwc_fp32_kernel<<<row_grid(p.pad_w, p.pad_h), kRowThreads, 0, stream>>>(n, img,
                                                                                       static_cast<float4*>(d_dst));
  } else {
    normalize_nchw_kernel<<<row_grid(p.pad_w, p.pad_h), kRowThreads, 0, stream>>>(n, img,
                                                                                 static_cast<float*>(d_dst));
  }
  MASKRT_CUDA_CHECK_LAST();
}

}  // namespace maskrt::ops
