#pragma once
// Counted cost of one Mask R-CNN (ResNet-FPN) forward pass, per stage, from the ModelSpec alone: the
// yardstick `maskrt bench` divides by the measured times (achieved TFLOP/s, GB/s) to say how far a run
// is from what the hardware could do and what limits it.
//
// What is counted (the same definitions as tools/reference/make_flops_fixtures.py, whose Detectron2 +
// fvcore counts are the test oracle):
//   macs          multiply-accumulates of the convolutions (including the mask head's transposed
//                 convolution) and fully connected layers; bias additions, FrozenBN (folded), ReLU,
//                 residual / top-down adds, upsampling, max-pooling, softmax, box decoding, NMS and
//                 ROIAlign's bilinear interpolation are NOT counted. This is what fvcore's
//                 FlopCountAnalysis counts for these layers (it calls one multiply-accumulate one
//                 "flop"); the conventional FLOPs are 2 * macs (gflops()).
//   weight_elems  parameters read once per image: every layer's weight once (the RPN head, which runs
//                 on every level, once in all) plus one bias value per output channel (a bias, or a
//                 FrozenBN folded into one).
//   act_elems     activation elements each layer reads and writes: input + output of every conv /
//                 linear / deconv call (the RPN head once per level; each box predictor layer reads
//                 its input), input + output of the stem max-pool and of p6's max-pool, and the
//                 ROIAlign outputs (the features ROIAlign gathers depend on the boxes and are not
//                 counted). Element-wise work is taken as fused into the producing layer, so its extra
//                 reads (the residual operand, the upsampled top-down term) are not counted either.
//   => bytes(bpe) = (weight_elems + act_elems) * bpe is a lower bound on DRAM traffic of a layer-by-
//   layer execution: 4 bytes per element for fp32/tf32, 2 for fp16.
//
// ROI counts: the box head runs on `proposals` rows (Detectron2: the post-NMS proposals, at most
// MODEL.RPN.POST_NMS_TOPK_TEST per image) and the mask head on `detections` rows (at most
// TEST.DETECTIONS_PER_IMAGE; only when MASK_ON). A head given 0 rows counts nothing.
// All counts are for ONE image. Thread safety: pure functions.
#include <array>
#include <cstdint>
#include <utility>

#include "bench/stats.h"
#include "io/config.h"

namespace maskrt::bench {

struct LayerCost {
  int64_t macs = 0;
  int64_t weight_elems = 0;
  int64_t act_elems = 0;

  LayerCost& operator+=(const LayerCost& o) {
    macs += o.macs;
    weight_elems += o.weight_elems;
    act_elems += o.act_elems;
    return *this;
  }
  double gflops() const { return 2.0 * static_cast<double>(macs) / 1e9; }  // 2 FLOPs per MAC
  // bytes_per_element: 4 (fp32, tf32) or 2 (fp16).
  int64_t bytes(int bytes_per_element) const { return (weight_elems + act_elems) * bytes_per_element; }
};

// Output size of a convolution / pooling window along one axis (PyTorch's formula, floor mode):
// (in + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1. Throws kInvalidArgument when < 1.
int conv_output_size(int in, int kernel, int stride, int pad, int dilation = 1);

// One Conv2d (square kernel) on n images of (c_in, h_in, w_in): macs = n * c_out * (c_in / groups) *
// kernel^2 * h_out * w_out; weights c_out * (c_in / groups) * kernel^2 + c_out; activations
// n * (c_in * h_in * w_in + c_out * h_out * w_out). Throws kInvalidArgument for non-positive sizes or
// channels not divisible by groups.
LayerCost conv2d_cost(int64_t n, int c_in, int h_in, int w_in, int c_out, int kernel, int stride, int pad,
                      int dilation = 1, int groups = 1);
// ConvTranspose2d with padding 0 (Detectron2's mask head deconv): output (h_in - 1) * stride + kernel;
// macs = n * c_in * c_out * kernel^2 * h_in * w_in (fvcore's count for transposed convolutions).
LayerCost conv_transpose2d_cost(int64_t n, int c_in, int h_in, int w_in, int c_out, int kernel, int stride);
// Linear on n rows: macs n * in * out; weights out * in + out; activations n * (in + out).
LayerCost linear_cost(int64_t n, int in_features, int out_features);
// MaxPool2d: no MACs, activations n * c * (h_in * w_in + h_out * w_out).
LayerCost max_pool2d_cost(int64_t n, int c, int h_in, int w_in, int kernel, int stride, int pad);
// ROIAlign output: rois * channels * resolution^2 written (no MACs, no weights).
LayerCost roi_align_cost(int64_t rois, int channels, int resolution);

struct ModelCost {
  int padded_h = 0, padded_w = 0;  // network input (resized and padded image), pixels
  int64_t proposals = 0;           // rows the box head ran on
  int64_t detections = 0;          // rows the mask head ran on
  // Indexed by bench::Stage; kBackbone (ResNet bottom-up), kFpn (laterals, outputs, p6), kRpn (RPN
  // head), kBoxHead (ROIAlign + convs + FCs + predictor), kMaskHead (ROIAlign + convs + deconv +
  // predictor). kPreprocess and kPostprocess stay zero.
  std::array<LayerCost, kNumStages> stages{};
  LayerCost total() const;
  const LayerCost& stage(Stage s) const { return stages[static_cast<int>(s)]; }
};

// The cost of one image whose network input is padded_h x padded_w (see network_input_size), with the
// box head run on `proposals` ROIs and the mask head on `detections` ROIs (ignored when !spec.mask_on).
// Follows Detectron2's build_resnet_fpn_backbone (BasicStem, BasicBlock / BottleneckBlock with
// STRIDE_IN_1X1, NUM_GROUPS, WIDTH_PER_GROUP; a 1x1 shortcut where channels change), FPN with
// LastLevelMaxPool, StandardRPNHead, FastRCNNConvFCHead + FastRCNNOutputLayers and
// MaskRCNNConvUpsampleHead. Throws kInvalidArgument for non-positive sizes or negative ROI counts,
// kBadConfig for a depth without a block table.
ModelCost count_model_cost(const ModelSpec& spec, int padded_h, int padded_w, int64_t proposals,
                           int64_t detections);

// The most proposals Detectron2's RPN can return for one image of this padded size: per level at most
// min(RPN.PRE_NMS_TOPK_TEST, H_l * W_l * anchors per location) candidates survive the top-k, NMS only
// removes, and at most RPN.POST_NMS_TOPK_TEST are kept (find_top_rpn_proposals). The real count can be
// lower (NMS, MIN_SIZE); at sizes of 800 px and more it is normally the POST_NMS_TOPK_TEST cap.
int64_t max_proposals(const ModelSpec& spec, int padded_h, int padded_w);

// Detectron2's network input size for an original height x width image: ResizeShortestEdge
// (INPUT.MIN_SIZE_TEST / MAX_SIZE_TEST; MIN_SIZE_TEST 0 = no resize) then zero-padding to a multiple
// of 32 (the FPN backbone's size_divisibility, ImageList.from_tensors). Returns (padded_h, padded_w).
std::pair<int, int> network_input_size(const ModelSpec& spec, int height, int width);

}  // namespace maskrt::bench
