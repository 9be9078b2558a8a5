#pragma once
// Picture of one image's results for `maskrt infer --visualize`: each instance's mask blended in its
// class colour (alpha 0.45), its box outlined, and a "class score" label above the box (moved left /
// down to stay inside the picture). Drawn lowest score first, so the best instance is on top.
// Class names are the 0-based class index unless `class_names` covers it.
#include <string>
#include <vector>

#include "maskrt/image.h"
#include "maskrt/instances.h"

namespace maskrt {

Image render_instances(const Image& image, const ImageResult& result,
                       const std::vector<std::string>& class_names = {});

}  // namespace maskrt
