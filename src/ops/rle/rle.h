#pragma once
// COCO run-length encoding, as pycocotools (common/maskApi.c rleEncode / rleDecode / rleToString /
// rleFrString, i.e. pycocotools.mask.encode / decode and the "counts" string of its RLE dicts).
//
// Pixel order: column-major (Fortran order) scan of the FULL H x W mask: pixel (y, x) is element
// x * H + y. counts alternate runs of 0s and 1s and always start with a 0-run (possibly of length 0);
// the last run is always emitted, so sum(counts) == H * W. An all-zero mask is {H*W}; an all-one mask
// is {0, H*W}; an H*W == 0 mask is {0} (pycocotools' output for an empty array).
//
// String form (rleToString): for i > 2 the value written is counts[i] - counts[i-2] (signed), for
// i <= 2 counts[i] itself. Each value is written little-end first in 5-bit groups; one char per
// group = 48 + (group | 0x20 if more groups follow); the value is two's-complement, so the last
// group's 0x10 bit is its sign (a group is the last one when the remaining value is 0 with sign
// bit clear, or -1 with sign bit set). Chars are therefore in '0'..'o' (48..111).
//
// Errors: malformed strings (a char outside 48..111, a string ending inside a value, a value that
// does not fit, a count that decodes negative) and counts whose sum is not H*W throw maskrt::Error
// (kInvalidArgument). A region that does not lie inside its image is a kInvalidArgument error.
// Thread safety: pure functions; safe to call concurrently.
#include <cstdint>
#include <string>
#include <vector>

#include "maskrt/instances.h"
#include "ops/paste_mask/paste_mask.h"

namespace maskrt::ops {
// Full-image RLE of a region (pixels outside the region are 0). Cost O(img_w + region area), no
// dense full-image buffer. Equal to rle_encode_dense of the region pasted into a zero image.
RleMask rle_encode(const MaskRegion& region);
// Full-image RLE of a bit-packed region (the CUDA paste's output, paste_mask_packed.h): the region is
// [x0, x0 + w) x [y0, y0 + h) of an img_h x img_w image, pixels outside it are 0. Packing is
// column-major: column c of the region is ceil(h / 32) consecutive uint32 words starting at
// words + c * ceil(h / 32); bit b (LSB = 0) of word k is region row 32 k + b. Bits for rows >= h in
// a column's last word are ignored. Cost O(img_w + w * ceil(h / 32) + runs) (bit scans, no per-pixel
// loop). Equal to rle_encode of the same region. words may be null when w == 0 or h == 0.
// Errors (kInvalidArgument): the region does not lie inside the image, words null for a nonempty region.
RleMask rle_encode_packed(const uint32_t* words, int x0, int y0, int w, int h, int img_h, int img_w);
// Reference: row-major h*w mask, nonzero = 1 (pycocotools takes the Fortran-order array).
RleMask rle_encode_dense(const uint8_t* mask, int h, int w);
std::string rle_to_string(const std::vector<uint32_t>& counts);
std::vector<uint32_t> rle_from_string(const std::string& s);      // inverse (tests, eval)
std::vector<uint8_t> rle_decode(const RleMask& rle);              // row-major h*w 0/1
}  // namespace maskrt::ops
