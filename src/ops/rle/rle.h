#pragma once
// COCO run-length encoding, as pycocotools (maskApi.c rleEncode / rleToString):
// column-major scan of the full H x W mask; counts alternate 0-runs and 1-runs, first run is 0s
// (possibly of length 0). String form: each count (delta-coded against counts[i-2] for i > 2) in
// 5-bit groups with a continuation bit, offset by 48 ('0').
#include <string>
#include <vector>

#include "maskrt/instances.h"
#include "ops/paste_mask/paste_mask.h"

namespace maskrt::ops {
RleMask rle_encode(const MaskRegion& region);                     // region within a full image
RleMask rle_encode_dense(const uint8_t* mask, int h, int w);      // row-major h*w 0/1 (reference)
std::string rle_to_string(const std::vector<uint32_t>& counts);
std::vector<uint32_t> rle_from_string(const std::string& s);      // inverse (tests, eval)
std::vector<uint8_t> rle_decode(const RleMask& rle);              // row-major h*w 0/1
}  // namespace maskrt::ops
