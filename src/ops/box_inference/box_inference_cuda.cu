// CUDA fast_rcnn_inference_single_image (see box_inference_cuda.h). Stages, all on `stream`:
//   1. per row: softmax max / sum, row validity (every score and decoded box finite);
//   2. per (row, class): score, candidate test, clipped box; composite key (class << 32 | desc score)
//      with non-candidates last in their class; per-class and total counts, max coordinate;
//   3. per class, candidates by score desc, ties by row, gathered into per-class groups: one block per
//      class (stable cub::BlockRadixSort of the class's R score keys) when R <= kMaxBlockSortRows;
//      otherwise one stable device radix sort over all (class, score) keys, then a gather;
//   4. grouped bitmask NMS (coordinate trick from the device count);
//   5. stable radix sort of the kept by score desc in (row, class) order; first detections_per_image.
#include "ops/box_inference/box_inference_cuda.h"

#include <algorithm>

#include <cub/block/block_radix_sort.cuh>
#include <cub/device/device_radix_sort.cuh>

#include "backend/cuda/cuda_check.h"
#include "core/check.h"
#include "ops/box_inference/row_max_rule.h"
#include "ops/nms/nms.h"
#include "ops/nms/nms_cuda.cuh"
#include "ops/small_cuda/cub_sort_pairs.cuh"
#include "ops/small_cuda/cuda_workspace.h"

namespace maskrt::ops {
namespace {
using namespace cuda_detail;
using box_inference_detail::take_first_max;

// Per-class sort in one block: kSortThreads threads x kItems keys hold a class's R slots.
constexpr int kSortThreads = 256;
constexpr int kSortItemsSmall = 4;   // R <= 1024 (POST_NMS_TOPK_TEST 1000)
constexpr int kSortItemsLarge = 16;  // R <= 4096
constexpr int kMaxBlockSortRows = kSortThreads * kSortItemsLarge;

bool block_sort(const BoxInferenceCudaParams& p) { return p.roi_capacity <= kMaxBlockSortRows; }

struct Buffers {
  float* row_max;    // (R)
  float* row_sum;    // (R)
  uint8_t* row_ok;   // (R)
  float4* cand_box;  // (R*K) clipped box of (r, k)
  float* cand_score; // (R*K)
  uint32_t* class_keys;                   // (K, R) desc score key of (r, k) or kNoKey; block sort only
  uint64_t* keys_in; uint64_t* keys_out;  // (R*K) (class, desc score) keys; device sort only
  int* vals_in;                           // (R*K) c = r*K + k; device sort only
  int* vals_out;                          // (K, R) sorted_c: slot k*R + j = j-th candidate c of class k
  void* sort1_temp; size_t sort1_bytes;   // device sort only
  float4* grp_box;   // (K, R)
  unsigned long long* mask;
  uint8_t* keep;     // (K, R)
  CubSortPairs<uint32_t, int> final_sort;  // (R*K) desc score keys of the kept candidates, candidate c
  int* counters;     // [0] candidates M, [1] max coord bits, [2] kept, [3..3+K) per-class counts
};

int class_bits(int K) {
  int bits = 1;
  while ((1 << bits) < K) ++bits;
  return bits;
}

Buffers carve(const BoxInferenceCudaParams& p, WorkspaceCarver& w) {
  Buffers b{};
  const int R = p.roi_capacity, K = p.num_classes;
  const int64_t n = int64_t{R} * K;
  b.row_max = w.take<float>(R);
  b.row_sum = w.take<float>(R);
  b.row_ok = w.take<uint8_t>(R);
  b.cand_box = w.take<float4>(n);
  b.cand_score = w.take<float>(n);
  b.vals_out = w.take<int>(n);
  if (block_sort(p)) {
    b.class_keys = w.take<uint32_t>(n);
  } else {
    b.keys_in = w.take<uint64_t>(n);
    b.keys_out = w.take<uint64_t>(n);
    b.vals_in = w.take<int>(n);
    MASKRT_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, b.sort1_bytes, b.keys_in, b.keys_out, b.vals_in,
                                                      b.vals_out, n, 0, 32 + class_bits(K)));
    b.sort1_temp = w.take_bytes(b.sort1_bytes);
  }
  b.grp_box = w.take<float4>(n);
  b.mask = w.take<unsigned long long>(n * nms_words(R));
  b.keep = w.take<uint8_t>(n);
  b.final_sort.carve(w, n, 32);
  b.counters = w.take<int>(3 + size_t(K));
  return b;
}

__device__ __forceinline__ float4 load4(const float* p) { return make_float4(p[0], p[1], p[2], p[3]); }

