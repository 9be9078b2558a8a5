#include "model/cuda/backbone_cuda.h"

#include <vector>
#include <string>
#include <map>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "core/check.h"
#include "model/backbone/fpn.h"
#include "model/backbone/resnet.h"
#include "ops/resize/resize_cuda.h"
#include "ops/small_cuda/small_ops_cuda.h"
#include "ops/stem_s2d/stem_s2d.h"

namespace maskrt::cuda {
namespace {

bool stem_s2d_requested() {
  const char* e = std::getenv("MASKRT_STEM_S2D");
  return e && e[0] == '1' && e[1] == '\0';
}

}  // namespace


CudaBackbone::CudaBackbone(const ModelSpec& spec, WeightStore& ws, Precision precision, bool tf32_nhwc)
    : precision_(precision), tf32_nhwc_(precision == Precision::kTF32 && tf32_nhwc) {
  const Layout layout = activation_layout(precision, tf32_nhwc_);
  MASKRT_CHECK(spec.res5_dilation == 1, ErrorCode::kUnsupported, "MODEL.RESNETS.RES5_DILATION: only 1 is supported");
  MASKRT_CHECK(spec.fpn_fuse_type == "sum", ErrorCode::kUnsupported, "MODEL.FPN.FUSE_TYPE: '", spec.fpn_fuse_type,
               "' is not supported (only \"sum\")");
  const std::string p = "backbone.bottom_up";
  const std::string& norm = spec.resnet_norm;
  const int in_pad = precision == Precision::kFP16 ? ops::kPreprocessNhwcChannels
                     : tf32_nhwc_                   ? ops::kPreprocessNhwcF32Channels
                                                    : 0;
  ConvLayer stem = ConvLayer::load(ws, p + ".stem.conv1", 3, spec.stem_out_channels, 7, 2, 3, 1, false, norm, true);
  stem_s2d_ = precision == Precision::kFP16 && stem_s2d_requested();
  if (stem_s2d_) {  // exact rewrite: 4x4 / stride 1 / pad 0 over the s2d image (16 channels, no padding)
    MASKRT_ASSERT(ops::stem_s2d_applicable(stem.params, stem.weight.shape()));
    stem.weight = ops::stem_s2d_weight(stem.weight);
    stem.params = ops::stem_s2d_conv_params(stem.params);
    stem_ = ConvCudnn(stem, precision, ConvEpilogue::kBiasRelu, p + ".stem.conv1 (s2d)");
    std::fprintf(stderr, "maskrt: MASKRT_STEM_S2D=1: stem conv as 4x4 stride-1 over a space-to-depth image\n");
  } else {
    if (stem_s2d_requested())
      std::fprintf(stderr, "maskrt: MASKRT_STEM_S2D=1 ignored (fp16 only)\n");
    stem_ = ConvCudnn(stem, precision, ConvEpilogue::kBiasRelu, p + ".stem.conv1", in_pad, layout);
  }
  const std::vector<int> nblocks = resnet_blocks_per_stage(spec.depth);
  const bool basic = spec.depth < 50;
  int last_stage = 0;
  for (const auto& f : spec.resnet_out_features) {
    MASKRT_CHECK(f.size() == 4 && f.rfind("res", 0) == 0 && f[3] >= '2' && f[3] <= '5', ErrorCode::kUnsupported,
                 "MODEL.RESNETS.OUT_FEATURES: '", f, "' (the CUDA backend supports res2..res5)");
    last_stage = std::max(last_stage, f[3] - '0');
  }
  int in_ch = spec.stem_out_channels;
  int out_ch = spec.res2_out_channels;
  int bottleneck_ch = spec.num_groups * spec.width_per_group;
  std::map<int, int> stage_channels;
  for (int s = 2; s <= last_stage; ++s) {
    std::vector<Block> blocks;
    for (int b = 0; b < nblocks[s - 2]; ++b) {
      const int stride = (b == 0 && s > 2) ? 2 : 1;
      const std::string bp = p + ".res" + std::to_string(s) + "." + std::to_string(b);
      Block blk;
      blk.bottleneck = !basic;
      blk.has_shortcut = in_ch != out_ch;
      if (blk.has_shortcut)
        blk.shortcut = ConvCudnn(ConvLayer::load(ws, bp + ".shortcut", in_ch, out_ch, 1, stride, 0, 1, false, norm, false),
                                 precision, ConvEpilogue::kBias, bp + ".shortcut", 0, layout);
      if (basic) {
        blk.conv1 = ConvCudnn(ConvLayer::load(ws, bp + ".conv1", in_ch, out_ch, 3, stride, 1, 1, false, norm, true),
                              precision, ConvEpilogue::kBiasRelu, bp + ".conv1", 0, layout);
        blk.conv2 = ConvCudnn(ConvLayer::load(ws, bp + ".conv2", out_ch, out_ch, 3, 1, 1, 1, false, norm, false),
                              precision, ConvEpilogue::kBiasAddRelu, bp + ".conv2", 0, layout);
      } else {
        const int s1 = spec.stride_in_1x1 ? stride : 1;
        const int s3 = spec.stride_in_1x1 ? 1 : stride;
        blk.conv1 = ConvCudnn(ConvLayer::load(ws, bp + ".conv1", in_ch, bottleneck_ch, 1, s1, 0, 1, false, norm, true),
                              precision, ConvEpilogue::kBiasRelu, bp + ".conv1", 0, layout);
        blk.conv2 = ConvCudnn(ConvLayer::load(ws, bp + ".conv2", bottleneck_ch, bottleneck_ch, 3, s3, 1,
                                              spec.num_groups, false, norm, true),
                              precision, ConvEpilogue::kBiasRelu, bp + ".conv2", 0, layout);
        blk.conv3 = ConvCudnn(ConvLayer::load(ws, bp + ".conv3", bottleneck_ch, out_ch, 1, 1, 0, 1, false, norm, false),
                              precision, ConvEpilogue::kBiasAddRelu, bp + ".conv3", 0, layout);
      }
      blocks.push_back(std::move(blk));
      in_ch = out_ch;
    }
    stage_channels[s] = out_ch;
    stages_.push_back(std::move(blocks));
    out_ch *= 2;
    bottleneck_ch *= 2;
  }
  // FPN (model/backbone/fpn.cpp).
  fpn_out_channels_ = spec.fpn_out_channels;
  for (size_t i = 0; i < spec.fpn_in_features.size(); ++i) {
    const std::string& f = spec.fpn_in_features[i];
    MASKRT_CHECK(f.size() == 4 && f.rfind("res", 0) == 0 && stage_channels.count(f[3] - '0'), ErrorCode::kBadConfig,
                 "MODEL.FPN.IN_FEATURES: '", f, "' is not an output of the ResNet");
    const int stage = f[3] - '0';
    if (i > 0)
      MASKRT_CHECK(stage == fpn_in_stage_.back() + 1, ErrorCode::kUnsupported,
                   "MODEL.FPN.IN_FEATURES: levels must be consecutive ResNet stages");
    fpn_in_stage_.push_back(stage);
    const std::string s = std::to_string(stage);
    const bool use_bias = spec.fpn_norm.empty();
    lateral_.emplace_back(ConvLayer::load(ws, "backbone.fpn_lateral" + s, stage_channels[stage], fpn_out_channels_, 1,
                                          1, 0, 1, use_bias, spec.fpn_norm, false),
                          precision, ConvEpilogue::kBias, "backbone.fpn_lateral" + s, 0, layout);
    output_.emplace_back(ConvLayer::load(ws, "backbone.fpn_output" + s, fpn_out_channels_, fpn_out_channels_, 3, 1, 1,
                                         1, use_bias, spec.fpn_norm, false),
                         precision, ConvEpilogue::kBias, "backbone.fpn_output" + s, 0, layout);
    names_.push_back("p" + s);
    strides_["p" + s] = 1 << stage;
  }
  const int last = fpn_in_stage_.back();
  names_.push_back("p" + std::to_string(last + 1));
  strides_[names_.back()] = 1 << (last + 1);
}

int CudaBackbone::stem_out_size(int n) const {
  return stem_s2d_ ? stem_.out_size(ops::stem_s2d_size(n)) : stem_.out_size(n);
}

void CudaBackbone::carve(Carver& c, int h, int w, Buffers* b, int n_images) {
  MASKRT_ASSERT(n_images >= 1);
  MASKRT_ASSERT(c.act_layout() == activation_layout(precision_, tf32_nhwc_), "CudaBackbone: carver layout");
  const int in_c = stem_s2d_                            ? ops::kStemS2dChannels
                   : precision_ == Precision::kFP16 ? ops::kPreprocessNhwcChannels
                   : tf32_nhwc_                     ? ops::kPreprocessNhwcF32Channels
                                                    : 3;
  const int in_h = stem_s2d_ ? ops::stem_s2d_size(h) : h, in_w = stem_s2d_ ? ops::stem_s2d_size(w) : w;
  const int n = static_cast<int>(lateral_.size());
  // Shapes first: the FPN outputs p2..p6 (what the RPN and ROI heads read) are carved before anything
  // else; everything after them (input image, stem, stage outputs, block temporaries, laterals) is dead
  // once forward_fpn() has run and is rewound at the end, so the heads reuse those bytes. Execution is
  // sequential on one stream (and a captured graph keeps that order), so reuse is safe.
  std::vector<std::pair<int, int>> stage_hw(stages_.size());
  {
    int fh = stem_pool_.out_size(stem_out_size(h)), fw = stem_pool_.out_size(stem_out_size(w));
    for (size_t s = 0; s < stages_.size(); ++s) {
      for (Block& blk : stages_[s]) {
        fh = blk.conv2.out_size(blk.conv1.out_size(fh));
        fw = blk.conv2.out_size(blk.conv1.out_size(fw));
        if (blk.bottleneck) {
          fh = blk.conv3.out_size(fh);
          fw = blk.conv3.out_size(fw);
        }
      }
      stage_hw[s] = {fh, fw};
    }
  }
  b->features.clear();
  for (int i = 0; i < n; ++i) {
    const auto [fh, fw] = stage_hw[fpn_in_stage_[i] - 2];
    b->features[names_[i]] = c.act(n_images, fpn_out_channels_, fh, fw);
  }
  {
    const DeviceTensor& top = b->features[names_[n - 1]];
    b->features[names_[n]] = c.act(n_images, fpn_out_channels_, (top.h - 1) / 2 + 1, (top.w - 1) / 2 + 1);
  }
  const size_t backbone_mark = c.arena.offset();

  // Stem: the image and the stem output die once the max pool has run (pool_out is carved below them).
  const int sh = stem_out_size(h), sw = stem_out_size(w);
  MASKRT_ASSERT(sh == (h - 1) / 2 + 1 && sw == (w - 1) / 2 + 1);  // the 7x7 / stride 2 / pad 3 stem's size
  b->pool_out = c.act(n_images, stem_.out_channels(), stem_pool_.out_size(sh), stem_pool_.out_size(sw));
  const size_t stem_mark = c.arena.offset();
  b->image = c.act(n_images, in_c, in_h, in_w);
  c.plan(stem_, n_images, in_h, in_w);
  b->stem_out = c.act(n_images, stem_.out_channels(), sh, sw);
  if (c.plan_algos) stem_pool_.plan(b->stem_out);
  MASKRT_ASSERT(b->pool_out.h == stem_pool_.out_size(b->stem_out.h) && b->pool_out.w == stem_pool_.out_size(b->stem_out.w));
  c.arena.rewind(stem_mark);

  DeviceTensor x = b->pool_out;
  b->blocks.assign(stages_.size(), {});
  for (size_t s = 0; s < stages_.size(); ++s) {
    // The stage output (its last block's) lives until the FPN has read it; the other blocks' outputs
    // alternate between two buffers freed after the stage (block k reads block k-1's output and, for an
    // identity shortcut, adds it, so input and output must differ).
    const Block& last_blk = stages_[s].back();
    const ConvCudnn& last_conv = last_blk.bottleneck ? last_blk.conv3 : last_blk.conv2;
    const DeviceTensor stage_out = c.act(n_images, last_conv.out_channels(), stage_hw[s].first, stage_hw[s].second);
    const size_t stage_mark = c.arena.offset();
    DeviceTensor ping[2];
    bool have_ping[2] = {false, false};
    const size_t nb = stages_[s].size();
    for (size_t k = 0; k < nb; ++k) {
      Block& blk = stages_[s][k];
      Buffers::Block bb;
      ConvCudnn& last = blk.bottleneck ? blk.conv3 : blk.conv2;
      const int oh = blk.conv1.out_size(x.h), ow = blk.conv1.out_size(x.w);
      const int oh2 = blk.conv2.out_size(oh), ow2 = blk.conv2.out_size(ow);
      const int fh = blk.bottleneck ? last.out_size(oh2) : oh2, fw = blk.bottleneck ? last.out_size(ow2) : ow2;
      if (k + 1 == nb) {
        bb.out = stage_out;
      } else {
        if (!have_ping[k % 2]) ping[k % 2] = c.act(n_images, last.out_channels(), fh, fw);  // carved on first use
        have_ping[k % 2] = true;
        bb.out = ping[k % 2];
      }
      MASKRT_ASSERT(bb.out.c == last.out_channels() && bb.out.h == fh && bb.out.w == fw);
      // Block temporaries: stack discipline, given back after the block.
      const size_t mark = c.arena.offset();
      c.plan(blk.conv1, n_images, x.h, x.w);
      bb.t1 = c.act(n_images, blk.conv1.out_channels(), oh, ow);
      if (blk.bottleneck) {
        c.plan(blk.conv2, n_images, oh, ow);
        bb.t2 = c.act(n_images, blk.conv2.out_channels(), oh2, ow2);
        c.plan(blk.conv3, n_images, oh2, ow2);
      } else {
        c.plan(blk.conv2, n_images, oh, ow);
      }
      if (blk.has_shortcut) {
        c.plan(blk.shortcut, n_images, x.h, x.w);
        bb.shortcut = c.act(n_images, blk.shortcut.out_channels(), blk.shortcut.out_size(x.h), blk.shortcut.out_size(x.w));
        MASKRT_ASSERT(bb.shortcut.h == fh && bb.shortcut.w == fw);
      }
      c.arena.rewind(mark);
      b->blocks[s].push_back(bb);
      x = bb.out;
    }
    c.arena.rewind(stage_mark);
  }
  // FPN: laterals are temporaries of the top-down pass.
  b->lateral.clear();
  for (int i = 0; i < n; ++i) {
    const DeviceTensor& r = b->blocks[fpn_in_stage_[i] - 2].back().out;
    c.plan(lateral_[i], n_images, r.h, r.w);
    b->lateral.push_back(c.act(n_images, fpn_out_channels_, r.h, r.w));
    c.plan(output_[i], n_images, r.h, r.w);
    const DeviceTensor& f = b->features.at(names_[i]);
    MASKRT_ASSERT(f.h == r.h && f.w == r.w);
  }
  c.arena.rewind(backbone_mark);
}

void CudaBackbone::forward_bottom_up(const CudaContext& ctx, const Buffers& b, void* ws, size_t ws_bytes) {
  stem_.forward(ctx, b.image, b.stem_out, nullptr, ws, ws_bytes);
  stem_pool_.forward(ctx, b.stem_out, b.pool_out);
  DeviceTensor x = b.pool_out;
  for (size_t s = 0; s < stages_.size(); ++s) {
    for (size_t k = 0; k < stages_[s].size(); ++k) {
      Block& blk = stages_[s][k];
      const Buffers::Block& bb = b.blocks[s][k];
      blk.conv1.forward(ctx, x, bb.t1, nullptr, ws, ws_bytes);
      if (blk.has_shortcut) blk.shortcut.forward(ctx, x, bb.shortcut, nullptr, ws, ws_bytes);
      const DeviceTensor& z = blk.has_shortcut ? bb.shortcut : x;
      if (blk.bottleneck) {
        blk.conv2.forward(ctx, bb.t1, bb.t2, nullptr, ws, ws_bytes);
        blk.conv3.forward(ctx, bb.t2, bb.out, &z, ws, ws_bytes);
      } else {
        blk.conv2.forward(ctx, bb.t1, bb.out, &z, ws, ws_bytes);
      }
      x = bb.out;
    }
  }
}

void CudaBackbone::forward_fpn(const CudaContext& ctx, const Buffers& b, void* ws, size_t ws_bytes) {
  const int n = static_cast<int>(lateral_.size());
  for (int i = n - 1; i >= 0; --i) {
    const DeviceTensor& r = b.blocks[fpn_in_stage_[i] - 2].back().out;
    lateral_[i].forward(ctx, r, b.lateral[i], nullptr, ws, ws_bytes);
    if (i < n - 1)  // prev = lateral + upsample(prev), in place
      ops::upsample_nearest2x_add_cuda(small_desc(b.lateral[i]), b.lateral[i].ptr, b.lateral[i + 1].ptr, b.lateral[i].ptr,
                                       ctx.stream());
    output_[i].forward(ctx, b.lateral[i], b.features.at(names_[i]), nullptr, ws, ws_bytes);
  }
  const DeviceTensor& top = b.features.at(names_[n - 1]);
  ops::max_pool2d_k1s2_cuda(small_desc(top), top.ptr, b.features.at(names_[n]).ptr, ctx.stream());
}

}  // namespace maskrt::cuda
