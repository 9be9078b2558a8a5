#pragma once
// CUDA find_top_rpn_proposals for ONE image: the GPU twin of the CPU model in
// src/model/proposal_generator/rpn.cpp (Detectron2 proposal_utils.py find_top_rpn_proposals), with
// identical results (same boxes bit for bit up to exp rounding, same set and order):
//   per level l: the top k_l = min(pre_nms_topk, H_l*W_l*A) anchors by raw objectness logit
//     (flattened (H, W, A) index order; ties: lower flattened index first; -0 == +0);
//   decode with Box2BoxTransform(weights, scale_clamp) against anchors computed on the fly
//     (anchors.h grid_anchors: shift = float(offset*stride + j*stride) + cell anchor; exp in double
//     rounded to float like ops::apply_deltas; no fused multiply-add);
//   drop non-finite boxes or logits, clip to [0, image_w] x [0, image_h], drop side <= min_size;
//   NMS per level (IoU > nms_thresh suppresses; order score desc, ties lower index first). Like
//     batched_nms_cpu, when the surviving candidate count R satisfies R*4 <= 4000 the IoUs are
//     computed on torchvision's coordinate-trick boxes (shifted by float(level) * (max coord + 1)),
//     decided on the device from the device-side R;
//   merge all levels by score desc (ties: lower level, then lower rank within the level), keep the
//     first post_nms_topk.
//
// Inputs (device, fp32, ONE image): per level logits (A, H_l, W_l), deltas (A*4, H_l, W_l) (channel
// a*4 + c = delta c of anchor a), cell anchors (A, 4) (ops::cell_anchors).
// Outputs (device): d_boxes (post_nms_topk, 4) XYXY in resized-image pixels, d_logits_out
// (post_nms_topk) raw logits, descending; d_count: number of valid rows. Rows >= *d_count are 0.
// Requirements (validate_rpn_proposals, kInvalidArgument): 1 <= num_levels <= kRpnMaxLevels,
// num_anchors >= 1, feature sizes >= 0, pre_nms_topk >= 1, post_nms_topk >= 1, image size >= 1.
// Workspace: rpn_proposals_workspace_bytes(p) (sizes depend on the feature shapes and top-k only;
// the same code measures and carves). No allocation, no host synchronisation.
// Thread safety: reentrant with distinct workspaces / outputs.
//
// Top-k and merge algorithms (RpnProposalsCudaParams::topk_algo; every choice gives bit-identical
// outputs, tests/gpu/test_rpn_topk_select_cuda.cpp compares them):
//   kSelect (opt-in, MASKRT_RPN_TOPK=select; its gpu tests passed on the H200 in session 9, but the
//     A/B there was within run-to-run spread, so it is not the default): per level, a 4096-bin
//     histogram of a monotone bucket of the sort key (the sign,
//     the exponent in [2^-6, 2^10) and 7 mantissa bits; everything outside clamps into the edge bins),
//     the bin holding the k_l-th key, a compaction of every anchor in bins <= that bin as 64-bit
//     (sort key, flattened index) composites, and one block per level sorting those composites
//     (cub::BlockRadixSort, up to kRpnSelectMaxCandidates) -> exactly the first k_l of the full order.
//     A level with more candidates than that (heavy ties, all logits in one bin) is resolved exactly in
//     the same block by a radix select over the composites (slower, never wrong). Used when every
//     k_l <= kRpnSelectMaxCandidates. The final merge (score order of the kept boxes, first
//     post_nms_topk) is one single-block stable sort fused with the output when num_levels * max k_l
//     <= kRpnMergeBlockMaxSlots. Outside those limits the kSort stages run.
//   kSort (default): one CUB device radix sort over every anchor of every level, and a CUB device
//     sort for the merge (the path every H200 run so far has used and checked).
//   kAuto: kSelect when the environment variable MASKRT_RPN_TOPK is "select", kSort when it is unset,
//     empty or "sort" (read once per process; any other value is kInvalidArgument).
// The workspace size depends on the resolved algorithm: size and run with the same params.
#include <cstddef>

#include <cuda_runtime_api.h>

namespace maskrt::ops {

inline constexpr int kRpnMaxLevels = 8;
inline constexpr int kRpnSelectMaxCandidates = 4096;  // block sort capacity of the kSelect top-k
inline constexpr int kRpnMergeBlockMaxSlots = 5120;   // block sort capacity of the kSelect merge

enum class RpnTopkAlgo : int { kAuto = 0, kSort = 1, kSelect = 2 };

struct RpnProposalsCudaParams {
  int num_levels = 0;
  int num_anchors = 0;  // A, the same on every level (StandardRPNHead)
  int feat_h[kRpnMaxLevels] = {};
  int feat_w[kRpnMaxLevels] = {};
  float stride[kRpnMaxLevels] = {};
  float offset = 0.f;  // MODEL.ANCHOR_GENERATOR.OFFSET
  int pre_nms_topk = 1000;   // RPN.PRE_NMS_TOPK_TEST
  int post_nms_topk = 1000;  // RPN.POST_NMS_TOPK_TEST
  float nms_thresh = 0.7f;   // RPN.NMS_THRESH
  float min_size = 0.f;      // PROPOSAL_GENERATOR.MIN_SIZE
  int image_h = 0, image_w = 0;  // resized, unpadded image size
  float weights[4] = {1.f, 1.f, 1.f, 1.f};  // RPN.BBOX_REG_WEIGHTS
  float scale_clamp = 4.135166556742356f;   // log(1000/16)
  RpnTopkAlgo topk_algo = RpnTopkAlgo::kAuto;  // implementation choice only (see above); results identical
};

struct RpnLevelInputs {
  const float* logits[kRpnMaxLevels] = {};        // (A, H_l, W_l)
  const float* deltas[kRpnMaxLevels] = {};        // (A*4, H_l, W_l)
  const float* cell_anchors[kRpnMaxLevels] = {};  // (A, 4)
};

void validate_rpn_proposals(const RpnProposalsCudaParams& p);
// Which kSelect stages rpn_proposals_cuda runs for these params (topk_algo resolved as above; both
// false on the kSort path): for tests and logs. Validates like rpn_proposals_cuda.
struct RpnProposalsStages {
  bool select_topk = false;  // the histogram-select top-k (else the CUB sort over every anchor)
  bool block_merge = false;  // the single-block merge (else the CUB sort + output kernel)
};
RpnProposalsStages rpn_proposals_stages(const RpnProposalsCudaParams& p);
size_t rpn_proposals_workspace_bytes(const RpnProposalsCudaParams& p);
void rpn_proposals_cuda(const RpnProposalsCudaParams& p, const RpnLevelInputs& in, float* d_boxes,
                        float* d_logits_out, int* d_count, void* workspace, cudaStream_t stream);

}  // namespace maskrt::ops
