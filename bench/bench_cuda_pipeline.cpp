// bench_cuda_pipeline: steady-state latency of the CUDA Mask R-CNN pipeline (R50-FPN, COCO shapes:
// 80 classes, 1000 proposals, 100 detections) on a 480x640 image (resized to 800x1067, padded
// 800x1088), in fp32 (TF32 off), tf32 and fp16. The weights are synthetic (seeded, He-scaled; FrozenBN
// identity; class biases spread so that ~all 100 detection slots fill): timing does not depend on the
// weight values, only on the shapes and on the detection counts, which are printed.
// Warm-up (planning, cuDNN/cuBLASLt algorithm choice, lazy module loading) is separate and reported.
// Output: per precision the median / p10 / p90 of the end-to-end time (upload ... masks pasted and
// RLE-encoded) over --iters images, and one stage breakdown from CUDA events.
//   bench_cuda_pipeline [iters=50] [height=480] [width=640]
#ifdef MASKRT_WITH_CUDA
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "io/config.h"
#include "model/cuda/generalized_rcnn_cuda.h"
#include "model/weights.h"

using namespace maskrt;

namespace {

const char* kConfig = R"(
MODEL:
  META_ARCHITECTURE: "GeneralizedRCNN"
  MASK_ON: True
  BACKBONE: {NAME: "build_resnet_fpn_backbone"}
  RESNETS: {DEPTH: 50, OUT_FEATURES: ["res2", "res3", "res4", "res5"]}
  FPN: {IN_FEATURES: ["res2", "res3", "res4", "res5"]}
  ANCHOR_GENERATOR: {SIZES: [[32], [64], [128], [256], [512]], ASPECT_RATIOS: [[0.5, 1.0, 2.0]]}
  RPN: {IN_FEATURES: ["p2", "p3", "p4", "p5", "p6"], PRE_NMS_TOPK_TEST: 1000, POST_NMS_TOPK_TEST: 1000}
  ROI_HEADS: {NAME: "StandardROIHeads", IN_FEATURES: ["p2", "p3", "p4", "p5"], NUM_CLASSES: 80}
  ROI_BOX_HEAD: {NAME: "FastRCNNConvFCHead", NUM_FC: 2, POOLER_RESOLUTION: 7}
  ROI_MASK_HEAD: {NAME: "MaskRCNNConvUpsampleHead", NUM_CONV: 4, POOLER_RESOLUTION: 14}
VERSION: 2
)";

struct WeightMaker {
  std::map<std::string, CheckpointTensor> m;
  std::mt19937 rng{2024};
  void put(const std::string& name, Shape s, float stddev, float mean = 0.f) {
    Tensor t(s);
    std::normal_distribution<float> d(mean, stddev);
    for (int64_t i = 0; i < t.numel(); ++i) t[i] = stddev > 0 ? d(rng) : mean;
    m[name] = CheckpointTensor{t, "float32"};
  }
  void conv(const std::string& p, int in, int out, int k, bool bias, bool norm, float gain = 1.f, int groups = 1) {
    put(p + ".weight", {out, in / groups, k, k}, gain * std::sqrt(2.f / (in / groups * k * k)));
    if (bias) put(p + ".bias", {out}, 0.f, 0.f);
    if (norm) {
      put(p + ".norm.weight", {out}, 0.f, 1.f);
      put(p + ".norm.bias", {out}, 0.f, 0.f);
      put(p + ".norm.running_mean", {out}, 0.f, 0.f);
      put(p + ".norm.running_var", {out}, 0.f, 1.f);
    }
  }
};

std::map<std::string, CheckpointTensor> synthetic_r50_fpn(const ModelSpec& s) {
  WeightMaker w;
  const std::string b = "backbone.bottom_up";
  w.conv(b + ".stem.conv1", 3, 64, 7, false, true, 0.02f);  // inputs are ~+-128
  const int nb[4] = {3, 4, 6, 3};
  int in = 64, out = 256, mid = 64;
  for (int st = 2; st <= 5; ++st) {
    for (int k = 0; k < nb[st - 2]; ++k) {
      const std::string p = b + ".res" + std::to_string(st) + "." + std::to_string(k);
      if (in != out) w.conv(p + ".shortcut", in, out, 1, false, true, 0.5f);
      w.conv(p + ".conv1", in, mid, 1, false, true);
      w.conv(p + ".conv2", mid, mid, 3, false, true);
      w.conv(p + ".conv3", mid, out, 1, false, true, 0.2f);
      in = out;
    }
    out *= 2;
    mid *= 2;
  }
  for (int st = 2, ch = 256; st <= 5; ++st, ch *= 2) {
    w.conv("backbone.fpn_lateral" + std::to_string(st), ch, 256, 1, true, false, 0.5f);
    w.conv("backbone.fpn_output" + std::to_string(st), 256, 256, 3, true, false, 0.5f);
  }
  w.conv("proposal_generator.rpn_head.conv", 256, 256, 3, true, false);
  w.conv("proposal_generator.rpn_head.objectness_logits", 256, 3, 1, true, false, 0.1f);
  w.conv("proposal_generator.rpn_head.anchor_deltas", 256, 12, 1, true, false, 0.01f);
  const int K = s.num_classes;
  w.put("roi_heads.box_head.fc1.weight", {1024, 256 * 49}, std::sqrt(2.f / (256 * 49)));
  w.put("roi_heads.box_head.fc1.bias", {1024}, 0.f, 0.f);
  w.put("roi_heads.box_head.fc2.weight", {1024, 1024}, std::sqrt(2.f / 1024));
  w.put("roi_heads.box_head.fc2.bias", {1024}, 0.f, 0.f);
  w.put("roi_heads.box_predictor.cls_score.weight", {K + 1, 1024}, 0.01f);
  w.put("roi_heads.box_predictor.cls_score.bias", {K + 1}, 1.5f);  // spread classes: many pass 0.05
  w.put("roi_heads.box_predictor.bbox_pred.weight", {4 * K, 1024}, 0.001f);
  w.put("roi_heads.box_predictor.bbox_pred.bias", {4 * K}, 0.f, 0.f);
  for (int k = 1; k <= 4; ++k) w.conv("roi_heads.mask_head.mask_fcn" + std::to_string(k), 256, 256, 3, true, false);
  w.put("roi_heads.mask_head.deconv.weight", {256, 256, 2, 2}, std::sqrt(2.f / 256));
  w.put("roi_heads.mask_head.deconv.bias", {256}, 0.f, 0.f);
  w.conv("roi_heads.mask_head.predictor", 256, K, 1, true, false, 0.1f);
  return w.m;
}

