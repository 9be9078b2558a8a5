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
// `detection_utils.read_image` does with PIL (Pillow 13): EXIF orientation applied (JPEG APP1 or PNG
// eXIf; XMP tiff:Orientation as Pillow's fallback), then converted to RGB exactly as PIL's
// convert("RGB"):
//   - grayscale (1..8-bit) is replicated to 3 channels; palette PNG is expanded (tRNS ignored);
//   - an alpha channel is dropped (not composited);
//   - 16-bit PNG: RGB/RGBA/gray+alpha keep the high byte (v >> 8); 16-bit gray is clipped,
//     min(v, 255), because PIL opens it as "I;16" (odd, but it is what Detectron2 gets);
//   - CMYK/YCCK JPEG is treated as Adobe inverted CMYK and converted with Pillow's cmyk2rgb.
// Full rules: src/io/image_io.h. Returns height x width x 3 RGB (after orientation).
// Throws maskrt::Error with message "<path>: <reason>": kIo when the file cannot be opened or read;
// kBadImage for empty, truncated (including a JPEG missing only its EOI marker, as Pillow), corrupt,
// non-image or unsupported files, and for headers claiming more than `max_pixels` pixels (checked
// before any pixel buffer is allocated). Thread-safe.
Image read_image(const std::string& path, int64_t max_pixels = int64_t(1) << 28);

// Writes an image as an 8-bit RGB PNG (BGR images, channel_order == kBGR, are swapped to RGB on
// write). Throws maskrt::Error(kInvalidArgument) if pixels.size() != height * width * 3 or the image
// is empty, and maskrt::Error(kIo) naming the file when it cannot be written. Thread-safe.
void write_png(const std::string& path, const Image& image);

}  // namespace maskrt
