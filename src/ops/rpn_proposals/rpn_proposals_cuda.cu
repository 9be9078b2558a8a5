// CUDA find_top_rpn_proposals (see rpn_proposals_cuda.h). Stages, all on `stream`:
//   1. keys: (level << 32 | desc_key(logit)) for every anchor of every level, value = flattened index;
//   2. one stable radix sort (CUB) -> per level, logits descending, ties by flattened index;
//   3. decode the first k_l of each level (anchors on the fly), filter, clip -> candidate slots;
//   4. per-level stable compaction of the valid candidates (block scan);
//   5. grouped bitmask NMS (levels = groups; coordinate trick decided from the device count);
//   6. stable radix sort of the kept (score desc; ties by (level, rank)) and the first post_nms_topk.
#include "ops/rpn_proposals/rpn_proposals_cuda.h"

#include <algorithm>

#include <cub/block/block_scan.cuh>
#include <cub/device/device_radix_sort.cuh>

#include "backend/cuda/cuda_check.h"
#include "core/check.h"
#include "ops/nms/nms.h"
#include "ops/nms/nms_cuda.cuh"
#include "ops/small_cuda/cuda_workspace.h"

namespace maskrt::ops {
namespace {
using namespace cuda_detail;

struct Layout {  // host-computed from the params; passed to kernels by value
  int num_levels = 0;
  int A = 0;
  int64_t anchor_off[kRpnMaxLevels + 1] = {};  // offsets of each level in the sorted arrays
  int k[kRpnMaxLevels] = {};                   // per-level top-k
  int k_off[kRpnMaxLevels + 1] = {};           // offsets of each level's candidates
  int cap = 0;                                 // max k (group capacity)
  int sort_end_bit = 33;
};

Layout make_layout(const RpnProposalsCudaParams& p) {
  Layout l;
  l.num_levels = p.num_levels;
  l.A = p.num_anchors;
  for (int i = 0; i < p.num_levels; ++i) {
    const int64_t n = int64_t{p.feat_h[i]} * p.feat_w[i] * p.num_anchors;
    l.anchor_off[i + 1] = l.anchor_off[i] + n;
    l.k[i] = static_cast<int>(std::min<int64_t>(p.pre_nms_topk, n));
    l.k_off[i + 1] = l.k_off[i] + l.k[i];
    l.cap = std::max(l.cap, l.k[i]);
  }
  int bits = 0;
  while ((1 << bits) < p.num_levels) ++bits;
  l.sort_end_bit = 32 + std::max(bits, 1);
  return l;
}

struct Buffers {
  uint64_t* keys_in;
  uint64_t* keys_out;
  int* vals_in;
  int* vals_out;
  void* sort1_temp;
  size_t sort1_bytes;
  float4* cand_box;   // (k_total)
  float* cand_score;  // (k_total)
  uint8_t* cand_valid;
  float4* grp_box;    // (L, cap)
  float* grp_score;   // (L, cap)
  unsigned long long* mask;
  uint8_t* keep;      // (L, cap)
  uint32_t* mkeys_in;
  uint32_t* mkeys_out;
  int* mvals_in;
  int* mvals_out;
  void* sort2_temp;
  size_t sort2_bytes;
  int* counters;      // [0] valid total R, [1] max coord bits, [2] kept total, [3..3+L) per-level counts
};

Buffers carve(const RpnProposalsCudaParams& p, const Layout& l, WorkspaceCarver& w) {
  Buffers b{};
  const int64_t n = l.anchor_off[l.num_levels];
  const int kt = l.k_off[l.num_levels];
  const int64_t slots = int64_t{l.num_levels} * l.cap;
  b.keys_in = w.take<uint64_t>(n);
  b.keys_out = w.take<uint64_t>(n);
  b.vals_in = w.take<int>(n);
  b.vals_out = w.take<int>(n);
  MASKRT_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, b.sort1_bytes, b.keys_in, b.keys_out, b.vals_in,
                                                    b.vals_out, n, 0, l.sort_end_bit));
  b.sort1_temp = w.take_bytes(b.sort1_bytes);
  b.cand_box = w.take<float4>(kt);
  b.cand_score = w.take<float>(kt);
  b.cand_valid = w.take<uint8_t>(kt);
  b.grp_box = w.take<float4>(slots);
  b.grp_score = w.take<float>(slots);
  b.mask = w.take<unsigned long long>(slots * nms_words(l.cap));
  b.keep = w.take<uint8_t>(slots);
  b.mkeys_in = w.take<uint32_t>(slots);
  b.mkeys_out = w.take<uint32_t>(slots);
  b.mvals_in = w.take<int>(slots);
  b.mvals_out = w.take<int>(slots);
  MASKRT_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, b.sort2_bytes, b.mkeys_in, b.mkeys_out, b.mvals_in,
                                                    b.mvals_out, slots, 0, 32));
  b.sort2_temp = w.take_bytes(b.sort2_bytes);
  b.counters = w.take<int>(3 + kRpnMaxLevels);
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

__global__ void decode_kernel(Layout l, RpnLevelInputs in, RpnProposalsCudaParams p, const int* sorted_idx,
                              float4* cand_box, float* cand_score, uint8_t* cand_valid, int* counters) {
  const int pos = blockIdx.x * blockDim.x + threadIdx.x;
  if (pos >= l.k_off[l.num_levels]) return;
  int lv = 0;
  while (lv + 1 < l.num_levels && pos >= l.k_off[lv + 1]) ++lv;
  const int i = pos - l.k_off[lv];
  const int idx = sorted_idx[l.anchor_off[lv] + i];
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
  MASKRT_CUDA_CHECK(cudaMemsetAsync(b.counters, 0, sizeof(int) * (3 + kRpnMaxLevels), stream));
  if (kt == 0) {  // no anchors at all
    MASKRT_CUDA_CHECK(cudaMemsetAsync(d_boxes, 0, sizeof(float) * 4 * p.post_nms_topk, stream));
    MASKRT_CUDA_CHECK(cudaMemsetAsync(d_logits_out, 0, sizeof(float) * p.post_nms_topk, stream));
    MASKRT_CUDA_CHECK(cudaMemsetAsync(d_count, 0, sizeof(int), stream));
    return;
  }
  keys_kernel<<<blocks_for(n, T), T, 0, stream>>>(l, in, p, b.keys_in, b.vals_in);
  MASKRT_CUDA_CHECK_LAST();
  MASKRT_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(b.sort1_temp, b.sort1_bytes, b.keys_in, b.keys_out, b.vals_in,
                                                    b.vals_out, n, 0, l.sort_end_bit, stream));
  decode_kernel<<<blocks_for(kt, T), T, 0, stream>>>(l, in, p, b.vals_out, b.cand_box, b.cand_score, b.cand_valid,
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
  merge_keys_kernel<<<blocks_for(slots, T), T, 0, stream>>>(slots, b.grp_score, b.keep, b.mkeys_in, b.mvals_in);
  MASKRT_CUDA_CHECK_LAST();
  MASKRT_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(b.sort2_temp, b.sort2_bytes, b.mkeys_in, b.mkeys_out,
                                                    b.mvals_in, b.mvals_out, slots, 0, 32, stream));
  output_kernel<<<blocks_for(p.post_nms_topk, T), T, 0, stream>>>(p.post_nms_topk, b.counters + 2, b.mvals_out,
                                                                  b.grp_box, b.grp_score, d_boxes, d_logits_out,
                                                                  d_count);
  MASKRT_CUDA_CHECK_LAST();
}

}  // namespace maskrt::ops
