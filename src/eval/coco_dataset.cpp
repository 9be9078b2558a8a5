// COCO annotation / results parsing (see coco_dataset.h).
#include "eval/coco_dataset.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "eval/coco_mask.h"
#include "ops/rle/rle.h"

namespace maskrt::eval {
namespace {

using nlohmann::json;

// Where in which file: "<source>: annotations[3] (id 17)".
struct Where {
  const std::string& source;
  std::string element;
  [[noreturn]] void fail(const std::string& msg) const {
    MASKRT_FAIL(ErrorCode::kInvalidArgument, source, ": ", element, ": ", msg);
  }
};

const char* type_name(const json& v) { return v.type_name(); }

const json& require_key(const json& obj, const char* key, const Where& w) {
  auto it = obj.find(key);
  if (it == obj.end()) w.fail(detail::concat("missing key '", key, "'"));
  return *it;
}

int64_t as_int(const json& v, const char* key, const Where& w) {
  if (!v.is_number_integer()) w.fail(detail::concat("'", key, "' must be an integer, got ", type_name(v)));
  return v.get<int64_t>();
}

double as_number(const json& v, const char* key, const Where& w) {
  if (!v.is_number()) w.fail(detail::concat("'", key, "' must be a number, got ", type_name(v)));
  return v.get<double>();
}

std::array<double, 4> as_bbox(const json& v, const Where& w) {
  if (!v.is_array() || v.size() != 4) w.fail("'bbox' must be an array of 4 numbers [x, y, width, height]");
  std::array<double, 4> b{};
  for (size_t i = 0; i < 4; ++i) b[i] = as_number(v[i], "bbox", w);
  return b;
}

CocoSegmentation as_segmentation(const json& v, const CocoImageInfo& img, const Where& w) {
  CocoSegmentation s;
  if (v.is_array()) {
    s.kind = CocoSegmentation::Kind::kPolygons;
    for (size_t i = 0; i < v.size(); ++i) {
      const json& poly = v[i];
      if (!poly.is_array()) w.fail(detail::concat("'segmentation'[", i, "] must be a polygon (array of numbers)"));
      std::vector<double> xy;
      xy.reserve(poly.size());
      for (const json& c : poly) xy.push_back(as_number(c, "segmentation", w));
      s.polygons.push_back(std::move(xy));
    }
    return s;
  }
  if (!v.is_object())
    w.fail(detail::concat("'segmentation' must be polygons or an RLE object, got ", type_name(v)));
  const json& size = require_key(v, "size", w);
  if (!size.is_array() || size.size() != 2 || !size[0].is_number_integer() || !size[1].is_number_integer())
    w.fail("'segmentation.size' must be [height, width]");
  s.kind = CocoSegmentation::Kind::kRle;
  s.rle.height = size[0].get<int>();
  s.rle.width = size[1].get<int>();
  if (s.rle.height != img.height || s.rle.width != img.width)
    w.fail(detail::concat("RLE size ", s.rle.height, "x", s.rle.width, " differs from image ", img.id, " size ",
                          img.height, "x", img.width));
  const json& counts = require_key(v, "counts", w);
  if (counts.is_string()) {
    try {
      s.rle.counts = ops::rle_from_string(counts.get<std::string>());
    } catch (const Error& e) {
      w.fail(detail::concat("bad compressed RLE 'counts': ", e.what()));
    }
  } else if (counts.is_array()) {
    s.rle.counts.reserve(counts.size());
    for (const json& c : counts) {
      if (!c.is_number_integer() || c.get<int64_t>() < 0 || c.get<int64_t>() > int64_t{0xFFFFFFFF})
        w.fail("'segmentation.counts' must hold non-negative integers");
      s.rle.counts.push_back(static_cast<uint32_t>(c.get<int64_t>()));
    }
  } else {
    w.fail(detail::concat("'segmentation.counts' must be a string or an array, got ", type_name(counts)));
  }
  try {
    check_rle(s.rle, "segmentation");
  } catch (const Error& e) {
    w.fail(e.what());
  }
  return s;
}

json parse_json(const std::string& text, const std::string& source) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    MASKRT_FAIL(ErrorCode::kInvalidArgument, source, ": not valid JSON: ", e.what());
  }
}

