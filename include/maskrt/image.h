#pragma once
// maskrt::Image: a decoded 8-bit, 3-channel image in host memory.
//
// Layout: height x width x 3, row-major, interleaved, channel order RGB (what decoders produce).
// The engine converts to the model's INPUT.FORMAT (RGB or BGR) itself; callers that hold BGR pixels
// (e.g. from OpenCV) set `channel_order = ChannelOrder::kBGR`.
#include <cstdint>
#include <string>
#include <vector>

namespace maskrt {

enum class ChannelOrder { kRGB, kBGR };

struct Image {
  int height = 0;
  int width = 0;
  ChannelOrder channel_order = ChannelOrder::kRGB;
  std::vector<uint8_t> pixels;  // height * width * 3 bytes

  bool empty() const { return height == 0 || width == 0; }
};

// Reads an image file (JPEG or PNG, detected from content, not the extension) the way Detectron2's
// `detection_utils.read_image` does with PIL: EXIF orientation applied (JPEG), then converted to RGB.
//   - grayscale (8-bit) is replicated to 3 channels; palette PNG is expanded;
//   - an alpha channel is dropped (not composited), as PIL's convert("RGB") does;
//   - 16-bit PNG channels are converted with v8 = (v16 + 128) / 257 rounded down? -> see src/io/image_io.h;
//   - CMYK/YCCK JPEG is converted like PIL (inverted Adobe CMYK -> RGB);
// Throws maskrt::Error(kBadImage / kIo) naming the file and the reason for empty, truncated,
// non-image files and absurd headers (more than `max_pixels` pixels). Thread-safe.
Image read_image(const std::string& path, int64_t max_pixels = int64_t(1) << 28);

// Writes an RGB image as PNG. Throws maskrt::Error(kIo) naming the file on failure. Thread-safe.
void write_png(const std::string& path, const Image& image);

}  // namespace maskrt
