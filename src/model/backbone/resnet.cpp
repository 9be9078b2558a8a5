#include "model/backbone/resnet.h"

#include <algorithm>

#include "ops/pooling/pooling.h"

namespace maskrt {

std::vector<int> resnet_blocks_per_stage(int depth) {
  switch (depth) {
    case 18: return {2, 2, 2, 2};
    case 34: return {3, 4, 6, 3};
    case 50: return {3, 4, 6, 3};
    case 101: return {3, 4, 23, 3};
    case 152: return {3, 8, 36, 3};
  }
  MASKRT_FAIL(ErrorCode::kBadConfig, "MODEL.RESNETS.DEPTH: ", depth, " is not one of 18, 34, 50, 101, 152");
}

namespace {
void add_inplace_relu(Tensor& y, const Tensor& r) {
  float* a = y.data();
  const float* b = r.data();
  const int64_t n = y.numel();
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) a[i] = std::max(a[i] + b[i], 0.0f);
}
}  // namespace

int ResNet::stride(const std::string& name) {
  if (name == "stem") return 4;
  MASKRT_CHECK(name.size() == 4 && name.rfind("res", 0) == 0 && name[3] >= '2' && name[3] <= '5',
               ErrorCode::kBadConfig, "unknown ResNet feature '", name, "' (expected res2..res5)");
  return 1 << (name[3] - '0');
}

ResNet::ResNet(const ModelSpec& spec, WeightStore& ws) : out_features_(spec.resnet_out_features) {
  const std::string p = "backbone.bottom_up";
  const std::string& norm = spec.resnet_norm;
  stem_ = ConvLayer::load(ws, p + ".stem.conv1", 3, spec.stem_out_channels, 7, 2, 3, 1, false, norm, true);

  const std::vector<int> nblocks = resnet_blocks_per_stage(spec.depth);
  const bool basic = spec.depth < 50;
  int last_stage = 0;
  for (const auto& f : out_features_) last_stage = std::max(last_stage, ResNet::stride(f) == 4 ? 2 : (f[3] - '0'));
  int in_ch = spec.stem_out_channels;
  int out_ch = spec.res2_out_channels;
  int bottleneck_ch = spec.num_groups * spec.width_per_group;
  for (int s = 2; s <= last_stage; ++s) {
    std::vector<ResNetBlock> blocks;
    for (int b = 0; b < nblocks[s - 2]; ++b) {
      const int stride = (b == 0 && s > 2) ? 2 : 1;
      const std::string bp = p + ".res" + std::to_string(s) + "." + std::to_string(b);
      ResNetBlock blk;
      blk.bottleneck = !basic;
      blk.has_shortcut = in_ch != out_ch;
      if (blk.has_shortcut)
        blk.shortcut = ConvLayer::load(ws, bp + ".shortcut", in_ch, out_ch, 1, stride, 0, 1, false, norm, false);
      if (basic) {
        blk.conv1 = ConvLayer::load(ws, bp + ".conv1", in_ch, out_ch, 3, stride, 1, 1, false, norm, true);
        blk.conv2 = ConvLayer::load(ws, bp + ".conv2", out_ch, out_ch, 3, 1, 1, 1, false, norm, false);
      } else {
        const int s1 = spec.stride_in_1x1 ? stride : 1;
        const int s3 = spec.stride_in_1x1 ? 1 : stride;
        blk.conv1 = ConvLayer::load(ws, bp + ".conv1", in_ch, bottleneck_ch, 1, s1, 0, 1, false, norm, true);
        blk.conv2 = ConvLayer::load(ws, bp + ".conv2", bottleneck_ch, bottleneck_ch, 3, s3, 1, spec.num_groups, false,
                                    norm, true);
        blk.conv3 = ConvLayer::load(ws, bp + ".conv3", bottleneck_ch, out_ch, 1, 1, 0, 1, false, norm, false);
      }
      blocks.push_back(std::move(blk));
      in_ch = out_ch;
    }
    out_channels_["res" + std::to_string(s)] = out_ch;
    stages_.push_back(std::move(blocks));
    out_ch *= 2;
    bottleneck_ch *= 2;
  }
}

Tensor ResNetBlock::forward(const Tensor& x) const {
  Tensor out = conv1.forward(x);
  out = conv2.forward(out);
  if (bottleneck) out = conv3.forward(out);
  const Tensor shortcut_out = has_shortcut ? shortcut.forward(x) : x;
  add_inplace_relu(out, shortcut_out);
  return out;
}

std::map<std::string, Tensor> ResNet::forward(const Tensor& x) const {
  std::map<std::string, Tensor> outputs;
  Tensor h = stem_.forward(x);
  h = ops::max_pool2d_cpu(ops::MaxPool2dParams{3, 2, 1}, h);
  for (size_t s = 0; s < stages_.size(); ++s) {
    for (const auto& blk : stages_[s]) h = blk.forward(h);
    const std::string name = "res" + std::to_string(s + 2);
    if (std::find(out_features_.begin(), out_features_.end(), name) != out_features_.end()) outputs[name] = h;
  }
  return outputs;
}

}  // namespace maskrt
