#pragma once
// Device pieces shared by the CUDA detection ops (rpn_proposals_cuda.cu, box_inference_cuda.cu):
// float arithmetic in Detectron2/torchvision order without fused multiply-add, descending sort keys,
// and grouped bitmask NMS with torchvision's IoU test (nms.h) and batched_nms_cpu's coordinate trick.
// Private to src/ops; include only from .cu files.
#include <cstdint>

#include <cuda_runtime.h>

namespace maskrt::ops::cuda_detail {

// Explicitly rounded float ops: never contracted into FMA by nvcc.
__device__ __forceinline__ float fmul(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ float fadd(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ float fsub(float a, float b) { return __fsub_rn(a, b); }
__device__ __forceinline__ float fdiv(float a, float b) { return __fdiv_rn(a, b); }
// exp rounded from double, as the CPU code's static_cast<float>(std::exp(double)).
__device__ __forceinline__ float exp_via_double(float x) { return static_cast<float>(exp(static_cast<double>(x))); }
// std::min(a, b) / std::max(a, b) semantics (first argument returned when unordered).
__device__ __forceinline__ float std_min(float a, float b) { return (b < a) ? b : a; }
__device__ __forceinline__ float std_max(float a, float b) { return (a < b) ? b : a; }
// std::clamp(v, lo, hi)
__device__ __forceinline__ float std_clamp(float v, float lo, float hi) { return v < lo ? lo : (hi < v ? hi : v); }

// Ascending radix key of "score descending": larger floats give smaller keys; -0 == +0.
__device__ __forceinline__ uint32_t desc_key(float f) {
  if (f == 0.f) f = 0.f;
  const uint32_t u = __float_as_uint(f);
  const uint32_t asc = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
  return ~asc;
}
inline constexpr uint32_t kNoKey = 0xFFFFFFFFu;  // sorts after every finite and infinite score

// Box2BoxTransform.apply_deltas for one box and one delta group (box_transform.h order).
__device__ __forceinline__ float4 apply_deltas_one(float4 b, float d0, float d1, float d2, float d3, float wx,
                                                   float wy, float ww, float wh, float scale_clamp) {
  const float widths = fsub(b.z, b.x);
  const float heights = fsub(b.w, b.y);
  const float ctr_x = fadd(b.x, fmul(0.5f, widths));
  const float ctr_y = fadd(b.y, fmul(0.5f, heights));
  const float dx = fdiv(d0, wx);
  const float dy = fdiv(d1, wy);
  const float dw = std_min(fdiv(d2, ww), scale_clamp);
  const float dh = std_min(fdiv(d3, wh), scale_clamp);
  const float pred_ctr_x = fadd(fmul(dx, widths), ctr_x);
  const float pred_ctr_y = fadd(fmul(dy, heights), ctr_y);
  const float pred_w = fmul(exp_via_double(dw), widths);
  const float pred_h = fmul(exp_via_double(dh), heights);
  return make_float4(fsub(pred_ctr_x, fmul(0.5f, pred_w)), fsub(pred_ctr_y, fmul(0.5f, pred_h)),
                     fadd(pred_ctr_x, fmul(0.5f, pred_w)), fadd(pred_ctr_y, fmul(0.5f, pred_h)));
}

__device__ __forceinline__ bool all_finite(float4 b) {
  return isfinite(b.x) && isfinite(b.y) && isfinite(b.z) && isfinite(b.w);
}

__device__ __forceinline__ float box_area(float4 b) { return fmul(fsub(b.z, b.x), fsub(b.w, b.y)); }

// torchvision's IoU test (nms_common.h suppresses), every step float32.
__device__ __forceinline__ bool iou_suppresses(float4 bi, float ai, float4 bj, float aj, float thr) {
  const float xx1 = fmaxf(bi.x, bj.x), yy1 = fmaxf(bi.y, bj.y);
  const float xx2 = fminf(bi.z, bj.z), yy2 = fminf(bi.w, bj.w);
  const float w = fmaxf(0.f, fsub(xx2, xx1));
  const float h = fmaxf(0.f, fsub(yy2, yy1));
  const float inter = fmul(w, h);
  const float ovr = fdiv(inter, fsub(fadd(ai, aj), inter));
  return ovr > thr;
}

// Grouped NMS input: group g holds counts[g] boxes at boxes[g * capacity + j], already in processing
// order (score desc, ties by index). Groups never suppress each other. When
// (*trick_total) * 4 <= trick_max_numel, coordinates are shifted by float(g) * (*max_coord + 1)
// first (batched_nms_cpu's coordinate trick: the IoU is computed on shifted boxes).
struct GroupedNms {
  const float4* boxes;
  const int* counts;
  int num_groups;
  int capacity;
  float iou_threshold;
  const int* trick_total;
  const float* max_coord;
  int trick_max_numel;
  unsigned long long* mask;  // (num_groups, capacity, words(capacity))
  uint8_t* keep;             // (num_groups, capacity) 1 = kept
};

__host__ __device__ __forceinline__ int nms_words(int capacity) { return (capacity + 63) / 64; }

__device__ __forceinline__ float group_shift(const GroupedNms& p, int g) {
  if (static_cast<long long>(*p.trick_total) * 4 > p.trick_max_numel) return 0.f;
  const float step = fadd(*p.max_coord, 1.f);
  return fmul(static_cast<float>(g), step);
}

__device__ __forceinline__ float4 shifted(float4 b, float off) {
  return make_float4(fadd(b.x, off), fadd(b.y, off), fadd(b.z, off), fadd(b.w, off));
}

// grid (words, words, num_groups), block 64.
static __global__ void grouped_nms_mask_kernel(GroupedNms p) {
  const int g = blockIdx.z;
  const int n = p.counts[g];
  const int row_block = blockIdx.y, col_block = blockIdx.x;
  if (col_block < row_block || row_block * 64 >= n || col_block * 64 >= n) return;
  const float off = group_shift(p, g);
  const float4* boxes = p.boxes + static_cast<size_t>(g) * p.capacity;
  __shared__ float4 cb[64];
  __shared__ float ca[64];
  const int cols = min(n - col_block * 64, 64);
  const int rows = min(n - row_block * 64, 64);
  if (threadIdx.x < cols) {
    const float4 b = shifted(boxes[col_block * 64 + threadIdx.x], off);
    cb[threadIdx.x] = b;
    ca[threadIdx.x] = box_area(b);
  }
  __syncthreads();
  if (threadIdx.x >= rows) return;
  const int i = row_block * 64 + threadIdx.x;
  const float4 bi = shifted(boxes[i], off);
  const float ai = box_area(bi);
  unsigned long long bits = 0;
  const int start = (col_block == row_block) ? threadIdx.x + 1 : 0;
  for (int j = start; j < cols; ++j)
    if (iou_suppresses(bi, ai, cb[j], ca[j], p.iou_threshold)) bits |= 1ull << j;
  const int words = nms_words(p.capacity);
  p.mask[(static_cast<size_t>(g) * p.capacity + i) * words + col_block] = bits;
}

// One warp per group: the greedy scan, 64 boxes at a time. For each block of 64 (in processing order)
// the lanes load the block's diagonal mask words (rows base+lane, base+lane+32) in parallel; the
// greedy decisions inside the block are then made from registers (shuffles), identical for every lane:
// box k is kept iff no kept box before it suppresses it, exactly the sequential definition. The kept
// rows of the block are then OR-ed into the later words of `removed`, each lane owning words
// (independent loads, no dependent global-memory chain per box). Writes keep[g][j] for j < capacity
// (0 beyond counts[g]) and adds the number kept to *kept_total. shared: words(capacity) 64-bit words.
static __global__ void grouped_nms_scan_kernel(GroupedNms p, int* kept_total) {
  extern __shared__ unsigned long long removed[];
  const int g = blockIdx.x;
  const int lane = threadIdx.x;
  const int n = p.counts[g];
  const int words = nms_words(p.capacity);
  const int used_words = nms_words(n);
  for (int w = lane; w < words; w += 32) removed[w] = 0;
  uint8_t* keep = p.keep + static_cast<size_t>(g) * p.capacity;
  for (int j = n + lane; j < p.capacity; j += 32) keep[j] = 0;
  __syncwarp();
  const unsigned long long* mask = p.mask + static_cast<size_t>(g) * p.capacity * words;
  int kept = 0;
  for (int blk = 0; blk < used_words; ++blk) {
    const int base = blk * 64;
    const int nb = min(64, n - base);
    const unsigned long long d0 = lane < nb ? mask[static_cast<size_t>(base + lane) * words + blk] : 0ull;
    const unsigned long long d1 = lane + 32 < nb ? mask[static_cast<size_t>(base + lane + 32) * words + blk] : 0ull;
    unsigned long long rem = removed[blk];
    unsigned long long kept_bits = 0;
    for (int k = 0; k < nb; ++k) {
      const unsigned long long row = __shfl_sync(0xffffffffu, k < 32 ? d0 : d1, k & 31);
      if (!((rem >> k) & 1ull)) {
        kept_bits |= 1ull << k;
        rem |= row;
      }
    }
    if (lane < nb) keep[base + lane] = static_cast<uint8_t>((kept_bits >> lane) & 1ull);
    if (lane + 32 < nb) keep[base + lane + 32] = static_cast<uint8_t>((kept_bits >> (lane + 32)) & 1ull);
    kept += __popcll(kept_bits);
    for (int w = blk + 1 + lane; w < used_words; w += 32) {
      unsigned long long acc = removed[w];
      // Eight kept rows per round: the eight loads are independent and issued together.
      for (unsigned long long bits = kept_bits; bits;) {
        unsigned long long v[8];
#pragma unroll
        for (int t = 0; t < 8; ++t) {
          v[t] = 0ull;
          if (bits) {
            v[t] = mask[static_cast<size_t>(base + __ffsll(static_cast<long long>(bits)) - 1) * words + w];
            bits &= bits - 1;
          }
        }
#pragma unroll
        for (int t = 0; t < 8; ++t) acc |= v[t];
      }
      removed[w] = acc;
    }
    __syncwarp();
  }
  if (lane == 0 && kept > 0) atomicAdd(kept_total, kept);
}

// Launch both NMS kernels for `p` (grid sized by capacity; blocks beyond counts exit early).
inline cudaError_t launch_grouped_nms(const GroupedNms& p, int* kept_total, cudaStream_t stream) {
  if (p.num_groups <= 0 || p.capacity <= 0) return cudaSuccess;
  const int words = nms_words(p.capacity);
  grouped_nms_mask_kernel<<<dim3(words, words, p.num_groups), 64, 0, stream>>>(p);
  grouped_nms_scan_kernel<<<p.num_groups, 32, words * sizeof(unsigned long long), stream>>>(p, kept_total);
  return cudaGetLastError();
}

}  // namespace maskrt::ops::cuda_detail
