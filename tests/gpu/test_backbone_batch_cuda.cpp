// MASKRT_BACKBONE_BATCH=N (opt-in, fp16 / tf32): infer_batch runs N consecutive images of one size
// and channel order as one group plan (backbone, FPN and RPN head at N images, then proposals, ROI
// heads and the paste image by image on its slice of the features). Oracle: infer() of each image
// alone on the same engine (the one-image path, itself checked against Detectron2's goldens in
// test_cuda_parity). Criteria (issue 3):
//   fp16 / tf32: per image, >= 90 % of infer()'s instances matched (same class, |dscore| <= 2e-2, box
//                IoU >= 0.95), or all but 2; >= 97 % over the whole batch (issue 3's
//                fp16 criterion), mean
//                mask IoU >= 0.95 over the matches; the group path really ran (its stderr line, one per
//                lane and size) and no group ran out of memory; an image's bits do not depend on the
//                other images of its group (the same image at the same group position next to other
//                content gives identical results); three runs of the batch (eager, capture, replay)
//                give identical bits and no graph capture fails;
//   fp32:        the switch is ignored (logged): every image equals infer() bit for bit.
// A malformed value is refused at engine creation (kInvalidArgument naming the variable).
// EngineOptions::backbone_batch = 4 (variable unset) enables the same path (one fp16 case).
#include <cstdio>
#include <cstdint>
#include <string>
#include <vector>
#include <gtest/gtest.h>

#ifdef MASKRT_WITH_CUDA  // CPU-only builds compile this file to an empty test program

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <utility>

#include "cuda_test_util.h"
#include "detection_match.h"
#include "maskrt/engine.h"
#include "maskrt/errors.h"
#include "maskrt/image.h"
#include "ops/rle/rle.h"

namespace fs = std::filesystem;
using maskrt::Device;
using maskrt::Engine;
using maskrt::EngineOptions;
using maskrt::Image;
using maskrt::ImageResult;
using maskrt::Precision;

namespace {

constexpr int kGroup = 4;

using maskrt::test::ScopedEnv;

const fs::path kCase = fs::path(MASKRT_TEST_DATA) / "golden" / "r50_bgr_80cls";

EngineOptions options(Precision p) {
  EngineOptions o;
  o.config_path = (kCase / "config.yaml").string();
  o.weights_path = (kCase / "model.pkl").string();
  o.device = Device::kCUDA;
  o.precision = p;
  o.warmup = false;
  o.cuda_streams = 3;  // groups and single images spread over lanes
  return o;
}

const char* pname(Precision p) { return p == Precision::kFP32 ? "fp32" : p == Precision::kTF32 ? "tf32" : "fp16"; }

// ---- image variants with real content (the golden photo), all of its size unless cropped / scaled
uint8_t& px(Image& im, int y, int x, int c) { return im.pixels[(size_t(y) * im.width + x) * 3 + c]; }
uint8_t px(const Image& im, int y, int x, int c) { return im.pixels[(size_t(y) * im.width + x) * 3 + c]; }

Image blank_like(const Image& src, int h, int w) {
  Image out;
  out.height = h;
  out.width = w;
  out.channel_order = src.channel_order;
  out.pixels.resize(size_t(h) * w * 3);
  return out;
}

// out(y, x) = src(map(y, x)), per channel.
template <typename F>
Image remap(const Image& src, int h, int w, F map) {
  Image out = blank_like(src, h, w);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const auto [sy, sx] = map(y, x);
      for (int c = 0; c < 3; ++c) px(out, y, x, c) = px(src, sy, sx, c);
    }
  return out;
}

Image tone(const Image& src, float gain, int bias) {
  Image out = src;
  for (uint8_t& v : out.pixels) v = static_cast<uint8_t>(std::clamp(int(std::lround(v * gain)) + bias, 0, 255));
  return out;
}

