// CUDA find_top_rpn_proposals (see rpn_proposals_cuda.h). Stages, all on `stream`:
//   1. per level, the first k_l flattened indices in (desc_key(logit), index) order:
//      kSelect: topk_hist_kernel (per-level histogram of hist_bin(desc_key)), topk_compact_kernel
//        (threshold bin, then every anchor in bins <= it as a (key, index) composite, any order),
//        topk_sort_kernel (one block per level sorts the composites; exact radix select first when
//        they exceed the block);
//      kSort: keys (level << 32 | desc_key(logit)), value = flattened index, one stable CUB radix sort;
//   2. decode the first k_l of each level (anchors on the fly), filter, clip -> candidate slots;
//   3. per-level stable compaction of the valid candidates (block scan);
//   4. grouped bitmask NMS (levels = groups; coordinate trick decided from the device count);
//   5. stable radix sort of the kept (score desc; ties by (level, rank)) and the first post_nms_topk:
//      one block (merge_output_kernel) or CUB + output_kernel.
#include "ops/rpn_proposals/rpn_proposals_cuda.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <cub/block/block_radix_sort.cuh>
#include <cub/block/block_scan.cuh>
#include <cub/device/device_radix_sort.cuh>

#include "backend/cuda/cuda_check.h"
#include "core/check.h"
#include "ops/nms/nms.h"
#include "ops/nms/nms_cuda.cuh"
#include "ops/small_cuda/cub_sort_pairs.cuh"
#include "ops/small_cuda/cuda_workspace.h"

