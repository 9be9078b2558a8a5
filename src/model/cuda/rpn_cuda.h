#pragma once
// RPN on the GPU: the twin of model/proposal_generator/rpn.h (StandardRPNHead + find_top_rpn_proposals)
// for ONE image: shared 3x3 conv + ReLU, 1x1 objectness_logits and anchor_deltas per level (cuDNN),
// then ops::rpn_proposals_cuda (per-level top-k, decode, clip, per-level NMS, merge) into a fixed
// (POST_NMS_TOPK_TEST, 4) buffer with a device-side count. fp32 (and tf32 NCHW): the two 1x1 layers
// run separately, straight into the fp32 (n, A, H, W) / (n, 4A, H, W) planes (fp32 is the bit-parity
// path). NHWC layouts (fp16, and tf32 with tf32_nhwc, the tf32 default): the two 1x1 layers run as
// ONE layer "proposal_generator.rpn_head.objectness_logits+anchor_deltas" with round_up(5A, 8) output
// channels (0..A-1 objectness_logits, A..5A-1 anchor_deltas, then zero filters; ops/conv2d
// concat_conv2d_out_channels) into an NHWC (n, H, W, Cpad) tensor per level, and one
// ops::rpn_head_split_nhwc_cuda launch for all levels writes the same fp32 NCHW planes (fp16 -> fp32
// exact). Per level that is the 3x3 conv + 1 layer (was 3x3 + 2 layers + 2 conversions), plus one
// split launch per forward_head. Each output channel is the same dot product as in the separate
// layers (only the GEMM's accumulation order may differ). Box decoding and NMS are fp32 in every mode.
// Thread safety: one thread at a time.
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
    std::vector<DeviceTensor> t;         // per level, the 3x3 conv's output (n, C, H, W) in the activation layout
    std::vector<DeviceTensor> head_out;  // NHWC layouts only: per level the fused layer's (n, Cpad, H, W)
    std::vector<DeviceTensor> logits, deltas;  // per level fp32 NCHW (n, A, H, W), (n, 4A, H, W)
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
  // NHWC layouts: output channels of the fused objectness_logits + anchor_deltas layer, round_up(5A, 8).
  int head_out_channels() const { return (5 * num_anchors_ + 7) / 8 * 8; }

 private:
  ModelSpec spec_;
  Precision precision_;
  bool nhwc_ = false;  // NHWC activations (fp16, or tf32 with tf32_nhwc)
  ConvCudnn conv_;
  ConvCudnn objectness_logits_, anchor_deltas_;  // NCHW layouts (fp32, tf32 NCHW) only
  ConvCudnn rpn_head_outputs_;  // NHWC layouts only: objectness_logits + anchor_deltas, Cpad outputs
  std::vector<int> strides_;
  int num_anchors_ = 3;
  DeviceBuffer cell_anchors_;  // (L, A, 4)
};

}  // namespace maskrt::cuda
