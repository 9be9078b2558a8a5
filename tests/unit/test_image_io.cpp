// maskrt::read_image / write_png. Oracle: Pillow 13 as Detectron2's read_image uses it (PIL open,
// EXIF orientation, convert("RGB")), via fixtures from tools/reference/make_image_fixtures.py; plus
// hand-made cases for orientation parsing and error messages.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/exif.h"
#include "io/image_io.h"
#include "maskrt/errors.h"
#include "maskrt/image.h"

namespace {

const std::string kDir = std::string(MASKRT_TEST_DATA) + "/unit/data/images/";

std::vector<uint8_t> read_bin(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  EXPECT_TRUE(f.good()) << "cannot open " << path;
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

nlohmann::json manifest() {
  std::ifstream f(kDir + "manifest.json");
  EXPECT_TRUE(f.good());
  return nlohmann::json::parse(f);
}

int max_abs_diff(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  int m = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) m = std::max(m, std::abs(int(a[i]) - int(b[i])));
  return m;
}

// Every decodable fixture equals Pillow's decoded RGB. The JPEG fixtures were decoded by Pillow's
// bundled libjpeg-turbo (3.x; see manifest "libjpeg_turbo") and are decoded here by the system
// libjpeg-turbo (Debian: 2.1.5). ISLOW IDCT + fancy upsampling are meant to be identical across
// these versions; measured max difference: 0 on all fixtures (each case's "max_abs_diff" is 0), and
// 0 on an ad-hoc 640x480 noisy image saved at quality 50/75/95 x 4:4:4/4:2:2/4:2:0 x baseline/
// progressive plus CMYK and gray (not committed: 18 MB of expected pixels).
TEST(ReadImage, MatchesPillow) {
  const auto m = manifest();
  int checked = 0;
  for (const auto& c : m["cases"]) {
    if (c["expect"] != "ok") continue;
    const std::string file = c["file"];
    SCOPED_TRACE(file + " (" + c["note"].get<std::string>() + ")");
    maskrt::Image img;
    ASSERT_NO_THROW(img = maskrt::read_image(kDir + file));
    EXPECT_EQ(img.width, c["width"].get<int>());
    EXPECT_EQ(img.height, c["height"].get<int>());
    EXPECT_EQ(img.channel_order, maskrt::ChannelOrder::kRGB);
    const auto want = read_bin(kDir + c["rgb"].get<std::string>());
    ASSERT_EQ(img.pixels.size(), want.size());
    EXPECT_LE(max_abs_diff(img.pixels, want), c["max_abs_diff"].get<int>());
    ++checked;
  }
  EXPECT_GE(checked, 30);
}

// Properties stated in failure-cases.md, checked between our own decodes of sibling files.
TEST(ReadImage, AlphaAndGrayEquivalences) {
  const auto rgb = maskrt::read_image(kDir + "rgb.png");
  EXPECT_EQ(maskrt::read_image(kDir + "rgba_opaque.png").pixels, rgb.pixels);
  EXPECT_EQ(maskrt::read_image(kDir + "rgba.png").pixels, rgb.pixels);  // alpha dropped, not blended
  EXPECT_EQ(maskrt::read_image(kDir + "gray.png").pixels, maskrt::read_image(kDir + "gray_as_rgb.png").pixels);
  // Orientation 6: stored 48x32 (WxH), reported 32x48; pixel (y, x) = stored (H-1-x, y).
  const auto o1 = maskrt::read_image(kDir + "orient1.jpg");
  const auto o6 = maskrt::read_image(kDir + "orient6.jpg");
  ASSERT_EQ(o1.width, 48);
  ASSERT_EQ(o6.width, 32);
  ASSERT_EQ(o6.height, 48);
  for (int y = 0; y < 48; ++y)
    for (int x = 0; x < 32; ++x)
      for (int ch = 0; ch < 3; ++ch)
        ASSERT_EQ(o6.pixels[(y * 32 + x) * 3 + ch], o1.pixels[((31 - x) * 48 + y) * 3 + ch]) << y << "," << x;
}

// Bad files: a maskrt::Error naming the file and a reason (never a crash or exit()).
TEST(ReadImage, BadFilesGiveNamedErrors) {
  const auto m = manifest();
  struct Want {
    const char* file;
    maskrt::ErrorCode code;
    const char* reason;  // substring of the message
  };
  const Want wants[] = {
      {"empty.jpg", maskrt::ErrorCode::kBadImage, "empty file"},
      {"truncated.jpg", maskrt::ErrorCode::kBadImage, "truncated JPEG"},
      {"no_eoi.jpg", maskrt::ErrorCode::kBadImage, "truncated JPEG"},
      {"truncated.png", maskrt::ErrorCode::kBadImage, "PNG"},
      {"text.jpg", maskrt::ErrorCode::kBadImage, "not a JPEG or PNG"},
      {"huge.png", maskrt::ErrorCode::kBadImage, "60000x60000"},
      {"huge.jpg", maskrt::ErrorCode::kBadImage, "60000x60000"},
  };
  int bad_in_manifest = 0;
  for (const auto& c : m["cases"]) bad_in_manifest += c["expect"] == "error";
  EXPECT_EQ(bad_in_manifest, int(std::size(wants)));
  for (const auto& w : wants) {
    SCOPED_TRACE(w.file);
    try {
      maskrt::read_image(kDir + w.file);
      ADD_FAILURE() << "no error for " << w.file;
    } catch (const maskrt::Error& e) {
      const std::string msg = e.what();
      EXPECT_EQ(e.code(), w.code) << msg;
      EXPECT_NE(msg.find(kDir + w.file + ": "), std::string::npos) << msg;
      EXPECT_NE(msg.find(w.reason), std::string::npos) << msg;
    }
  }
  try {
    maskrt::read_image(kDir + "does_not_exist.jpg");
    ADD_FAILURE();
  } catch (const maskrt::Error& e) {
    EXPECT_EQ(e.code(), maskrt::ErrorCode::kIo);
    EXPECT_NE(std::string(e.what()).find("does_not_exist.jpg: cannot open"), std::string::npos) << e.what();
  }
}

// The size limit is checked from the header, before decoding: a 67x45 JPEG with max_pixels 1000.
TEST(ReadImage, MaxPixelsIsEnforced) {
  EXPECT_THROW(maskrt::read_image(kDir + "rgb420_odd.jpg", 1000), maskrt::Error);
  EXPECT_THROW(maskrt::read_image(kDir + "rgb.png", 48 * 32 - 1), maskrt::Error);
  EXPECT_NO_THROW(maskrt::read_image(kDir + "rgb.png", 48 * 32));
}

// Every prefix of a valid JPEG / PNG must give an Error or an image, never a crash.
TEST(ReadImage, EveryTruncationIsHandled) {
  for (const char* name : {"rgb420_odd.jpg", "progressive.jpg", "orient6.png", "palette.png"}) {
    const auto bytes = read_bin(kDir + name);
    for (size_t n = 0; n < bytes.size(); n += (n < 400 ? 1 : 37)) {
      try {
        maskrt::io::decode_image(bytes.data(), n, name, int64_t(1) << 28);
      } catch (const maskrt::Error& e) {
        EXPECT_NE(std::string(e.what()).find(name), std::string::npos);
      }
    }
  }
}

TEST(WritePng, RoundTrip) {
  maskrt::Image img;
  img.height = 7;
  img.width = 5;
  for (int i = 0; i < 7 * 5 * 3; ++i) img.pixels.push_back(uint8_t(i * 37 + 11));
  const std::string path = testing::TempDir() + "maskrt_roundtrip.png";
  maskrt::write_png(path, img);
  const auto back = maskrt::read_image(path);
  EXPECT_EQ(back.height, 7);
  EXPECT_EQ(back.width, 5);
  EXPECT_EQ(back.pixels, img.pixels);
  // BGR input is written as RGB.
  img.channel_order = maskrt::ChannelOrder::kBGR;
  maskrt::write_png(path, img);
  const auto swapped = maskrt::read_image(path);
  for (int i = 0; i < 35; ++i) {
    EXPECT_EQ(swapped.pixels[i * 3 + 0], img.pixels[i * 3 + 2]);
    EXPECT_EQ(swapped.pixels[i * 3 + 2], img.pixels[i * 3 + 0]);
  }
  std::remove(path.c_str());
  EXPECT_THROW(maskrt::write_png("/nonexistent_dir/x.png", img), maskrt::Error);
}

// Orientation parsing, hand-built TIFF blocks.
TEST(Exif, OrientationParsing) {
  // little-endian, 1 entry: tag 0x0112 SHORT count 1 value 6
  const uint8_t le[] = {'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(maskrt::io::exif_orientation(le, sizeof(le)), 6);
  EXPECT_EQ(maskrt::io::exif_orientation(le, 20), -1);  // entry cut short
  const uint8_t be[] = {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 3, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(maskrt::io::exif_orientation(be, sizeof(be)), 3);
  uint8_t bad_offset[sizeof(le)];
  std::memcpy(bad_offset, le, sizeof(le));
  bad_offset[7] = 0x7f;  // IFD offset far past the end
  EXPECT_EQ(maskrt::io::exif_orientation(bad_offset, sizeof(bad_offset)), -1);
  EXPECT_EQ(maskrt::io::exif_orientation(nullptr, 0), -1);
  const std::string x1 = "<a tiff:Orientation=\"7\"/>", x2 = "<tiff:Orientation>5</tiff:Orientation>",
                    x3 = "tiff:Orientation = 3";
  EXPECT_EQ(maskrt::io::xmp_orientation(reinterpret_cast<const uint8_t*>(x1.data()), x1.size()), 7);
  EXPECT_EQ(maskrt::io::xmp_orientation(reinterpret_cast<const uint8_t*>(x2.data()), x2.size()), 5);
  EXPECT_EQ(maskrt::io::xmp_orientation(reinterpret_cast<const uint8_t*>(x3.data()), x3.size()), -1);
}

TEST(ImageFormat, DetectedFromContent) {
  const auto png_named_jpg = read_bin(kDir + "png_named.jpg");
  EXPECT_EQ(maskrt::io::detect_image_format(png_named_jpg.data(), png_named_jpg.size()), maskrt::io::ImageFormat::kPng);
  const uint8_t gif[] = {'G', 'I', 'F', '8', '9', 'a', 0, 0};
  EXPECT_EQ(maskrt::io::detect_image_format(gif, sizeof(gif)), maskrt::io::ImageFormat::kGif);
  try {
    maskrt::io::decode_image(gif, sizeof(gif), "x.gif", 1000);
    ADD_FAILURE();
  } catch (const maskrt::Error& e) {
    EXPECT_NE(std::string(e.what()).find("x.gif: unsupported image format GIF"), std::string::npos) << e.what();
  }
}

}  // namespace