namespace maskrt::ops {
namespace {
using namespace cuda_detail;

// kSelect top-k geometry.
constexpr int kHistBins = 4096;                       // hist_bin() range
constexpr int kTileThreads = 256;                     // topk_hist_kernel / topk_compact_kernel
constexpr int kTileItems = 8;
constexpr int kTile = kTileThreads * kTileItems;      // anchors of one level per block
constexpr int kSelThreads = 256;                      // topk_sort_kernel
constexpr int kSelItems = kRpnSelectMaxCandidates / kSelThreads;
static_assert(kSelItems * kSelThreads == kRpnSelectMaxCandidates && kSelItems % 4 == 0, "topk_sort_kernel size");
static_assert(kHistBins % kTileThreads == 0, "threshold scan: whole bins per thread");
constexpr int kMergeThreads = 512;                    // merge_output_kernel
constexpr int kMergeItems = kRpnMergeBlockMaxSlots / kMergeThreads;
static_assert(kMergeItems * kMergeThreads == kRpnMergeBlockMaxSlots, "merge_output_kernel size");

RpnTopkAlgo resolve_algo(RpnTopkAlgo a) {
  if (a != RpnTopkAlgo::kAuto) return a;
  static const RpnTopkAlgo from_env = [] {
    const char* v = std::getenv("MASKRT_RPN_TOPK");
    if (v == nullptr || *v == '\0' || std::strcmp(v, "sort") == 0) return RpnTopkAlgo::kSort;
    if (std::strcmp(v, "select") == 0) return RpnTopkAlgo::kSelect;
    MASKRT_FAIL(ErrorCode::kInvalidArgument, "rpn_proposals_cuda: environment variable MASKRT_RPN_TOPK is '", v,
                "'; expected 'sort' or 'select'");
  }();
  return from_env;
}

struct Layout {  // host-computed from the params; passed to kernels by value
  int num_levels = 0;
  int A = 0;
  int64_t anchor_off[kRpnMaxLevels + 1] = {};  // offsets of each level in the sorted / candidate arrays
  int k[kRpnMaxLevels] = {};                   // per-level top-k
  int k_off[kRpnMaxLevels + 1] = {};           // offsets of each level's candidates
  int64_t sel_off[kRpnMaxLevels] = {};         // where decode_kernel reads level l's top-k indices
  int tile_off[kRpnMaxLevels + 1] = {};        // kSelect: first kTile block of each level
  int cap = 0;                                 // max k (group capacity)
  int sort_end_bit = 33;
  int idx_bits = 1;                            // kSelect: every flattened index < 2^idx_bits
  bool select = false;                         // kSelect top-k (else the CUB sort over all anchors)
  bool block_merge = false;                    // merge_output_kernel (else CUB sort + output_kernel)
};

Layout make_layout(const RpnProposalsCudaParams& p) {
  Layout l;
  l.num_levels = p.num_levels;
  l.A = p.num_anchors;
  int64_t max_n = 0;
  for (int i = 0; i < p.num_levels; ++i) {
    const int64_t n = int64_t{p.feat_h[i]} * p.feat_w[i] * p.num_anchors;
    l.anchor_off[i + 1] = l.anchor_off[i] + n;
    l.k[i] = static_cast<int>(std::min<int64_t>(p.pre_nms_topk, n));
    l.k_off[i + 1] = l.k_off[i] + l.k[i];
    l.tile_off[i + 1] = l.tile_off[i] + static_cast<int>((n + kTile - 1) / kTile);
    l.cap = std::max(l.cap, l.k[i]);
    max_n = std::max(max_n, n);
  }
  int bits = 0;
  while ((1 << bits) < p.num_levels) ++bits;
  l.sort_end_bit = 32 + std::max(bits, 1);
  while ((int64_t{1} << l.idx_bits) < max_n) ++l.idx_bits;  // <= 31 (validate: < 2^31 anchors)
  const bool sel = resolve_algo(p.topk_algo) == RpnTopkAlgo::kSelect;
  l.select = sel && l.cap <= kRpnSelectMaxCandidates;
  l.block_merge = sel && int64_t{l.num_levels} * l.cap <= kRpnMergeBlockMaxSlots;
  for (int i = 0; i < p.num_levels; ++i) l.sel_off[i] = l.select ? l.k_off[i] : l.anchor_off[i];
  return l;
}

struct Buffers {
  uint64_t* cand;     // kSelect: (n) per level at anchor_off, (key, index) composites in any order
  uint64_t* exact;    // kSelect: (L, kRpnSelectMaxCandidates) the exactly-k composites of an overflowing level
  int* sel_idx;       // kSelect: (k_total) per level at k_off, the top-k flattened indices in order
  CubSortPairs<uint64_t, int> sort1;  // kSort: (level << 32 | desc_key) keys of every anchor, flattened indices
  float4* cand_box;   // (k_total)
  float* cand_score;  // (k_total)
  uint8_t* cand_valid;
  float4* grp_box;    // (L, cap)
  float* grp_score;   // (L, cap)
  unsigned long long* mask;
  uint8_t* keep;      // (L, cap)
  CubSortPairs<uint32_t, int> sort2;  // unless block_merge: (L * cap) desc score keys of the kept, slots
  int* counters;      // [0] valid total R, [1] max coord bits, [2] kept total, [3..3+L) per-level counts,
                      // [kCandCount..+L) kSelect candidates per level, [kHist..) kSelect (L, kHistBins)
};

constexpr int kCandCount = 3 + kRpnMaxLevels;
constexpr int kHist = kCandCount + kRpnMaxLevels;
size_t counter_ints(const Layout& l) { return kHist + (l.select ? size_t(l.num_levels) * kHistBins : 0); }

Buffers carve(const RpnProposalsCudaParams& p, const Layout& l, WorkspaceCarver& w) {
  Buffers b{};
  const int64_t n = l.anchor_off[l.num_levels];
  const int kt = l.k_off[l.num_levels];
  const int64_t slots = int64_t{l.num_levels} * l.cap;
  if (l.select) {
    b.cand = w.take<uint64_t>(n);
    b.exact = w.take<uint64_t>(int64_t{l.num_levels} * kRpnSelectMaxCandidates);
    b.sel_idx = w.take<int>(kt);
  } else {
    b.sort1.carve(w, n, l.sort_end_bit);
  }
  b.cand_box = w.take<float4>(kt);
  b.cand_score = w.take<float>(kt);
  b.cand_valid = w.take<uint8_t>(kt);
  b.grp_box = w.take<float4>(slots);
  b.grp_score = w.take<float>(slots);
  b.mask = w.take<unsigned long long>(slots * nms_words(l.cap));
  b.keep = w.take<uint8_t>(slots);
  if (!l.block_merge) b.sort2.carve(w, slots, 32);
  b.counters = w.take<int>(counter_ints(l));
  return b;
}

__device__ __forceinline__ int level_of(const int64_t* off, int L, int64_t i) {
  int l = 0;
  while (l + 1 < L && i >= off[l + 1]) ++l;
  return l;
}

__global__ void keys_kernel(Layout l, RpnLevelInputs in, RpnProposalsCudaParams p, uint64_t* keys, int* vals) {
  const int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (i >= l.anchor_off[l.num_levels]) return;
  const int lv = level_of(l.anchor_off, l.num_levels, i);
  const int idx = static_cast<int>(i - l.anchor_off[lv]);  // flattened (H, W, A) index
  const int hw = p.feat_h[lv] * p.feat_w[lv];
  const int yx = idx / l.A, a = idx % l.A;
  const float s = in.logits[lv][static_cast<int64_t>(a) * hw + yx];
  keys[i] = (static_cast<uint64_t>(lv) << 32) | desc_key(s);
  vals[i] = idx;
}

// ---- kSelect top-k -------------------------------------------------------------------------------
// A monotone (non-decreasing) bucket of desc_key: bins 0..2047 hold logits >= +0 (largest first),
// 2048..4095 logits <= -0 (smallest magnitude first); within a sign, 128 bins per octave of |logit| in
// [2^-6, 2^10), smaller and larger magnitudes (and Inf / NaN) clamp into the edge bins of their sign.
// Being monotone, every key before the k-th in desc_key order lies in a bin <= the k-th's bin.
__device__ __forceinline__ int hist_bin(uint32_t d) {
  constexpr uint32_t kLo = (127u - 6u) << 7;  // (biased exponent << 7 | 7 mantissa bits) of 2^-6
  if (d < 0x80000000u) {                      // raw float bits = 0x7FFFFFFF - d (sign clear)
    const uint32_t q = (0x7FFFFFFFu - d) >> 16;
    return 2047 - static_cast<int>(q < kLo ? 0u : min(q - kLo, 2047u));
  }
  const uint32_t q = (d & 0x7FFFFFFFu) >> 16;  // raw float bits = d (sign set)
  return 2048 + static_cast<int>(q < kLo ? 0u : min(q - kLo, 2047u));
}

__device__ __forceinline__ int level_of_tile(const Layout& l, int tile) {
  int lv = 0;
  while (lv + 1 < l.num_levels && tile >= l.tile_off[lv + 1]) ++lv;
  return lv;
}

// grid tile_off[L] blocks, kTileThreads: per level, hist[lv][hist_bin(desc_key(logit))] counts. Anchors
// are visited in memory order m = a * H*W + y*W + x (the logits' (A, H, W) layout).
__global__ void __launch_bounds__(kTileThreads) topk_hist_kernel(Layout l, RpnLevelInputs in, int* hist) {
  __shared__ int sh[kHistBins];
  for (int i = threadIdx.x; i < kHistBins; i += kTileThreads) sh[i] = 0;
  __syncthreads();
  const int lv = level_of_tile(l, blockIdx.x);
  const int64_t n = l.anchor_off[lv + 1] - l.anchor_off[lv];
  const int64_t base = int64_t{blockIdx.x - l.tile_off[lv]} * kTile;
  const float* logits = in.logits[lv];
#pragma unroll
  for (int u = 0; u < kTileItems; ++u) {
    const int64_t m = base + u * kTileThreads + threadIdx.x;
    if (m < n) atomicAdd(&sh[hist_bin(desc_key(logits[m]))], 1);
  }
  __syncthreads();
  int* h = hist + lv * kHistBins;
  for (int i = threadIdx.x; i < kHistBins; i += kTileThreads)
    if (sh[i]) atomicAdd(&h[i], sh[i]);
}

// grid tile_off[L] blocks, kTileThreads: each block finds its level's threshold bin t (the bin of the
// k_l-th key: the smallest t with hist[0..t] summing to >= k_l) and appends the composites
// (desc_key << idx_bits | flattened index) of its anchors in bins <= t to the level's candidates
// (cand + anchor_off[lv], count cand_count[lv]); the order of the appends does not matter.
__global__ void __launch_bounds__(kTileThreads)
    topk_compact_kernel(Layout l, RpnLevelInputs in, RpnProposalsCudaParams p, const int* hist, uint64_t* cand,
                        int* cand_count) {
  using BlockScan = cub::BlockScan<int, kTileThreads>;
  __shared__ typename BlockScan::TempStorage tmp;
  __shared__ int sh_thr, sh_base;
  const int lv = level_of_tile(l, blockIdx.x);
  const int k = l.k[lv];  // >= 1: the level has anchors
  constexpr int kPer = kHistBins / kTileThreads;
  const int* h = hist + lv * kHistBins + threadIdx.x * kPer;
  int hb[kPer];
  int local = 0;
#pragma unroll
  for (int j = 0; j < kPer; ++j) {
    hb[j] = h[j];
    local += hb[j];
  }
  int run = 0;
  BlockScan(tmp).ExclusiveSum(local, run);
#pragma unroll
  for (int j = 0; j < kPer; ++j) {  // exactly one bin of the level satisfies this (the total is n >= k)
    if (run < k && run + hb[j] >= k) sh_thr = threadIdx.x * kPer + j;
    run += hb[j];
  }
  __syncthreads();
  const int t = sh_thr;
  const int64_t n = l.anchor_off[lv + 1] - l.anchor_off[lv];
  const int64_t base = int64_t{blockIdx.x - l.tile_off[lv]} * kTile;
  const int hw = p.feat_h[lv] * p.feat_w[lv];
  const float* logits = in.logits[lv];
  uint64_t key[kTileItems];
  bool take[kTileItems];
  int count = 0;
#pragma unroll
  for (int u = 0; u < kTileItems; ++u) {
    const int64_t m = base + u * kTileThreads + threadIdx.x;
    take[u] = false;
    key[u] = 0;
    if (m < n) {
      const uint32_t d = desc_key(logits[m]);
      if (hist_bin(d) <= t) {
        const int mi = static_cast<int>(m);
        const int a = mi / hw, yx = mi - a * hw;
        key[u] = (static_cast<uint64_t>(d) << l.idx_bits) | static_cast<uint32_t>(yx * l.A + a);
        take[u] = true;
        ++count;
      }
    }
  }
  int offset = 0, total = 0;
  BlockScan(tmp).ExclusiveSum(count, offset, total);
  if (threadIdx.x == 0) sh_base = total > 0 ? atomicAdd(&cand_count[lv], total) : 0;
  __syncthreads();
  uint64_t* out = cand + l.anchor_off[lv] + sh_base + offset;
#pragma unroll
  for (int u = 0; u < kTileItems; ++u)
    if (take[u]) *out++ = key[u];
}

template <int kItems>
using SelSort = cub::BlockRadixSort<uint64_t, kSelThreads, kItems>;

union SelSortStorage {
  typename SelSort<kSelItems / 4>::TempStorage small;
  typename SelSort<kSelItems / 2>::TempStorage medium;
  typename SelSort<kSelItems>::TempStorage large;
};
static_assert(sizeof(SelSortStorage) + 256 * sizeof(int) <= 46 * 1024, "topk_sort_kernel static shared memory");

// Sort the count (<= kSelThreads * kItems) composites at src (block-uniform call) and write the low
// idx_bits (the flattened index) of the first k to dst. Composites are unique (the index part), so the
// result does not depend on the order of src; padding (all ones) sorts after them.
template <int kItems>
__device__ __forceinline__ void sort_first_k(typename SelSort<kItems>::TempStorage& tmp, const uint64_t* src,
                                             int count, int k, int idx_bits, int* dst) {
  uint64_t key[kItems];
#pragma unroll
  for (int u = 0; u < kItems; ++u) {
    const int i = threadIdx.x * kItems + u;
    key[u] = i < count ? src[i] : ~0ull;
  }
  SelSort<kItems>(tmp).Sort(key, 0, 32 + idx_bits);  // blocked in, blocked out
  const uint64_t idx_mask = (1ull << idx_bits) - 1;
#pragma unroll
  for (int u = 0; u < kItems; ++u) {
    const int j = threadIdx.x * kItems + u;
    if (j < k) dst[j] = static_cast<int>(key[u] & idx_mask);
  }
}

// grid L, kSelThreads: level blockIdx.x's first k_l flattened indices in (desc_key, index) order ->
// sel_idx + k_off[lv]. When the level has more than kRpnSelectMaxCandidates candidates (host-side
// k_l <= kRpnSelectMaxCandidates always), an exact MSD radix select over the composites (8-bit digits,
// one pass over the candidates each) finds the prefix holding exactly the k_l smallest; those are
// gathered into exact + lv * kRpnSelectMaxCandidates and sorted.
__global__ void __launch_bounds__(kSelThreads)
    topk_sort_kernel(Layout l, const uint64_t* cand, const int* cand_count, uint64_t* exact, int* sel_idx) {
  __shared__ SelSortStorage tmp;
  __shared__ int sh_hist[256];
  __shared__ int sh_digit, sh_rank, sh_all, sh_n;
  const int lv = blockIdx.x;
  const int k = l.k[lv];
  if (k == 0) return;
  const uint64_t* src = cand + l.anchor_off[lv];
  int count = *(cand_count + lv);
  if (count > kRpnSelectMaxCandidates) {
    uint64_t prefix = 0;  // the digits chosen so far, in place
    int rank = k;         // how many of the keys under `prefix` still belong to the top k
    int hi = 32 + l.idx_bits, s = 0;
    for (;;) {
      s = max(hi - 8, 0);
      const uint64_t dmask = (1ull << (hi - s)) - 1;
      for (int i = threadIdx.x; i < 256; i += kSelThreads) sh_hist[i] = 0;
      __syncthreads();
      // Warp-aggregated counts: ties (the usual reason for getting here) hit one bin.
      for (int base = 0; base < count; base += kSelThreads) {
        const int i = base + threadIdx.x;
        int digit = -1;
        if (i < count) {
          const uint64_t c = src[i];
          if ((c >> hi) == (prefix >> hi)) digit = static_cast<int>((c >> s) & dmask);
        }
        const unsigned same = __match_any_sync(0xffffffffu, digit);
        if (digit >= 0 && (threadIdx.x & 31) == __ffs(same) - 1) atomicAdd(&sh_hist[digit], __popc(same));
      }
      __syncthreads();
      if (threadIdx.x == 0) {
        int b = 0, before = 0;
        while (before + sh_hist[b] < rank) before += sh_hist[b++];
        sh_digit = b;
        sh_rank = rank - before;
        sh_all = (rank - before == sh_hist[b]) ? 1 : 0;
      }
      __syncthreads();
      prefix |= static_cast<uint64_t>(sh_digit) << s;
      rank = sh_rank;
      const bool all = sh_all != 0;
      __syncthreads();  // sh_* are rewritten by the next pass
      // Composites are unique, so the last digit leaves a single key: `all` holds by s == 0.
      if (all || s == 0) break;
      hi = s;
    }
    // Exactly k composites c have (c >> s) <= (prefix >> s).
    if (threadIdx.x == 0) sh_n = 0;
    __syncthreads();
    uint64_t* dst = exact + int64_t{lv} * kRpnSelectMaxCandidates;
    for (int i = threadIdx.x; i < count; i += kSelThreads) {
      const uint64_t c = src[i];
      if ((c >> s) <= (prefix >> s)) {
        const int pos = atomicAdd(&sh_n, 1);
        if (pos < kRpnSelectMaxCandidates) dst[pos] = c;
      }
    }
    __syncthreads();  // the block's global writes are visible to the block after the barrier
    src = dst;
    count = min(sh_n, kRpnSelectMaxCandidates);  // == k
  }
  int* out = sel_idx + l.k_off[lv];
  if (count <= kSelThreads * (kSelItems / 4))
    sort_first_k<kSelItems / 4>(tmp.small, src, count, k, l.idx_bits, out);
  else if (count <= kSelThreads * (kSelItems / 2))
    sort_first_k<kSelItems / 2>(tmp.medium, src, count, k, l.idx_bits, out);
  else
    sort_first_k<kSelItems>(tmp.large, src, count, k, l.idx_bits, out);
}

__global__ void decode_kernel(Layout l, RpnLevelInputs in, RpnProposalsCudaParams p, const int* sorted_idx,
                              float4* cand_box, float* cand_score, uint8_t* cand_valid, int* counters) {
  const int pos = blockIdx.x * blockDim.x + threadIdx.x;
  if (pos >= l.k_off[l.num_levels]) return;
  int lv = 0;
  while (lv + 1 < l.num_levels && pos >= l.k_off[lv + 1]) ++lv;
  const int i = pos - l.k_off[lv];
  const int idx = sorted_idx[l.sel_off[lv] + i];
  const int W = p.feat_w[lv], hw = p.feat_h[lv] * W;
  const int yx = idx / l.A, a = idx % l.A;
  const int x = yx % W, y = yx / W;
  // grid_anchors: shift = float(offset*stride + stride*j) (double, rounded once) + cell anchor.
  const double stride = static_cast<double>(p.stride[lv]);
  const double start = static_cast<double>(p.offset) * stride;
  const float sx = static_cast<float>(start + stride * x);
  const float sy = static_cast<float>(start + stride * y);
  const float* c = in.cell_anchors[lv] + a * 4;
  const float4 anchor = make_float4(fadd(sx, c[0]), fadd(sy, c[1]), fadd(sx, c[2]), fadd(sy, c[3]));
  const float* d = in.deltas[lv];
  const int64_t base = static_cast<int64_t>(a) * 4 * hw + yx;
  float4 b = apply_deltas_one(anchor, d[base], d[base + hw], d[base + 2 * hw], d[base + 3 * hw], p.weights[0],
                              p.weights[1], p.weights[2], p.weights[3], p.scale_clamp);
  const float s = in.logits[lv][static_cast<int64_t>(a) * hw + yx];
  bool ok = all_finite(b) && isfinite(s);
  if (ok) {
    const float fw = static_cast<float>(p.image_w), fh = static_cast<float>(p.image_h);
    b = make_float4(std_clamp(b.x, 0.f, fw), std_clamp(b.y, 0.f, fh), std_clamp(b.z, 0.f, fw),
                    std_clamp(b.w, 0.f, fh));
    ok = fsub(b.z, b.x) > p.min_size && fsub(b.w, b.y) > p.min_size;
  }
  cand_box[pos] = b;
  cand_score[pos] = s;
  cand_valid[pos] = ok ? 1 : 0;
  if (ok) {
    atomicAdd(&counters[0], 1);
    const float m = fmaxf(fmaxf(b.x, b.y), fmaxf(b.z, b.w));  // >= 0 after clipping
    atomicMax(&counters[1], __float_as_int(m));
  }
}

constexpr int kScanThreads = 256;

// One block per level: stable compaction of the valid candidates into the level's group slots.
__global__ void compact_kernel(Layout l, const float4* cand_box, const float* cand_score, const uint8_t* cand_valid,
                               float4* grp_box, float* grp_score, int* counts) {
  using BlockScan = cub::BlockScan<int, kScanThreads>;
  __shared__ typename BlockScan::TempStorage tmp;
  __shared__ int running;
  const int lv = blockIdx.x;
  const int begin = l.k_off[lv], n = l.k[lv];
  if (threadIdx.x == 0) running = 0;
  __syncthreads();
  for (int chunk = 0; chunk < n; chunk += kScanThreads) {
    const int i = chunk + threadIdx.x;
    const int flag = (i < n && cand_valid[begin + i]) ? 1 : 0;
    int excl = 0, total = 0;
    BlockScan(tmp).ExclusiveSum(flag, excl, total);
    if (flag) {
      const int dst = lv * l.cap + running + excl;
      grp_box[dst] = cand_box[begin + i];
      grp_score[dst] = cand_score[begin + i];
    }
    __syncthreads();
    if (threadIdx.x == 0) running += total;
    __syncthreads();
  }
  if (threadIdx.x == 0) counts[lv] = running;
}

__global__ void merge_keys_kernel(int slots, const float* grp_score, const uint8_t* keep, uint32_t* keys, int* vals) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= slots) return;
  keys[i] = keep[i] ? desc_key(grp_score[i]) : kNoKey;
  vals[i] = i;
}

