#pragma once
// Picture of one image's results for `maskrt infer --visualize`: each instance's mask blended in its
// class colour (alpha 0.45), its box outlined, and a "class score" label near the box (place_labels).
// Drawn lowest score first, so the best instance is on top.
// Class names are the 0-based class index unless `class_names` covers it.
#include <array>
#include <string>
#include <utility>
#include <vector>

#include "maskrt/image.h"
#include "maskrt/instances.h"

namespace maskrt {

// A label's rectangle in picture pixels: top-left (x, y), size w x h.
struct LabelRect {
  int x = 0, y = 0, w = 0, h = 0;
};

// Where the labels go. boxes[i] = {x0, y0, x1, y1} (inclusive picture pixels) and sizes[i] = {w, h} of
// instance i, best first (the engine's score order). Each label in that order takes the first of these
// spots that overlaps no label placed before it: above its box left-aligned, above right-aligned, below
// left-aligned, below right-aligned, inside the box's top-left corner; each spot is first moved into the
// picture (left / up / right / down as needed). When every spot overlaps, the one with the least
// overlapping area (earliest on ties). So the best instance always gets the spot above its box.
// Errors: boxes and sizes of different lengths, a negative label size or picture size throw
// maskrt::Error kInvalidArgument. Any int box coordinates are fine (computed in 64 bits).
std::vector<LabelRect> place_labels(const std::vector<std::array<int, 4>>& boxes,
                                    const std::vector<std::pair<int, int>>& sizes, int width, int height);

Image render_instances(const Image& image, const ImageResult& result,
                       const std::vector<std::string>& class_names = {});

}  // namespace maskrt
