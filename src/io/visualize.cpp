#include "io/visualize.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "core/check.h"
#include "io/draw.h"

namespace maskrt {

std::vector<LabelRect> place_labels(const std::vector<std::array<int, 4>>& boxes,
                                    const std::vector<std::pair<int, int>>& sizes, int width, int height) {
  MASKRT_CHECK(boxes.size() == sizes.size(), ErrorCode::kInvalidArgument, "place_labels: ", boxes.size(),
               " boxes but ", sizes.size(), " label sizes");
  MASKRT_CHECK(width >= 0 && height >= 0, ErrorCode::kInvalidArgument, "place_labels: picture ", width, "x", height);
  using i64 = long long;  // box +- label arithmetic on any int inputs without overflow
  auto overlap = [](const LabelRect& a, const LabelRect& b) -> i64 {
    const i64 w = std::min<i64>(i64{a.x} + a.w, i64{b.x} + b.w) - std::max(a.x, b.x);
    const i64 h = std::min<i64>(i64{a.y} + a.h, i64{b.y} + b.h) - std::max(a.y, b.y);
    return w > 0 && h > 0 ? w * h : 0;
  };
  std::vector<LabelRect> placed;
  placed.reserve(boxes.size());
  for (size_t i = 0; i < boxes.size(); ++i) {
    const i64 x0 = boxes[i][0], y0 = boxes[i][1], x1 = boxes[i][2], y1 = boxes[i][3];
    const auto [w, h] = sizes[i];
    MASKRT_CHECK(w >= 0 && h >= 0, ErrorCode::kInvalidArgument, "place_labels: label ", i, " size ", w, "x", h);
    const std::array<std::pair<i64, i64>, 5> tries{{
        {x0, y0 - h - 1},          // above, left-aligned
        {x1 - w + 1, y0 - h - 1},  // above, right-aligned
        {x0, y1 + 2},              // below, left-aligned
        {x1 - w + 1, y1 + 2},      // below, right-aligned
        {x0 + 1, y0 + 1},          // inside the top-left corner
    }};
    LabelRect best;
    i64 best_cost = -1;
    for (const auto& [tx, ty] : tries) {
      // Moved into the picture; a label wider / taller than the picture starts at 0 (and is clipped).
      const LabelRect r{static_cast<int>(std::clamp<i64>(tx, 0, std::max<i64>(0, i64{width} - w))),
                        static_cast<int>(std::clamp<i64>(ty, 0, std::max<i64>(0, i64{height} - h))), w, h};
      i64 cost = 0;
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
    // Box edges as pixels, kept within one pixel outside the picture (and 0 for a non-finite value) so the
    // int conversion is defined for any float the results hold.
    auto px = [](float v, int limit) { return std::isfinite(v) ? std::clamp<float>(v, -1.f, limit + 1.f) : 0.f; };
    const int x0 = static_cast<int>(std::floor(px(inst.box[0], out.width)));
    const int y0 = static_cast<int>(std::floor(px(inst.box[1], out.height)));
    boxes[i] = {x0, y0, std::max(x0, static_cast<int>(std::ceil(px(inst.box[2], out.width))) - 1),
                std::max(y0, static_cast<int>(std::ceil(px(inst.box[3], out.height))) - 1)};
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
