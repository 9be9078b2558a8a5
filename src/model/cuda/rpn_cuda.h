#pragma once
// RPN on the GPU: the twin of model/proposal_generator/rpn.h (StandardRPNHead + find_top_rpn_proposals)
// for ONE image: shared 3x3 conv + ReLU, 1x1 objectness_logits and anchor_deltas per level (cuDNN),
// then ops::rpn_proposals_cuda (per-level top-k, decode, clip, per-level NMS, merge) into a fixed
// (POST_NMS_TOPK_TEST, 4) buffer with a device-side count. In fp16 mode the head runs in fp16 NHWC
// and its outputs are converted to fp32 (A, H, W) planes before the proposal op (box decoding and
// NMS are fp32 in every mode); with tf32_nhwc (kTF32, MASKRT_TF32_NHWC=1) the head runs in NHWC
// float32 and its outputs are copied to the same NCHW planes. Thread safety: one thread at a time.
#include <string>
#include <vector>

#include "backend/cuda/conv_cudnn.h"
#include "io/config.h"
#include "model/cuda/carver.h"
#include "ops/rpn_proposals/rpn_proposals_cuda.h"

namespace maskrt::cuda {

class CudaRPN {
 public:
  CudaRPN(const ModelSpec& spec, WeightStore& ws, int in_channels, const std::vector<int>& strides,
          Precision precision, bool tf32_nhwc = false);

  struct Buffers {
    std::vector<DeviceTensor> t, logits_act, deltas_act;  // per level (NHWC temporaries: fp16, tf32 NHWC)
    std::vector<DeviceTensor> logits, deltas;             // per level fp32 (n, A, H, W), (n, 4A, H, W)
    ops::RpnProposalsCudaParams params;
    float* boxes = nullptr;   // (post_nms_topk, 4)
    float* scores = nullptr;  // (post_nms_topk)
    int* count = nullptr;
  };
  // features: the RPN input levels (already carved), (n, C, H_l, W_l). image_h/w: resized, unpadded
  // size. The head (convs, logits, deltas) is carved and planned for all n images; the proposal
  // outputs (boxes, scores, count) hold ONE image: forward_proposals(k) fills them for image k.
  void carve(Carver& c, const std::vector<DeviceTensor>& features, int image_h, int image_w, Buffers* b);
  // forward_head() then forward_proposals(0): the whole RPN of a one-image plan.
  void forward(const CudaContext& ctx, const std::vector<DeviceTensor>& features, const Buffers& b, void* ws,
               size_t ws_bytes);
  // The head's convolutions on all n images (MASKRT_BACKBONE_BATCH group plans run them at n).
  void forward_head(const CudaContext& ctx, const std::vector<DeviceTensor>& features, const Buffers& b, void* ws,
                    size_t ws_bytes);
  // Proposals of image `image` (0 <= image < n) from its slice of the head's outputs into b.boxes,
  // b.scores, b.count (overwritten: images run one after another on one stream).
  void forward_proposals(const CudaContext& ctx, const Buffers& b, int image, void* ws, size_t ws_bytes);
  int capacity() const { return spec_.rpn_post_nms_topk_test; }

 private:
  ModelSpec spec_;
  Precision precision_;
  bool nhwc_ = false;  // NHWC activations (fp16, or tf32 with tf32_nhwc)
  ConvCudnn conv_, objectness_logits_, anchor_deltas_;
  std::vector<int> strides_;
  int num_anchors_ = 3;
  DeviceBuffer cell_anchors_;  // (L, A, 4)
};

}  // namespace maskrt::cuda
