#include "io/results_json.h"

namespace maskrt {

nlohmann::json instances_to_json(const ImageResult& r) {
  nlohmann::json arr = nlohmann::json::array();
  for (const Instance& inst : r.instances) {
    nlohmann::json j;
    j["bbox"] = {inst.box[0], inst.box[1], inst.box[2] - inst.box[0], inst.box[3] - inst.box[1]};
    j["score"] = inst.score;
    j["category_id"] = inst.pred_class;
    if (inst.has_mask) j["segmentation"] = {{"size", {inst.mask.height, inst.mask.width}}, {"counts", inst.mask.to_coco_string()}};
    arr.push_back(std::move(j));
  }
  return arr;
}

nlohmann::json engine_info_to_json(const EngineInfo& info) {
  return {{"name", info.model_name},          {"config", info.config_path},   {"weights", info.weights_path},
          {"config_hash", info.config_hash},  {"device", info.device},        {"precision", info.precision},
          {"libraries", info.libraries.empty() ? nlohmann::json(nullptr) : nlohmann::json(info.libraries)},  // CUDA only
          {"num_classes", info.num_classes},  {"mask_on", info.mask_on},      {"load_ms", info.load_ms},
          {"warmup_ms", info.warmup_ms}};
}

}  // namespace maskrt
