#pragma once
// maskrt's embedded bitmap font: printable ASCII (32..126), each glyph a 5-pixel-wide, 7-row body
// (capitals and digits sit on row 6) plus one descender row (g, j, p, q, y, comma, underscore), so
// 5x8 cells. Designed for maskrt (not taken from another font). Characters outside 32..126 draw as '?'.
// Thread-safe (read-only data).
#include <cstdint>

namespace maskrt::font5x7 {

constexpr int kGlyphWidth = 5;
constexpr int kGlyphHeight = 8;   // 7 body rows + 1 descender row
constexpr int kAdvance = 6;       // horizontal pixels per character (1 column of spacing)
constexpr int kLineAdvance = 10;  // vertical pixels per text line
constexpr int kFirstChar = 32;
constexpr int kLastChar = 126;

// Row bits of glyph `c`: bit (kGlyphWidth - 1 - x) of row y is set when pixel (x, y) is ink.
// Returns the rows of '?' for characters outside 32..126. `rows` receives kGlyphHeight values.
void glyph_rows(char c, uint8_t rows[kGlyphHeight]);

// true when pixel (x, y) of glyph `c` is ink; false outside the 5x8 cell.
bool glyph_pixel(char c, int x, int y);

}  // namespace maskrt::font5x7
