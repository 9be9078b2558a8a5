// `maskrt bench` and `maskrt eval` end to end on the embedded default model (what CI can run on a CPU).
#include <unistd.h>

#include <gtest/gtest.h>
#include <png.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/cli_run.h"

namespace fs = std::filesystem;

namespace {

using maskrt::testing::fresh_dir;
using maskrt::testing::run;
using maskrt::testing::slurp;

const fs::path kRepo = fs::path(MASKRT_TEST_DATA).parent_path();

TEST(CliBench, CpuJsonReportAndPlot) {
  const fs::path d = fresh_dir("maskrt_cli_bench");
  const int rc = run("bench --device cpu --threads 2 --warmup 1 --iterations 3 --sizes 240x320,120x160 --format json -o " +
                         (d / "r.json").string() + " --plot " + (d / "p.png").string(),
                     d / "log.txt");
  ASSERT_EQ(rc, 0) << slurp(d / "log.txt");
  std::ifstream is(d / "r.json");
  const auto j = nlohmann::json::parse(is);
  EXPECT_EQ(j["schema"], "maskrt.bench/2");
  // Options keep their JSON types: counts and times are numbers, names stay strings (schema 2).
  const auto& opt = j.at("metadata").at("options");
  EXPECT_EQ(opt.at("iterations").dump(), "3");
  EXPECT_FALSE(opt.contains("duration_s"));  // only recorded when --duration rules
  EXPECT_EQ(opt.at("warmup").dump(), "1");
  EXPECT_TRUE(opt.at("engine_load_ms").is_number_float()) << opt.at("engine_load_ms");
  EXPECT_EQ(opt.at("precision"), "fp32");
  EXPECT_EQ(opt.at("sizes"), "240x320,120x160");
  EXPECT_EQ(opt.at("cuda_streams"), "n/a (cpu)");
  ASSERT_EQ(j["runs"].size(), 2u);
  for (const auto& r : j["runs"]) {
    EXPECT_EQ(r["steady_ms"].size(), 3u);    // steady state: exactly --iterations samples
    EXPECT_EQ(r["warmup_ms"].size(), 1u);    // warm-up kept apart
    EXPECT_FALSE(r["first_call_ms"].is_null());
    EXPECT_GT(r["stats"]["median"].get<double>(), 0.0);
    EXPECT_GT(r["throughput_img_s"].get<double>(), 0.0);
    EXPECT_GT(r["stages"]["backbone"]["stats"]["median"].get<double>(), 0.0);
    // Counted cost (bench/flops.h) at the network input size, and the rates derived from it.
    const auto& c = r["cost"];
    EXPECT_EQ(c["net_height"].get<int>() % 32, 0);
    EXPECT_EQ(c["net_width"].get<int>() % 32, 0);
    EXPECT_GT(c["total"]["gflops"].get<double>(), 0.0);
    EXPECT_GT(c["stages"]["backbone"]["tflops"].get<double>(), 0.0);
    EXPECT_NEAR(c["tflops_at_median"].get<double>(),
                c["total"]["gflops"].get<double>() / r["stats"]["median"].get<double>(), 1e-9);
  }
  EXPECT_EQ(j["runs"][0]["image_height"], 240);
  EXPECT_EQ(j["runs"][1]["image_width"], 160);
  EXPECT_FALSE(j["metadata"]["config_hash"].get<std::string>().empty());
  // The plot is a valid PNG of the default size.
  FILE* f = std::fopen((d / "p.png").c_str(), "rb");
  ASSERT_NE(f, nullptr);
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  ASSERT_EQ(setjmp(png_jmpbuf(png)), 0);
  png_init_io(png, f);
  png_read_info(png, info);
  EXPECT_EQ(png_get_image_width(png, info), 800u);
  EXPECT_EQ(png_get_image_height(png, info), 500u);
  png_destroy_read_struct(&png, &info, nullptr);
  std::fclose(f);
}

TEST(CliEval, ShapesSampleAndResultsRoundTrip) {
  const fs::path d = fresh_dir("maskrt_cli_eval");
  const std::string ann = (kRepo / "samples" / "shapes" / "annotations" / "val.json").string();
  const std::string imgs = (kRepo / "samples" / "shapes" / "val").string();
  ASSERT_EQ(run("eval --device cpu --annotations " + ann + " --images " + imgs + " -o " + (d / "m.json").string() +
                    " --save-detections " + (d / "dets.json").string(),
                d / "log1.txt"),
            0)
      << slurp(d / "log1.txt");
  std::ifstream is(d / "m.json");
  const auto m = nlohmann::json::parse(is);
  EXPECT_EQ(m["images_evaluated"], 5);
  for (const char* t : {"bbox", "segm"}) {
    const double ap = m[t]["AP"].get<double>();
    EXPECT_GE(ap, 0.0);
    EXPECT_LE(ap, 1.0);
    EXPECT_EQ(m[t]["per_category_AP"].size(), 5u);
  }
  // Evaluating the saved detections as a results file gives the same numbers.
  ASSERT_EQ(run("eval --annotations " + ann + " --results " + (d / "dets.json").string() + " -o " +
                    (d / "m2.json").string(),
                d / "log2.txt"),
            0)
      << slurp(d / "log2.txt");
  std::ifstream is2(d / "m2.json");
  const auto m2 = nlohmann::json::parse(is2);
  for (const char* t : {"bbox", "segm"}) EXPECT_NEAR(m2[t]["AP"].get<double>(), m[t]["AP"].get<double>(), 1e-6);
}

TEST(CliEval, MissingImageIsReportedAndExcluded) {
  const fs::path d = fresh_dir("maskrt_cli_eval_missing");
  const fs::path src = kRepo / "samples" / "shapes" / "val";
  for (const auto& e : fs::directory_iterator(src))
    if (e.path().filename() != "000010.jpg") fs::copy_file(e.path(), d / e.path().filename());
  const std::string ann = (kRepo / "samples" / "shapes" / "annotations" / "val.json").string();
  const int rc = run("eval --device cpu --annotations " + ann + " --images " + d.string() + " -o " +
                         (d / "m.json").string(),
                     d / "log.txt");
  EXPECT_EQ(rc, 1) << "a missing image makes the exit status non-zero";
  std::ifstream is(d / "m.json");
  const auto m = nlohmann::json::parse(is);
  EXPECT_EQ(m["images_evaluated"], 4);
  EXPECT_EQ(m["images_in_annotations"], 5);
  ASSERT_EQ(m["errors"].size(), 1u);
  EXPECT_NE(m["errors"][0]["error"].get<std::string>().find("000010.jpg"), std::string::npos);
}

// --images naming a folder without any of the annotations' images (here samples/images, the demo's
// folder, for samples/shapes' annotations): one error naming the folder and the first expected file,
// usage exit status 2, no metrics file, and no per-image error flood.
TEST(CliEval, WrongImagesFolderIsOneClearError) {
  const fs::path d = fresh_dir("maskrt_cli_eval_wrong_dir");
  const std::string ann = (kRepo / "samples" / "shapes" / "annotations" / "val.json").string();
  const std::string dir = (kRepo / "samples" / "images").string();
  const int rc = run("eval --device cpu --annotations " + ann + " --images " + dir + " -o " + (d / "m.json").string(),
                     d / "log.txt");
  EXPECT_EQ(rc, 2);
  const std::string log = slurp(d / "log.txt");
  EXPECT_NE(log.find("none of the 5 images"), std::string::npos) << log;
  EXPECT_NE(log.find(dir), std::string::npos) << log;
  EXPECT_EQ(log.find("cannot open"), std::string::npos) << "no per-image errors: " << log;
  EXPECT_FALSE(fs::exists(d / "m.json"));
}

// --images beside --results is not used (no model runs): said in a warning, not silently dropped.
TEST(CliEval, ImagesWithResultsIsAWarning) {
  const fs::path d = fresh_dir("maskrt_cli_eval_images_with_results");
  std::ofstream(d / "dets.json") << "[]";
  const std::string ann = (kRepo / "samples" / "shapes" / "annotations" / "val.json").string();
  run("eval --annotations " + ann + " --results " + (d / "dets.json").string() + " --images " + d.string(),
      d / "log.txt");
  const std::string log = slurp(d / "log.txt");
  EXPECT_NE(log.find("is not used with --results"), std::string::npos) << log;
}

TEST(CliEval, ClassCountMismatchNamesBothSides) {
  const fs::path d = fresh_dir("maskrt_cli_eval_classes");
  nlohmann::json ann = {{"images", nlohmann::json::array()},
                        {"annotations", nlohmann::json::array()},
                        {"categories", {{{"id", 1}, {"name", "a"}}, {{"id", 2}, {"name", "b"}}}}};
  std::ofstream(d / "ann.json") << ann.dump();
  const int rc = run("eval --device cpu --annotations " + (d / "ann.json").string() + " --images " + d.string(),
                     d / "log.txt");
  EXPECT_EQ(rc, 2);
  const std::string log = slurp(d / "log.txt");
  EXPECT_NE(log.find("2 categories"), std::string::npos) << log;
  EXPECT_NE(log.find("NUM_CLASSES 5"), std::string::npos) << log;
}

TEST(CliInfer, ClassNamesLabelResultsAndMustMatchTheModel) {
  const fs::path d = fresh_dir("maskrt_cli_names");
  const std::string img = (kRepo / "samples" / "images" / "000034.jpg").string();
  // The default model's classes.txt is used when no --config is given.
  ASSERT_EQ(run("infer --device cpu -o " + (d / "r.json").string() + " " + img, d / "log1.txt"), 0) << slurp(d / "log1.txt");
  std::ifstream is(d / "r.json");
  const auto j = nlohmann::json::parse(is);
  const std::vector<std::string> names{"circle", "rectangle", "triangle", "star", "ring"};  // models/default/MODEL_CARD.md
  ASSERT_FALSE(j["images"][0]["instances"].empty());
  EXPECT_TRUE(j["model"]["libraries"].is_null()) << j["model"];  // CUDA library versions: n/a on the CPU
  for (const auto& inst : j["images"][0]["instances"])
    EXPECT_EQ(inst["category_name"], names.at(inst["category_id"].get<int>()));
  std::ofstream(d / "two.txt") << "a\nb\n";
  EXPECT_EQ(run("infer --device cpu --class-names " + (d / "two.txt").string() + " -o " + (d / "r2.json").string() + " " + img,
                d / "log2.txt"),
            2);
  EXPECT_NE(slurp(d / "log2.txt").find("2 names but the model has 5 classes"), std::string::npos) << slurp(d / "log2.txt");
}

// --batch N runs N images per engine call: same results in the same order as --batch 1, and an image
// that cannot be decoded is reported alone while the rest of its batch is kept.
TEST(CliInfer, BatchKeepsOrderResultsAndPerImageErrors) {
  const fs::path d = fresh_dir("maskrt_cli_batch");
  fs::create_directories(d / "in");
  fs::copy_file(kRepo / "samples" / "images" / "000034.jpg", d / "in" / "a.jpg");
  std::ofstream(d / "in" / "b.jpg") << "not a jpeg";
  fs::copy_file(kRepo / "samples" / "images" / "000016.jpg", d / "in" / "c.jpg");
  for (const char* b : {"1", "3"})
    ASSERT_EQ(run(std::string("infer --device cpu --threads 2 --batch ") + b + " -o " + (d / (std::string("r") + b + ".json")).string() +
                      " " + (d / "in").string(),
                  d / "log.txt"),
              1)
        << slurp(d / "log.txt");  // exit 1: one image failed, the others were written
  std::ifstream i1(d / "r1.json"), i3(d / "r3.json");
  const auto j1 = nlohmann::json::parse(i1), j3 = nlohmann::json::parse(i3);
  ASSERT_EQ(j3["images"].size(), 2u);
  EXPECT_EQ(j3["images"][0]["file"], (d / "in" / "a.jpg").string());
  EXPECT_EQ(j3["images"][1]["file"], (d / "in" / "c.jpg").string());
  ASSERT_EQ(j3["errors"].size(), 1u);
  EXPECT_EQ(j3["errors"][0]["file"], (d / "in" / "b.jpg").string());
  for (size_t k = 0; k < 2; ++k) EXPECT_EQ(j1["images"][k]["instances"], j3["images"][k]["instances"]) << k;
  EXPECT_FALSE(j3["images"][0]["instances"].empty());
}

TEST(CliUsage, BadOutputsAndRangesAreRefusedBeforeAnyWork) {
  const fs::path d = fresh_dir("maskrt_cli_usage");
  std::ofstream(d / "a_file") << "x";
  const std::string img = (kRepo / "samples" / "images" / "000016.jpg").string();
  // --visualize into an existing file: a clean error naming the option and the path (no abort).
  EXPECT_EQ(run("infer --device cpu -o " + (d / "r.json").string() + " --visualize " + (d / "a_file").string() + " " + img,
                d / "log1.txt"),
            2);
  EXPECT_NE(slurp(d / "log1.txt").find("--visualize"), std::string::npos) << slurp(d / "log1.txt");
  EXPECT_EQ(slurp(d / "log1.txt").find("instances"), std::string::npos) << "no image may run first";
  // --output in a folder that does not exist: refused before the model is loaded.
  EXPECT_EQ(run("infer --device cpu -o " + (d / "no" / "such" / "r.json").string() + " " + img, d / "log2.txt"), 2);
  EXPECT_NE(slurp(d / "log2.txt").find("cannot open for writing"), std::string::npos) << slurp(d / "log2.txt");
  EXPECT_EQ(slurp(d / "log2.txt").find("loaded in"), std::string::npos) << "the model must not be loaded first";
  // Ranges: zero iterations and absurd thread counts are usage errors, not zero-valued reports or crashes.
  EXPECT_EQ(run("bench --device cpu --iterations 0", d / "log3.txt"), 2);
  EXPECT_EQ(run("bench --device cpu --sizes 480x640x3", d / "log3b.txt"), 2);  // nothing may follow WIDTH
  EXPECT_NE(slurp(d / "log3b.txt").find("'480x640x3' is not HEIGHTxWIDTH"), std::string::npos) << slurp(d / "log3b.txt");
  EXPECT_EQ(run("infer --device cpu --threads 100000 -o " + (d / "r.json").string() + " " + img, d / "log4.txt"), 2);
  EXPECT_EQ(run("infer --device cpu --threads -1 -o " + (d / "r.json").string() + " " + img, d / "log5.txt"), 2);
  // --prepare-sizes: a malformed size is a usage error naming the option; good sizes are planned.
  EXPECT_EQ(run("infer --device cpu --prepare-sizes 100x120,3x -o " + (d / "r.json").string() + " " + img, d / "log7.txt"), 2);
  EXPECT_NE(slurp(d / "log7.txt").find("--prepare-sizes: '3x' is not HEIGHTxWIDTH"), std::string::npos)
      << slurp(d / "log7.txt");
  EXPECT_EQ(run("infer --device cpu --prepare-sizes 100x120 -o " + (d / "r.json").string() + " " + img, d / "log8.txt"), 0)
      << slurp(d / "log8.txt");
  // Two inputs with the same file stem get two pictures.
  fs::create_directories(d / "x");
  fs::copy_file(img, d / "x" / "000016.jpg");
  ASSERT_EQ(run("infer --device cpu -o " + (d / "r.json").string() + " --visualize " + (d / "pics").string() + " " + img +
                    " " + (d / "x" / "000016.jpg").string(),
                d / "log6.txt"),
            0)
      << slurp(d / "log6.txt");
  EXPECT_TRUE(fs::exists(d / "pics" / "000016.png"));
  EXPECT_TRUE(fs::exists(d / "pics" / "000016_1.png"));
  // RESULTS.json says which picture belongs to which input.
  std::ifstream is(d / "r.json");
  const nlohmann::json r = nlohmann::json::parse(is);
  ASSERT_EQ(r["images"].size(), 2u);
  EXPECT_EQ(r["images"][0]["picture"], (d / "pics" / "000016.png").string());
  EXPECT_EQ(r["images"][1]["picture"], (d / "pics" / "000016_1.png").string());
  EXPECT_EQ(r["images"][1]["file"], (d / "x" / "000016.jpg").string());
}

nlohmann::json read_json(const fs::path& p) {
  std::ifstream is(p);
  return nlohmann::json::parse(is);
}

// Detectron2's list syntax in --opts: a "[a, b, c]" word is one value (a Python list literal), equal to
// the tuple form, for every command that builds a model (the same option is shared by infer/eval/bench).
TEST(CliOpts, BracketListValuesWorkLikeTuples) {
  const fs::path d = fresh_dir("maskrt_cli_opts_list");
  const std::string img = (kRepo / "samples" / "images" / "000016.jpg").string();
  auto infer_hash = [&](const std::string& opts, const std::string& tag) {
    const int rc = run("infer --device cpu -o " + (d / (tag + ".json")).string() + " " + img + " " + opts, d / (tag + ".log"));
    EXPECT_EQ(rc, 0) << slurp(d / (tag + ".log"));
    return rc == 0 ? read_json(d / (tag + ".json"))["model"]["config_hash"].get<std::string>() : std::string("failed");
  };
  const std::string list = infer_hash("--opts MODEL.PIXEL_MEAN \"[100.5, 110.5, 120.5]\"", "list");
  const std::string tuple = infer_hash("--opts MODEL.PIXEL_MEAN \"(100.5, 110.5, 120.5)\"", "tuple");
  const std::string plain = infer_hash("", "plain");
  EXPECT_EQ(list, tuple);
  EXPECT_NE(list, plain) << "the override must change the config";
  // Several list values and other pairs after them.
  EXPECT_NE(infer_hash("--opts MODEL.PIXEL_STD \"[1.0, 2.0, 3.0]\" MODEL.PIXEL_MEAN \"[100.5, 110.5, 120.5]\" "
                       "MODEL.ROI_HEADS.SCORE_THRESH_TEST 0.5",
                       "two"),
            "failed");
  ASSERT_EQ(run("bench --device cpu --warmup 1 --iterations 1 --sizes 64x96 --format json -o " + (d / "b.json").string() +
                    " --opts MODEL.PIXEL_MEAN \"[100.5, 110.5, 120.5]\"",
                d / "bench.log"),
            0)
      << slurp(d / "bench.log");
  EXPECT_EQ(read_json(d / "b.json")["metadata"]["config_hash"], list);
}

// Annotation-file and --images problems stop `eval` before any image is read (exit 2, named).
TEST(CliEval, AnnotationProblemsAreFoundBeforeAnyImageIsRead) {
  const fs::path d = fresh_dir("maskrt_cli_eval_validate");
  const fs::path ann_path = kRepo / "samples" / "shapes" / "annotations" / "val.json";
  const std::string imgs = (kRepo / "samples" / "shapes" / "val").string();
  const nlohmann::json ann = read_json(ann_path);
  auto expect_refused = [&](const nlohmann::json& bad, const std::string& images, const std::string& tag,
                            const std::vector<std::string>& needles) {
    std::ofstream(d / (tag + ".json")) << bad.dump();
    const int rc = run("eval --device cpu --annotations " + (d / (tag + ".json")).string() + " --images " + images,
                       d / (tag + ".log"));
    const std::string log = slurp(d / (tag + ".log"));
    EXPECT_EQ(rc, 2) << tag << ": " << log;
    for (const auto& n : needles) EXPECT_NE(log.find(n), std::string::npos) << tag << ": wants '" << n << "' in " << log;
    EXPECT_EQ(log.find("images evaluated"), std::string::npos) << tag << ": inference ran first: " << log;
  };
  nlohmann::json no_name = ann;
  no_name["images"][0].erase("file_name");
  expect_refused(no_name, imgs, "no_name",
                 {"images[0] (id " + std::to_string(ann["images"][0]["id"].get<int>()) + "): no file_name"});
  nlohmann::json no_bbox = ann;
  no_bbox["annotations"][3].erase("bbox");
  expect_refused(no_bbox, imgs, "no_bbox",
                 {"annotations[3] (id " + std::to_string(ann["annotations"][3]["id"].get<int>()) + "): has no 'bbox'"});
  nlohmann::json no_segm = ann;
  no_segm["annotations"][5].erase("segmentation");
  expect_refused(no_segm, imgs, "no_segm",
                 {"annotations[5] (id " + std::to_string(ann["annotations"][5]["id"].get<int>()) + "): has no 'segmentation'"});
  const std::string missing_dir = (d / "no_such_images").string();
  expect_refused(ann, missing_dir, "no_dir", {"--images " + missing_dir + ": no such directory"});
}

// A results file where only some results carry a mask: box AP is computed (pycocotools' loadRes needs
// only boxes for bbox), mask AP is reported as not computable, naming the file, before any metric.
TEST(CliEval, ResultsWithoutSomeMasksGiveBoxApOnly) {
  const fs::path d = fresh_dir("maskrt_cli_eval_nomask");
  const std::string ann = (kRepo / "samples" / "shapes" / "annotations" / "val.json").string();
  nlohmann::json res = nlohmann::json::array();  // the ground truth itself as results: box AP is exactly 1
  const nlohmann::json gt = read_json(ann);
  for (const auto& a : gt["annotations"])
    res.push_back({{"image_id", a["image_id"]}, {"category_id", a["category_id"]}, {"score", 0.9},
                   {"bbox", a["bbox"]}, {"segmentation", a["segmentation"]}});
  res[2].erase("segmentation");
  const fs::path rpath = d / "partial.json";
  std::ofstream(rpath) << res.dump();
  const int rc = run("eval --annotations " + ann + " --results " + rpath.string() + " -o " + (d / "m.json").string(),
                     d / "log.txt");
  const std::string log = slurp(d / "log.txt");
  EXPECT_EQ(rc, 1) << log;
  const size_t err = log.find(rpath.string() + ": results[2]");
  ASSERT_NE(err, std::string::npos) << log;
  EXPECT_NE(log.find("mask (segm) AP cannot be computed"), std::string::npos) << log;
  EXPECT_LT(err, log.find("== bbox ==")) << "reported before the metrics: " << log;
  const auto m = read_json(d / "m.json");
  EXPECT_DOUBLE_EQ(m["bbox"]["AP"].get<double>(), 1.0);
  EXPECT_TRUE(m["segm"].is_null());
  ASSERT_EQ(m["errors"].size(), 1u);
  EXPECT_EQ(m["errors"][0]["file"], rpath.string());
  EXPECT_EQ(m["images_in_annotations"], 5);
  // Boxes only (no result has a mask): a box-AP evaluation, not an error.
  for (auto& r : res) r.erase("segmentation");
  std::ofstream(d / "boxes.json") << res.dump();
  EXPECT_EQ(run("eval --annotations " + ann + " --results " + (d / "boxes.json").string() + " -o " + (d / "m2.json").string(),
                d / "log2.txt"),
            0)
      << slurp(d / "log2.txt");
  EXPECT_DOUBLE_EQ(read_json(d / "m2.json")["bbox"]["AP"].get<double>(), 1.0);
}

// A directory with no image file: a warning naming it, an (empty) RESULTS.json, exit status 1.
TEST(CliInfer, DirectoryWithoutImagesWarnsAndExitsOne) {
  const fs::path d = fresh_dir("maskrt_cli_empty_dir");
  fs::create_directories(d / "empty");
  fs::create_directories(d / "text_only" / "sub");
  std::ofstream(d / "text_only" / "notes.txt") << "not an image";
  fs::copy_file(kRepo / "samples" / "images" / "000016.jpg", d / "text_only" / "sub" / "a.jpg");  // not searched
  for (const char* sub : {"empty", "text_only"}) {
    const fs::path dir = d / sub;
    const int rc = run("infer --device cpu -o " + (d / "r.json").string() + " " + dir.string(), d / "log.txt");
    const std::string log = slurp(d / "log.txt");
    EXPECT_EQ(rc, 1) << sub << ": " << log;
    EXPECT_NE(log.find("warning: " + dir.string() + ": no .jpg/.jpeg/.png file"), std::string::npos) << log;
    EXPECT_TRUE(read_json(d / "r.json")["images"].empty());
  }
}

// `eval --results` with the RESULTS.json of `maskrt infer`. The oracle is model mode: `infer` and then
// `eval --results` run the same model on the same files as `eval --images`, so the two paths must give
// the same detections (converted to the dataset's image and category ids) and the same metrics.
class CliEvalInferResults : public ::testing::Test {
 protected:
  // One folder per test process: ctest runs this suite's tests as parallel processes, each with its
  // own SetUpTestSuite (a shared folder was wiped by the other process in a CI run).
  static fs::path dir() { return fs::temp_directory_path() / ("maskrt_cli_eval_infer_" + std::to_string(::getpid())); }
  static std::string ann() { return (kRepo / "samples" / "shapes" / "annotations" / "val.json").string(); }
  static std::string imgs() { return (kRepo / "samples" / "shapes" / "val").string(); }
  static void SetUpTestSuite() {
    fresh_dir(dir().filename().string());
    infer_rc_ = run("infer --device cpu -o " + (dir() / "r.json").string() + " " + imgs(), dir() / "infer.log");
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(dir(), ec);
  }
  void SetUp() override { ASSERT_EQ(infer_rc_, 0) << slurp(dir() / "infer.log"); }
  static int infer_rc_;
};
int CliEvalInferResults::infer_rc_ = -1;

TEST_F(CliEvalInferResults, SameDetectionsAndMetricsAsModelMode) {
  const fs::path d = dir();
  ASSERT_EQ(run("eval --device cpu --annotations " + ann() + " --images " + imgs() + " -o " + (d / "m1.json").string() +
                    " --save-detections " + (d / "dets1.json").string(),
                d / "m1.log"),
            0)
      << slurp(d / "m1.log");
  ASSERT_EQ(run("eval --annotations " + ann() + " --results " + (d / "r.json").string() + " -o " + (d / "m2.json").string() +
                    " --save-detections " + (d / "dets2.json").string(),
                d / "m2.log"),
            0)
      << slurp(d / "m2.log");
  const auto m1 = read_json(d / "m1.json");
  const auto m2 = read_json(d / "m2.json");
  EXPECT_EQ(m2["images_evaluated"], 5);
  EXPECT_EQ(m2["images_in_annotations"], 5);
  EXPECT_TRUE(m2["errors"].empty()) << m2["errors"];
  EXPECT_EQ(m2["detections"], m1["detections"]);
  ASSERT_GT(m1["detections"].get<int>(), 0);
  for (const char* t : {"bbox", "segm"}) {
    ASSERT_TRUE(m1[t].is_object()) << t;
    EXPECT_EQ(m2[t], m1[t]) << t << ": every AP/AR entry and per-category AP must be equal";
  }
  // The detections themselves: infer's instances, converted, equal model mode's COCO results.
  EXPECT_EQ(read_json(d / "dets2.json"), read_json(d / "dets1.json"));
}

// Results for 3 of the 5 annotation images: PARTIAL, exit 1, and the metrics of model mode on an
// annotation file holding only those 3 images.
TEST_F(CliEvalInferResults, PartialCoverageEqualsModelModeOnThoseImages) {
  const fs::path d = dir();
  nlohmann::json r = read_json(d / "r.json");
  const std::vector<std::string> dropped{"000010.jpg", "000060.jpg"};
  nlohmann::json kept_images = nlohmann::json::array();
  for (const auto& im : r["images"])
    if (std::find(dropped.begin(), dropped.end(), fs::path(im["file"].get<std::string>()).filename().string()) ==
        dropped.end())
      kept_images.push_back(im);
  ASSERT_EQ(kept_images.size(), 3u);
  r["images"] = kept_images;
  const fs::path part = d / "r_part.json";
  std::ofstream(part) << r.dump();
  const int rc = run("eval --annotations " + ann() + " --results " + part.string() + " -o " + (d / "m3.json").string(),
                     d / "m3.log");
  const std::string log = slurp(d / "m3.log");
  EXPECT_EQ(rc, 1) << log;
  EXPECT_NE(log.find("images evaluated: 3 of 5"), std::string::npos) << log;
  EXPECT_NE(log.find("PARTIAL"), std::string::npos) << log;
  const auto m3 = read_json(d / "m3.json");
  EXPECT_EQ(m3["images_evaluated"], 3);
  EXPECT_EQ(m3["images_in_annotations"], 5);
  ASSERT_EQ(m3["errors"].size(), 1u);
  EXPECT_EQ(m3["errors"][0]["file"], part.string());
  const std::string err = m3["errors"][0]["error"].get<std::string>();
  for (const auto& f : dropped) EXPECT_NE(err.find(f), std::string::npos) << err;

  // Oracle: model mode on an annotation file with only the 3 covered images (and their annotations).
  nlohmann::json sub = read_json(ann());
  nlohmann::json sub_images = nlohmann::json::array(), sub_anns = nlohmann::json::array();
  std::vector<int64_t> ids;
  for (const auto& im : sub["images"])
    if (std::find(dropped.begin(), dropped.end(), im["file_name"].get<std::string>()) == dropped.end()) {
      sub_images.push_back(im);
      ids.push_back(im["id"].get<int64_t>());
    }
  for (const auto& a : sub["annotations"])
    if (std::find(ids.begin(), ids.end(), a["image_id"].get<int64_t>()) != ids.end()) sub_anns.push_back(a);
  sub["images"] = sub_images;
  sub["annotations"] = sub_anns;
  std::ofstream(d / "ann_sub.json") << sub.dump();
  ASSERT_EQ(run("eval --device cpu --annotations " + (d / "ann_sub.json").string() + " --images " + imgs() + " -o " +
                    (d / "m4.json").string(),
                d / "m4.log"),
            0)
      << slurp(d / "m4.log");
  const auto m4 = read_json(d / "m4.json");
  EXPECT_EQ(m4["images_evaluated"], 3);
  for (const char* t : {"bbox", "segm"}) {
    ASSERT_TRUE(m4[t].is_object()) << t;
    EXPECT_EQ(m3[t], m4[t]) << t;
  }
}

// A hand-made RESULTS.json (no model): category ids out of order in the dataset (7, 3) check the class
// mapping (class k -> k-th id ascending: 0 -> 3, 1 -> 7; the ground truth as results gives box AP
// exactly 1 only when it is right), then each way a file can fail to match is named.
TEST(CliEval, InferResultsMatchingAndErrors) {
  const fs::path d = fresh_dir("maskrt_cli_eval_infer_errors");
  const nlohmann::json ann = {
      {"images", {{{"id", 1}, {"file_name", "sub/x.png"}, {"height", 20}, {"width", 30}},
                  {{"id", 2}, {"file_name", "y.png"}, {"height", 20}, {"width", 30}}}},
      {"categories", {{{"id", 7}, {"name", "b"}}, {{"id", 3}, {"name", "a"}}}},
      {"annotations", {{{"id", 1}, {"image_id", 1}, {"category_id", 3}, {"bbox", {2, 3, 10, 8}}, {"area", 80}, {"iscrowd", 0}},
                       {{"id", 2}, {"image_id", 2}, {"category_id", 7}, {"bbox", {5, 5, 6, 6}}, {"area", 36}, {"iscrowd", 0}}}}};
  std::ofstream(d / "ann.json") << ann.dump();
  const nlohmann::json good = {
      {"maskrt", {{"version", "test"}}},
      {"model", {{"name", "hand-made"}, {"num_classes", 2}}},
      {"images",
       {{{"file", "/elsewhere/x.png"}, {"height", 20}, {"width", 30},
         {"instances", {{{"bbox", {2, 3, 10, 8}}, {"score", 0.9}, {"category_id", 0}, {"category_name", "a"}}}}},
        {{"file", "y.png"}, {"height", 20}, {"width", 30},
         {"instances", {{{"bbox", {5, 5, 6, 6}}, {"score", 0.8}, {"category_id", 1}}}}}}},
      {"errors", nlohmann::json::array()}};
  const fs::path rpath = d / "r.json";
  auto eval_with = [&](const nlohmann::json& r, const std::string& tag, std::string* log) {
    std::ofstream(rpath) << r.dump();
    const int rc = run("eval --annotations " + (d / "ann.json").string() + " --results " + rpath.string() + " -o " +
                           (d / (tag + ".json")).string(),
                       d / (tag + ".log"));
    *log = slurp(d / (tag + ".log"));
    return rc;
  };
  std::string log;
  ASSERT_EQ(eval_with(good, "good", &log), 0) << log;
  const auto m = read_json(d / "good.json");
  EXPECT_DOUBLE_EQ(m["bbox"]["AP"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(m["bbox"]["per_category_AP"]["a"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(m["bbox"]["per_category_AP"]["b"].get<double>(), 1.0);
  EXPECT_FALSE(m.contains("segm")) << "no masks: box AP only";
  EXPECT_EQ(m["model"]["name"], "hand-made");

  // A file that matches no annotation image: a per-image error naming it, the rest evaluated.
  nlohmann::json unknown = good;
  unknown["images"].push_back({{"file", "dir/z.png"}, {"height", 20}, {"width", 30},
                               {"instances", {{{"bbox", {1, 1, 4, 4}}, {"score", 0.7}, {"category_id", 0}}}}});
  EXPECT_EQ(eval_with(unknown, "unknown", &log), 1) << log;
  EXPECT_NE(log.find(rpath.string() + ": images[2] (file dir/z.png): no image of"), std::string::npos) << log;
  auto mu = read_json(d / "unknown.json");
  ASSERT_EQ(mu["errors"].size(), 1u);
  EXPECT_EQ(mu["errors"][0]["file"], "dir/z.png");
  EXPECT_EQ(mu["images_evaluated"], 2);
  EXPECT_DOUBLE_EQ(mu["bbox"]["AP"].get<double>(), 1.0);

  // Height/width that differ from the annotation: a per-image error; that image is left out (PARTIAL).
  nlohmann::json size = good;
  size["images"][1]["height"] = 21;
  EXPECT_EQ(eval_with(size, "size", &log), 1) << log;
  EXPECT_NE(log.find("images[1] (file y.png): is 21x30 but"), std::string::npos) << log;
  EXPECT_NE(log.find("images evaluated: 1 of 2"), std::string::npos) << log;
  EXPECT_NE(log.find("PARTIAL"), std::string::npos) << log;
  EXPECT_EQ(read_json(d / "size.json")["images_evaluated"], 1);

  // Two annotation images with the same basename: which one is meant cannot be told.
  nlohmann::json ann2 = ann;
  ann2["images"][1]["file_name"] = "other/x.png";
  std::ofstream(d / "ann2.json") << ann2.dump();
  std::ofstream(rpath) << good.dump();
  EXPECT_EQ(run("eval --annotations " + (d / "ann2.json").string() + " --results " + rpath.string(), d / "amb.log"), 1);
  log = slurp(d / "amb.log");
  EXPECT_NE(log.find("images[0] (file /elsewhere/x.png): the file name 'x.png' belongs to 2 images"), std::string::npos)
      << log;

  // A category_id outside the dataset's categories: refused, naming the file, the image and the value.
  nlohmann::json bad_cat = good;
  bad_cat["images"][1]["instances"][0]["category_id"] = 2;
  EXPECT_EQ(eval_with(bad_cat, "bad_cat", &log), 2) << log;
  EXPECT_NE(log.find(rpath.string() + ": images[1] (file y.png): instances[0]: category_id 2 is out of range"),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("images evaluated"), std::string::npos) << log;

  // The model's class count (infer records it) must be the dataset's category count, as in model mode.
  nlohmann::json classes = good;
  classes["model"]["num_classes"] = 5;
  EXPECT_EQ(eval_with(classes, "classes", &log), 2) << log;
  EXPECT_NE(log.find("num_classes 5 but " + (d / "ann.json").string() + " has 2 categories"), std::string::npos) << log;

  // Validation messages of the COCO loader name the RESULTS.json element.
  nlohmann::json no_score = good;
  no_score["images"][0]["instances"][0].erase("score");
  EXPECT_EQ(eval_with(no_score, "no_score", &log), 2) << log;
  EXPECT_NE(log.find(rpath.string() + ": images[0] (file /elsewhere/x.png): instances[0]: missing key 'score'"),
            std::string::npos)
      << log;

  // Any other object is still refused, and the message names both accepted forms.
  EXPECT_EQ(eval_with(ann, "not_results", &log), 2) << log;
  EXPECT_NE(log.find("must be a JSON array"), std::string::npos) << log;
  EXPECT_NE(log.find("RESULTS.json of maskrt infer"), std::string::npos) << log;
}

}  // namespace
