// Geometry on the trained default model (models/default, shapes): portrait vs landscape never swaps
// width and height, and the same content rotated by 90 degrees gives the rotated detections.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "maskrt/engine.h"
#include "ops/rle/rle.h"

namespace fs = std::filesystem;

namespace {

const fs::path kRepo = fs::path(MASKRT_TEST_DATA).parent_path();

maskrt::Image rotate_cw(const maskrt::Image& src) {  // 90 degrees clockwise
  maskrt::Image out;
  out.height = src.width;
  out.width = src.height;
  out.pixels.resize(src.pixels.size());
  for (int y = 0; y < out.height; ++y)
    for (int x = 0; x < out.width; ++x)
      for (int c = 0; c < 3; ++c)
        out.pixels[(static_cast<size_t>(y) * out.width + x) * 3 + c] =
            src.pixels[(static_cast<size_t>(src.height - 1 - x) * src.width + y) * 3 + c];
  return out;
}

double iou(const float* a, const float* b) {
  const double iw = std::max(0.0, std::min<double>(a[2], b[2]) - std::max<double>(a[0], b[0]));
  const double ih = std::max(0.0, std::min<double>(a[3], b[3]) - std::max<double>(a[1], b[1]));
  const double inter = iw * ih;
  return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter);
}

TEST(DefaultModel, RotatedContentGivesRotatedDetections) {
  maskrt::EngineOptions o;  // the embedded default model
  o.device = maskrt::Device::kCPU;
  o.opts = {"MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.5"};
  maskrt::Engine engine(o);
  int confident = 0, found = 0;
  for (const char* name : {"000016.jpg", "000034.jpg", "000036.jpg"}) {
    const maskrt::Image img = maskrt::read_image((kRepo / "samples" / "images" / name).string());
    const maskrt::Image rot = rotate_cw(img);
    const auto r0 = engine.infer(img);
    const auto r1 = engine.infer(rot);
    ASSERT_EQ(r0.height, img.height);
    ASSERT_EQ(r0.width, img.width);
    ASSERT_EQ(r1.height, img.width);  // never swapped
    ASSERT_EQ(r1.width, img.height);
    for (const auto& inst : r1.instances) {
      EXPECT_LE(inst.box[2], static_cast<float>(r1.width));
      EXPECT_LE(inst.box[3], static_cast<float>(r1.height));
      EXPECT_EQ(inst.mask.height, r1.height);
      EXPECT_EQ(inst.mask.width, r1.width);
    }
    for (const auto& a : r0.instances) {
      if (a.score < 0.7f) continue;
      ++confident;
      // (x1, y1, x2, y2) -> rotated clockwise: (H - y2, x1, H - y1, x2)
      const float H = static_cast<float>(img.height);
      const float mapped[4] = {H - a.box[3], a.box[0], H - a.box[1], a.box[2]};
      for (const auto& b : r1.instances)
        if (b.pred_class == a.pred_class && iou(mapped, b.box) >= 0.7) {
          ++found;
          break;
        }
    }
  }
  ASSERT_GT(confident, 5);
  // A CNN is not exactly rotation-equivariant (and the model is small), but a confident detection
  // that had nothing to do with the content would not come back rotated; mixed-up axes give ~0.
  std::printf("rotated detections found: %d / %d\n", found, confident);
  EXPECT_GE(found, confident * 6 / 10);
}

// Without --config, MODEL.WEIGHTS given in opts replaces the default model's checkpoint (as in
// Detectron2, where --opts MODEL.WEIGHTS is the way to choose weights); --weights still wins.
TEST(DefaultModel, WeightsFromOptsAreUsed) {
  const fs::path missing = fs::temp_directory_path() / "maskrt_no_such_dir" / "weights.pkl";
  maskrt::EngineOptions o;
  o.device = maskrt::Device::kCPU;
  o.warmup = false;
  o.opts = {"MODEL.WEIGHTS", missing.string()};
  try {
    maskrt::Engine engine(o);
    FAIL() << "MODEL.WEIGHTS from opts was ignored (the default model.pkl was loaded)";
  } catch (const maskrt::Error& e) {
    EXPECT_NE(std::string(e.what()).find(missing.string()), std::string::npos) << e.what();
  }
  const fs::path copy = fs::temp_directory_path() / "maskrt_opts_weights.pkl";
  fs::copy_file(kRepo / "models" / "default" / "model.pkl", copy, fs::copy_options::overwrite_existing);
  o.opts = {"MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.5", "MODEL.WEIGHTS", copy.string()};
  EXPECT_EQ(maskrt::Engine(o).info().weights_path, copy.string());
  o.weights_path = (kRepo / "models" / "default" / "model.pkl").string();  // --weights wins over opts
  EXPECT_EQ(maskrt::Engine(o).info().weights_path, o.weights_path);
  fs::remove(copy);
}

// A 1x3000 image: ResizeShortestEdge (default model: MIN_SIZE_TEST 832, MAX_SIZE_TEST 1333 per its
// config.yaml) caps the long side at 1333, so the height is int(1333 / 3000 + 0.5) = 0: a clear error.
TEST(DefaultModel, TooThinImageIsAClearError) {
  maskrt::EngineOptions o;
  o.device = maskrt::Device::kCPU;
  o.warmup = false;
  maskrt::Engine engine(o);
  maskrt::Image thin;
  thin.height = 1;
  thin.width = 3000;
  thin.pixels.assign(3000 * 3, 128);
  for (int batch = 0; batch < 2; ++batch) {
    try {
      if (batch) engine.infer_batch({thin}); else engine.infer(thin);
      FAIL() << "a 1x3000 image cannot be resized to a non-empty input";
    } catch (const maskrt::Error& e) {
      EXPECT_EQ(e.code(), maskrt::ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find("image 1x3000 (HxW) too thin: resizes to 0 rows at INPUT.MIN_SIZE_TEST 832, MAX_SIZE_TEST 1333"),
                std::string::npos)
          << e.what();
    }
  }
  thin.height = 3;  // int(3 * 1333 / 3000 + 0.5) = 1 row: runs
  thin.pixels.assign(3 * 3000 * 3, 128);
  EXPECT_NO_THROW(engine.infer(thin));
}

}  // namespace
