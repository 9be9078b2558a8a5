// `maskrt eval`: COCO box and mask AP of a model on a COCO-format dataset (or of a results file made
// elsewhere: a COCO results array or the RESULTS.json of `maskrt infer`), computed by src/eval
// (pycocotools' COCOeval rules). Model class k maps to the k-th dataset category in ascending id order
// (Detectron2's contiguous-id convention), in model mode and for infer's RESULTS.json alike.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "core/check.h"
#include "eval/coco_eval.h"
#include "io/atomic_write.h"

namespace maskrt::cli {

namespace fs = std::filesystem;

CLI::App* add_eval_command(CLI::App& app, EvalArgs& a) {
  CLI::App* cmd = app.add_subcommand("eval", "COCO box/mask AP on a COCO-format dataset");
  add_model_options(cmd, a.model);
  cmd->add_option("--annotations", a.annotations, "COCO annotation json")->required();
  cmd->add_option("--images", a.images, "folder holding the images named by file_name");
  cmd->add_option("--results", a.results,
                  "evaluate this COCO results json, or a RESULTS.json written by maskrt infer, instead of running the model");
  cmd->add_option("--output,-o", a.output, "write METRICS.json here");
  cmd->add_option("--save-detections", a.save_detections,
                  "write the detections (the model's, or those of infer's RESULTS.json) as COCO results json");
  return cmd;
}

namespace {

nlohmann::json metrics_json(const eval::EvalResult& r, const eval::CocoDataset& gt) {
  static const char* kNames[12] = {"AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"};
  nlohmann::json j;
  for (int i = 0; i < 12; ++i) j[kNames[i]] = r.stats[i];
  nlohmann::json per = nlohmann::json::object();
  for (size_t k = 0; k < r.category_ids.size(); ++k) {
    const auto it = gt.category_index.find(r.category_ids[k]);
    const std::string name = it != gt.category_index.end() ? gt.categories[it->second].name : std::to_string(r.category_ids[k]);
    per[name] = std::isnan(r.per_category_ap[k]) ? nlohmann::json(nullptr) : nlohmann::json(r.per_category_ap[k]);
  }
  j["per_category_AP"] = per;
  return j;
}

// Every check evaluate() makes on the ground truth (a bbox on each annotation; each segmentation
// rasterised when `segm`), run up front with no detections so that a bad annotation file fails before
// any image is read or any metric is printed.
void validate_ground_truth(const eval::CocoDataset& gt, bool segm) {
  eval::evaluate(gt, {}, eval::IouType::kBbox);
  if (segm) eval::evaluate(gt, {}, eval::IouType::kSegm);
}

}  // namespace

int run_eval(const EvalArgs& a) {
  if (!a.output.empty()) check_writable_file(a.output, "--output");
  if (!a.save_detections.empty()) check_writable_file(a.save_detections, "--save-detections");
  for (const auto& [out, what] : {std::pair<std::string, const char*>{a.output, "--output"}, {a.save_detections, "--save-detections"}}) {
    check_not_input(out, what, a.annotations, "the --annotations file");
    check_not_input(out, what, a.results, "the --results file");
  }
  check_distinct_outputs(a.save_detections, "--save-detections", a.output, "the --output file");
  eval::CocoDataset gt = eval::load_coco_annotations(a.annotations);
  std::vector<int64_t> cat_ids;
  for (const auto& c : gt.categories) cat_ids.push_back(c.id);
  std::sort(cat_ids.begin(), cat_ids.end());

  std::vector<eval::CocoDetection> dets;
  nlohmann::json errors = nlohmann::json::array();
  nlohmann::json model_info;
  const size_t n_images = gt.images.size();
  size_t covered = n_images;
  size_t not_run = 0;  // images left when a SIGINT / SIGTERM stopped the model loop
  bool segm_unavailable = false;  // --results with masks on some results only
  bool from_infer = false;        // --results is a RESULTS.json of maskrt infer
  if (!a.results.empty()) {
    if (!a.images.empty())
      std::fprintf(stderr, "maskrt: warning: --images %s is not used with --results (no model runs; the detections "
                   "come from %s)\n", a.images.c_str(), a.results.c_str());
    const nlohmann::json root = eval::read_json_file(a.results);
    std::vector<std::string> labels;  // infer's RESULTS.json: where each detection came from
    if (eval::is_maskrt_infer_results(root)) {
      // Images are matched to annotation images by file name; the annotation images that the file does
      // not cover are left out with their ground truth, as model mode does for unreadable images.
      from_infer = true;
      eval::InferResults r = eval::load_maskrt_infer_results(root, a.results, gt);
      if (const auto m = root.find("model"); m != root.end() && m->is_object()) model_info = *m;
      for (const auto& e : r.errors) report_image_error(errors, e.file, e.error);
      dets = std::move(r.detections);
      labels = std::move(r.labels);
      covered = r.image_ids.size();
      if (covered != n_images) {
        std::string missing;
        size_t listed = 0;
        const std::unordered_set<int64_t> have(r.image_ids.begin(), r.image_ids.end());
        for (const auto& img : gt.images)
          if (!have.count(img.id) && listed++ < 5)
            missing += detail::concat(listed > 1 ? ", " : "", img.file_name.empty() ? std::to_string(img.id) : img.file_name);
        if (n_images - covered > 5) missing += ", ...";
        std::string why;
        if (const auto it = root.find("errors"); it != root.end() && it->is_array() && !it->empty())
          why += detail::concat("; the results file records ", it->size(), " image(s) that infer could not run");
        if (const auto it = root.find("interrupted"); it != root.end() && it->is_object())
          why += "; infer was interrupted before the end of its run";
        const std::string msg =
            detail::concat(a.results, ": covers ", covered, " of the ", n_images, " images of ", a.annotations, "; ",
                           n_images - covered == 1
                               ? "the other image (" + missing + ") is left out of the evaluation with its ground truth"
                               : detail::concat("the other ", n_images - covered, " images (", missing,
                                                ") are left out of the evaluation with their ground truth"),
                           why);
        std::fprintf(stderr, "maskrt: error: %s\n", msg.c_str());
        errors.push_back({{"file", a.results}, {"error", msg}});
        gt = eval::subset_images(gt, r.image_ids);
      }
    } else {
      dets = eval::load_coco_results(root, a.results, gt);
    }
    // pycocotools' loadRes for segm evaluation needs a segmentation in every result (bbox evaluation
    // needs only boxes): with masks on some results only, box AP is computed and mask AP is not.
    const auto no_mask = std::find_if(dets.begin(), dets.end(), [](const eval::CocoDetection& d) {
      return d.segmentation.kind == eval::CocoSegmentation::Kind::kNone;
    });
    const size_t n_no_mask = std::count_if(dets.begin(), dets.end(), [](const eval::CocoDetection& d) {
      return d.segmentation.kind == eval::CocoSegmentation::Kind::kNone;
    });
    if (no_mask != dets.end() && n_no_mask < dets.size()) {
      segm_unavailable = true;
      const size_t at = static_cast<size_t>(no_mask - dets.begin());
      const std::string where = labels.empty() ? detail::concat("results[", at, "]") : labels[at];
      const std::string msg = detail::concat(
          a.results, ": ", where, " (image_id ", no_mask->image_id, ") has no 'segmentation' (",
          n_no_mask, " of ", dets.size(), " results lack one): mask (segm) AP cannot be computed, as pycocotools' "
          "loadRes needs a segmentation in every result; box AP only");
      std::fprintf(stderr, "maskrt: error: %s\n", msg.c_str());
      errors.push_back({{"file", a.results}, {"error", msg}});
    }
    validate_ground_truth(gt, no_mask == dets.end() && !dets.empty());
  } else {
    MASKRT_CHECK(!a.images.empty(), ErrorCode::kInvalidArgument, "eval: --images is required unless --results is given");
    std::error_code ec;
    MASKRT_CHECK(fs::is_directory(a.images, ec), ErrorCode::kIo, "--images ", a.images,
                 fs::exists(a.images, ec) ? ": is not a directory" : ": no such directory");
    for (size_t i = 0; i < gt.images.size(); ++i)
      MASKRT_CHECK(!gt.images[i].file_name.empty(), ErrorCode::kInvalidArgument, a.annotations, ": images[", i,
                   "] (id ", gt.images[i].id, "): no file_name (needed to find the image under --images)");
    // A wrong --images folder: stop before loading the model instead of one error per image.
    if (!gt.images.empty() &&
        std::none_of(gt.images.begin(), gt.images.end(), [&](const eval::CocoImageInfo& img) {
          return fs::exists(fs::path(a.images) / img.file_name, ec);
        }))
      MASKRT_FAIL(ErrorCode::kInvalidArgument, "--images ", a.images, ": none of the ", gt.images.size(),
                  " images of ", a.annotations, " is there (the first would be ",
                  (fs::path(a.images) / gt.images[0].file_name).string(), "): is it the annotations' image folder?");
    install_stop_handlers();  // from here on an interrupt keeps the finished images' detections (README)
    Engine engine(engine_options(a.model));
    MASKRT_CHECK(engine.info().num_classes == static_cast<int>(cat_ids.size()), ErrorCode::kInvalidArgument,
                 a.annotations, ": has ", cat_ids.size(), " categories but the model has MODEL.ROI_HEADS.NUM_CLASSES ",
                 engine.info().num_classes);
    validate_ground_truth(gt, engine.info().mask_on);
    warn_cpu_ignored_options(a.model, engine.info());
    model_info = {{"name", engine.info().model_name}, {"weights", engine.info().weights_path},
                  {"config_hash", engine.info().config_hash}, {"device", engine.info().device},
                  {"precision", engine.info().precision}};
    // Images whose file is missing or unreadable are reported and left out of the evaluation
    // (together with their ground truth), so AP covers exactly the images that were run.
    std::vector<int64_t> kept_images;
    // --batch images at a time (pipelined on CUDA); detections keep the annotation order.
    const size_t step = static_cast<size_t>(std::max(a.model.batch, 1));
    for (size_t first = 0; first < gt.images.size(); first += step) {
      if (stop_signal()) {
        not_run = gt.images.size() - first;
        break;
      }
      std::vector<const eval::CocoImageInfo*> infos;
      std::vector<Image> batch;
      for (size_t k = first; k < std::min(gt.images.size(), first + step); ++k) {
        const eval::CocoImageInfo& img = gt.images[k];
        const std::string path = (fs::path(a.images) / img.file_name).string();
        try {
          Image image = read_image(path);
          MASKRT_CHECK(image.height == img.height && image.width == img.width, ErrorCode::kBadImage, path, ": is ",
                       image.height, "x", image.width, " but the annotations say ", img.height, "x", img.width);
          batch.push_back(std::move(image));
          infos.push_back(&img);
        } catch (const Error& e) {
          report_image_error(errors, path, e.what());
        }
      }
      const std::vector<InferOutcome> outcomes = infer_images(engine, batch);
      for (size_t k = 0; k < batch.size(); ++k) {
        const eval::CocoImageInfo& img = *infos[k];
        if (!outcomes[k].ok) {
          report_image_error(errors, (fs::path(a.images) / img.file_name).string(), outcomes[k].error);
          continue;
        }
        for (const Instance& inst : outcomes[k].result.instances) {
          eval::CocoDetection d;
          d.image_id = img.id;
          d.category_id = cat_ids.at(inst.pred_class);
          d.score = inst.score;
          d.has_bbox = true;
          d.bbox = {inst.box[0], inst.box[1], inst.box[2] - inst.box[0], inst.box[3] - inst.box[1]};
          if (inst.has_mask) {
            d.segmentation.kind = eval::CocoSegmentation::Kind::kRle;
            d.segmentation.rle = inst.mask;
          }
          dets.push_back(std::move(d));
        }
        kept_images.push_back(img.id);
      }
    }
    covered = kept_images.size();
    if (covered != gt.images.size()) gt = eval::subset_images(gt, kept_images);
  }
  const int stopped = stop_signal();  // 0 unless model mode was interrupted
  const char* signal_name = stop_signal_name(stopped);
  if (stopped)
    std::fprintf(stderr, "maskrt: warning: stopped by %s after %zu of %zu images: the detections%s%s and the AP below "
                 "cover those images only\n", signal_name, n_images - not_run, n_images,
                 a.save_detections.empty() ? "" : " written to ", a.save_detections.c_str());
  // Model mode: the model's detections; infer's RESULTS.json: its instances as COCO results (image ids
  // and category ids of the annotation file). A COCO results file is not rewritten.
  if (!a.save_detections.empty() && !a.results.empty() && !from_infer) {
    std::fprintf(stderr, "maskrt: warning: --save-detections %s: not written: %s is already a COCO results file\n",
                 a.save_detections.c_str(), a.results.c_str());
  } else if (!a.save_detections.empty()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& d : dets) {
      nlohmann::json j = {{"image_id", d.image_id}, {"category_id", d.category_id}, {"score", d.score}};
      if (d.has_bbox) j["bbox"] = {d.bbox[0], d.bbox[1], d.bbox[2], d.bbox[3]};
      if (d.segmentation.kind == eval::CocoSegmentation::Kind::kRle)
        j["segmentation"] = {{"size", {d.segmentation.rle.height, d.segmentation.rle.width}},
                             {"counts", d.segmentation.rle.to_coco_string()}};
      out.push_back(std::move(j));
    }
    io::write_file_atomically(a.save_detections, out.dump() + "\n");  // all or nothing (io/atomic_write.h)
  }
  const bool have_masks = !segm_unavailable && std::any_of(dets.begin(), dets.end(), [](const eval::CocoDetection& d) {
    return d.segmentation.kind != eval::CocoSegmentation::Kind::kNone;
  });
  nlohmann::json doc;
  doc["annotations"] = a.annotations;
  doc["images_evaluated"] = covered;
  doc["images_in_annotations"] = n_images;
  doc["detections"] = dets.size();
  if (!model_info.is_null()) doc["model"] = model_info;
  if (stopped) doc["interrupted"] = {{"signal", signal_name}, {"images_not_run", not_run}};
  std::printf("images evaluated: %zu of %zu, detections: %zu%s\n", covered, n_images, dets.size(),
              covered == n_images ? ""
              : stopped   ? "  (PARTIAL: interrupted; AP below covers only the images run before the signal)"
              : from_infer ? "  (PARTIAL: AP below covers only the images that the results file covers)"
                           : "  (PARTIAL: AP below covers only the images that could be read)");
  for (eval::IouType t : {eval::IouType::kBbox, eval::IouType::kSegm}) {
    if (t == eval::IouType::kSegm && !have_masks) continue;
    eval::EvalResult r;
    try {
      r = eval::evaluate(gt, dets, t);
    } catch (const Error& e) {  // the ground truth was checked up front: with --results, name the results file
      if (a.results.empty()) throw;
      throw Error(e.code(), a.results + ": " + e.what());
    }
    std::printf("== %s ==\n%s\n", eval::iou_type_name(t), r.summary().c_str());
    doc[eval::iou_type_name(t)] = metrics_json(r, gt);
  }
  if (segm_unavailable) {
    std::printf("== segm ==\nnot computed: some results have no 'segmentation' (see the error above)\n");
    doc["segm"] = nullptr;
  }
  doc["errors"] = errors;
  if (!a.output.empty()) {
    // error_handler replace: a non-UTF-8 file name must not lose every result (U+FFFD instead);
    // all or nothing (io/atomic_write.h).
    io::write_file_atomically(a.output, doc.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
    std::printf("metrics: %s\n", a.output.c_str());
  }
  if (n_images == 0)  // README: no image at all is exit status 1, as for infer
    std::fprintf(stderr, "maskrt: warning: %s: has no image to evaluate (exit status 1)\n", a.annotations.c_str());
  if (stopped) return 128 + stopped;  // as a shell reports a process ended by that signal
  return errors.empty() && n_images > 0 ? 0 : 1;
}

}  // namespace maskrt::cli
