#pragma once
// GeneralizedRCNN inference (detectron2/modeling/meta_arch/rcnn.py) on the CPU, for ONE image at a
// time (an image's results never depend on other images: no batch padding).
//   preprocess: channel order to INPUT.FORMAT, ResizeShortestEdge (Pillow-exact bilinear on uint8),
//               (x - PIXEL_MEAN) / PIXEL_STD, zero padding (after normalisation) to a multiple of 32;
//   backbone (ResNet + FPN) -> RPN -> StandardROIHeads -> detector_postprocess + mask paste.
// Thread safety: `run` is const and allocates its own buffers; concurrent calls are safe.
#include <map>
#include <memory>
#include <string>

#include "io/config.h"
#include "maskrt/image.h"
#include "maskrt/instances.h"
#include "model/backbone/fpn.h"
#include "model/proposal_generator/rpn.h"
#include "model/roi_heads/roi_heads.h"

namespace maskrt {

// Intermediate tensors, filled on request (parity tests against Detectron2's).
struct DebugOutputs {
  std::vector<uint8_t> resized;  // (H, W, 3) uint8 in INPUT.FORMAT order, before normalisation
  int resized_h = 0, resized_w = 0, padded_h = 0, padded_w = 0;
  std::map<std::string, Tensor> features;  // p2..p6, (1, C, H, W)
  Proposals proposals;
  BoxHeadDebug box_head;
  Tensor mask_probs;  // (D, M, M)
};

struct PreprocessedImage {
  Tensor tensor;  // (1, 3, padded_h, padded_w) normalised, zero-padded
  int resized_h = 0, resized_w = 0;
};

class GeneralizedRCNN {
 public:
  GeneralizedRCNN(const ModelSpec& spec, WeightStore& ws);
  ImageResult run(const Image& image, DebugOutputs* debug = nullptr) const;
  PreprocessedImage preprocess(const Image& image, std::vector<uint8_t>* resized_out = nullptr) const;
  const ModelSpec& spec() const { return spec_; }

 private:
  ModelSpec spec_;
  FPN backbone_;
  std::unique_ptr<RPN> rpn_;
  std::unique_ptr<StandardROIHeads> roi_heads_;
  std::vector<std::string> rpn_features_, roi_features_;
};

}  // namespace maskrt