__device__ __forceinline__ float4 decode_class(const BoxInferenceCudaParams& p, const float* deltas,
                                               const float* proposals, int r, int k) {
  const int nreg = p.class_agnostic ? 1 : p.num_classes;
  const float* d = deltas + (static_cast<int64_t>(r) * nreg + (p.class_agnostic ? 0 : k)) * 4;
  return apply_deltas_one(load4(proposals + int64_t{r} * 4), d[0], d[1], d[2], d[3], p.weights[0], p.weights[1],
                          p.weights[2], p.weights[3], p.scale_clamp);
}

// One warp per row (kRowsPerBlock rows per block). Identical results to the sequential per-row loop
//   m = l[0]; for j: m = std_max(m, l[j]);  sum = 0; for j: sum += exp(l[j] - m);
//   ok = every exp(l[j] - m) / sum finite and every decoded box finite:
// * row max: lanes reduce (value, column) pairs by take_first_max (row_max_rule.h: the sequential
//   std::max result, bit for bit, under any reduction order); l[0] NaN -> m = l[0].
// * row sum: the lanes evaluate the exps (double precision, the expensive part) 32 at a time in
//   parallel; every lane then adds the 32 values in column order from shuffles, so the float sum is
//   the same chain of roundings as the sequential loop (no tree reduction).
// * finiteness: a logical AND, order-free; lanes split the columns and the classes.
constexpr int kRowsPerBlock = 4;

__global__ void __launch_bounds__(32 * kRowsPerBlock)
    rows_kernel(BoxInferenceCudaParams p, const float* logits, const float* deltas, const float* proposals,
                const int* num_proposals, float* row_max, float* row_sum, uint8_t* row_ok) {
  constexpr unsigned kAll = 0xffffffffu;
  const int lane = threadIdx.x & 31;
  const int r = blockIdx.x * kRowsPerBlock + (threadIdx.x >> 5);
  if (r >= p.roi_capacity) return;  // whole warp
  if (r >= *num_proposals) {
    if (lane == 0) row_ok[r] = 0;
    return;
  }
  const int K1 = p.num_classes + 1;
  const float* l = logits + int64_t{r} * K1;
  float v = 0.f;
  int vi = -1;
  for (int j = lane; j < K1; j += 32) {
    const float x = l[j];
    if (!isnan(x)) take_first_max(v, vi, x, j);
  }
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) {
    const float ov = __shfl_xor_sync(kAll, v, off);
    const int oi = __shfl_xor_sync(kAll, vi, off);
    take_first_max(v, vi, ov, oi);
  }
  const float l0 = l[0];
  const float m = isnan(l0) ? l0 : v;  // l[0] not NaN -> vi >= 0
  float sum = 0.f;
  for (int base = 0; base < K1; base += 32) {
    const int j = base + lane;
    const float e = j < K1 ? exp_via_double(fsub(l[j], m)) : 0.f;
    if (K1 - base >= 32) {
#pragma unroll
      for (int t = 0; t < 32; ++t) sum = fadd(sum, __shfl_sync(kAll, e, t));
    } else {
      for (int t = 0; t < K1 - base; ++t) sum = fadd(sum, __shfl_sync(kAll, e, t));
    }
  }
  bool ok = true;
  for (int j = lane; j < K1; j += 32) ok = ok && isfinite(fdiv(exp_via_double(fsub(l[j], m)), sum));
  const int nreg = p.class_agnostic ? 1 : p.num_classes;
  for (int k = lane; k < nreg; k += 32) ok = ok && all_finite(decode_class(p, deltas, proposals, r, k));
  ok = __all_sync(kAll, ok);
  if (lane == 0) {
    row_max[r] = m;
    row_sum[r] = sum;
    row_ok[r] = ok ? 1 : 0;
  }
}

