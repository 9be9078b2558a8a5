#pragma once
// StandardROIHeads on the GPU: the twin of model/roi_heads/roi_heads.h for ONE image, at fixed
// capacities (no host synchronisation):
//   box branch: multi-level ROIAlign of all POST_NMS_TOPK_TEST proposal rows (rows beyond the device
//   count are zero boxes) -> FastRCNNConvFCHead (cuDNN convs, cuBLASLt FCs with fused bias+ReLU) ->
//   cls_score / bbox_pred in fp32 -> ops::box_inference_cuda (softmax, decode, clip, threshold,
//   per-class NMS, top DETECTIONS_PER_IMAGE) into (D, 4) boxes, (D) scores, (D) classes + count;
//   mask branch: ROIAlign of the D detection rows -> NUM_CONV convs -> 2x2 deconv (GEMM + scatter) ->
//   1x1 predictor -> class select + sigmoid -> (D, M, M) fp32 soft masks.
// fp16 mode: features, pooled features and head activations are fp16 NHWC; the first FC's weight
// columns are permuted to the (res, res, C) order of NHWC pooled features; the predictors output fp32.
// tf32_nhwc (kTF32, MASKRT_TF32_NHWC=1): the same NHWC layout and permutation in float32.
// Thread safety: one thread at a time.
#include <vector>

#include "backend/cuda/conv_cudnn.h"
#include "backend/cuda/deconv_cublas.h"
#include "backend/cuda/linear_cublas.h"
#include "io/config.h"
#include "model/cuda/carver.h"
#include "ops/box_inference/box_inference_cuda.h"
#include "ops/roi_align/roi_align_cuda.h"

namespace maskrt::cuda {

// Where the detections go (the caller's download block).
struct DetectionOutputs {
  float* boxes = nullptr;   // (D, 4) resized-image pixels
  float* scores = nullptr;  // (D)
  int* classes = nullptr;   // (D)
  int* count = nullptr;     // device int
  float* masks = nullptr;   // (D, M, M) soft masks (MASK_ON)
};

class CudaROIHeads {
 public:
  CudaROIHeads(const ModelSpec& spec, WeightStore& ws, int in_channels, const std::vector<int>& strides,
               Precision precision, bool tf32_nhwc = false);

  struct Buffers {
    ops::RoiAlignMultiLevelCudaParams box_roi, mask_roi;
    ops::BoxInferenceCudaParams box_inf;
    DeviceTensor box_pooled;
    std::vector<DeviceTensor> box_convs, box_fcs;
    DeviceTensor cls_logits, box_deltas;  // fp32 (R, K+1), (R, 4K or 4)
    DeviceTensor mask_pooled, deconv_out, mask_logits;
    std::vector<DeviceTensor> mask_convs;
    void* deconv_scratch = nullptr;
    DetectionOutputs out;
  };
  void carve(Carver& c, const std::vector<DeviceTensor>& features, int image_h, int image_w,
             const DetectionOutputs& out, Buffers* b);
  void forward_box(const CudaContext& ctx, const std::vector<DeviceTensor>& features, const float* proposals,
                   const int* num_proposals, const Buffers& b, void* ws, size_t ws_bytes);
  void forward_mask(const CudaContext& ctx, const std::vector<DeviceTensor>& features, const Buffers& b, void* ws,
                    size_t ws_bytes);

  int roi_capacity() const { return spec_.rpn_post_nms_topk_test; }
  int detection_capacity() const { return spec_.detections_per_image; }
  int mask_size() const { return 2 * spec_.mask_pooler_resolution; }
  bool mask_on() const { return spec_.mask_on; }

 private:
  ops::RoiAlignMultiLevelCudaParams roi_params(const std::vector<DeviceTensor>& features, int resolution,
                                               int sampling_ratio, const std::string& type, int capacity) const;

  ModelSpec spec_;
  Precision precision_;
  bool nhwc_ = false;  // NHWC activations (fp16, or tf32 with tf32_nhwc)
  std::vector<int> strides_;
  std::vector<ConvCudnn> box_convs_;
  std::vector<LinearCublas> box_fcs_;
  LinearCublas cls_score_, bbox_pred_;
  std::vector<ConvCudnn> mask_convs_;
  DeconvCublas deconv_;
  ConvCudnn mask_predictor_;
};

}  // namespace maskrt::cuda