__global__ void output_kernel(int post_topk, const int* kept_total, const int* order, const float4* grp_box,
                              const float* grp_score, float* out_boxes, float* out_logits, int* out_count) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= post_topk) return;
  const int count = min(*kept_total, post_topk);
  if (i == 0) *out_count = count;
  float4 b = make_float4(0.f, 0.f, 0.f, 0.f);
  float s = 0.f;
  if (i < count) {
    b = grp_box[order[i]];
    s = grp_score[order[i]];
  }
  reinterpret_cast<float4*>(out_boxes)[i] = b;
  out_logits[i] = s;
}

using MergeSort = cub::BlockRadixSort<uint32_t, kMergeThreads, kMergeItems, int>;
static_assert(sizeof(typename MergeSort::TempStorage) <= 46 * 1024, "merge_output_kernel static shared memory");

// One block: merge_keys_kernel + the stable sort of the slots + output_kernel. Slot i sits at blocked
// rank i (slot order), padding after every slot with kNoKey (kept boxes have finite scores, never
// kNoKey), so the order of every slot equals the device sort's.
__global__ void __launch_bounds__(kMergeThreads)
    merge_output_kernel(int slots, int post_topk, const int* kept_total, const float* grp_score, const uint8_t* keep,
                        const float4* grp_box, float* out_boxes, float* out_logits, int* out_count) {
  __shared__ typename MergeSort::TempStorage tmp;
  uint32_t key[kMergeItems];
  int val[kMergeItems];
#pragma unroll
  for (int u = 0; u < kMergeItems; ++u) {
    const int i = threadIdx.x * kMergeItems + u;
    key[u] = (i < slots && keep[i]) ? desc_key(grp_score[i]) : kNoKey;
    val[u] = i;
  }
  MergeSort(tmp).Sort(key, val);  // blocked in, blocked out
  const int count = min(*kept_total, post_topk);  // <= slots
  if (threadIdx.x == 0) *out_count = count;
#pragma unroll
  for (int u = 0; u < kMergeItems; ++u) {
    const int j = threadIdx.x * kMergeItems + u;
    if (j < count) {
      reinterpret_cast<float4*>(out_boxes)[j] = grp_box[val[u]];
      out_logits[j] = grp_score[val[u]];
    }
  }
  for (int j = count + threadIdx.x; j < post_topk; j += kMergeThreads) {
    reinterpret_cast<float4*>(out_boxes)[j] = make_float4(0.f, 0.f, 0.f, 0.f);
    out_logits[j] = 0.f;
  }
}

