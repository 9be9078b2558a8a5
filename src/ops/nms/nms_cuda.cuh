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
  const float uni = fsub(fadd(ai, aj), inter);
  // Disjoint boxes skip the division, with its exact outcome: (+-0 / uni) is +-0 > thr, i.e. 0 > thr,
  // unless uni is 0 or NaN (then NaN, never > thr). w, h are never NaN (fmaxf returns the number).
  if (inter == 0.f) return uni == uni && uni != 0.f && 0.f > thr;
  return fdiv(inter, uni) > thr;
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
  unsigned long long* mask;  // (num_groups, capacity, words(capacity)) scratch: only the words of tiles on or
                             // above the diagonal, rows and columns < counts[g], are written (and read)
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

// Number of 64x64 tiles on and above the diagonal of a (capacity x capacity) mask.
__host__ __device__ __forceinline__ int nms_mask_tiles(int capacity) {
  const int words = nms_words(capacity);
  return words * (words + 1) / 2;
}

// grid (nms_mask_tiles(capacity), num_groups), block 64: block x is the x-th tile of the upper
// triangle in row-major order (row_block <= col_block); tiles beyond counts[g] exit at once.
static __global__ void grouped_nms_mask_kernel(GroupedNms p) {
  const int g = blockIdx.y;
  const int n = min(p.counts[g], p.capacity);  // counts never exceed capacity by construction; clamp anyway
  const int words = nms_words(p.capacity);
  int row_block = 0, t = blockIdx.x;
  while (t >= words - row_block) {
    t -= words - row_block;
    ++row_block;
  }
  const int col_block = row_block + t;
  if (row_block * 64 >= n || col_block * 64 >= n) return;
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
  p.mask[(static_cast<size_t>(g) * p.capacity + i) * words + col_block] = bits;
}

// The greedy scan, exactly the sequential definition: box k (in processing order) is kept iff no kept
// box before it suppresses it. Two implementations with identical results (keep[], *kept_total):
//   grouped_nms_scan_block_kernel (used when its shared memory fits kNmsScanBlockMaxSmem, i.e.
//     capacity <= 3008): one block of kNmsScanThreads per group. The mask rows of each 64-box block
//     (words blk..used_words-1) are staged in shared memory with cp.async, the next block's rows
//     while the current one is resolved (double buffer). Every thread resolves the 64 boxes of the
//     block redundantly from the staged diagonal column (broadcast reads, register bit ops, no
//     shuffles); then the kept rows are OR-ed into the later `removed` words in parallel (one warp
//     per word, one row pair per lane, warp OR reduction). One __syncthreads per 64 boxes; no global
//     load is on the serial path.
//   grouped_nms_scan_warp_kernel (larger capacities): one warp per group, kept rows read from global
//     memory (the previous implementation).
// Both write keep[g][j] for j < capacity (0 beyond counts[g]) and add the number kept to *kept_total.

// A 64-bit warp OR reduction (all 32 lanes participate).
__device__ __forceinline__ unsigned long long warp_or(unsigned long long v) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  const unsigned lo = __reduce_or_sync(0xffffffffu, static_cast<unsigned>(v));
  const unsigned hi = __reduce_or_sync(0xffffffffu, static_cast<unsigned>(v >> 32));
  return (static_cast<unsigned long long>(hi) << 32) | lo;
#else
  for (int o = 16; o > 0; o >>= 1) v |= __shfl_xor_sync(0xffffffffu, v, o);
  return v;
#endif
}

// 8-byte global -> shared copy, asynchronous where the hardware has cp.async (sm_80+); completed by
// nms_copy_wait() before the next __syncthreads.
__device__ __forceinline__ void nms_copy8(unsigned long long* dst_shared, const unsigned long long* src_global) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(dst_shared));
  asm volatile("cp.async.ca.shared.global [%0], [%1], 8;\n" ::"r"(dst), "l"(src_global) : "memory");
#else
  *dst_shared = *src_global;
#endif
}
__device__ __forceinline__ void nms_copy_commit() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}
__device__ __forceinline__ void nms_copy_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_all;\n" ::: "memory");
#endif
}

