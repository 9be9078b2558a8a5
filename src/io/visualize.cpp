#include "io/visualize.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "io/draw.h"

namespace maskrt {

std::vector<LabelRect> place_labels(const std::vector<std::array<int, 4>>& boxes,
                                    const std::vector<std::pair<int, int>>& sizes, int width, int height) {
  if (boxes.size() != sizes.size())
    throw std::invalid_argument("place_labels: " + std::to_string(boxes.size()) + " boxes but " +
                                std::to_string(sizes.size()) + " label sizes");
  auto overlap = [](const LabelRect& a, const LabelRect& b) -> long long {
    const long long w = std::min(a.x + a.w, b.x + b.w) - std::max(a.x, b.x);
    const long long h = std::min(a.y + a.h, b.y + b.h) - std::max(a.y, b.y);
    return w > 0 && h > 0 ? w * h : 0;
  };
  std::vector<LabelRect> placed;
  placed.reserve(boxes.size());
  for (size_t i = 0; i < boxes.size(); ++i) {
    const auto [x0, y0, x1, y1] = boxes[i];
    const auto [w, h] = sizes[i];
    const std::array<std::pair<int, int>, 5> tries{{
        {x0, y0 - h - 1},          // above, left-aligned
        {x1 - w + 1, y0 - h - 1},  // above, right-aligned
        {x0, y1 + 2},              // below, left-aligned
        {x1 - w + 1, y1 + 2},      // below, right-aligned
        {x0 + 1, y0 + 1},          // inside the top-left corner
    }};
    LabelRect best;
    long long best_cost = -1;
    for (const auto& [tx, ty] : tries) {
      const LabelRect r{std::clamp(tx, 0, std::max(0, width - w)), std::clamp(ty, 0, std::max(0, height - h)), w, h};
      long long cost = 0;
      for (const LabelRect& p : placed) cost += overlap(r, p);
      if (best_cost < 0 || cost < best_cost) {
        best = r;
        best_cost = cost;
      }
      if (cost == 0) break;
    }
    placed.push_back(best);
  }
  return placed;
}

Image render_instances(const Image& image, const ImageResult& result, const std::vector<std::string>& class_names) {
  Image out = image;
  const int scale = std::max(1, std::min(image.height, image.width) / 400);
  // Masks, then boxes, then labels, each lowest score first, so the best instance is on top. Labels are
  // placed best first (place_labels) so they do not cover each other where a free spot exists.
  for (auto it = result.instances.rbegin(); it != result.instances.rend(); ++it)
    if (it->has_mask) blend_mask(out, it->mask, palette_color(it->pred_class), 0.45f);
  const size_t n = result.instances.size();
  std::vector<std::array<int, 4>> boxes(n);  // inclusive picture pixels
  for (size_t i = 0; i < n; ++i) {
    const Instance& inst = result.instances[i];
    const int x0 = static_cast<int>(std::floor(inst.box[0])), y0 = static_cast<int>(std::floor(inst.box[1]));
    boxes[i] = {x0, y0, std::max(x0, static_cast<int>(std::ceil(inst.box[2])) - 1),
                std::max(y0, static_cast<int>(std::ceil(inst.box[3])) - 1)};
  }
  for (size_t k = n; k-- > 0;)
    draw_rect(out, boxes[k][0], boxes[k][1], boxes[k][2], boxes[k][3], palette_color(result.instances[k].pred_class),
              scale);
  constexpr int kPad = 1;
  std::vector<std::string> labels(n);
  std::vector<std::pair<int, int>> sizes(n);
  for (size_t i = 0; i < n; ++i) {
    const Instance& inst = result.instances[i];
    const std::string name = inst.pred_class < static_cast<int>(class_names.size()) ? class_names[inst.pred_class]
                                                                                   : std::to_string(inst.pred_class);
    char label[128];
    std::snprintf(label, sizeof(label), "%s %.2f", name.c_str(), inst.score);
    labels[i] = label;
    sizes[i] = {text_width(label, scale) + 2 * kPad, text_height(label, scale) + 2 * kPad};
  }
  const std::vector<LabelRect> spots = place_labels(boxes, sizes, out.width, out.height);
  for (size_t k = n; k-- > 0;)
    draw_label(out, spots[k].x, spots[k].y, labels[k], Rgb{255, 255, 255},
               palette_color(result.instances[k].pred_class), scale, kPad);
  return out;
}

}  // namespace maskrt