// One thread per candidate slot c = r*K + k. Writes class_keys (block sort) or keys / vals (device sort),
// whichever is not null.
__global__ void candidates_kernel(BoxInferenceCudaParams p, const float* logits, const float* deltas,
                                  const float* proposals, const float* row_max, const float* row_sum,
                                  const uint8_t* row_ok, float4* cand_box, float* cand_score,
                                  uint32_t* class_keys, uint64_t* keys, int* vals, uint32_t* fkeys, int* fvals,
                                  int* counters) {
  const int64_t c = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  const int K = p.num_classes;
  if (c >= int64_t{p.roi_capacity} * K) return;
  const int r = static_cast<int>(c / K), k = static_cast<int>(c % K);
  bool cand = row_ok[r] != 0;
  float s = 0.f;
  if (cand) {
    s = fdiv(exp_via_double(fsub(logits[int64_t{r} * (K + 1) + k], row_max[r])), row_sum[r]);
    cand = s > p.score_thresh;
  }
  if (cand) {
    const float4 d = decode_class(p, deltas, proposals, r, k);
    const float fw = static_cast<float>(p.image_w), fh = static_cast<float>(p.image_h);
    const float4 b = make_float4(std_clamp(d.x, 0.f, fw), std_clamp(d.y, 0.f, fh), std_clamp(d.z, 0.f, fw),
                                 std_clamp(d.w, 0.f, fh));
    cand_box[c] = b;
    cand_score[c] = s;
    atomicAdd(&counters[0], 1);
    atomicAdd(&counters[3 + k], 1);
    atomicMax(&counters[1], __float_as_int(fmaxf(fmaxf(b.x, b.y), fmaxf(b.z, b.w))));
  }
  const uint32_t key = cand ? desc_key(s) : kNoKey;
  if (class_keys) {
    class_keys[int64_t{k} * p.roi_capacity + r] = key;
  } else {
    keys[c] = (static_cast<uint64_t>(k) << 32) | key;
    vals[c] = static_cast<int>(c);
  }
  fkeys[c] = kNoKey;
  fvals[c] = static_cast<int>(c);
}

// One block per class k: stable sort of the class's R keys (rows in ascending order, so equal scores
// keep row order; non-candidates carry kNoKey and sort last) -- the same order as the device sort of
// (class << 32 | key) over c = r*K + k. Then slot (k, j) <- the j-th candidate, for j < counts[k].
template <int kItems>
__global__ void __launch_bounds__(kSortThreads)
    class_sort_kernel(int R, int K, const uint32_t* class_keys, const int* counts, const float4* cand_box,
                      int* sorted_c, float4* grp_box) {
  using BlockSort = cub::BlockRadixSort<uint32_t, kSortThreads, kItems, int>;
  __shared__ typename BlockSort::TempStorage temp;
  const int k = blockIdx.x;
  const uint32_t* keys = class_keys + int64_t{k} * R;
  uint32_t key[kItems];
  int row[kItems];
#pragma unroll
  for (int u = 0; u < kItems; ++u) {
    const int i = threadIdx.x * kItems + u;  // blocked arrangement: rank order == row order
    key[u] = i < R ? keys[i] : kNoKey;
    row[u] = i;
  }
  BlockSort(temp).Sort(key, row);  // blocked in, blocked out
  const int n = counts[k];
#pragma unroll
  for (int u = 0; u < kItems; ++u) {
    const int j = threadIdx.x * kItems + u;
    if (j < n) {
      const int c = row[u] * K + k;
      sorted_c[int64_t{k} * R + j] = c;
      grp_box[int64_t{k} * R + j] = cand_box[c];
    }
  }
}

// Group slot (k, j) <- the j-th candidate of class k in NMS order (device-sort path).
__global__ void gather_kernel(int R, int K, const int* counts, const int* sorted_c, const float4* cand_box,
                              float4* grp_box) {
  const int64_t s = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (s >= int64_t{R} * K) return;
  const int k = static_cast<int>(s / R), j = static_cast<int>(s % R);
  if (j < counts[k]) grp_box[s] = cand_box[sorted_c[s]];
}

__global__ void final_keys_kernel(int R, int K, const int* counts, const uint8_t* keep, const int* sorted_c,
                                  const float* cand_score, uint32_t* fkeys) {
  const int64_t s = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (s >= int64_t{R} * K) return;
  const int k = static_cast<int>(s / R), j = static_cast<int>(s % R);
  if (j < counts[k] && keep[s]) {
    const int c = sorted_c[s];
    fkeys[c] = desc_key(cand_score[c]);
  }
}

__global__ void output_kernel(int D, int K, const int* kept_total, const int* order, const float4* cand_box,
                              const float* cand_score, float* out_boxes, float* out_scores, int* out_classes,
                              int* out_count) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= D) return;
  const int count = min(*kept_total, D);
  if (i == 0) *out_count = count;
  float4 b = make_float4(0.f, 0.f, 0.f, 0.f);
  float s = 0.f;
  int cls = 0;
  if (i < count) {
    const int c = order[i];
    b = cand_box[c];
    s = cand_score[c];
    cls = c % K;
  }
  reinterpret_cast<float4*>(out_boxes)[i] = b;
  out_scores[i] = s;
  out_classes[i] = cls;
}

int blocks_for(int64_t n, int threads) { return static_cast<int>((n + threads - 1) / threads); }

}  // namespace

