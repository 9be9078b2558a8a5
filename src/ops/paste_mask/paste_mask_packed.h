#pragma once
// The bit-packed mask paste block: what the CUDA paste (paste_mask_cuda.h) writes on the device and
// the host turns into Instances after ONE download. This header has no CUDA types and its functions
// (layout, validation, unpacking) are plain host code, built in CPU-only builds too.
//
// The op is detector_postprocess (src/model/postprocessing.cpp; Detectron2
// modeling/postprocessing.py + layers/mask_ops.py paste_masks_in_image) for ONE image, with the same
// float32 bits (paste_mask_math.h holds the arithmetic, shared with paste_mask_cpu):
//   for each detection i < count (in order): box_orig = clamp(box * (scale_x, scale_y), 0, (W, H))
//     with scale_x = float(orig_w) / float(resized_w), scale_y likewise (std::clamp semantics);
//     kept when x1 - x0 > 0 and y1 - y0 > 0 (NaN boxes are dropped);
//   each kept detection's soft mask (mask_probs[i], M x M, sigmoid-ed) is pasted into its
//     skip_empty region (paste_mask.h) and thresholded (value >= threshold) into packed bits.
//
// Block layout (offsets from paste_mask_block_layout, every section 16-byte aligned; the block must
// be at least 16-byte aligned on the host when unpacked):
//   header   PasteMaskHeader                       {kept, words_used, unplaced, count}
//   records  PasteMaskRecord[capacity]             first `kept` valid, in detection order
//   word_start int32[capacity]                     first `kept` valid: the kept detection's first word
//                                                  had it been placed (non-decreasing; the paste
//                                                  kernel's search table; the host ignores it)
//   words    uint32[words_capacity]                first `words_used` valid
// Bit packing of one record (the rle_encode_packed format): column c of its w x h region is
// ceil(h / 32) words at words + word_offset + c * ceil(h / 32); bit b (LSB = 0) of word k is region
// row 32 k + b; bits of rows >= h are 0. Records are placed in kept order while their words fit in
// words_capacity; a record that does not fit gets word_offset = -1 (later, smaller ones may still be
// placed) and the host pastes it on the CPU from mask_probs (paste_mask_cpu, same bits).
// Words beyond words_used, records beyond kept and their word_start entries are not written.
//
// Default words capacity (paste_mask_default_words_capacity): 4 full-image regions,
// 4 * orig_w * ceil(orig_h / 32) words. A region of w columns and h rows takes w * ceil(h / 32) words
// (under w * (h / 32 + 1)), so the kept detections' regions fit when their total area is under
// about 4 image areas minus one 32-row padding word per column; crowded images beyond that fall
// back to the CPU for the last detections only. 1080 x 1920: 261,120 words (1.0 MiB).
//
// Thread safety: pure functions.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "maskrt/instances.h"

namespace maskrt::ops {

inline constexpr int kPasteMaskMaxDetections = 4096;  // capacity limit (the plan kernel's shared memory)

struct PasteMaskCudaParams {
  int capacity = 0;       // D: rows of boxes / mask_probs (TEST.DETECTIONS_PER_IMAGE)
  int mask_size = 0;      // M (mask head output resolution, 28 for the standard head)
  int resized_h = 0, resized_w = 0;  // the image the boxes live in (resized, unpadded)
  int orig_h = 0, orig_w = 0;        // the original image (output pixels)
  float threshold = -1.f;            // pixel = value >= threshold (Detectron2: 0.5); must be set
  int64_t words_capacity = 0;        // uint32 words for packed bits (>= 0; 0 = all on the CPU)
};

struct PasteMaskHeader {
  int32_t kept;        // kept detections (nonempty boxes) = valid records
  int32_t words_used;  // words written
  int32_t unplaced;    // records with word_offset == -1 (host paste)
  int32_t count;       // detections read: clamp(*count, 0, capacity)
};

struct PasteMaskRecord {
  int32_t src;          // index of the detection in the inputs (boxes / scores / classes / mask_probs)
  float box[4];         // x0, y0, x1, y1 in original-image pixels (rescaled and clipped)
  int32_t x0, y0, w, h; // paste region in original-image pixels (w = h = 0 if empty)
  int32_t word_offset;  // first word of the region's bits in words, or -1 = not placed
};
static_assert(sizeof(PasteMaskHeader) == 16 && sizeof(PasteMaskRecord) == 40, "block layout is fixed");

struct PasteMaskBlockLayout {  // byte offsets from the block start
  size_t header = 0, records = 0, word_start = 0, words = 0;
  size_t bytes = 0;  // total block size
};

// Throws maskrt::Error (kInvalidArgument) naming the field: capacity outside [1, kPasteMaskMaxDetections],
// mask_size < 1, image sizes < 1, threshold not finite, words_capacity outside [0, 2^31 - 1], or an
// image whose full-image region would need 2^31 or more words.
void validate_paste_mask(const PasteMaskCudaParams& p);
PasteMaskBlockLayout paste_mask_block_layout(const PasteMaskCudaParams& p);  // validates p
int64_t paste_mask_default_words_capacity(int orig_h, int orig_w);            // see above
// Words of a w x h region: w * ceil(h / 32). constexpr, so device code may call it (relaxed constexpr).
constexpr int64_t paste_mask_region_words(int w, int h) { return int64_t{w} * ((int64_t{h} + 31) / 32); }

// Instances from a downloaded block (host memory, p as given to the paste): for each kept record in
// order, box = record.box, score = scores[src], pred_class = classes[src], has_mask, mask = COCO RLE
// (rle_encode_packed of the placed bits; records with word_offset == -1 are pasted with
// paste_mask_cpu(mask_probs + src * M * M, ...) + rle_encode). Equal to detector_postprocess(...,
// mask_on = true, threshold) on the same inputs. scores / classes: (capacity); mask_probs
// (capacity, M, M), read only when header.unplaced > 0 (may be null otherwise). RLE encoding runs on one
// thread (OpenMP threads only for blocks over 2^20 words or with CPU-pasted records). A header or record out of range (a broken block) aborts (MASKRT_ASSERT); a null
// pointer that is needed is kInvalidArgument.
std::vector<Instance> unpack_pasted_masks(const PasteMaskCudaParams& p, const void* block, const float* scores,
                                          const int* classes, const float* mask_probs);

}  // namespace maskrt::ops
