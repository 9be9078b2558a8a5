#include "io/exif.h"

#include <cstring>
#include <utility>
#include <vector>

namespace maskrt::io {

int exif_orientation(const uint8_t* d, size_t n) {
  if (d == nullptr || n < 8) return -1;
  bool little;
  if (d[0] == 'I' && d[1] == 'I') {
    little = true;
  } else if (d[0] == 'M' && d[1] == 'M') {
    little = false;
  } else {
    return -1;
  }
  auto u16 = [&](size_t off) -> uint32_t {
    return little ? uint32_t(d[off]) | uint32_t(d[off + 1]) << 8 : uint32_t(d[off]) << 8 | uint32_t(d[off + 1]);
  };
  auto u32 = [&](size_t off) -> uint32_t {
    return little ? u16(off) | u16(off + 2) << 16 : u16(off) << 16 | u16(off + 2);
  };
  if (u16(2) != 42) return -1;
  const size_t ifd = u32(4);
  if (ifd > n || n - ifd < 2) return -1;
  const size_t count = u16(ifd);
  for (size_t i = 0; i < count; ++i) {
    const size_t e = ifd + 2 + 12 * i;
    if (e > n || n - e < 12) return -1;  // entry runs past the block
    if (u16(e) != 0x0112) continue;
    const uint32_t type = u16(e + 2);
    if (u32(e + 4) != 1) return -1;  // Pillow would give a tuple: no orientation
    switch (type) {
      case 1: return d[e + 8];                  // BYTE
      case 3: return int(u16(e + 8));           // SHORT
      case 4: return int(u32(e + 8) & 0x7fffffff);  // LONG
      default: return -1;
    }
  }
  return -1;
}

int xmp_orientation(const uint8_t* xmp, size_t n) {
  static const char kKey[] = "tiff:Orientation";
  const size_t k = sizeof(kKey) - 1;
  for (size_t i = 0; xmp != nullptr && i + k < n; ++i) {
    if (std::memcmp(xmp + i, kKey, k) != 0) continue;
    size_t j = i + k;
    if (xmp[j] == '>') {
      j += 1;
    } else if (xmp[j] == '=' && j + 1 < n && xmp[j + 1] == '"') {
      j += 2;
    } else {
      continue;
    }
    if (j < n && xmp[j] >= '0' && xmp[j] <= '9') return xmp[j] - '0';
  }
  return -1;
}

void apply_exif_orientation(Image& image, int orientation) {
  if (orientation < 2 || orientation > 8 || image.empty()) return;
  const int h = image.height, w = image.width;
  const bool swap = orientation >= 5;
  const int oh = swap ? w : h, ow = swap ? h : w;
  std::vector<uint8_t> out(image.pixels.size());
  for (int y = 0; y < oh; ++y) {
    for (int x = 0; x < ow; ++x) {
      int sy = y, sx = x;  // source pixel of output (y, x)
      switch (orientation) {
        case 2: sx = w - 1 - x; break;                      // FLIP_LEFT_RIGHT
        case 3: sy = h - 1 - y; sx = w - 1 - x; break;      // ROTATE_180
        case 4: sy = h - 1 - y; break;                      // FLIP_TOP_BOTTOM
        case 5: sy = x; sx = y; break;                      // TRANSPOSE
        case 6: sy = h - 1 - x; sx = y; break;              // ROTATE_270 (clockwise)
        case 7: sy = h - 1 - x; sx = w - 1 - y; break;      // TRANSVERSE
        case 8: sy = x; sx = w - 1 - y; break;              // ROTATE_90 (counter-clockwise)
      }
      std::memcpy(&out[(size_t(y) * ow + x) * 3], &image.pixels[(size_t(sy) * w + sx) * 3], 3);
    }
  }
  image.pixels = std::move(out);
  image.height = oh;
  image.width = ow;
}

}  // namespace maskrt::io
