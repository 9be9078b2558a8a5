#pragma once
// CUDA fast_rcnn_inference_single_image for ONE image: the GPU twin of
// StandardROIHeads::box_inference + the softmax / decode in StandardROIHeads::forward
// (src/model/roi_heads/roi_heads.cpp; Detectron2 fast_rcnn.py), with identical results:
//   softmax over K+1 logits in float32 with max subtraction (exp in double rounded to float, as
//     roi_heads.cpp since session 6 (it used std::exp on a float before, 1 ulp apart on rare
//     arguments); sum in column order; the device's double exp could in principle round to another
//     float than the host's for some argument: none seen);
//   decode every row's 4K (or 4, class-agnostic) deltas against its proposal with
//     Box2BoxTransform(weights, scale_clamp) (box_transform.h arithmetic, no fused multiply-add);
//   rows with any non-finite score or decoded box are dropped;
//   candidates (proposal r, class k) with score[r][k] > score_thresh, in row-major (r, k) order,
//     boxes clipped to [0, image_w] x [0, image_h];
//   per-class NMS (IoU > nms_thresh suppresses; order score desc, ties lower candidate index),
//     using torchvision's coordinate-trick boxes when the candidate count M satisfies M*4 <= 4000,
//     exactly as batched_nms_cpu (decided on the device);
//   order score desc (ties lower candidate index), keep the first detections_per_image.
// Each class has at most roi_capacity candidates, so every class gets a full bitmask: no global
// candidate cap (workspace ~ K * R * ceil(R/64) * 8 bytes, 10 MB for K=80, R=1000).
//
// Inputs (device, fp32): d_logits (roi_capacity, K+1) (background last); d_deltas
// (roi_capacity, 4K) or (roi_capacity, 4) when class_agnostic; d_proposals (roi_capacity, 4) XYXY
// resized-image pixels; d_num_proposals: valid rows (device int; rows beyond are ignored).
// Outputs (device): d_boxes (detections_per_image, 4), d_scores (detections_per_image),
// d_classes (detections_per_image) int 0-based, d_count (device int). Rows >= *d_count are 0.
// Requirements (validate_box_inference, kInvalidArgument): roi_capacity >= 1, num_classes >= 1,
// detections_per_image >= 1, image size >= 1.
// Workspace: box_inference_workspace_bytes(p); the same code measures and carves. No allocation,
// no host synchronisation. Thread safety: reentrant with distinct workspaces / outputs.
#include <cstddef>

#include <cuda_runtime_api.h>

namespace maskrt::ops {

struct BoxInferenceCudaParams {
  int roi_capacity = 0;  // R_cap = RPN.POST_NMS_TOPK_TEST
  int num_classes = 0;   // K (ROI_HEADS.NUM_CLASSES)
  bool class_agnostic = false;  // ROI_BOX_HEAD.CLS_AGNOSTIC_BBOX_REG
  float score_thresh = 0.05f;   // ROI_HEADS.SCORE_THRESH_TEST
  float nms_thresh = 0.5f;      // ROI_HEADS.NMS_THRESH_TEST
  int detections_per_image = 100;  // TEST.DETECTIONS_PER_IMAGE
  int image_h = 0, image_w = 0;    // resized, unpadded image size
  float weights[4] = {10.f, 10.f, 5.f, 5.f};  // ROI_BOX_HEAD.BBOX_REG_WEIGHTS
  float scale_clamp = 4.135166556742356f;
};

void validate_box_inference(const BoxInferenceCudaParams& p);
size_t box_inference_workspace_bytes(const BoxInferenceCudaParams& p);
void box_inference_cuda(const BoxInferenceCudaParams& p, const float* d_logits, const float* d_deltas,
                        const float* d_proposals, const int* d_num_proposals, float* d_boxes, float* d_scores,
                        int* d_classes, int* d_count, void* workspace, cudaStream_t stream);

}  // namespace maskrt::ops
