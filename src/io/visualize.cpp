#include "io/visualize.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>

#include "io/draw.h"

namespace maskrt {

Image render_instances(const Image& image, const ImageResult& result, const std::vector<std::string>& class_names) {
  Image out = image;
  const int scale = std::max(1, std::min(image.height, image.width) / 400);
  // Masks, then boxes, then labels, each lowest score first, so the best instance is on top. A label
  // sits above its box's top-left corner, moved left and down as needed to stay inside the picture.
  for (auto it = result.instances.rbegin(); it != result.instances.rend(); ++it)
    if (it->has_mask) blend_mask(out, it->mask, palette_color(it->pred_class), 0.45f);
  auto corner = [](const Instance& inst) {
    return std::make_pair(static_cast<int>(std::floor(inst.box[0])), static_cast<int>(std::floor(inst.box[1])));
  };
  for (auto it = result.instances.rbegin(); it != result.instances.rend(); ++it) {
    const auto [x0, y0] = corner(*it);
    const int x1 = std::max(x0, static_cast<int>(std::ceil(it->box[2])) - 1);
    const int y1 = std::max(y0, static_cast<int>(std::ceil(it->box[3])) - 1);
    draw_rect(out, x0, y0, x1, y1, palette_color(it->pred_class), scale);
  }
  constexpr int kPad = 1;
  for (auto it = result.instances.rbegin(); it != result.instances.rend(); ++it) {
    const auto [x0, y0] = corner(*it);
    const std::string name = it->pred_class < static_cast<int>(class_names.size()) ? class_names[it->pred_class]
                                                                                  : std::to_string(it->pred_class);
    char label[128];
    std::snprintf(label, sizeof(label), "%s %.2f", name.c_str(), it->score);
    const int lw = text_width(label, scale) + 2 * kPad, lh = text_height(label, scale) + 2 * kPad;
    const int lx = std::clamp(x0, 0, std::max(0, out.width - lw));
    const int ly = std::clamp(y0 - lh - 1, 0, std::max(0, out.height - lh));
    draw_label(out, lx, ly, label, Rgb{255, 255, 255}, palette_color(it->pred_class), scale, kPad);
  }
  return out;
}

}  // namespace maskrt
