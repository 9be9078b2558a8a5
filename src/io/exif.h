#pragma once
// EXIF / XMP orientation, read the way Pillow's `Image.getexif()` does for Detectron2's
// `_apply_exif_orientation` (detectron2/data/detection_utils.py), and the pixel transposes it maps
// each orientation to. Small and bounds-checked: no libexif (not on the GPU machine).
#include <cstddef>
#include <cstdint>

#include "maskrt/image.h"

namespace maskrt::io {

// Orientation tag (0x0112) of IFD0 of a TIFF-structured EXIF block (`tiff` starts at the "II*\0" /
// "MM\0*" header, i.e. after JPEG's "Exif\0\0"). Accepts SHORT, LONG or BYTE with count 1. Returns the
// value, or -1 when the tag is absent or the block is malformed (out-of-range offsets, bad header).
int exif_orientation(const uint8_t* tiff, size_t size);

// Pillow's XMP fallback (used only when EXIF has no orientation tag): the first match of the regex
// `tiff:Orientation(="|>)([0-9])` in the XMP packet; returns that digit, or -1.
int xmp_orientation(const uint8_t* xmp, size_t size);

// Applies an EXIF orientation to an HWC uint8 image in place, as PIL's transpose methods that
// Detectron2 maps to: 2 FLIP_LEFT_RIGHT, 3 ROTATE_180, 4 FLIP_TOP_BOTTOM, 5 TRANSPOSE,
// 6 ROTATE_270 (90° clockwise), 7 TRANSVERSE, 8 ROTATE_90 (90° counter-clockwise); 5..8 swap height
// and width. Any other value (1, 0, 9, -1, ...) leaves the image unchanged.
void apply_exif_orientation(Image& image, int orientation);

}  // namespace maskrt::io