std::string read_file(const std::string& path) {
  std::error_code ec;
  MASKRT_CHECK(!std::filesystem::is_directory(path, ec), ErrorCode::kIo, path, ": is a directory, not a JSON file");
  errno = 0;
  std::ifstream f(path, std::ios::binary);
  MASKRT_CHECK(f.good(), ErrorCode::kIo, path, ": cannot open file (", errno ? std::strerror(errno) : "unknown reason",
               ")");
  std::ostringstream ss;
  ss << f.rdbuf();
  MASKRT_CHECK(!f.bad(), ErrorCode::kIo, path, ": read error");
  return ss.str();
}

const json& require_array(const json& root, const char* key, const std::string& source) {
  Where w{source, "top level"};
  const json& v = require_key(root, key, w);
  if (!v.is_array()) w.fail(detail::concat("'", key, "' must be an array, got ", type_name(v)));
  return v;
}

}  // namespace

CocoDataset parse_coco_annotations(const std::string& json_text, const std::string& source) {
  const json root = parse_json(json_text, source);
  if (!root.is_object())
    MASKRT_FAIL(ErrorCode::kInvalidArgument, source,
                ": not a COCO annotation file (top level must be an object with images, annotations, categories)");
  CocoDataset ds;
  ds.source = source;

  const json& images = require_array(root, "images", source);
  ds.images.reserve(images.size());
  for (size_t i = 0; i < images.size(); ++i) {
    Where w{source, detail::concat("images[", i, "]")};
    const json& v = images[i];
    if (!v.is_object()) w.fail("must be an object");
    CocoImageInfo img;
    img.id = as_int(require_key(v, "id", w), "id", w);
    w.element += detail::concat(" (id ", img.id, ")");
    const int64_t h = as_int(require_key(v, "height", w), "height", w);
    const int64_t wd = as_int(require_key(v, "width", w), "width", w);
    if (h <= 0 || wd <= 0 || h > 1000000 || wd > 1000000) w.fail(detail::concat("bad size ", h, "x", wd));
    img.height = static_cast<int>(h);
    img.width = static_cast<int>(wd);
    if (auto it = v.find("file_name"); it != v.end() && it->is_string()) img.file_name = it->get<std::string>();
    if (!ds.image_index.emplace(img.id, ds.images.size()).second) w.fail("duplicate image id");
    ds.images.push_back(std::move(img));
  }

  const json& cats = require_array(root, "categories", source);
  for (size_t i = 0; i < cats.size(); ++i) {
    Where w{source, detail::concat("categories[", i, "]")};
    const json& v = cats[i];
    if (!v.is_object()) w.fail("must be an object");
    CocoCategory c;
    c.id = as_int(require_key(v, "id", w), "id", w);
    if (auto it = v.find("name"); it != v.end() && it->is_string()) c.name = it->get<std::string>();
    if (!ds.category_index.emplace(c.id, ds.categories.size()).second)
      w.fail(detail::concat("duplicate category id ", c.id));
    ds.categories.push_back(std::move(c));
  }

  const json& anns = require_array(root, "annotations", source);
  ds.annotations.reserve(anns.size());
  std::unordered_map<int64_t, size_t> ann_ids;
  for (size_t i = 0; i < anns.size(); ++i) {
    Where w{source, detail::concat("annotations[", i, "]")};
    const json& v = anns[i];
    if (!v.is_object()) w.fail("must be an object");
    CocoAnnotation a;
    a.id = as_int(require_key(v, "id", w), "id", w);
    w.element += detail::concat(" (id ", a.id, ")");
    if (!ann_ids.emplace(a.id, i).second) w.fail("duplicate annotation id");
    a.image_id = as_int(require_key(v, "image_id", w), "image_id", w);
    auto img_it = ds.image_index.find(a.image_id);
    if (img_it == ds.image_index.end()) w.fail(detail::concat("image_id ", a.image_id, " has no entry in 'images'"));
    a.category_id = as_int(require_key(v, "category_id", w), "category_id", w);
    if (!ds.category_index.count(a.category_id))
      w.fail(detail::concat("category_id ", a.category_id, " has no entry in 'categories'"));
    a.area = as_number(require_key(v, "area", w), "area", w);
    // Required, as pycocotools' COCOeval reads int(ann['iscrowd']) for every ground-truth instance
    // (a missing key is a KeyError there, not 0).
    if (const auto& c = require_key(v, "iscrowd", w); c.is_boolean())
      a.iscrowd = c.get<bool>();
    else if (c.is_number_integer())
      a.iscrowd = c.get<int64_t>() != 0;
    else
      w.fail(detail::concat("'iscrowd' must be 0, 1 or a boolean, got ", type_name(c)));
    if (auto it = v.find("bbox"); it != v.end()) {
      a.bbox = as_bbox(*it, w);
      a.has_bbox = true;
    }
    if (auto it = v.find("segmentation"); it != v.end())
      a.segmentation = as_segmentation(*it, ds.images[img_it->second], w);
    ds.annotations.push_back(std::move(a));
  }
  return ds;
}