inline constexpr int kNmsScanThreads = 256;              // block size of grouped_nms_scan_block_kernel (>= 64)
// The block scan writes keep[] for a 64-box block with threads 0..63 and reduces over whole warps.
static_assert(kNmsScanThreads >= 64 && kNmsScanThreads % 32 == 0, "grouped_nms_scan_block_kernel block size");
inline constexpr size_t kNmsScanBlockMaxSmem = 48 * 1024;  // no opt-in attribute needed up to here

// Shared tile row stride in 64-bit words: odd, so that lanes reading one word of 32 different rows
// hit different banks.
__host__ __device__ __forceinline__ int nms_tile_stride(int capacity) { return nms_words(capacity) | 1; }
// removed[words] + two tiles of 64 rows.
__host__ __device__ __forceinline__ size_t nms_scan_block_smem(int capacity) {
  return sizeof(unsigned long long) * (static_cast<size_t>(nms_words(capacity)) + 2 * 64 * static_cast<size_t>(nms_tile_stride(capacity)));
}

// Stage rows base..base+63 (those < n) and words blk..used_words-1 of the group's mask into `tile`
// (row r, word w at tile[r * stride + w]); rows >= n are zero.
__device__ __forceinline__ void nms_stage_tile(unsigned long long* tile, const unsigned long long* mask, int words,
                                               int stride, int blk, int used_words, int n) {
  const int base = blk * 64;
  const int nb = min(64, n - base);
  const int nw = used_words - blk;
  for (int q = threadIdx.x; q < 64 * nw; q += blockDim.x) {
    const int r = q / nw;
    const int w = blk + (q - r * nw);
    if (r < nb) nms_copy8(tile + r * stride + w, mask + static_cast<size_t>(base + r) * words + w);
    else tile[r * stride + w] = 0ull;
  }
  nms_copy_commit();
}

// grid num_groups, block kNmsScanThreads, shared nms_scan_block_smem(capacity).
static __global__ void __launch_bounds__(kNmsScanThreads) grouped_nms_scan_block_kernel(GroupedNms p, int* kept_total) {
  extern __shared__ unsigned long long smem[];
  const int words = nms_words(p.capacity);
  const int stride = nms_tile_stride(p.capacity);
  unsigned long long* removed = smem;                 // (words)
  unsigned long long* tiles = smem + words;           // (2, 64, stride)
  const int g = blockIdx.x;
  const int tid = threadIdx.x;
  const int n = min(p.counts[g], p.capacity);  // counts never exceed capacity by construction; clamp anyway
  const int used_words = nms_words(n);
  uint8_t* keep = p.keep + static_cast<size_t>(g) * p.capacity;
  for (int j = n + tid; j < p.capacity; j += blockDim.x) keep[j] = 0;
  if (n <= 0) return;
  for (int w = tid; w < used_words; w += blockDim.x) removed[w] = 0;
  const unsigned long long* mask = p.mask + static_cast<size_t>(g) * p.capacity * words;
  nms_stage_tile(tiles, mask, words, stride, 0, used_words, n);
  const int warp = tid >> 5, lane = tid & 31, num_warps = blockDim.x >> 5;
  int kept = 0;
  for (int blk = 0; blk < used_words; ++blk) {
    // Tile blk is complete (own copies waited, everyone's visible after the barrier); removed[blk] is
    // final (every earlier block's propagation happened before this barrier); the other buffer was
    // last read before it.
    nms_copy_wait();
    __syncthreads();
    if (blk + 1 < used_words)
      nms_stage_tile(tiles + ((blk + 1) & 1) * 64 * stride, mask, words, stride, blk + 1, used_words, n);
    const unsigned long long* tile = tiles + (blk & 1) * 64 * stride;
    const int base = blk * 64;
    const int nb = min(64, n - base);
    // Resolve the 64 boxes: a bit set in lo/hi = box removed. Boxes >= nb start removed (their rows
    // are never applied). Bit k is final once boxes < k are processed (diagonal rows only have bits
    // above their own), so kept = ~removed at the end. Rows k >= 32 have no bits below 32.
    unsigned long long rem0 = removed[blk];
    if (nb < 64) rem0 |= ~0ull << nb;
    unsigned lo = static_cast<unsigned>(rem0), hi = static_cast<unsigned>(rem0 >> 32);
    const unsigned long long* col = tile + blk;
#pragma unroll
    for (int k = 0; k < 32; ++k) {
      const unsigned long long row = col[k * stride];
      const unsigned m = ((lo >> k) & 1u) - 1u;  // all ones when box k is kept
      lo |= static_cast<unsigned>(row) & m;
      hi |= static_cast<unsigned>(row >> 32) & m;
    }
#pragma unroll
    for (int k = 32; k < 64; ++k) {
      const unsigned m = ((hi >> (k - 32)) & 1u) - 1u;
      hi |= static_cast<unsigned>(col[k * stride] >> 32) & m;
    }
    const unsigned long long kept_bits = ~((static_cast<unsigned long long>(hi) << 32) | lo);
    if (tid < nb) keep[base + tid] = static_cast<uint8_t>((kept_bits >> tid) & 1ull);
    if (tid == 0) kept += __popcll(kept_bits);
    // Propagate: removed[w] |= OR of the kept rows' word w, for the later words (one writer per word).
    const bool k0 = (kept_bits >> lane) & 1ull, k1 = (kept_bits >> (lane + 32)) & 1ull;
    for (int w = blk + 1 + warp; w < used_words; w += num_warps) {
      unsigned long long v = 0ull;
      if (k0) v |= tile[lane * stride + w];
      if (k1) v |= tile[(lane + 32) * stride + w];
      v = warp_or(v);
      if (lane == 0) removed[w] |= v;
    }
  }
  if (tid == 0 && kept > 0) atomicAdd(kept_total, kept);
}

