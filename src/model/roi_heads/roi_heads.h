#pragma once
// StandardROIHeads for FPN models (detectron2/modeling/roi_heads/roi_heads.py), inference only:
//   box branch: ROIPooler (ROI_BOX_HEAD.POOLER_*) -> FastRCNNConvFCHead (NUM_CONV convs + NUM_FC fcs,
//   ReLU) -> FastRCNNOutputLayers (cls_score (K+1), bbox_pred (4K or 4)) -> fast_rcnn_inference
//   (softmax, background = last column dropped, decode with BBOX_REG_WEIGHTS and the clamp, clip to
//   the resized image, score > SCORE_THRESH_TEST, per-class NMS at NMS_THRESH_TEST, keep the first
//   TEST.DETECTIONS_PER_IMAGE);
//   mask branch (MASK_ON): ROIPooler on the detections' boxes -> MaskRCNNConvUpsampleHead (NUM_CONV
//   3x3 convs + ReLU, 2x2 stride-2 deconv + ReLU, 1x1 predictor) -> sigmoid of the predicted class's
//   channel (channel 0 when CLS_AGNOSTIC_MASK).
// All boxes here are XYXY in resized-image pixels.
#include <vector>

#include "io/config.h"
#include "model/layers.h"
#include "model/proposal_generator/rpn.h"
#include "model/roi_heads/poolers.h"

namespace maskrt {

struct Detections {
  Tensor pred_boxes;              // (D, 4) resized-image pixels
  std::vector<float> scores;      // (D)
  std::vector<int> pred_classes;  // (D) 0-based
  Tensor mask_probs;              // (D, M, M) soft masks of the predicted class (MASK_ON), else undefined
};

struct BoxHeadDebug {  // optional intermediate outputs (tests)
  Tensor scores;  // (R, K+1) softmax
  Tensor deltas;  // (R, 4K) or (R, 4) raw proposal_deltas
};

class StandardROIHeads {
 public:
  StandardROIHeads(const ModelSpec& spec, WeightStore& ws, int in_channels, const std::vector<int>& strides);
  // features: the pooled levels (p2..p5) of ONE image.
  Detections forward(const std::vector<Tensor>& features, const Proposals& proposals, int image_h, int image_w,
                     BoxHeadDebug* debug = nullptr, double* box_ms = nullptr, double* mask_ms = nullptr) const;
  bool mask_on() const { return spec_.mask_on; }

 private:
  Detections box_inference(const Tensor& scores, const Tensor& boxes_per_class, int image_h, int image_w) const;

  ModelSpec spec_;
  ROIPooler box_pooler_;
  std::vector<ConvLayer> box_convs_;
  std::vector<LinearLayer> box_fcs_;
  LinearLayer cls_score_, bbox_pred_;
  ROIPooler mask_pooler_;
  std::vector<ConvLayer> mask_convs_;
  Tensor deconv_weight_, deconv_bias_;  // (C, C, 2, 2), (C)
  ConvLayer mask_predictor_;
  int box_feature_dim_ = 0;
};

}  // namespace maskrt