// Nine same-size variants: identity, flips, shifts (wrapping), tone changes.
std::vector<Image> variants(const Image& a) {
  const int h = a.height, w = a.width;
  std::vector<Image> v;
  v.push_back(a);
  v.push_back(remap(a, h, w, [&](int y, int x) { return std::make_pair(y, w - 1 - x); }));
  v.push_back(remap(a, h, w, [&](int y, int x) { return std::make_pair(h - 1 - y, x); }));
  v.push_back(remap(a, h, w, [&](int y, int x) { return std::make_pair((y + 37) % h, (x + 53) % w); }));
  v.push_back(tone(a, 0.8f, 10));
  v.push_back(remap(a, h, w, [&](int y, int x) { return std::make_pair(h - 1 - y, w - 1 - x); }));
  v.push_back(tone(a, 1.15f, -20));
  v.push_back(remap(a, h, w, [&](int y, int x) { return std::make_pair((y + h - 21) % h, (x + w - 77) % w); }));
  v.push_back(tone(remap(a, h, w, [&](int y, int x) { return std::make_pair(y, w - 1 - x); }), 0.9f, 15));
  return v;
}

Image crop(const Image& a, int y0, int x0, int h, int w) {
  return remap(a, h, w, [&](int y, int x) { return std::make_pair(y0 + y, x0 + x); });
}

Image upscale2(const Image& a) {
  return remap(a, a.height * 2, a.width * 2, [](int y, int x) { return std::make_pair(y / 2, x / 2); });
}

// Bit equality of two results (detection_match.h; also compares the image size).
using maskrt::test::same_bits;

using maskrt::test::box_iou;

using maskrt::test::mask_iou;

struct MatchStats {
  size_t matched = 0, total = 0, masks = 0;
  double mask_iou_sum = 0;
  std::string unmatched;  // one "[class, score: closest box]" note per unmatched reference instance
};

// Greedy matching in the reference's (score) order: same class, |dscore| <= max_dscore, best box IoU.
MatchStats match(const ImageResult& ref, const ImageResult& got, double min_iou, double max_dscore) {
  MatchStats s;
  s.total = ref.instances.size();
  std::vector<bool> used(got.instances.size(), false);
  for (const auto& r : ref.instances) {
    int best = -1;
    double best_iou = 0;
    for (size_t j = 0; j < got.instances.size(); ++j) {
      const auto& g = got.instances[j];
      if (used[j] || g.pred_class != r.pred_class || std::fabs(g.score - r.score) > max_dscore) continue;
      const double iou = box_iou(g.box, r.box);
      if (iou > best_iou) {
        best_iou = iou;
        best = static_cast<int>(j);
      }
    }
    if (best < 0 || best_iou < min_iou) {
      // What the unmatched instance looks like: its score, and the closest same-class box at any score.
      double any_iou = 0, any_score = -1;
      for (const auto& g : got.instances) {
        if (g.pred_class != r.pred_class) continue;
        const double iou = box_iou(g.box, r.box);
        if (iou > any_iou) {
          any_iou = iou;
          any_score = g.score;
        }
      }
      char buf[112];
      std::snprintf(buf, sizeof(buf), " [class %d score %.4f: closest box IoU %.3f score %.4f]", r.pred_class, r.score,
                    any_iou, any_score);
      s.unmatched += buf;
      continue;
    }
    used[best] = true;
    ++s.matched;
    if (r.has_mask && got.instances[best].has_mask) {
      s.mask_iou_sum += mask_iou(got.instances[best].mask, r.mask);
      ++s.masks;
    }
  }
  return s;
}

size_t count_of(const std::string& log, const std::string& what) {
  size_t n = 0;
  for (size_t at = log.find(what); at != std::string::npos; at = log.find(what, at + 1)) ++n;
  return n;
}

std::string group_line(int h, int w) {
  return "cuda group plan for " + std::to_string(kGroup) + " images of " + std::to_string(h) + "x" + std::to_string(w);
}

