#pragma once
// COCO annotation files (instances_*.json) and COCO results files ([{image_id, category_id, score,
// bbox, segmentation}, ...]) as read by pycocotools' COCO / COCO.loadRes, for maskrt::eval.
//
// Accepted annotation file (unknown keys are ignored, as pycocotools does):
//   {"images": [{"id": int, "height": int > 0, "width": int > 0, "file_name"?: str}, ...],
//    "categories": [{"id": int, "name"?: str}, ...],
//    "annotations": [{"id": int, "image_id": int, "category_id": int, "area": number,
//                     "iscrowd": 0|1|bool (required, as pycocotools reads it), "bbox"?: [x, y, w, h],
//                     "segmentation"?: polygons [[x0, y0, x1, y1, ...], ...]
//                                     | RLE {"size": [h, w], "counts": str (compressed) | [int, ...]}}]}
// `area` is what COCOeval uses for the small/medium/large ranges of ground truth (pycocotools never
// recomputes it), so it is required. bbox is needed only for bbox evaluation and segmentation only for
// segm evaluation; evaluate() reports a missing one.
//
// Errors (maskrt::Error, kIo for unreadable files, kInvalidArgument otherwise) name the file, the
// element (e.g. "annotations[3] (id 17)") and the key: invalid JSON, missing keys, wrong types,
// duplicate image / category / annotation ids, annotations whose image_id has no image entry or whose
// category_id is not in "categories", RLE sizes that differ from the image size, RLE counts that do not
// cover the image, results for images or categories that the ground truth lacks.
//
// `maskrt infer`'s RESULTS.json (README.md, "RESULTS.json") is accepted as results too: see
// load_maskrt_infer_results.
// Thread safety: the functions are reentrant; the returned objects are plain values.
#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "maskrt/instances.h"

namespace maskrt::eval {

struct CocoSegmentation {
  enum class Kind { kNone, kPolygons, kRle };
  Kind kind = Kind::kNone;
  std::vector<std::vector<double>> polygons;  // kPolygons: each [x0, y0, x1, y1, ...] in pixels
  RleMask rle;                                // kRle: from a compressed string or an uncompressed list
};

struct CocoImageInfo {
  int64_t id = 0;
  int height = 0;
  int width = 0;
  std::string file_name;
};

struct CocoCategory {
  int64_t id = 0;
  std::string name;
};

struct CocoAnnotation {
  int64_t id = 0;
  int64_t image_id = 0;
  int64_t category_id = 0;
  double area = 0;
  bool iscrowd = false;
  bool has_bbox = false;
  std::array<double, 4> bbox{};  // XYWH, pixels
  CocoSegmentation segmentation;
};

struct CocoDataset {
  std::string source;  // file name (or caller-given label) used in error messages
  std::vector<CocoImageInfo> images;
  std::vector<CocoCategory> categories;
  std::vector<CocoAnnotation> annotations;  // file order (pycocotools keeps it per image)
  std::unordered_map<int64_t, size_t> image_index;     // image id -> index into images
  std::unordered_map<int64_t, size_t> category_index;  // category id -> index into categories
};

// One result instance, as in a COCO results file. At least one of bbox / segmentation is present.
struct CocoDetection {
  int64_t image_id = 0;
  int64_t category_id = 0;
  double score = 0;
  bool has_bbox = false;
  std::array<double, 4> bbox{};  // XYWH, pixels
  CocoSegmentation segmentation;  // kNone when absent
};

CocoDataset load_coco_annotations(const std::string& path);
// `source` names the data in error messages.
CocoDataset parse_coco_annotations(const std::string& json_text, const std::string& source);

// Results must refer to images and categories of `gt` (pycocotools asserts the former and silently drops
// the latter; maskrt reports both). RLE sizes must equal the image size. Polygon or uncompressed-RLE
// result masks are accepted in every case (pycocotools' loadRes fails on them when results carry no
// bbox; when they do, it rasterises them as maskrt does).
std::vector<CocoDetection> load_coco_results(const std::string& path, const CocoDataset& gt);
std::vector<CocoDetection> parse_coco_results(const std::string& json_text, const std::string& source,
                                              const CocoDataset& gt);
// The same for a document already parsed (`source` names it in error messages); the two above use it.
std::vector<CocoDetection> load_coco_results(const nlohmann::json& results, const std::string& source,
                                             const CocoDataset& gt);
// A JSON file's document: kIo when it cannot be read, kInvalidArgument naming `path` when not JSON.
nlohmann::json read_json_file(const std::string& path);

// ---- maskrt infer's RESULTS.json as results ----
// True for a top-level object with an "images" array and a "maskrt" key (what `maskrt infer` writes;
// a COCO results file is an array).
bool is_maskrt_infer_results(const nlohmann::json& root);

struct InferResultsImageError {
  std::string file;   // the image's "file" in the results file
  std::string error;  // names the results file, the element and the file
};
struct InferResults {
  std::vector<CocoDetection> detections;  // grouped by image in the annotation file's image order
  std::vector<std::string> labels;        // per detection: "images[i] (file F): instances[j]"
  std::vector<int64_t> image_ids;         // annotation images the results cover, annotation order
  std::vector<InferResultsImageError> errors;
};
// Converts RESULTS.json (`root`, is_maskrt_infer_results) into COCO results for `gt`, then validates
// them exactly as load_coco_results does (the same messages, elements named as in RESULTS.json).
// - Each images[i] is matched to the annotation image whose file_name has the same basename as its
//   "file". No match, a basename shared by several annotation images, an annotation image already
//   matched by an earlier images[i], or a height/width that differs from the annotation's are
//   per-image errors (in `errors`; the image and its instances are left out).
// - category_id k (the model's 0-based class index) becomes the k-th category id of `gt` in ascending
//   order (Detectron2's contiguous ids, as `maskrt eval` maps a model's classes). An id outside
//   0..categories-1 is an error (kInvalidArgument) naming `source`, the image and the value, and so is
//   a "model.num_classes" (when present) that differs from the number of categories.
// - Malformed structure (images[i] not an object, "file" not a string, no integer height/width, no
//   "instances" array) is an error naming the element.
// Annotation images not covered are simply absent from `image_ids` (subset_images drops them).
InferResults load_maskrt_infer_results(const nlohmann::json& root, const std::string& source,
                                       const CocoDataset& gt);

// `gt` restricted to the images whose ids are in `image_ids` (kept in `gt`'s order) and their
// annotations; categories unchanged. Used to evaluate exactly the images that have results.
CocoDataset subset_images(const CocoDataset& gt, const std::vector<int64_t>& image_ids);
// The checks of parse_coco_results, for results built in memory (e.g. from maskrt::ImageResult).
void validate_coco_results(const std::vector<CocoDetection>& results, const CocoDataset& gt,
                           const std::string& source);

}  // namespace maskrt::eval
