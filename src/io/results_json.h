#pragma once
// RESULTS.json writer for `maskrt infer` (format documented in README.md):
// {"maskrt": {...}, "model": {...}, "images": [{"file", "height", "width", "time_ms", "stage_ms",
//   "instances": [{"bbox": [x, y, w, h], "score", "category_id",
//                  "segmentation": {"size": [h, w], "counts": "<COCO compressed RLE>"}}]}],
//  "errors": [{"file", "error"}]}
// bbox is COCO XYWH in original-image pixels; category_id is the model's 0-based class index.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "maskrt/engine.h"

namespace maskrt {

nlohmann::json instances_to_json(const ImageResult& r);
nlohmann::json engine_info_to_json(const EngineInfo& info);

}  // namespace maskrt