// Every batch image against infer() of that image alone (same engine), by the criteria above.
void expect_close_to_single(Engine& g, const std::vector<Image>& imgs, const std::vector<ImageResult>& batch,
                            Precision p, const std::string& what) {
  ASSERT_EQ(batch.size(), imgs.size());
  // Box IoU 0.95 for tf32 too (issue 3's reduced-precision bound: TF32 inputs carry fp16's 10-bit
  // mantissa). With tf32 NHWC the default, the H200 (2026-11-29, session 7) showed matched-score boxes at IoU
  // 0.971-0.988 on one mixed-size image under 0.99.
  const double min_iou = 0.95, max_ds = 2e-2;
  MatchStats all;
  for (size_t i = 0; i < imgs.size(); ++i) {
    const ImageResult want = g.infer(imgs[i]);
    EXPECT_EQ(batch[i].height, imgs[i].height);
    EXPECT_EQ(batch[i].width, imgs[i].width);
    const MatchStats s = match(want, batch[i], min_iou, max_ds);
    std::printf("[backbone batch] %s %s image %zu: %zu/%zu matched (got %zu), mean mask IoU %.4f%s\n", pname(p),
                what.c_str(), i, s.matched, s.total, batch[i].instances.size(),
                s.masks ? s.mask_iou_sum / s.masks : 1.0, s.unmatched.c_str());
    // Per image 90 %, not 97 %: at n = 4 cuDNN picks other algorithms than at n = 1, and this seeded
    // model's many near-tied boxes turn those roundings into NMS flips. Measured on the H200
    // (2026-11-29, session 7): up to 6 of 100 per image (fp16, box IoU 0.95), 97.8-98.4 % over the
    // batch; the unmatched notes printed above show score-threshold and NMS neighbours. A wrong slice
    // would match few (other geometry); a swapped same-geometry variant is caught by the bit checks.
    EXPECT_TRUE(s.total - s.matched <= 2 || double(s.matched) >= 0.90 * double(s.total))
        << what << " image " << i << ": " << s.matched << "/" << s.total;
    all.matched += s.matched;
    all.total += s.total;
    all.masks += s.masks;
    all.mask_iou_sum += s.mask_iou_sum;
  }
  ASSERT_GT(all.total, 0u) << "no instances at all: the fixture says nothing";
  EXPECT_GE(double(all.matched), 0.97 * double(all.total)) << what;
  if (all.masks) {
    EXPECT_GE(all.mask_iou_sum / all.masks, 0.95) << what;
  }
}

class BackboneBatch : public ::testing::TestWithParam<Precision> {
 protected:
  void SetUp() override { MASKRT_SKIP_WITHOUT_GPU(); }
};

// 9 images of one size: groups of 4 + 4 + 1 (the tail runs alone), over three lanes.
// MASKRT_BACKBONE_BATCH_PIN=0 here: group convolutions planned at n (other kernels than infer()), so
// the criterion is closeness to infer(), plus bit-stability across runs and neighbours.
TEST_P(BackboneBatch, SameSizeGroupsMatchSingleImages) {
  const Precision p = GetParam();
  ScopedEnv env("MASKRT_BACKBONE_BATCH", "4");
  ScopedEnv unpinned("MASKRT_BACKBONE_BATCH_PIN", "0");
  const Image a = maskrt::read_image((kCase / "input.png").string());
  std::vector<Image> imgs = variants(a);
  ASSERT_EQ(imgs.size(), 9u);
  testing::internal::CaptureStderr();
  Engine g(options(p));
  std::vector<std::vector<ImageResult>> runs;
  for (int rep = 0; rep < 3; ++rep) runs.push_back(g.infer_batch(imgs));  // eager, capture, replay
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("MASKRT_BACKBONE_BATCH=4"), std::string::npos) << log;
  EXPECT_NE(log.find("MASKRT_BACKBONE_BATCH_PIN=0: group convolutions plan n images"), std::string::npos) << log;
  // Two groups on two lanes: one group plan per lane for this size.
  EXPECT_EQ(count_of(log, group_line(a.height, a.width)), 2u) << log;
  EXPECT_EQ(log.find("capture failed"), std::string::npos) << log;
  EXPECT_EQ(log.find("in groups of"), std::string::npos) << log;  // no group ran out of memory
  for (int rep = 1; rep < 3; ++rep)
    for (size_t i = 0; i < imgs.size(); ++i)
      EXPECT_TRUE(same_bits(runs[rep][i], runs[0][i])) << pname(p) << " run " << rep << " image " << i;
  expect_close_to_single(g, imgs, runs[0], p, "same size");

  // Independence: image 0 again at position 0 of the second group, next to other content.
  std::vector<Image> swapped = imgs;
  swapped[4] = imgs[0];
  std::swap(swapped[5], swapped[8]);
  const std::vector<ImageResult> b = g.infer_batch(swapped);
  EXPECT_TRUE(same_bits(b[0], runs[0][0]));
  EXPECT_TRUE(same_bits(b[4], runs[0][0])) << "an image's group result depends on the other images";
  EXPECT_GT(runs[0][0].instances.size(), 0u);
}