int blocks_for(int64_t n, int threads) { return static_cast<int>((n + threads - 1) / threads); }

}  // namespace

void validate_rpn_proposals(const RpnProposalsCudaParams& p) {
  MASKRT_CHECK(p.num_levels >= 1 && p.num_levels <= kRpnMaxLevels, ErrorCode::kInvalidArgument,
               "rpn_proposals_cuda: num_levels ", p.num_levels, " must be in [1, ", kRpnMaxLevels, "]");
  MASKRT_CHECK(p.num_anchors >= 1, ErrorCode::kInvalidArgument, "rpn_proposals_cuda: num_anchors ", p.num_anchors,
               " must be >= 1");
  int64_t total = 0;
  for (int l = 0; l < p.num_levels; ++l) {
    MASKRT_CHECK(p.feat_h[l] >= 0 && p.feat_w[l] >= 0 && p.stride[l] > 0, ErrorCode::kInvalidArgument,
                 "rpn_proposals_cuda: level ", l, " has feature size ", p.feat_h[l], "x", p.feat_w[l], " stride ",
                 p.stride[l]);
    total += int64_t{p.feat_h[l]} * p.feat_w[l] * p.num_anchors;
  }
  MASKRT_CHECK(total < (int64_t{1} << 31), ErrorCode::kInvalidArgument, "rpn_proposals_cuda: ", total,
               " anchors is too many");
  MASKRT_CHECK(p.pre_nms_topk >= 1 && p.post_nms_topk >= 1, ErrorCode::kInvalidArgument,
               "rpn_proposals_cuda: PRE_NMS_TOPK_TEST ", p.pre_nms_topk, " and POST_NMS_TOPK_TEST ", p.post_nms_topk,
               " must be >= 1");
  MASKRT_CHECK(p.image_h >= 1 && p.image_w >= 1, ErrorCode::kInvalidArgument, "rpn_proposals_cuda: image size ",
               p.image_h, "x", p.image_w);
  MASKRT_CHECK(p.topk_algo == RpnTopkAlgo::kAuto || p.topk_algo == RpnTopkAlgo::kSort ||
                   p.topk_algo == RpnTopkAlgo::kSelect,
               ErrorCode::kInvalidArgument, "rpn_proposals_cuda: topk_algo ", static_cast<int>(p.topk_algo),
               " is not kAuto, kSort or kSelect");
}

