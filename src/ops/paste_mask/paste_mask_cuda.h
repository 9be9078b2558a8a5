#pragma once
// CUDA detector_postprocess + mask paste for ONE image: the GPU twin of detector_postprocess
// (src/model/postprocessing.cpp) with paste_mask_cpu (paste_mask.h), same bits. It writes the
// bit-packed block described in paste_mask_packed.h (layout, record format, default words
// capacity); the host downloads the block with one copy and calls unpack_pasted_masks.
//
// Inputs (device):
//   d_count: number of valid detections (device int, clamped to [0, capacity]; nullptr = capacity);
//   d_boxes (capacity, 4) float32 XYXY in resized-image pixels (as the box head outputs them);
//   d_mask_probs (capacity, M, M) float32 soft masks of the predicted class (already sigmoid-ed).
// Output: d_block, paste_mask_block_layout(p).bytes bytes, 16-byte aligned (it may sit inside a
//   larger download block; the caller keeps scores / classes / mask_probs in that download too:
//   unpack_pasted_masks reads scores and classes by src index, and mask_probs for unplaced records).
// Two kernels on `stream`: a one-block plan (rescale, clip, keep, compact, regions, word offsets,
// header) and a paste (one warp per 32-row word, __ballot_sync). Grid sizes depend only on p, so the
// launch can be captured in a CUDA graph; the device count decides the work. No workspace, no
// allocation, no host synchronisation. The float operations are those of paste_mask_math.h with
// _rn intrinsics (no contraction into FMAs beyond the documented one).
// Errors: validate_paste_mask (kInvalidArgument); launch failures kDevice (MASKRT_CUDA_CHECK).
// Thread safety: reentrant with distinct output blocks.
#include <cuda_runtime_api.h>

#include "ops/paste_mask/paste_mask_packed.h"

namespace maskrt::ops {

void paste_masks_cuda(const PasteMaskCudaParams& p, const int* d_count, const float* d_boxes,
                      const float* d_mask_probs, void* d_block, cudaStream_t stream);

}  // namespace maskrt::ops