// Mixed sizes: runs shorter than 4 run image by image; runs of 4 of one size become groups.
TEST_P(BackboneBatch, MixedSizesGroupOnlyRunsOfOneSize) {
  const Precision p = GetParam();
  ScopedEnv env("MASKRT_BACKBONE_BATCH", "4");
  ScopedEnv pin_default("MASKRT_BACKBONE_BATCH_PIN", "");  // the default (bit-exact groups)
  const Image a = maskrt::read_image((kCase / "input.png").string());
  const std::vector<Image> va = variants(a);
  const Image big = upscale2(a);
  const int ch = a.height - 40, cw = a.width - 56;
  std::vector<Image> imgs = {va[0], va[1],                                                    // 2: alone
                             big, upscale2(va[2]), upscale2(va[4]), upscale2(va[1]),          // group (big)
                             va[3],                                                           // alone
                             crop(a, 0, 0, ch, cw), crop(a, 40, 56, ch, cw), crop(va[1], 20, 0, ch, cw),
                             crop(va[6], 10, 30, ch, cw),                                     // group (crop)
                             crop(a, 5, 5, ch, cw), big};                                     // alone
  testing::internal::CaptureStderr();
  Engine g(options(p));
  std::vector<std::vector<ImageResult>> runs;
  for (int rep = 0; rep < 3; ++rep) runs.push_back(g.infer_batch(imgs));
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_EQ(count_of(log, group_line(big.height, big.width)), 1u) << log;
  EXPECT_EQ(count_of(log, group_line(ch, cw)), 1u) << log;
  EXPECT_EQ(count_of(log, group_line(a.height, a.width)), 0u) << log;
  EXPECT_EQ(log.find("capture failed"), std::string::npos) << log;
  EXPECT_EQ(log.find("in groups of"), std::string::npos) << log;
  for (int rep = 1; rep < 3; ++rep)
    for (size_t i = 0; i < imgs.size(); ++i)
      EXPECT_TRUE(same_bits(runs[rep][i], runs[0][i])) << pname(p) << " run " << rep << " image " << i;
  // Images outside groups take the one-image path, group members pinned plans (the default): every
  // image gets infer()'s bits exactly.
  for (size_t i = 0; i < imgs.size(); ++i) EXPECT_TRUE(same_bits(runs[0][i], g.infer(imgs[i]))) << "image " << i;
}

INSTANTIATE_TEST_SUITE_P(Precisions, BackboneBatch, ::testing::Values(Precision::kFP16, Precision::kTF32),
                         [](const ::testing::TestParamInfo<Precision>& i) { return std::string(pname(i.param)); });

// EngineOptions::backbone_batch = 4 with the variable unset does what MASKRT_BACKBONE_BATCH=4 does:
// announced with its own line, group plans made, batch results close to infer() (criteria above).
TEST(BackboneBatchOption, OptionEnablesGroupsWithoutTheVariable) {
  MASKRT_SKIP_WITHOUT_GPU();
  unsetenv("MASKRT_BACKBONE_BATCH");
  const Image a = maskrt::read_image((kCase / "input.png").string());
  const std::vector<Image> imgs = variants(a);
  EngineOptions o = options(Precision::kFP16);
  o.backbone_batch = kGroup;
  testing::internal::CaptureStderr();
  Engine g(o);
  const std::vector<ImageResult> b = g.infer_batch(imgs);
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("maskrt: backbone_batch=4: up to 4 consecutive"), std::string::npos) << log;
  EXPECT_EQ(log.find("MASKRT_BACKBONE_BATCH"), std::string::npos) << log;  // the variable was not read
  EXPECT_EQ(g.info().backbone_batch, kGroup);
  EXPECT_EQ(count_of(log, group_line(a.height, a.width)), 2u) << log;
  expect_close_to_single(g, imgs, b, Precision::kFP16, "option");
}

