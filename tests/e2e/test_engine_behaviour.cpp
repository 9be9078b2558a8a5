// Engine and CLI behaviour from ../shared/reference/failure-cases.md, on a Detectron2 golden model
// (tests/golden/r50_bgr_80cls: seeded, calibrated R50-FPN, 80 classes). Expected values are stated by
// the failure-case list and Detectron2's semantics, not taken from maskrt's output.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>

#include <nlohmann/json.hpp>

#include "maskrt/engine.h"
#include "model/meta_arch/generalized_rcnn.h"
#include "model/weights.h"
#include "io/config.h"
#include "io/checkpoint.h"
#include "ops/rle/rle.h"

namespace fs = std::filesystem;

namespace {

const std::string kGolden = std::string(MASKRT_TEST_DATA) + "/golden/r50_bgr_80cls";

maskrt::EngineOptions golden_options(std::vector<std::string> opts = {}) {
  maskrt::EngineOptions o;
  o.config_path = kGolden + "/config.yaml";
  o.weights_path = kGolden + "/model.pkl";
  o.opts = std::move(opts);
  o.device = maskrt::Device::kCPU;
  o.warmup = false;
  return o;
}

maskrt::Image golden_image() { return maskrt::read_image(kGolden + "/input.png"); }

maskrt::Image uniform_image(int h, int w, uint8_t v) {
  maskrt::Image img;
  img.height = h;
  img.width = w;
  img.pixels.assign(static_cast<size_t>(h) * w * 3, v);
  return img;
}

void expect_same(const maskrt::ImageResult& a, const maskrt::ImageResult& b) {
  ASSERT_EQ(a.instances.size(), b.instances.size());
  for (size_t i = 0; i < a.instances.size(); ++i) {
    EXPECT_EQ(a.instances[i].pred_class, b.instances[i].pred_class);
    EXPECT_EQ(a.instances[i].score, b.instances[i].score);
    for (int c = 0; c < 4; ++c) EXPECT_EQ(a.instances[i].box[c], b.instances[i].box[c]);
    EXPECT_EQ(a.instances[i].mask.counts, b.instances[i].mask.counts);
  }
}

void expect_inside(const maskrt::ImageResult& r) {
  for (const auto& inst : r.instances) {
    EXPECT_GE(inst.box[0], 0.f);
    EXPECT_GE(inst.box[1], 0.f);
    EXPECT_LE(inst.box[2], static_cast<float>(r.width));
    EXPECT_LE(inst.box[3], static_cast<float>(r.height));
    EXPECT_GT(inst.box[2], inst.box[0]);
    EXPECT_GT(inst.box[3], inst.box[1]);
    EXPECT_TRUE(std::isfinite(inst.score));
    if (inst.has_mask) {
      EXPECT_EQ(inst.mask.height, r.height);
      EXPECT_EQ(inst.mask.width, r.width);
      int64_t total = 0;
      for (uint32_t c : inst.mask.counts) total += c;
      EXPECT_EQ(total, static_cast<int64_t>(r.height) * r.width);
    }
  }
}

TEST(EngineBehaviour, UniformImagesSucceedAndDoNotAffectLaterImages) {
  maskrt::Engine engine(golden_options());
  const maskrt::Image img = golden_image();
  const maskrt::ImageResult before = engine.infer(img);
  for (uint8_t v : {0, 128}) {
    const maskrt::ImageResult r = engine.infer(uniform_image(200, 300, v));
    EXPECT_EQ(r.height, 200);
    EXPECT_EQ(r.width, 300);
    expect_inside(r);
  }
  expect_same(engine.infer(img), before);
  // A fresh engine (a fresh process has no other state) gives the same result as well.
  maskrt::Engine fresh(golden_options());
  expect_same(fresh.infer(img), before);
}

TEST(EngineBehaviour, BatchReturnsOneResultPerImageInOrderEqualToSingleCalls) {
  maskrt::Engine engine(golden_options({"MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.5"}));
  const maskrt::Image a = golden_image();
  maskrt::Image b = uniform_image(120, 90, 0);
  const std::vector<maskrt::Image> batch{a, b, a};
  const auto results = engine.infer_batch(batch);
  ASSERT_EQ(results.size(), 3u);
  expect_same(results[0], engine.infer(a));
  expect_same(results[1], engine.infer(b));
  expect_same(results[2], results[0]);
  EXPECT_EQ(results[1].height, 120);
  EXPECT_EQ(results[1].width, 90);
}

TEST(EngineBehaviour, ScoreThresholdOneGivesNothingAndZeroFillsTheCap) {
  const maskrt::Image img = golden_image();
  {
    maskrt::Engine engine(golden_options({"MODEL.ROI_HEADS.SCORE_THRESH_TEST", "1.0"}));
    EXPECT_TRUE(engine.infer(img).instances.empty());  // softmax scores are < 1, and the test is strict '>'
  }
  {
    // Threshold 0: every (proposal, class) pair with a positive score is a candidate; per-class NMS
    // leaves far more than the cap, so exactly TEST.DETECTIONS_PER_IMAGE come back.
    maskrt::Engine engine(golden_options({"MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0"}));
    const auto r = engine.infer(img);
    EXPECT_EQ(r.instances.size(), 100u);
    expect_inside(r);
  }
  {
    maskrt::Engine engine(golden_options({"MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0", "TEST.DETECTIONS_PER_IMAGE", "300"}));
    const auto r = engine.infer(img);
    EXPECT_EQ(r.instances.size(), 300u);
    for (size_t i = 1; i < r.instances.size(); ++i) EXPECT_GE(r.instances[i - 1].score, r.instances[i].score);
    for (const auto& inst : r.instances) {
      EXPECT_GE(inst.pred_class, 0);
      EXPECT_LT(inst.pred_class, 80);
    }
  }
}

TEST(EngineBehaviour, ClassCountMismatchIsAHardErrorNamingTheTensor) {
  try {
    maskrt::Engine engine(golden_options({"MODEL.ROI_HEADS.NUM_CLASSES", "3"}));
    FAIL() << "expected an error";
  } catch (const maskrt::Error& e) {
    EXPECT_EQ(e.code(), maskrt::ErrorCode::kBadCheckpoint);
    const std::string m = e.what();
    EXPECT_NE(m.find("roi_heads.box_predictor.cls_score.weight"), std::string::npos) << m;
    EXPECT_NE(m.find("expected (4,"), std::string::npos) << m;
    EXPECT_NE(m.find("found (81,"), std::string::npos) << m;
  }
}

// Engine creation with options.*member set to each of `values` fails with kInvalidArgument naming `name`.
void expect_out_of_range_named(int maskrt::EngineOptions::*member, const char* name,
                               std::initializer_list<int> values) {
  for (int n : values) {
    maskrt::EngineOptions o = golden_options();
    o.*member = n;
    try {
      maskrt::Engine engine(o);
      ADD_FAILURE() << "expected an error for " << name << " " << n;
    } catch (const maskrt::Error& e) {
      EXPECT_EQ(e.code(), maskrt::ErrorCode::kInvalidArgument) << name << " " << n;
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  }
}

TEST(EngineBehaviour, CudaStreamsOutOfRangeIsAnErrorNamingTheOption) {
  expect_out_of_range_named(&maskrt::EngineOptions::cuda_streams, "cuda_streams", {-1, 9});
}

// EngineOptions::backbone_batch (engine.h): 0..8; outside is kInvalidArgument naming the option on
// every device, checked at creation. On the CPU a valid value has no effect: 1 image per pass.
TEST(EngineBehaviour, BackboneBatchOutOfRangeIsAnErrorNamingTheOption) {
  expect_out_of_range_named(&maskrt::EngineOptions::backbone_batch, "backbone_batch", {-1, 9, 1000});
  maskrt::EngineOptions o = golden_options();
  o.backbone_batch = 4;
  maskrt::Engine engine(o);
  EXPECT_EQ(engine.info().backbone_batch, 1);
  EXPECT_EQ(engine.info().activation_layout, "NCHW fp32");  // the CPU's only layout
}

TEST(EngineBehaviour, UnusedAndMissingTensorsAreListed) {
  try {  // MASK_ON False with a Mask R-CNN checkpoint: the mask head's tensors are unused.
    maskrt::Engine engine(golden_options({"MODEL.MASK_ON", "False"}));
    FAIL() << "expected an error";
  } catch (const maskrt::Error& e) {
    EXPECT_EQ(e.code(), maskrt::ErrorCode::kBadCheckpoint);
    EXPECT_NE(std::string(e.what()).find("does not use"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("roi_heads.mask_head.mask_fcn1.weight"), std::string::npos) << e.what();
  }
  const std::string faster = std::string(MASKRT_TEST_DATA) + "/golden/r50_faster";
  ASSERT_TRUE(fs::exists(faster + "/model.pth")) << "Faster R-CNN golden missing";
  try {  // MASK_ON True with a Faster R-CNN checkpoint: the mask head's tensors are missing.
    maskrt::EngineOptions o = golden_options({"MODEL.MASK_ON", "True"});
    o.config_path = faster + "/config.yaml";
    o.weights_path = faster + "/model.pth";
    maskrt::Engine engine(o);
    FAIL() << "expected an error";
  } catch (const maskrt::Error& e) {
    EXPECT_EQ(e.code(), maskrt::ErrorCode::kBadCheckpoint);
    EXPECT_NE(std::string(e.what()).find("missing"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("roi_heads.mask_head.predictor.weight"), std::string::npos) << e.what();
  }
}

TEST(EngineBehaviour, PureRedThroughABgrModelIsNormalisedOnce) {
  const maskrt::Config cfg = maskrt::load_config(kGolden + "/config.yaml");
  ASSERT_EQ(cfg.spec.input_format, "BGR");
  maskrt::WeightStore ws(maskrt::load_checkpoint(kGolden + "/model.pkl"), "model.pkl");
  maskrt::GeneralizedRCNN model(cfg.spec, ws);
  maskrt::Image red = uniform_image(64, 64, 0);
  for (size_t i = 0; i < red.pixels.size(); i += 3) red.pixels[i] = 255;  // RGB (255, 0, 0)
  const maskrt::PreprocessedImage pre = model.preprocess(red);
  const float* t = pre.tensor.data();
  const int64_t plane = pre.tensor.size(2) * pre.tensor.size(3);
  const auto& std = cfg.spec.pixel_std;
  EXPECT_FLOAT_EQ(t[0], (0.f - 103.53f) / std[0]);             // B
  EXPECT_FLOAT_EQ(t[plane], (0.f - 116.28f) / std[1]);         // G
  EXPECT_FLOAT_EQ(t[2 * plane], (255.f - 123.675f) / std[2]);  // R
}

TEST(EngineBehaviour, LargePhotoBoxesAndMasksInOriginalPixels) {
  maskrt::Engine engine(golden_options());
  // 4000x3000 (W x H): the model sees it resized by the fixture config's MIN/MAX_SIZE_TEST, results
  // come back at 3000x4000 with compact RLE masks.
  const maskrt::Image small = golden_image();
  maskrt::Image big;
  big.height = 3000;
  big.width = 4000;
  big.pixels.resize(static_cast<size_t>(3000) * 4000 * 3);
  for (int y = 0; y < 3000; ++y)
    for (int x = 0; x < 4000; ++x)
      for (int c = 0; c < 3; ++c)
        big.pixels[(static_cast<size_t>(y) * 4000 + x) * 3 + c] =
            small.pixels[(static_cast<size_t>(y * small.height / 3000) * small.width + x * small.width / 4000) * 3 + c];
  const auto r = engine.infer(big);
  EXPECT_EQ(r.height, 3000);
  EXPECT_EQ(r.width, 4000);
  EXPECT_FALSE(r.instances.empty());
  expect_inside(r);
}

TEST(EngineBehaviour, CliReportsBadFilesAndStillWritesTheGoodOnes) {
  const fs::path dir = fs::temp_directory_path() / "maskrt_cli_bad_files";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path img_dir = fs::path(MASKRT_TEST_DATA) / "unit" / "data" / "images";
  fs::copy_file(kGolden + "/input.png", dir / "a_good.png");
  std::ofstream(dir / "b_empty.jpg").close();
  std::ofstream(dir / "c_text.jpg") << "this is not a jpeg\n";
  if (fs::exists(img_dir / "truncated.jpg")) fs::copy_file(img_dir / "truncated.jpg", dir / "d_truncated.jpg");
  fs::copy_file(kGolden + "/input.png", dir / "e_good.png");
  const fs::path out = dir / "results.json";
  const std::string cmd = std::string(MASKRT_CLI_PATH) + " infer --device cpu --config " + kGolden +
                          "/config.yaml --weights " + kGolden + "/model.pkl --output " + out.string() + " " +
                          dir.string() + " > " + (dir / "log.txt").string() + " 2>&1";
  const int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1) << "some files failed -> exit status 1";
  std::ifstream is(out);
  const auto doc = nlohmann::json::parse(is);
  ASSERT_EQ(doc["images"].size(), 2u);
  EXPECT_NE(doc["images"][0]["file"].get<std::string>().find("a_good.png"), std::string::npos);
  EXPECT_NE(doc["images"][1]["file"].get<std::string>().find("e_good.png"), std::string::npos);
  EXPECT_EQ(doc["images"][0]["instances"], doc["images"][1]["instances"]);
  EXPECT_GE(doc["errors"].size(), 2u);
  for (const auto& e : doc["errors"]) {
    const std::string file = e["file"].get<std::string>();
    const std::string msg = e["error"].get<std::string>();
    EXPECT_NE(msg.find(fs::path(file).filename().string()), std::string::npos) << msg;
    EXPECT_GT(msg.size(), file.size() + 5) << "error must give a reason: " << msg;
  }
}

}  // namespace