CocoDataset load_coco_annotations(const std::string& path) { return parse_coco_annotations(read_file(path), path); }

namespace {

// The COCO results array `root`; results[i] is named labels[i] in messages when `labels` is given
// (results converted from another format), "results[i]" otherwise.
std::vector<CocoDetection> results_from_json(const json& root, const std::string& source, const CocoDataset& gt,
                                             const std::vector<std::string>* labels) {
  if (!root.is_array())
    MASKRT_FAIL(ErrorCode::kInvalidArgument, source, ": a COCO results file must be a JSON array of objects, got ",
                root.type_name(),
                root.is_object() ? " (the RESULTS.json of maskrt infer, an object with 'maskrt' and an 'images' "
                                   "array, is accepted too)"
                                 : "");
  std::vector<CocoDetection> out;
  out.reserve(root.size());
  for (size_t i = 0; i < root.size(); ++i) {
    Where w{source, labels ? labels->at(i) : detail::concat("results[", i, "]")};
    const json& v = root[i];
    if (!v.is_object()) w.fail("must be an object");
    CocoDetection d;
    d.image_id = as_int(require_key(v, "image_id", w), "image_id", w);
    auto img_it = gt.image_index.find(d.image_id);
    if (img_it == gt.image_index.end())
      w.fail(detail::concat("image_id ", d.image_id, " is not an image of the ground truth ", gt.source));
    d.category_id = as_int(require_key(v, "category_id", w), "category_id", w);
    if (!gt.category_index.count(d.category_id))
      w.fail(detail::concat("category_id ", d.category_id, " is not a category of the ground truth ", gt.source));
    d.score = as_number(require_key(v, "score", w), "score", w);
    if (!(d.score == d.score)) w.fail("'score' is NaN");
    if (auto it = v.find("bbox"); it != v.end()) {
      d.bbox = as_bbox(*it, w);
      d.has_bbox = true;
    }
    if (auto it = v.find("segmentation"); it != v.end())
      d.segmentation = as_segmentation(*it, gt.images[img_it->second], w);
    if (!d.has_bbox && d.segmentation.kind == CocoSegmentation::Kind::kNone) w.fail("has neither 'bbox' nor 'segmentation'");
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace

std::vector<CocoDetection> load_coco_results(const json& results, const std::string& source, const CocoDataset& gt) {
  return results_from_json(results, source, gt, nullptr);
}

std::vector<CocoDetection> parse_coco_results(const std::string& json_text, const std::string& source,
                                              const CocoDataset& gt) {
  return load_coco_results(parse_json(json_text, source), source, gt);
}

std::vector<CocoDetection> load_coco_results(const std::string& path, const CocoDataset& gt) {
  return load_coco_results(read_json_file(path), path, gt);
}

json read_json_file(const std::string& path) { return parse_json(read_file(path), path); }

bool is_maskrt_infer_results(const json& root) {
  if (!root.is_object() || !root.contains("maskrt")) return false;
  const auto it = root.find("images");
  return it != root.end() && it->is_array();
}

InferResults load_maskrt_infer_results(const json& root, const std::string& source, const CocoDataset& gt) {
  MASKRT_CHECK(is_maskrt_infer_results(root), ErrorCode::kInvalidArgument, source,
               ": not the RESULTS.json of maskrt infer (an object with 'maskrt' and an 'images' array)");
  // Model class k -> the k-th category id in ascending order (Detectron2's contiguous ids).
  std::vector<int64_t> cat_ids;
  for (const CocoCategory& c : gt.categories) cat_ids.push_back(c.id);
  std::sort(cat_ids.begin(), cat_ids.end());
  if (auto m = root.find("model"); m != root.end() && m->is_object())
    if (auto n = m->find("num_classes"); n != m->end() && n->is_number_integer())
      MASKRT_CHECK(n->get<int64_t>() == static_cast<int64_t>(cat_ids.size()), ErrorCode::kInvalidArgument, source,
                   ": the model that made these results has num_classes ", n->get<int64_t>(), " but ", gt.source,
                   " has ", cat_ids.size(), " categories");

  // Annotation images by the basename of file_name.
  std::unordered_map<std::string, std::vector<size_t>> by_name;
  for (size_t i = 0; i < gt.images.size(); ++i)
    if (!gt.images[i].file_name.empty())
      by_name[std::filesystem::path(gt.images[i].file_name).filename().string()].push_back(i);

  InferResults out;
  std::vector<json> per_image(gt.images.size());                 // COCO results per annotation image
  std::vector<std::vector<std::string>> per_labels(gt.images.size());
  std::vector<std::string> matched_by(gt.images.size());         // element that claimed the image
  std::vector<bool> covered(gt.images.size(), false);
  const json& images = root.at("images");
  for (size_t i = 0; i < images.size(); ++i) {
    Where w{source, detail::concat("images[", i, "]")};
    const json& v = images[i];
    if (!v.is_object()) w.fail("must be an object");
    const json& file_v = require_key(v, "file", w);
    if (!file_v.is_string()) w.fail(detail::concat("'file' must be a string, got ", type_name(file_v)));
    const std::string file = file_v.get<std::string>();
    w.element += detail::concat(" (file ", file, ")");
    const int64_t h = as_int(require_key(v, "height", w), "height", w);
    const int64_t wd = as_int(require_key(v, "width", w), "width", w);
    const json& insts = require_key(v, "instances", w);
    if (!insts.is_array()) w.fail(detail::concat("'instances' must be an array, got ", type_name(insts)));

    const std::string base = std::filesystem::path(file).filename().string();
    auto per_image_error = [&](const std::string& msg) {
      out.errors.push_back({file, detail::concat(source, ": ", w.element, ": ", msg)});
    };
    const auto hit = by_name.find(base);
    if (hit == by_name.end()) {
      per_image_error(detail::concat("no image of ", gt.source, " has the file name '", base,
                                     "' (images are matched by the basename of file_name); left out"));
      continue;
    }
    if (hit->second.size() > 1) {
      std::string which;
      for (size_t k : hit->second)
        which += detail::concat(which.empty() ? "" : ", ", "id ", gt.images[k].id, " (", gt.images[k].file_name, ")");
      per_image_error(detail::concat("the file name '", base, "' belongs to ", hit->second.size(), " images of ",
                                     gt.source, ": ", which, "; cannot tell which one these results are for; left out"));
      continue;
    }
    const size_t idx = hit->second.front();
    const CocoImageInfo& img = gt.images[idx];
    if (covered[idx]) {
      per_image_error(detail::concat("image id ", img.id, " (", img.file_name, ") of ", gt.source,
                                     " already has results from ", matched_by[idx], "; left out"));
      continue;
    }
    if (h != img.height || wd != img.width) {
      per_image_error(detail::concat("is ", h, "x", wd, " but ", gt.source, " says ", img.height, "x", img.width,
                                     " for image id ", img.id, " (", img.file_name, "); left out"));
      continue;
    }
    covered[idx] = true;
    matched_by[idx] = w.element;
    json& arr = per_image[idx];
    arr = json::array();
    for (size_t j = 0; j < insts.size(); ++j) {
      Where wi{source, detail::concat(w.element, ": instances[", j, "]")};
      const json& inst = insts[j];
      if (!inst.is_object()) wi.fail("must be an object");
      const int64_t k = as_int(require_key(inst, "category_id", wi), "category_id", wi);
      if (k < 0 || k >= static_cast<int64_t>(cat_ids.size()))
        wi.fail(detail::concat("category_id ", k, " is out of range: ", gt.source, " has ", cat_ids.size(),
                               " categories, so the model's class index must be 0..",
                               static_cast<int64_t>(cat_ids.size()) - 1,
                               " (class k is the k-th category id in ascending order)"));
      json r = inst;
      r.erase("category_name");
      r["image_id"] = img.id;
      r["category_id"] = cat_ids[static_cast<size_t>(k)];
      arr.push_back(std::move(r));
      per_labels[idx].push_back(wi.element);
    }
  }

  // One COCO results array in annotation order, validated by the COCO loader.
  json coco = json::array();
  for (size_t idx = 0; idx < gt.images.size(); ++idx) {
    if (!covered[idx]) continue;
    out.image_ids.push_back(gt.images[idx].id);
    for (json& r : per_image[idx]) coco.push_back(std::move(r));
    for (std::string& l : per_labels[idx]) out.labels.push_back(std::move(l));
  }
  out.detections = results_from_json(coco, source, gt, &out.labels);
  return out;
}

CocoDataset subset_images(const CocoDataset& gt, const std::vector<int64_t>& image_ids) {
  const std::unordered_set<int64_t> keep(image_ids.begin(), image_ids.end());
  CocoDataset sub;
  sub.source = gt.source;
  sub.categories = gt.categories;
  sub.category_index = gt.category_index;
  for (const CocoImageInfo& img : gt.images)
    if (keep.count(img.id)) {
      sub.image_index[img.id] = sub.images.size();
      sub.images.push_back(img);
    }
  for (const CocoAnnotation& ann : gt.annotations)
    if (sub.image_index.count(ann.image_id)) sub.annotations.push_back(ann);
  return sub;
}

void validate_coco_results(const std::vector<CocoDetection>& results, const CocoDataset& gt,
                           const std::string& source) {
  for (size_t i = 0; i < results.size(); ++i) {
    const CocoDetection& d = results[i];
    Where w{source, detail::concat("results[", i, "]")};
    auto img_it = gt.image_index.find(d.image_id);
    if (img_it == gt.image_index.end())
      w.fail(detail::concat("image_id ", d.image_id, " is not an image of the ground truth ", gt.source));
    if (!gt.category_index.count(d.category_id))
      w.fail(detail::concat("category_id ", d.category_id, " is not a category of the ground truth ", gt.source));
    if (!(d.score == d.score)) w.fail("'score' is NaN");
    if (!d.has_bbox && d.segmentation.kind == CocoSegmentation::Kind::kNone) w.fail("has neither bbox nor segmentation");
    if (d.segmentation.kind == CocoSegmentation::Kind::kRle) {
      const CocoImageInfo& img = gt.images[img_it->second];
      if (d.segmentation.rle.height != img.height || d.segmentation.rle.width != img.width)
        w.fail(detail::concat("RLE size ", d.segmentation.rle.height, "x", d.segmentation.rle.width,
                              " differs from image ", img.id, " size ", img.height, "x", img.width));
      try {
        check_rle(d.segmentation.rle, "segmentation");
      } catch (const Error& e) {
        w.fail(e.what());
      }
    }
  }
}

}  // namespace maskrt::eval