// With warm-up for the batch's size, the group plans are made at creation (one group per stream), so
// the first user batch plans nothing; the option wins over a set variable (named as not used), and
// backbone_batch = 1 turns a set variable off; fp32 ignores the option (logged, 1 in effect).
TEST(BackboneBatchOption, WarmupPreparesGroupsAndTheOptionWinsOverTheVariable) {
  MASKRT_SKIP_WITHOUT_GPU();
  const Image a = maskrt::read_image((kCase / "input.png").string());
  const std::vector<Image> imgs = variants(a);
  {
    ScopedEnv env("MASKRT_BACKBONE_BATCH", "2");
    EngineOptions o = options(Precision::kFP16);
    o.backbone_batch = kGroup;
    o.warmup = true;
    o.warmup_sizes = {{a.height, a.width}};
    testing::internal::CaptureStderr();
    Engine g(o);
    const std::string created = testing::internal::GetCapturedStderr();
    EXPECT_NE(created.find("maskrt: backbone_batch=4 set: MASKRT_BACKBONE_BATCH=2 is not used"), std::string::npos)
        << created;
    EXPECT_EQ(g.info().backbone_batch, kGroup);
    EXPECT_EQ(count_of(created, group_line(a.height, a.width)), 3u) << created;  // options(): 3 streams
    testing::internal::CaptureStderr();
    const std::vector<ImageResult> b = g.infer_batch(imgs);
    const std::string first = testing::internal::GetCapturedStderr();
    EXPECT_EQ(first.find("cuda group plan"), std::string::npos) << first;
    EXPECT_EQ(first.find("cuda plan"), std::string::npos) << first;
    EXPECT_EQ(first.find("arena allocates"), std::string::npos) << first;
    expect_close_to_single(g, imgs, b, Precision::kFP16, "warmed option");
  }
  {
    ScopedEnv env("MASKRT_BACKBONE_BATCH", "4");
    EngineOptions o = options(Precision::kTF32);
    o.backbone_batch = 1;
    Engine g(o);
    EXPECT_EQ(g.info().backbone_batch, 1);
  }
  {
    EngineOptions o = options(Precision::kFP32);
    o.backbone_batch = kGroup;
    testing::internal::CaptureStderr();
    Engine g(o);
    const std::string log = testing::internal::GetCapturedStderr();
    EXPECT_NE(log.find("maskrt: backbone_batch=4 ignored for fp32"), std::string::npos) << log;
    EXPECT_EQ(g.info().backbone_batch, 1);
  }
}

// fp32 ignores the switch: batch results equal infer() bit for bit, and no group plan is made.
TEST(BackboneBatchFp32, IgnoredAndBitExact) {
  MASKRT_SKIP_WITHOUT_GPU();
  ScopedEnv env("MASKRT_BACKBONE_BATCH", "4");
  const Image a = maskrt::read_image((kCase / "input.png").string());
  const std::vector<Image> imgs = variants(a);
  testing::internal::CaptureStderr();
  Engine g(options(Precision::kFP32));
  const std::vector<ImageResult> b0 = g.infer_batch(imgs), b1 = g.infer_batch(imgs);
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("MASKRT_BACKBONE_BATCH=4 ignored for fp32"), std::string::npos) << log;
  EXPECT_EQ(log.find("cuda group plan"), std::string::npos) << log;
  ASSERT_EQ(b0.size(), imgs.size());
  for (size_t i = 0; i < imgs.size(); ++i) {
    const ImageResult want = g.infer(imgs[i]);
    EXPECT_TRUE(same_bits(b0[i], want)) << "image " << i;
    EXPECT_TRUE(same_bits(b1[i], want)) << "image " << i;
  }
}

