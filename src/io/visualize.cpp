#include "io/visualize.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "io/draw.h"

namespace maskrt {

Image render_instances(const Image& image, const ImageResult& result, const std::vector<std::string>& class_names) {
  Image out = image;
  const int scale = std::max(1, std::min(image.height, image.width) / 400);
  // Masks first (lowest score first, so the best instance is on top), then boxes and labels.
  for (auto it = result.instances.rbegin(); it != result.instances.rend(); ++it)
    if (it->has_mask) blend_mask(out, it->mask, palette_color(it->pred_class), 0.45f);
  for (const Instance& inst : result.instances) {
    const Rgb c = palette_color(inst.pred_class);
    const int x0 = static_cast<int>(std::floor(inst.box[0])), y0 = static_cast<int>(std::floor(inst.box[1]));
    const int x1 = std::max(x0, static_cast<int>(std::ceil(inst.box[2])) - 1);
    const int y1 = std::max(y0, static_cast<int>(std::ceil(inst.box[3])) - 1);
    draw_rect(out, x0, y0, x1, y1, c, scale);
    const std::string name = inst.pred_class < static_cast<int>(class_names.size()) ? class_names[inst.pred_class]
                                                                                   : std::to_string(inst.pred_class);
    char label[128];
    std::snprintf(label, sizeof(label), "%s %.2f", name.c_str(), inst.score);
    const int th = text_height(label, scale) + 2;
    draw_label(out, x0, std::max(0, y0 - th - 1), label, Rgb{255, 255, 255}, c, scale, 1);
  }
  return out;
}

}  // namespace maskrt
