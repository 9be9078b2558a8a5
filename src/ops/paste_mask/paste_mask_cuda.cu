// CUDA detector_postprocess + packed mask paste (see paste_mask_cuda.h, paste_mask_packed.h).
//   plan  (1 block): per detection (threads in parallel) rescale + clip + keep, region, word count;
//                    thread 0 compacts in order and assigns word offsets greedily (a record that
//                    does not fit gets -1, later ones may still fit); records written in parallel.
//   paste (grid fixed by words_capacity): warps stride over words [0, words_used); a word's record is
//                    the last one whose word_start <= word (binary search); the 32 lanes compute the
//                    32 rows of the word's column and __ballot_sync packs them.
#include "ops/paste_mask/paste_mask_cuda.h"

#include <algorithm>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/launch_util.h"
#include "core/check.h"
#include "ops/paste_mask/paste_mask_math.h"

namespace maskrt::ops {
namespace {
namespace pm = paste_math;

constexpr int kPlanThreads = 256;
constexpr int kPasteThreads = 256;
constexpr int kPasteWarps = kPasteThreads / 32;
constexpr int kWordsPerWarp = 8;  // grid sizing: about this many words per warp at full capacity
constexpr int kMaxPasteBlocks = 2048;

struct BlockPtrs {
  PasteMaskHeader* header;
  PasteMaskRecord* records;  // (capacity)
  int32_t* word_start;       // (capacity)
  uint32_t* words;           // (words_capacity)
};

__device__ int detection_count(const int* d_count, int capacity) {
  if (!d_count) return capacity;
  const int n = *d_count;
  return n < 0 ? 0 : (n > capacity ? capacity : n);
}

// The kept test and region of detection i (identical in both passes of the plan kernel).
__device__ bool plan_one(const PasteMaskCudaParams& p, const float* boxes, int i, float scale_x, float scale_y,
                         float box[4], int& x0, int& y0, int& w, int& h) {
  const float in[4] = {boxes[4 * i], boxes[4 * i + 1], boxes[4 * i + 2], boxes[4 * i + 3]};
  const bool keep = pm::rescale_clip_box(in, scale_x, scale_y, static_cast<float>(p.orig_w),
                                         static_cast<float>(p.orig_h), box);
  if (keep) pm::region_bounds(box, p.orig_h, p.orig_w, x0, y0, w, h);
  return keep;
}

__global__ void __launch_bounds__(kPlanThreads) plan_kernel(PasteMaskCudaParams p, const int* d_count,
                                                            const float* boxes, BlockPtrs out) {
  extern __shared__ int smem[];
  int* s_words = smem;                  // (capacity) word count of a kept detection, -1 = dropped
  int* s_slot = smem + p.capacity;      // (capacity) record index, -1 = dropped
  int* s_off = smem + 2 * p.capacity;   // (capacity) word offset, -1 = not placed
  const int n = detection_count(d_count, p.capacity);
  const float scale_x = pm::div(static_cast<float>(p.orig_w), static_cast<float>(p.resized_w));
  const float scale_y = pm::div(static_cast<float>(p.orig_h), static_cast<float>(p.resized_h));
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    float box[4];
    int x0, y0, w, h;
    s_words[i] = plan_one(p, boxes, i, scale_x, scale_y, box, x0, y0, w, h)
                     ? static_cast<int>(paste_mask_region_words(w, h))
                     : -1;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    int kept = 0, unplaced = 0;
    int64_t used = 0;
    for (int i = 0; i < n; ++i) {
      const int nw = s_words[i];
      if (nw < 0) {
        s_slot[i] = -1;
        continue;
      }
      out.word_start[kept] = static_cast<int32_t>(used);
      s_slot[i] = kept++;
      if (used + nw <= p.words_capacity) {
        s_off[i] = static_cast<int>(used);
        used += nw;
      } else {
        s_off[i] = -1;
        ++unplaced;
      }
    }
    *out.header = PasteMaskHeader{kept, static_cast<int32_t>(used), unplaced, n};
  }
  __syncthreads();
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    const int slot = s_slot[i];
    if (slot < 0) continue;
    PasteMaskRecord r;
    r.src = i;
    r.x0 = r.y0 = r.w = r.h = 0;
    plan_one(p, boxes, i, scale_x, scale_y, r.box, r.x0, r.y0, r.w, r.h);
    r.word_offset = s_off[i];
    out.records[slot] = r;
  }
}

