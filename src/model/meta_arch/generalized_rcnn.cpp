#include "model/meta_arch/generalized_rcnn.h"

#include <algorithm>
#include <chrono>

#include "model/postprocessing.h"
#include "ops/resize/resize.h"

namespace maskrt {

namespace {
double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

GeneralizedRCNN::GeneralizedRCNN(const ModelSpec& spec, WeightStore& ws)
    : spec_(spec), backbone_(spec, ws), rpn_features_(spec.rpn_in_features), roi_features_(spec.roi_in_features) {
  std::vector<int> rpn_strides, roi_strides;
  const auto& names = backbone_.output_names();
  for (const auto& f : rpn_features_) {
    MASKRT_CHECK(std::find(names.begin(), names.end(), f) != names.end(), ErrorCode::kBadConfig,
                 "MODEL.RPN.IN_FEATURES: '", f, "' is not an output of the FPN backbone");
    rpn_strides.push_back(backbone_.stride(f));
  }
  for (const auto& f : roi_features_) {
    MASKRT_CHECK(std::find(names.begin(), names.end(), f) != names.end(), ErrorCode::kBadConfig,
                 "MODEL.ROI_HEADS.IN_FEATURES: '", f, "' is not an output of the FPN backbone");
    roi_strides.push_back(backbone_.stride(f));
  }
  rpn_ = std::make_unique<RPN>(spec, ws, backbone_.out_channels(), rpn_strides);
  roi_heads_ = std::make_unique<StandardROIHeads>(spec, ws, backbone_.out_channels(), roi_strides);
}

PreprocessedImage GeneralizedRCNN::preprocess(const Image& image, std::vector<uint8_t>* resized_out) const {
  MASKRT_CHECK(!image.empty() && image.pixels.size() == static_cast<size_t>(image.height) * image.width * 3,
               ErrorCode::kInvalidArgument, "image: expected height*width*3 bytes, got ", image.pixels.size(),
               " for ", image.height, "x", image.width);
  const auto [rh, rw] = ops::resize_shortest_edge_shape(image.height, image.width, spec_.min_size_test,
                                                        spec_.max_size_test);
  std::vector<uint8_t> resized;
  const std::vector<uint8_t>* src = &image.pixels;
  if (rh != image.height || rw != image.width) {
    resized.resize(static_cast<size_t>(rh) * rw * 3);
    ops::ResizeParams rp{image.height, image.width, rh, rw, 3};
    ops::resize_bilinear_pillow_cpu(rp, image.pixels.data(), resized.data());
    src = &resized;
  }
  // Channel order of the input pixels vs the model's INPUT.FORMAT.
  const bool image_bgr = image.channel_order == ChannelOrder::kBGR;
  const bool model_bgr = spec_.input_format == "BGR";
  const bool flip = image_bgr != model_bgr;
  const int div = FPN::kSizeDivisibility;
  const int ph = (rh + div - 1) / div * div, pw = (rw + div - 1) / div * div;
  PreprocessedImage out;
  out.resized_h = rh;
  out.resized_w = rw;
  out.tensor = Tensor({1, 3, ph, pw});  // zero padding after normalisation
  float* t = out.tensor.data();
  const uint8_t* px = src->data();
  for (int c = 0; c < 3; ++c) {
    const int sc = flip ? 2 - c : c;
    const float mean = spec_.pixel_mean[c], std = spec_.pixel_std[c];
    float* plane = t + static_cast<int64_t>(c) * ph * pw;
#pragma omp parallel for schedule(static)
    for (int y = 0; y < rh; ++y)
      for (int x = 0; x < rw; ++x)
        plane[static_cast<int64_t>(y) * pw + x] = (static_cast<float>(px[(static_cast<int64_t>(y) * rw + x) * 3 + sc]) - mean) / std;
  }
  if (resized_out) {
    resized_out->resize(static_cast<size_t>(rh) * rw * 3);
    for (int64_t i = 0; i < static_cast<int64_t>(rh) * rw; ++i)
      for (int c = 0; c < 3; ++c) (*resized_out)[i * 3 + c] = px[i * 3 + (flip ? 2 - c : c)];
  }
  return out;
}

ImageResult GeneralizedRCNN::run(const Image& image, DebugOutputs* debug) const {
  ImageResult result;
  result.height = image.height;
  result.width = image.width;
  const auto t_start = std::chrono::steady_clock::now();
  auto t0 = t_start;
  PreprocessedImage pre = preprocess(image, debug ? &debug->resized : nullptr);
  result.times.preprocess = ms_since(t0);
  std::map<std::string, Tensor> features =
      backbone_.forward(pre.tensor, &result.times.backbone, &result.times.fpn);
  t0 = std::chrono::steady_clock::now();
  std::vector<Tensor> rpn_in, roi_in;
  for (const auto& f : rpn_features_) rpn_in.push_back(features.at(f));
  for (const auto& f : roi_features_) roi_in.push_back(features.at(f));
  Proposals proposals = rpn_->forward(rpn_in, pre.resized_h, pre.resized_w);
  result.times.rpn = ms_since(t0);
  Detections det = roi_heads_->forward(roi_in, proposals, pre.resized_h, pre.resized_w,
                                       debug ? &debug->box_head : nullptr, &result.times.box_head,
                                       &result.times.mask_head);
  t0 = std::chrono::steady_clock::now();
  result.instances = detector_postprocess(det, pre.resized_h, pre.resized_w, image.height, image.width, spec_.mask_on);
  result.times.postprocess = ms_since(t0);
  result.times.total = ms_since(t_start);
  if (debug) {
    debug->resized_h = pre.resized_h;
    debug->resized_w = pre.resized_w;
    debug->padded_h = static_cast<int>(pre.tensor.size(2));
    debug->padded_w = static_cast<int>(pre.tensor.size(3));
    debug->features = std::move(features);
    debug->proposals = std::move(proposals);
    debug->mask_probs = det.mask_probs;
  }
  return result;
}

}  // namespace maskrt