void validate_box_inference(const BoxInferenceCudaParams& p) {
  MASKRT_CHECK(p.roi_capacity >= 1 && p.num_classes >= 1 && p.detections_per_image >= 1, ErrorCode::kInvalidArgument,
               "box_inference_cuda: roi_capacity ", p.roi_capacity, ", NUM_CLASSES ", p.num_classes,
               " and DETECTIONS_PER_IMAGE ", p.detections_per_image, " must be >= 1");
  MASKRT_CHECK(int64_t{p.roi_capacity} * p.num_classes < (int64_t{1} << 31), ErrorCode::kInvalidArgument,
               "box_inference_cuda: roi_capacity * NUM_CLASSES is too large");
  MASKRT_CHECK(p.image_h >= 1 && p.image_w >= 1, ErrorCode::kInvalidArgument, "box_inference_cuda: image size ",
               p.image_h, "x", p.image_w);
}

size_t box_inference_workspace_bytes(const BoxInferenceCudaParams& p) {
  validate_box_inference(p);
  WorkspaceCarver w(nullptr);
  carve(p, w);
  return w.bytes();
}

void box_inference_cuda(const BoxInferenceCudaParams& p, const float* d_logits, const float* d_deltas,
                        const float* d_proposals, const int* d_num_proposals, float* d_boxes, float* d_scores,
                        int* d_classes, int* d_count, void* workspace, cudaStream_t stream) {
  validate_box_inference(p);
  WorkspaceCarver w(workspace);
  Buffers b = carve(p, w);
  const int R = p.roi_capacity, K = p.num_classes;
  const int64_t n = int64_t{R} * K;
  constexpr int T = 256;
  MASKRT_CUDA_CHECK(cudaMemsetAsync(b.counters, 0, sizeof(int) * (3 + size_t(K)), stream));
  rows_kernel<<<blocks_for(R, kRowsPerBlock), 32 * kRowsPerBlock, 0, stream>>>(
      p, d_logits, d_deltas, d_proposals, d_num_proposals, b.row_max, b.row_sum, b.row_ok);
  MASKRT_CUDA_CHECK_LAST();
  candidates_kernel<<<blocks_for(n, T), T, 0, stream>>>(p, d_logits, d_deltas, d_proposals, b.row_max, b.row_sum,
                                                        b.row_ok, b.cand_box, b.cand_score, b.class_keys, b.keys_in,
                                                        b.vals_in, b.final_sort.keys_in, b.final_sort.vals_in,
                                                        b.counters);
  MASKRT_CUDA_CHECK_LAST();
  int* class_counts = b.counters + 3;
  if (block_sort(p)) {
    if (R <= kSortThreads * kSortItemsSmall) {
      class_sort_kernel<kSortItemsSmall><<<K, kSortThreads, 0, stream>>>(R, K, b.class_keys, class_counts,
                                                                          b.cand_box, b.vals_out, b.grp_box);
    } else {
      class_sort_kernel<kSortItemsLarge><<<K, kSortThreads, 0, stream>>>(R, K, b.class_keys, class_counts,
                                                                          b.cand_box, b.vals_out, b.grp_box);
    }
    MASKRT_CUDA_CHECK_LAST();
  } else {
    MASKRT_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(b.sort1_temp, b.sort1_bytes, b.keys_in, b.keys_out, b.vals_in,
                                                      b.vals_out, n, 0, 32 + class_bits(K), stream));
    gather_kernel<<<blocks_for(n, T), T, 0, stream>>>(R, K, class_counts, b.vals_out, b.cand_box, b.grp_box);
    MASKRT_CUDA_CHECK_LAST();
  }
  GroupedNms nms{};
  nms.boxes = b.grp_box;
  nms.counts = class_counts;
  nms.num_groups = K;
  nms.capacity = R;
  nms.iou_threshold = p.nms_thresh;
  nms.trick_total = b.counters + 0;
  nms.max_coord = reinterpret_cast<const float*>(b.counters + 1);
  nms.trick_max_numel = static_cast<int>(kBatchedNmsCoordinateTrickMaxNumel);
  nms.mask = b.mask;
  nms.keep = b.keep;
  MASKRT_CUDA_CHECK(launch_grouped_nms(nms, b.counters + 2, stream));
  final_keys_kernel<<<blocks_for(n, T), T, 0, stream>>>(R, K, class_counts, b.keep, b.vals_out, b.cand_score,
                                                        b.final_sort.keys_in);
  MASKRT_CUDA_CHECK_LAST();
  b.final_sort.sort(stream);
  output_kernel<<<blocks_for(p.detections_per_image, T), T, 0, stream>>>(
      p.detections_per_image, K, b.counters + 2, b.final_sort.vals_out, b.cand_box, b.cand_score, d_boxes, d_scores, d_classes,
      d_count);
  MASKRT_CUDA_CHECK_LAST();
}

}  // namespace maskrt::ops
