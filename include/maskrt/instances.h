#pragma once
// Detection results for one image, in ORIGINAL image pixels (the image as given to the engine, after
// EXIF orientation), matching Detectron2's `Instances` after `detector_postprocess`.
#include <cstdint>
#include <string>
#include <vector>

namespace maskrt {

// Binary mask as COCO run-length encoding, column-major (Fortran order), exactly as pycocotools'
// `mask.encode` produces it: counts alternate runs of 0s and 1s, starting with 0s.
struct RleMask {
  int height = 0;
  int width = 0;
  std::vector<uint32_t> counts;
  std::string to_coco_string() const;  // pycocotools' compressed "counts" string
  int64_t area() const;                // number of 1 pixels
};

struct Instance {
  float box[4];        // pred_boxes: x1, y1, x2, y2 in original-image pixels (continuous coordinates)
  float score;         // scores: softmax probability of pred_class
  int pred_class;      // pred_classes: 0-based class index of the model
  bool has_mask = false;
  RleMask mask;        // pred_masks thresholded at 0.5, full original resolution (only when MASK_ON)
};

struct StageTimes {     // milliseconds; filled by the engine
  double preprocess = 0, backbone = 0, fpn = 0, rpn = 0, box_head = 0, mask_head = 0, postprocess = 0;
  double total = 0;
  // CUDA only (0 on the CPU): how long the calling thread blocked waiting for this image's device work
  // before it could download and encode its results (cudaEventSynchronize). Summed over a batch and
  // set against the call's wall time, it says whether the host or the GPU bounds throughput: near 0,
  // the host thread (staging, launches, RLE encoding) is the limit; large, the GPU is. Images that ran
  // as one --backbone-batch group share one wait: it lands on the group's first image (the others ~0).
  double host_wait = 0;
};

struct ImageResult {
  int height = 0;  // original image size
  int width = 0;
  std::vector<Instance> instances;  // sorted by score, descending (Detectron2's order)
  StageTimes times;
};

}  // namespace maskrt