RpnProposalsStages rpn_proposals_stages(const RpnProposalsCudaParams& p) {
  validate_rpn_proposals(p);
  const Layout l = make_layout(p);
  return {l.select, l.block_merge};
}

size_t rpn_proposals_workspace_bytes(const RpnProposalsCudaParams& p) {
  validate_rpn_proposals(p);
  const Layout l = make_layout(p);
  WorkspaceCarver w(nullptr);
  carve(p, l, w);
  return w.bytes();
}

void rpn_proposals_cuda(const RpnProposalsCudaParams& p, const RpnLevelInputs& in, float* d_boxes,
                        float* d_logits_out, int* d_count, void* workspace, cudaStream_t stream) {
  validate_rpn_proposals(p);
  const Layout l = make_layout(p);
  WorkspaceCarver w(workspace);
  Buffers b = carve(p, l, w);
  const int64_t n = l.anchor_off[l.num_levels];
  const int kt = l.k_off[l.num_levels];
  const int slots = l.num_levels * l.cap;
  constexpr int T = 256;
  MASKRT_CUDA_CHECK(cudaMemsetAsync(b.counters, 0, sizeof(int) * counter_ints(l), stream));
  if (kt == 0) {  // no anchors at all
    MASKRT_CUDA_CHECK(cudaMemsetAsync(d_boxes, 0, sizeof(float) * 4 * p.post_nms_topk, stream));
    MASKRT_CUDA_CHECK(cudaMemsetAsync(d_logits_out, 0, sizeof(float) * p.post_nms_topk, stream));
    MASKRT_CUDA_CHECK(cudaMemsetAsync(d_count, 0, sizeof(int), stream));
    return;
  }
  const int* sorted_idx = nullptr;
  if (l.select) {
    const int tiles = l.tile_off[l.num_levels];
    int* hist = b.counters + kHist;
    int* cand_count = b.counters + kCandCount;
    topk_hist_kernel<<<tiles, kTileThreads, 0, stream>>>(l, in, hist);
    MASKRT_CUDA_CHECK_LAST();
    topk_compact_kernel<<<tiles, kTileThreads, 0, stream>>>(l, in, p, hist, b.cand, cand_count);
    MASKRT_CUDA_CHECK_LAST();
    topk_sort_kernel<<<l.num_levels, kSelThreads, 0, stream>>>(l, b.cand, cand_count, b.exact, b.sel_idx);
    MASKRT_CUDA_CHECK_LAST();
    sorted_idx = b.sel_idx;
  } else {
    keys_kernel<<<blocks_for(n, T), T, 0, stream>>>(l, in, p, b.sort1.keys_in, b.sort1.vals_in);
    MASKRT_CUDA_CHECK_LAST();
    b.sort1.sort(stream);
    sorted_idx = b.sort1.vals_out;
  }
  decode_kernel<<<blocks_for(kt, T), T, 0, stream>>>(l, in, p, sorted_idx, b.cand_box, b.cand_score, b.cand_valid,
                                                     b.counters);
  MASKRT_CUDA_CHECK_LAST();
  int* level_counts = b.counters + 3;
  compact_kernel<<<l.num_levels, kScanThreads, 0, stream>>>(l, b.cand_box, b.cand_score, b.cand_valid, b.grp_box,
                                                            b.grp_score, level_counts);
  MASKRT_CUDA_CHECK_LAST();
  GroupedNms nms{};
  nms.boxes = b.grp_box;
  nms.counts = level_counts;
  nms.num_groups = l.num_levels;
  nms.capacity = l.cap;
  nms.iou_threshold = p.nms_thresh;
  nms.trick_total = b.counters + 0;
  nms.max_coord = reinterpret_cast<const float*>(b.counters + 1);
  nms.trick_max_numel = static_cast<int>(kBatchedNmsCoordinateTrickMaxNumel);
  nms.mask = b.mask;
  nms.keep = b.keep;
  MASKRT_CUDA_CHECK(launch_grouped_nms(nms, b.counters + 2, stream));
  if (l.block_merge) {
    merge_output_kernel<<<1, kMergeThreads, 0, stream>>>(slots, p.post_nms_topk, b.counters + 2, b.grp_score, b.keep,
                                                         b.grp_box, d_boxes, d_logits_out, d_count);
    MASKRT_CUDA_CHECK_LAST();
    return;
  }
  merge_keys_kernel<<<blocks_for(slots, T), T, 0, stream>>>(slots, b.grp_score, b.keep, b.sort2.keys_in,
                                                            b.sort2.vals_in);
  MASKRT_CUDA_CHECK_LAST();
  b.sort2.sort(stream);
  output_kernel<<<blocks_for(p.post_nms_topk, T), T, 0, stream>>>(p.post_nms_topk, b.counters + 2, b.sort2.vals_out,
                                                                  b.grp_box, b.grp_score, d_boxes, d_logits_out,
                                                                  d_count);
  MASKRT_CUDA_CHECK_LAST();
}

}  // namespace maskrt::ops
