#pragma once
// Image decoding for maskrt::read_image (include/maskrt/image.h), with the exact rules it follows.
//
// Reproduces Detectron2's `detection_utils.read_image(path, format)` = PIL `Image.open`, then
// `_apply_exif_orientation` (PIL `getexif()` orientation -> transpose), then `convert("RGB")`,
// checked pixel for pixel against Pillow 13 by tests/unit/test_image_io.cpp
// (fixtures: tools/reference/make_image_fixtures.py).
//
// Format: from the first bytes (JPEG FF D8 FF, PNG signature), never from the extension. Other
// known formats (GIF, BMP, WebP, TIFF) are rejected as unsupported; anything else as "not an image".
//
// JPEG (libjpeg-turbo, ISLOW IDCT, fancy upsampling = libjpeg defaults, as Pillow):
//   - 1 component -> gray replicated to R=G=B; 3 -> libjpeg's YCbCr/RGB -> RGB;
//   - 4 (CMYK or YCCK, libjpeg converts YCCK -> CMYK): every byte inverted (Pillow assumes Adobe
//     inverted CMYK, rawmode "CMYK;I"), then Pillow's cmyk2rgb: nk = 255 - K,
//     R = clip(nk - (C*nk)/255 rounded as MULDIV255), same for G, B;
//   - EXIF orientation from the APP1 "Exif\0\0" segments (concatenated like Pillow), else XMP
//     `tiff:Orientation` (Pillow's fallback);
//   - "premature end of data" anywhere (also a file missing only its EOI marker) is an error, as
//     Pillow raises "image file is truncated" there; other libjpeg warnings are ignored, as Pillow.
// PNG (libpng): palette expanded (tRNS ignored), 1/2/4-bit gray scaled to 8 bits, alpha dropped
//   (not composited); 16-bit: RGB/RGBA/LA keep the high byte (v >> 8, Pillow's "RGB;16B" unpack);
//   16-bit GRAY becomes min(v, 255) -- Pillow opens it as "I;16" and convert("RGB") clips, so a
//   typical 16-bit gray image comes out nearly white; we reproduce that for parity and document
//   it here. Orientation from an eXIf chunk, else XMP in an iTXt "XML:com.adobe.xmp" chunk.
//   Not read: Pillow's "Raw profile type exif" text-chunk fallback.
// Size: width * height > max_pixels is rejected right after the header, before any pixel buffer is
//   allocated (Pillow would raise DecompressionBombError above 2 * 89478485 pixels).
// Errors: maskrt::Error, message "<path>: <reason>"; kIo when the file cannot be opened/read,
//   kBadImage for empty, truncated, corrupt, unsupported or oversized images. Never aborts: libjpeg
//   and libpng errors are caught with longjmp. Thread-safe (no shared state).
#include <cstddef>
#include <cstdint>
#include <string>

#include "maskrt/image.h"

namespace maskrt::io {

enum class ImageFormat { kUnknown, kJpeg, kPng, kGif, kBmp, kWebp, kTiff };

// Format from the first bytes of a file.
ImageFormat detect_image_format(const uint8_t* data, size_t size);

// Decodes an in-memory JPEG or PNG; `name` is used in error messages (usually the path).
Image decode_image(const uint8_t* data, size_t size, const std::string& name, int64_t max_pixels);

}  // namespace maskrt::io