// One warp per group (capacities whose tiles do not fit the block kernel's shared memory). For each
// block of 64 the lanes load the diagonal mask words (rows base+lane, base+lane+32); the decisions
// are made from registers (shuffles), identical for every lane; the kept rows are then OR-ed into the
// later words of `removed`, each lane owning words. shared: words(capacity) 64-bit words.
static __global__ void grouped_nms_scan_warp_kernel(GroupedNms p, int* kept_total) {
  extern __shared__ unsigned long long removed[];
  const int g = blockIdx.x;
  const int lane = threadIdx.x;
  const int n = min(p.counts[g], p.capacity);  // counts never exceed capacity by construction; clamp anyway
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

// Which scan implementation launch_grouped_nms uses for `capacity` (tests exercise both).
inline bool nms_scan_uses_block_kernel(int capacity) {
  return nms_scan_block_smem(capacity) <= kNmsScanBlockMaxSmem;
}

// Launch the scan for `p` with the given implementation (launch_grouped_nms picks it by capacity).
inline void launch_grouped_nms_scan(const GroupedNms& p, int* kept_total, bool block_kernel, cudaStream_t stream) {
  const int words = nms_words(p.capacity);
  if (block_kernel)
    grouped_nms_scan_block_kernel<<<p.num_groups, kNmsScanThreads, nms_scan_block_smem(p.capacity), stream>>>(
        p, kept_total);
  else
    grouped_nms_scan_warp_kernel<<<p.num_groups, 32, words * sizeof(unsigned long long), stream>>>(p, kept_total);
}

inline void launch_grouped_nms_mask(const GroupedNms& p, cudaStream_t stream) {
  grouped_nms_mask_kernel<<<dim3(nms_mask_tiles(p.capacity), p.num_groups), 64, 0, stream>>>(p);
}

// Launch both NMS kernels for `p` (grids sized by capacity; blocks beyond counts exit early).
inline cudaError_t launch_grouped_nms(const GroupedNms& p, int* kept_total, cudaStream_t stream) {
  if (p.num_groups <= 0 || p.capacity <= 0) return cudaSuccess;
  launch_grouped_nms_mask(p, stream);
  launch_grouped_nms_scan(p, kept_total, nms_scan_uses_block_kernel(p.capacity), stream);
  return cudaGetLastError();
}

}  // namespace maskrt::ops::cuda_detail