__global__ void __launch_bounds__(kPasteThreads) paste_kernel(PasteMaskCudaParams p, const float* mask_probs,
                                                              BlockPtrs out) {
  const int lane = threadIdx.x & 31;
  const int warp = (blockIdx.x * blockDim.x + threadIdx.x) >> 5;
  const int num_warps = (gridDim.x * blockDim.x) >> 5;
  const int kept = out.header->kept;
  const int used = out.header->words_used;
  const int M = p.mask_size;
  for (int k = warp; k < used; k += num_warps) {  // k is uniform in the warp: the ballot sees all lanes
    int lo = 0, hi = kept - 1;                     // last record with word_start <= k
    while (lo < hi) {
      const int mid = (lo + hi + 1) >> 1;
      if (out.word_start[mid] <= k) lo = mid; else hi = mid - 1;
    }
    const PasteMaskRecord& r = out.records[lo];
    if (r.word_offset < 0 || r.h <= 0) continue;  // cannot happen for k < words_used (placed ranges tile it)
    const int wpc = (r.h + 31) >> 5;
    const int local = k - r.word_offset;
    const int col = local / wpc;
    const int row = (local - col * wpc) * 32 + lane;
    bool bit = false;
    if (row < r.h) {
      const float ex = pm::sub(r.box[2], r.box[0]), ey = pm::sub(r.box[3], r.box[1]);
      const pm::AxisTap tx = pm::axis_tap(pm::grid_coord(r.x0 + col, r.box[0], ex), M);
      const pm::AxisTap ty = pm::axis_tap(pm::grid_coord(r.y0 + row, r.box[1], ey), M);
      const float* mask = mask_probs + static_cast<int64_t>(r.src) * M * M;
      bit = pm::sample(mask, M, tx, ty) >= p.threshold;
    }
    const unsigned word = __ballot_sync(0xffffffffu, bit);
    if (lane == 0) out.words[k] = word;
  }
}

}  // namespace

void paste_masks_cuda(const PasteMaskCudaParams& p, const int* d_count, const float* d_boxes,
                      const float* d_mask_probs, void* d_block, cudaStream_t stream) {
  const PasteMaskBlockLayout l = paste_mask_block_layout(p);  // validates p
  MASKRT_CHECK(d_boxes != nullptr && d_mask_probs != nullptr && d_block != nullptr, ErrorCode::kInvalidArgument,
               "paste_masks_cuda: boxes, mask_probs and block must not be null");
  MASKRT_CHECK(cuda::is_aligned16(d_block), ErrorCode::kInvalidArgument,
               "paste_masks_cuda: block is not 16-byte aligned");
  char* b = static_cast<char*>(d_block);
  const BlockPtrs out{reinterpret_cast<PasteMaskHeader*>(b + l.header),
                      reinterpret_cast<PasteMaskRecord*>(b + l.records),
                      reinterpret_cast<int32_t*>(b + l.word_start), reinterpret_cast<uint32_t*>(b + l.words)};
  const size_t smem = sizeof(int) * 3 * static_cast<size_t>(p.capacity);
  plan_kernel<<<1, kPlanThreads, smem, stream>>>(p, d_count, d_boxes, out);
  MASKRT_CUDA_CHECK_LAST();
  const int64_t want = (p.words_capacity + int64_t{kPasteWarps} * kWordsPerWarp - 1) /
                       (int64_t{kPasteWarps} * kWordsPerWarp);
  const int blocks = static_cast<int>(std::clamp<int64_t>(want, 1, kMaxPasteBlocks));
  paste_kernel<<<blocks, kPasteThreads, 0, stream>>>(p, d_mask_probs, out);
  MASKRT_CUDA_CHECK_LAST();
}

}  // namespace maskrt::ops
