#pragma once
// ResNet + FPN on the GPU: the twin of model/backbone/{resnet,fpn}.h (same checkpoint names, the same
// FrozenBN folding through ConvLayer::load, then uploaded). Bottleneck conv3 fuses the residual add
// and the ReLU (cuDNN z input); BasicBlock conv2 likewise. Stem max-pool with cuDNN, P6 and the
// top-down "sum" with ops/small_cuda kernels.
// Activations: fp32 NCHW (kFP32 / kTF32) or fp16 NHWC (kFP16, the image input padded to 8 channels);
// with tf32_nhwc (kTF32 only; MASKRT_TF32_NHWC=1, read by the engine) float32 NHWC, the image input
// padded to 4 channels (ops::kPreprocessNhwcF32Channels). Carve with a Carver whose tf32_nhwc matches.
// MASKRT_STEM_S2D=1 (fp16 only; read at construction, default off): the stem conv runs as the exact
// 4x4 / stride 1 / pad 0 rewrite over a space-to-depth image (ops/stem_s2d/stem_s2d.h), which the
// preprocess writes when PreprocessCudaParams::stem_s2d = stem_s2d(); same stem output size.
// Thread safety: carve()/forward() mutate cached plans; one thread at a time.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backend/cuda/conv_cudnn.h"
#include "backend/cuda/pool_cudnn.h"
#include "io/config.h"
#include "model/cuda/carver.h"

namespace maskrt::cuda {

class CudaBackbone {
 public:
  CudaBackbone(const ModelSpec& spec, WeightStore& ws, Precision precision, bool tf32_nhwc = false);

  // Only `features` outlive forward_fpn(): carve() places them first and rewinds the arena over
  // everything else (image, stem, stage outputs, block temporaries, laterals) so that later carvings
  // (RPN, ROI heads) reuse those bytes. The non-final blocks of a stage share two ping-pong outputs.
  struct Buffers {
    DeviceTensor image;                 // (n, 3 / 4 / 8, H, W) padded input; s2d stem: (n, 16, stem_s2d_size(H), ..(W))
    DeviceTensor stem_out, pool_out;
    struct Block { DeviceTensor t1, t2, shortcut, out; };
    std::vector<std::vector<Block>> blocks;  // per stage
    std::vector<DeviceTensor> lateral;       // per FPN input level
    std::map<std::string, DeviceTensor> features;  // p2..p6
  };
  // Carves the buffers for a (padded) h x w input (plans every convolution for that size), for
  // n_images images at once (MASKRT_BACKBONE_BATCH group plans): every tensor then has n = n_images,
  // image k at rows(k, 1) (n is outermost in both layouts), and the convolutions are planned for
  // that batch (algorithms are per shape, so n > 1 gets its own).
  void carve(Carver& c, int h, int w, Buffers* b, int n_images = 1);
  void forward_bottom_up(const CudaContext& ctx, const Buffers& b, void* ws, size_t ws_bytes);
  void forward_fpn(const CudaContext& ctx, const Buffers& b, void* ws, size_t ws_bytes);

  int out_channels() const { return fpn_out_channels_; }
  // Whether the stem reads the space-to-depth image (the preprocess must write it: stem_s2d).
  bool stem_s2d() const { return stem_s2d_; }
  const std::vector<std::string>& output_names() const { return names_; }
  int stride(const std::string& name) const { return strides_.at(name); }

 private:
  struct Block {
    bool bottleneck = true;
    bool has_shortcut = false;
    ConvCudnn conv1, conv2, conv3, shortcut;
  };
  int stem_out_size(int n) const;  // stem conv output rows (cols) for an n-row (col) padded image
  Precision precision_;
  bool tf32_nhwc_ = false;  // kTF32 with NHWC float activations
  bool stem_s2d_ = false;
  ConvCudnn stem_;
  MaxPoolCudnn stem_pool_{3, 2, 1};
  std::vector<std::vector<Block>> stages_;  // res2..
  std::vector<int> fpn_in_stage_;           // stage index (2..5) of each FPN input
  std::vector<ConvCudnn> lateral_, output_;
  std::vector<std::string> names_;
  std::map<std::string, int> strides_;
  int fpn_out_channels_ = 256;
};

}  // namespace maskrt::cuda