double pct(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * (v.size() - 1);
  const size_t i = static_cast<size_t>(pos);
  return i + 1 < v.size() ? v[i] + (pos - i) * (v[i + 1] - v[i]) : v.back();
}

}  // namespace

int main(int argc, char** argv) {
  const int iters = argc > 1 ? std::atoi(argv[1]) : 50;
  const int H = argc > 2 ? std::atoi(argv[2]) : 480, W = argc > 3 ? std::atoi(argv[3]) : 640;
  const Config cfg = load_config_from_string(kConfig, "bench:R50-FPN");
  Image img;
  img.height = H;
  img.width = W;
  img.pixels.resize(size_t(H) * W * 3);
  for (int y = 0; y < H; ++y)  // smooth gradients + a few discs: not pure noise
    for (int x = 0; x < W; ++x)
      for (int c = 0; c < 3; ++c) {
        const float cx = W * (0.3f + 0.2f * c), cy = H * 0.5f;
        const bool disc = (x - cx) * (x - cx) + (y - cy) * (y - cy) < (H * 0.2f) * (H * 0.2f);
        img.pixels[(size_t(y) * W + x) * 3 + c] = uint8_t(disc ? 200 - 40 * c : (x * 255 / W + y * 97 / H * c) % 256);
      }
  struct Row {
    std::string name;
    double warm_ms, median, p10, p90;
    size_t dets;
    StageTimes st;
  };
  std::vector<Row> rows;
  std::string device;
  for (Precision p : {Precision::kFP32, Precision::kTF32, Precision::kFP16}) {
    const char* name = p == Precision::kFP32 ? "fp32" : p == Precision::kTF32 ? "tf32" : "fp16";
    WeightStore ws(synthetic_r50_fpn(cfg.spec), "synthetic R50-FPN");
    cuda::CudaGeneralizedRCNN model(cfg.spec, ws, p);
    ws.finish();
    device = model.device_name();
    const auto t0 = std::chrono::steady_clock::now();
    model.prepare(H, W);
    for (int i = 0; i < 3; ++i) model.run(img);
    const double warm = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::vector<double> ms;
    size_t dets = 0;
    for (int i = 0; i < iters; ++i) {
      const ImageResult r = model.run(img);
      ms.push_back(r.times.total);
      dets = r.instances.size();
    }
    const ImageResult staged = model.run(img, true);
    rows.push_back({name, warm, pct(ms, 0.5), pct(ms, 0.1), pct(ms, 0.9), dets, staged.times});
    std::fprintf(stderr, "%s: arena %.0f MiB\n", name, model.arena_bytes() / 1048576.0);
  }
  std::printf("\nmaskrt CUDA pipeline, R50-FPN Mask R-CNN (synthetic weights), %dx%d input -> 800x%d, %d iters, %s\n",
              H, W, int(std::lround(800.0 * W / H)), iters, device.c_str());
  std::printf("| precision | median ms | p10 | p90 | img/s | dets | warm-up ms | pre | backbone | fpn | rpn | box | mask | post |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const Row& r : rows)
    std::printf("| %s | %.2f | %.2f | %.2f | %.1f | %zu | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n",
                r.name.c_str(), r.median, r.p10, r.p90, 1000.0 / r.median, r.dets, r.warm_ms, r.st.preprocess,
                r.st.backbone, r.st.fpn, r.st.rpn, r.st.box_head, r.st.mask_head, r.st.postprocess);
  return 0;
}

#else
#include <cstdio>
int main() {
  std::printf("bench_cuda_pipeline: this build has no CUDA backend\n");
  return 0;
}
#endif
