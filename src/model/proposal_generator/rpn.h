#pragma once
// Region Proposal Network for FPN models, as detectron2/modeling/proposal_generator/rpn.py
// (StandardRPNHead) + anchor_generator.py (DefaultAnchorGenerator) + proposal_utils.py
// (find_top_rpn_proposals), inference only:
//   per level: 3x3 conv + ReLU (shared), 1x1 objectness_logits (A), 1x1 anchor_deltas (4A);
//   decode every anchor with Box2BoxTransform(RPN.BBOX_REG_WEIGHTS);
//   per level top-k (PRE_NMS_TOPK_TEST) by raw logit; concat; drop non-finite; clip to the resized
//   (unpadded) image; drop boxes with side <= PROPOSAL_GENERATOR.MIN_SIZE; NMS per level
//   (RPN.NMS_THRESH, level id as the class); keep the first POST_NMS_TOPK_TEST.
// No score threshold. Boxes are XYXY in resized-image pixels.
#include <map>
#include <string>
#include <vector>

#include "io/config.h"
#include "model/layers.h"

namespace maskrt {

struct Proposals {
  Tensor proposal_boxes;                 // (R, 4) resized-image pixels
  std::vector<float> objectness_logits;  // (R) raw logits, descending
};

class RPN {
 public:
  RPN(const ModelSpec& spec, WeightStore& ws, int in_channels, const std::vector<int>& strides);
  // features: p2..p6 of ONE image, each (1, C, H_i, W_i); image_h/w: the resized, unpadded size.
  Proposals forward(const std::vector<Tensor>& features, int image_h, int image_w) const;

 private:
  ModelSpec spec_;
  ConvLayer conv_, objectness_logits_, anchor_deltas_;
  std::vector<Tensor> cell_anchors_;  // per level (A, 4)
  std::vector<int> strides_;
  int num_anchors_ = 3;
};

}  // namespace maskrt
