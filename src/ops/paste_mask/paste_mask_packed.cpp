// Host side of the packed mask paste block (see paste_mask_packed.h): layout, validation, unpacking.
#include "ops/paste_mask/paste_mask_packed.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/check.h"
#include "ops/paste_mask/paste_mask.h"
#include "ops/rle/rle.h"

namespace maskrt::ops {
namespace {
constexpr size_t kSectionAlign = 16;
size_t align_up(size_t x) { return (x + kSectionAlign - 1) / kSectionAlign * kSectionAlign; }
constexpr int64_t kMaxWords = std::numeric_limits<int32_t>::max();
}  // namespace

void validate_paste_mask(const PasteMaskCudaParams& p) {
  MASKRT_CHECK(p.capacity >= 1 && p.capacity <= kPasteMaskMaxDetections, ErrorCode::kInvalidArgument,
               "paste_mask: capacity ", p.capacity, " outside [1, ", kPasteMaskMaxDetections, "]");
  MASKRT_CHECK(p.mask_size >= 1, ErrorCode::kInvalidArgument, "paste_mask: mask_size ", p.mask_size, " < 1");
  MASKRT_CHECK(p.resized_h >= 1 && p.resized_w >= 1, ErrorCode::kInvalidArgument, "paste_mask: resized image ",
               p.resized_w, "x", p.resized_h, " is empty");
  MASKRT_CHECK(p.orig_h >= 1 && p.orig_w >= 1, ErrorCode::kInvalidArgument, "paste_mask: original image ",
               p.orig_w, "x", p.orig_h, " is empty");
  MASKRT_CHECK(std::isfinite(p.threshold), ErrorCode::kInvalidArgument, "paste_mask: threshold ", p.threshold,
               " is not finite (set it: Detectron2 uses 0.5)");
  MASKRT_CHECK(p.words_capacity >= 0 && p.words_capacity <= kMaxWords, ErrorCode::kInvalidArgument,
               "paste_mask: words_capacity ", p.words_capacity, " outside [0, 2^31 - 1]");
  MASKRT_CHECK(paste_mask_region_words(p.orig_w, p.orig_h) <= kMaxWords, ErrorCode::kInvalidArgument,
               "paste_mask: original image ", p.orig_w, "x", p.orig_h, " is too large for 32-bit word offsets");
}

PasteMaskBlockLayout paste_mask_block_layout(const PasteMaskCudaParams& p) {
  validate_paste_mask(p);
  PasteMaskBlockLayout l;
  l.header = 0;
  l.records = align_up(sizeof(PasteMaskHeader));
  l.word_start = align_up(l.records + sizeof(PasteMaskRecord) * static_cast<size_t>(p.capacity));
  l.words = align_up(l.word_start + sizeof(int32_t) * static_cast<size_t>(p.capacity));
  l.bytes = align_up(l.words + sizeof(uint32_t) * static_cast<size_t>(p.words_capacity));
  return l;
}

int64_t paste_mask_default_words_capacity(int orig_h, int orig_w) {
  MASKRT_CHECK(orig_h >= 1 && orig_w >= 1, ErrorCode::kInvalidArgument, "paste_mask: original image ", orig_w,
               "x", orig_h, " is empty");
  return std::min<int64_t>(4 * paste_mask_region_words(orig_w, orig_h), kMaxWords);
}

std::vector<Instance> unpack_pasted_masks(const PasteMaskCudaParams& p, const void* block, const float* scores,
                                          const int* classes, const float* mask_probs) {
  const PasteMaskBlockLayout l = paste_mask_block_layout(p);
  MASKRT_CHECK(block != nullptr && scores != nullptr && classes != nullptr, ErrorCode::kInvalidArgument,
               "unpack_pasted_masks: block, scores and classes must not be null");
  MASKRT_ASSERT(reinterpret_cast<uintptr_t>(block) % alignof(PasteMaskRecord) == 0, "block is misaligned");
  const char* b = static_cast<const char*>(block);
  PasteMaskHeader hdr;
  std::memcpy(&hdr, b + l.header, sizeof hdr);
  MASKRT_ASSERT(hdr.count >= 0 && hdr.count <= p.capacity && hdr.kept >= 0 && hdr.kept <= hdr.count &&
                    hdr.words_used >= 0 && hdr.words_used <= p.words_capacity && hdr.unplaced >= 0 &&
                    hdr.unplaced <= hdr.kept,
                "paste block header kept=", hdr.kept, " words_used=", hdr.words_used, " unplaced=", hdr.unplaced,
                " count=", hdr.count);
  MASKRT_CHECK(hdr.unplaced == 0 || mask_probs != nullptr, ErrorCode::kInvalidArgument, "unpack_pasted_masks: ",
               hdr.unplaced, " masks did not fit in ", p.words_capacity, " words and mask_probs is null");
  const auto* rec = reinterpret_cast<const PasteMaskRecord*>(b + l.records);
  const auto* words = reinterpret_cast<const uint32_t*>(b + l.words);
  const int M = p.mask_size;
  std::vector<Instance> out(static_cast<size_t>(hdr.kept));
  for (int j = 0; j < hdr.kept; ++j) {  // validate the records before the parallel loop (which must not throw)
    const PasteMaskRecord& r = rec[j];
    MASKRT_ASSERT(r.src >= 0 && r.src < hdr.count && (j == 0 || r.src > rec[j - 1].src), "record ", j, " src ",
                  r.src);
    MASKRT_ASSERT(r.w >= 0 && r.h >= 0 && r.x0 >= 0 && r.y0 >= 0 && int64_t{r.x0} + r.w <= p.orig_w &&
                      int64_t{r.y0} + r.h <= p.orig_h,
                  "record ", j, " region ", r.x0, ",", r.y0, " ", r.w, "x", r.h);
    MASKRT_ASSERT(r.word_offset == -1 ||
                      (r.word_offset >= 0 && r.word_offset + paste_mask_region_words(r.w, r.h) <= hdr.words_used),
                  "record ", j, " word_offset ", r.word_offset);
    Instance& inst = out[j];
    std::memcpy(inst.box, r.box, sizeof inst.box);
    inst.score = scores[r.src];
    inst.pred_class = classes[r.src];
    inst.has_mask = true;
  }
  // Encoding packed bits costs O(columns + runs): for typical blocks (well under a million words)
  // one thread finishes in a fraction of a millisecond, while waking an OpenMP team can cost
  // milliseconds (measured on the H200 host: bimodal 0.2 / 3-6 ms). Threads only for heavy blocks
  // or when some detections need the CPU paste.
  const bool heavy = hdr.unplaced > 0 || hdr.words_used > (1 << 20);
#pragma omp parallel for schedule(dynamic) if (heavy)
  for (int j = 0; j < hdr.kept; ++j) {
    const PasteMaskRecord& r = rec[j];
    if (r.word_offset >= 0) {
      out[j].mask = rle_encode_packed(words + r.word_offset, r.x0, r.y0, r.w, r.h, p.orig_h, p.orig_w);
    } else {
      const float* m = mask_probs + static_cast<int64_t>(r.src) * M * M;
      out[j].mask = rle_encode(paste_mask_cpu(m, M, r.box, p.orig_h, p.orig_w, p.threshold));
    }
  }
  return out;
}

}  // namespace maskrt::ops