// The default with a backbone batch (MASKRT_BACKBONE_BATCH_PIN unset): each group convolution keeps
// its own n-image plan, else its layer's single-image configuration, only where that gives every image
// the same bits at n (checked once at planning on seeded data), else runs image by image
// (ConvCudnn::plan_pinned). The
// property it exists for: every group member equals infer() of that image bit for bit, so an image's
// result does not depend on whether its neighbours share its size. Session 9's version (pinning
// without the check) failed this on the H200 in session 10: two layers could not take their n=1
// configuration and some configurations are not batch-invariant (bench_batch_invariance: 12 of 195).
TEST_P(BackboneBatch, PinnedGroupsEqualSingleImagesBitForBit) {
  const Precision p = GetParam();
  ScopedEnv env("MASKRT_BACKBONE_BATCH", "4");
  ScopedEnv pin_default("MASKRT_BACKBONE_BATCH_PIN", "");  // empty = unset: the default, whatever the shell has
  ScopedEnv plans_log("MASKRT_CUDNN_LOG", "1");  // names the layers that run image by image
  const Image a = maskrt::read_image((kCase / "input.png").string());
  const std::vector<Image> imgs = variants(a);
  testing::internal::CaptureStderr();
  Engine g(options(p));
  const std::vector<ImageResult> batch = g.infer_batch(imgs);
  const std::string log = testing::internal::GetCapturedStderr();
  std::string per_image;  // layers that run image by image, or (should be none) planned n as usual
  for (const std::string marker : {"runs each image with the n=1", "cannot take the n=1"})
    for (size_t at = log.find(marker); at != std::string::npos; at = log.find(marker, at + 1)) {
      const size_t start = log.rfind('\n', at) + 1;
      per_image += log.substr(start, log.find('\n', at) - start) + "\n";
    }
  const size_t kept = count_of(log, "keeps its own n-image plan"), pinned = count_of(log, "pinned to the n=1");
  std::printf("[backbone batch pin] %s: %zu group convolutions keep their own n-image plan, %zu pinned to the "
              "n=1 configuration, %zu run image by image, %zu not pinned\n%s",
              pname(p), kept, pinned, count_of(log, "runs each image with the n=1"), count_of(log, "cannot take the n=1"),
              per_image.c_str());
  EXPECT_GT(kept + pinned, 0u);  // the n-image launch really happens for some layers
  EXPECT_EQ(count_of(log, "cannot take the n=1"), 0u) << per_image;
  EXPECT_EQ(log.find("MASKRT_BACKBONE_BATCH_PIN"), std::string::npos) << log;  // the default says nothing
  EXPECT_EQ(count_of(log, group_line(a.height, a.width)), 2u) << log;  // the groups really ran
  ASSERT_EQ(batch.size(), imgs.size());
  EXPECT_GT(batch[0].instances.size(), 0u);  // not an empty-vs-empty pass
  for (size_t i = 0; i < imgs.size(); ++i)
    EXPECT_TRUE(same_bits(batch[i], g.infer(imgs[i])))
        << pname(p) << " image " << i << " (slot " << i % kGroup << "); layers run image by image:\n" << per_image;
}

// Creating an fp16 engine with the variables `env` set must fail with kInvalidArgument naming `named`.
void expect_refused(const std::vector<std::pair<const char*, const char*>>& env, const std::string& named) {
  std::vector<std::unique_ptr<ScopedEnv>> set;
  std::string what;
  for (const auto& [k, v] : env) {
    set.push_back(std::make_unique<ScopedEnv>(k, v));
    what += std::string(k) + "=" + v + " ";
  }
  try {
    Engine g(options(Precision::kFP16));
    ADD_FAILURE() << what << "was accepted";
  } catch (const maskrt::Error& e) {
    EXPECT_EQ(e.code(), maskrt::ErrorCode::kInvalidArgument) << what << e.what();
    EXPECT_NE(std::string(e.what()).find(named), std::string::npos) << what << e.what();
  }
}

TEST(BackboneBatchEnv, MalformedValuesAreRefused) {
  MASKRT_SKIP_WITHOUT_GPU();
  for (const char* bad : {"2", "yes", "-1"})
    expect_refused({{"MASKRT_BACKBONE_BATCH", "4"}, {"MASKRT_BACKBONE_BATCH_PIN", bad}}, "MASKRT_BACKBONE_BATCH_PIN");
  {  // without a backbone batch the switch is named as ignored, not silently dropped
    ScopedEnv pin("MASKRT_BACKBONE_BATCH_PIN", "1");
    testing::internal::CaptureStderr();
    Engine g(options(Precision::kFP16));
    const std::string log = testing::internal::GetCapturedStderr();
    EXPECT_NE(log.find("MASKRT_BACKBONE_BATCH_PIN=1 ignored: no backbone batch in effect"), std::string::npos) << log;
  }
  for (const char* bad : {"9", "0", "-2", "4x", "two"})
    expect_refused({{"MASKRT_BACKBONE_BATCH", bad}}, "MASKRT_BACKBONE_BATCH");
}

}  // namespace

#endif  // MASKRT_WITH_CUDA
