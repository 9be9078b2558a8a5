// `maskrt` command line under malformed options and unusable outputs (found by trying the CLI as a new
// user): each case must end with the README's exit status (2 usage error / unwritable output, 1 no
// image) and a message naming the option or file, before any image is run where the README says so.
// The oracle is the README's "Using it" rules, not the program's own output.
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
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
const std::string kImage = (kRepo / "samples" / "images" / "000016.jpg").string();

void expect_log_has(const fs::path& log, const std::string& needle) {
  const std::string text = slurp(log);
  EXPECT_NE(text.find(needle), std::string::npos) << "wants '" << needle << "' in:\n" << text;
}

// Sizes: a trailing comma was silently dropped (",48x64" was refused); a zero or oversized side is
// named as such rather than as "not HEIGHTxWIDTH".
TEST(CliRobustness, SizeListsRefuseTrailingCommaAndNameTheRange) {
  const fs::path d = fresh_dir("maskrt_cli_robust_sizes");
  EXPECT_EQ(run("bench --device cpu --warmup 0 --iterations 1 --sizes 48x64,", d / "a.log"), 2);
  expect_log_has(d / "a.log", "--sizes: '48x64,' ends with a comma");
  EXPECT_EQ(run("infer --device cpu --prepare-sizes 48x64, -o " + (d / "r.json").string() + " " + kImage, d / "b.log"), 2);
  expect_log_has(d / "b.log", "--prepare-sizes: '48x64,' ends with a comma");
  EXPECT_EQ(run("bench --device cpu --warmup 0 --iterations 1 --sizes 0x64", d / "c.log"), 2);
  expect_log_has(d / "c.log", "--sizes: '0x64': height and width must be 1 to 16384 pixels");
  EXPECT_EQ(run("bench --device cpu --warmup 0 --iterations 1 --sizes 48x16385", d / "d.log"), 2);
  expect_log_has(d / "d.log", "'48x16385': height and width must be 1 to 16384 pixels");
  EXPECT_EQ(run("bench --device cpu --warmup 0 --iterations 1 --sizes 48x", d / "e.log"), 2);
  expect_log_has(d / "e.log", "--sizes: '48x' is not HEIGHTxWIDTH");
}

// A bare --opts used to report "odd number of values (1): ''; ... the last key '' has no value".
TEST(CliRobustness, BareOptsSaysNoPairWasGiven) {
  const fs::path d = fresh_dir("maskrt_cli_robust_opts");
  EXPECT_EQ(run("infer --device cpu -o " + (d / "r.json").string() + " " + kImage + " --opts", d / "a.log"), 2);
  expect_log_has(d / "a.log", "--opts: no KEY VALUE pair given");
}

// bench --streams: 0 printed "not in range 0.000000 to 1.79e308"; any count was accepted, and a thread
// that could not be started ended in std::terminate. Now 1..1024, a usage error outside.
TEST(CliRobustness, BenchStreamsIsBounded) {
  const fs::path d = fresh_dir("maskrt_cli_robust_streams");
  EXPECT_EQ(run("bench --device cpu --warmup 0 --iterations 1 --sizes 48x64 --streams 0", d / "a.log"), 2);
  expect_log_has(d / "a.log", "--streams: Value 0 not in range 1 to 1024");
  EXPECT_EQ(run("bench --device cpu --warmup 0 --iterations 1 --sizes 48x64 --streams 100000", d / "b.log"), 2);
  expect_log_has(d / "b.log", "--streams");
}

// The writability probe of --output must not leave an empty RESULTS.json / METRICS.json behind when
// the run then stops (here: an unknown config key, exit 2).
TEST(CliRobustness, FailedRunLeavesNoEmptyOutputFile) {
  const fs::path d = fresh_dir("maskrt_cli_robust_probe");
  EXPECT_EQ(run("infer --device cpu -o " + (d / "r.json").string() + " " + kImage + " --opts FOO.BAR 1", d / "a.log"), 2);
  expect_log_has(d / "a.log", "Non-existent config key: FOO.BAR");
  EXPECT_FALSE(fs::exists(d / "r.json"));
  const std::string ann = (kRepo / "samples" / "shapes" / "annotations" / "val.json").string();
  EXPECT_EQ(run("eval --device cpu --annotations " + ann + " --images " + (kRepo / "samples" / "shapes" / "val").string() +
                    " -o " + (d / "m.json").string() + " --save-detections " + (d / "dets.json").string() +
                    " --opts FOO.BAR 1",
                d / "b.log"),
            2);
  EXPECT_FALSE(fs::exists(d / "m.json"));
  EXPECT_FALSE(fs::exists(d / "dets.json"));
  // An existing file is left as it was.
  std::ofstream(d / "keep.json") << "old";
  EXPECT_EQ(run("infer --device cpu -o " + (d / "keep.json").string() + " " + kImage + " --opts FOO.BAR 1", d / "c.log"), 2);
  EXPECT_EQ(slurp(d / "keep.json"), "old");
}

// --visualize into an existing folder that cannot be written (/proc refuses new files even for root):
// an unwritable output is exit 2 before any image runs (it was exit 1 with one error per image).
TEST(CliRobustness, VisualizeIntoUnwritableFolderIsRefusedUpFront) {
  const fs::path d = fresh_dir("maskrt_cli_robust_vis");
  ASSERT_TRUE(fs::is_directory("/proc"));
  EXPECT_EQ(run("infer --device cpu -o " + (d / "r.json").string() + " --visualize /proc " + kImage, d / "a.log"), 2);
  expect_log_has(d / "a.log", "--visualize /proc: cannot write into the folder");
  EXPECT_EQ(slurp(d / "a.log").find("instances"), std::string::npos) << "no image may run first";
}

// --cuda-streams is a CUDA option (README): on a CPU engine it is named in a warning, the run succeeds,
// and bench does not record a stream count for a CPU run.
TEST(CliRobustness, CudaStreamsOnCpuWarnsAndIsNotReportedAsUsed) {
  const fs::path d = fresh_dir("maskrt_cli_robust_cuda_streams");
  EXPECT_EQ(run("infer --device cpu --cuda-streams 4 -o " + (d / "r.json").string() + " " + kImage, d / "a.log"), 0)
      << slurp(d / "a.log");
  expect_log_has(d / "a.log", "warning: --cuda-streams 4 has no effect: the model runs on the CPU");
  EXPECT_EQ(run("infer --device cpu -o " + (d / "r.json").string() + " " + kImage, d / "b.log"), 0);
  EXPECT_EQ(slurp(d / "b.log").find("--cuda-streams"), std::string::npos) << "no warning without the option";
  ASSERT_EQ(run("bench --device cpu --cuda-streams 5 --warmup 0 --iterations 1 --sizes 48x64 --format json -o " +
                    (d / "b.json").string(),
                d / "c.log"),
            0)
      << slurp(d / "c.log");
  expect_log_has(d / "c.log", "--cuda-streams 5 has no effect");
  std::ifstream is(d / "b.json");
  EXPECT_EQ(nlohmann::json::parse(is)["metadata"]["options"]["cuda_streams"], "n/a (cpu)");
}

// --backbone-batch (README): 1..8, refused by the parser outside (exit 2, the flag named); a CUDA
// option, so on a CPU engine it is named in a warning, the run succeeds, and bench records that it had
// no effect.
TEST(CliRobustness, BackboneBatchIsBoundedAndWarnsOnCpu) {
  const fs::path d = fresh_dir("maskrt_cli_robust_backbone_batch");
  EXPECT_EQ(run("infer --device cpu --backbone-batch 9 -o " + (d / "r.json").string() + " " + kImage, d / "a.log"), 2);
  expect_log_has(d / "a.log", "--backbone-batch: Value 9 not in range 1 to 8");
  EXPECT_FALSE(fs::exists(d / "r.json"));
  EXPECT_EQ(run("bench --device cpu --backbone-batch 0 --warmup 0 --iterations 1 --sizes 48x64", d / "b.log"), 2);
  expect_log_has(d / "b.log", "--backbone-batch: Value 0 not in range 1 to 8");
  EXPECT_EQ(run("infer --device cpu --backbone-batch 4 -o " + (d / "r.json").string() + " " + kImage, d / "c.log"), 0)
      << slurp(d / "c.log");
  expect_log_has(d / "c.log", "warning: --backbone-batch 4 has no effect: the model runs on the CPU");
  EXPECT_TRUE(fs::exists(d / "r.json"));
  ASSERT_EQ(run("bench --device cpu --backbone-batch 4 --warmup 0 --iterations 1 --sizes 48x64 --format json -o " +
                    (d / "b.json").string(),
                d / "d.log"),
            0)
      << slurp(d / "d.log");
  expect_log_has(d / "d.log", "--backbone-batch 4 has no effect");
  setenv("MASKRT_BACKBONE_BATCH", "abc", 1);  // the variable too is named on the CPU, not ignored silently
  EXPECT_EQ(run("infer --device cpu -o " + (d / "r.json").string() + " " + kImage, d / "e.log"), 0) << slurp(d / "e.log");
  unsetenv("MASKRT_BACKBONE_BATCH");
  expect_log_has(d / "e.log", "MASKRT_BACKBONE_BATCH=abc has no effect: the model runs on the CPU");
  std::ifstream is(d / "b.json");
  EXPECT_EQ(nlohmann::json::parse(is)["metadata"]["options"]["backbone_batch"],
            "n/a (cpu; --backbone-batch 4 has no effect)");
}

// A write that fails half-way (here a file-size limit, as a full disk would cut it) leaves the
// previous results file as it was and no truncated picture or temporary file behind
// (io/atomic_write.h); the run ends with a non-zero status naming the file. Found by a new user:
// results.json was left as 20480 bytes of broken JSON and every picture truncated.
TEST(CliRobustness, FailedWriteKeepsThePreviousOutputAndLeavesNoPartialFiles) {
  const fs::path d = fresh_dir("maskrt_cli_robust_partial_write");
  {
    std::ofstream os(d / "r.json");
    os << "previous results\n";
  }
  // dash: ulimit -f counts 512-byte blocks; SIGXFSZ ignored so write() fails with EFBIG instead.
  const std::string cmd = "trap '' XFSZ; ulimit -f 16; exec " + std::string(MASKRT_CLI_PATH) + " infer --device cpu -o " +
                          (d / "r.json").string() + " --visualize " + (d / "pics").string() + " " + kImage + " > " +
                          (d / "a.log").string() + " 2>&1";
  const int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status)) << slurp(d / "a.log");
  EXPECT_NE(WEXITSTATUS(status), 0) << slurp(d / "a.log");
  EXPECT_EQ(slurp(d / "r.json"), "previous results\n");
  expect_log_has(d / "a.log", "r.json: write failed");
  for (const auto& e : fs::recursive_directory_iterator(d)) {
    EXPECT_EQ(e.path().string().find(".maskrt-tmp-"), std::string::npos) << "left behind: " << e.path();
    EXPECT_NE(e.path().extension(), ".png") << "a truncated picture was left: " << e.path();
  }
}

// Image paths typed after --opts (README): a word at a KEY position that names an existing file ends the
// pairs, and it and the words after it are image inputs, so `--opts K V a b` runs a and b with K = V,
// exactly as `a b --opts K V`; a missing path after them stays a per-image error; a key that is not a
// file keeps the unknown-key error without the path hint. --precision tf32 with --device auto on a
// machine without a usable GPU says that auto chose the CPU.
TEST(CliRobustness, ImagePathsAfterOptsAndAutoDeviceAreExplained) {
  const fs::path d = fresh_dir("maskrt_cli_robust_opts_paths");
  const std::string out = " -o " + (d / "r.json").string();
  const std::string kOther = (kRepo / "samples" / "images" / "000019.jpg").string();
  const std::string opts = " --opts MODEL.ROI_HEADS.SCORE_THRESH_TEST 0.5";
  ASSERT_EQ(run("infer --device cpu -o " + (d / "before.json").string() + " " + kImage + " " + kOther + opts,
                d / "before.log"), 0) << slurp(d / "before.log");
  ASSERT_EQ(run("infer --device cpu -o " + (d / "after.json").string() + opts + " " + kImage + " " + kOther,
                d / "after.log"), 0) << slurp(d / "after.log");
  expect_log_has(d / "after.log", "1 word after --opts taken as image input");
  const auto read_json = [](const fs::path& f) {
    std::ifstream is(f);
    return nlohmann::json::parse(is);
  };
  const nlohmann::json before = read_json(d / "before.json"), after = read_json(d / "after.json");
  ASSERT_EQ(after.at("images").size(), 2u);
  size_t confident = 0;
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(after["images"][i]["file"], before["images"][i]["file"]) << "order of the images as typed";
    EXPECT_EQ(after["images"][i]["instances"].dump(), before["images"][i]["instances"].dump()) << "image " << i;
    for (const auto& inst : after["images"][i]["instances"]) {
      EXPECT_GE(inst["score"].get<double>(), 0.5) << "the override applied";
      ++confident;
    }
  }
  EXPECT_GT(confident, 0u);
  // Three paths, the middle one missing: all three are inputs (the missing one a per-image error, exit 1).
  const std::string missing = (d / "no_such.png").string();
  EXPECT_EQ(run("infer --device cpu" + out + opts + " " + kImage + " " + missing + " " + kOther, d / "b.log"), 1)
      << slurp(d / "b.log");
  {
    const nlohmann::json b = read_json(d / "r.json");
    EXPECT_EQ(b.at("images").size(), 2u);
    ASSERT_EQ(b.at("errors").size(), 1u) << b.at("errors").dump();
    EXPECT_EQ(b["errors"][0]["file"], missing);
  }
  fs::remove(d / "r.json");
  EXPECT_EQ(run("infer --device cpu" + out + " --opts MODEL.NO_SUCH_KEY 1 " + kImage, d / "c.log"), 2);
  const std::string c = slurp(d / "c.log");
  EXPECT_EQ(c.find("is a file, not a config key"), std::string::npos) << "no hint for a key that is not a file: " << c;
  EXPECT_FALSE(fs::exists(d / "r.json"));
  // eval takes its images through --images: a path among its --opts words gets the hint naming that.
  EXPECT_EQ(run("eval --device cpu --annotations " + (kRepo / "samples/shapes/annotations/val.json").string() +
                    " --images " + (kRepo / "samples/shapes/val").string() + " -o " + (d / "m.json").string() +
                    opts + " " + kImage,
                d / "f.log"),
            2);
  expect_log_has(d / "f.log", "is a file, not a config key");
  expect_log_has(d / "f.log", "eval and bench take --images");
  // device auto: the CPU where there is no GPU (CI); on a GPU machine tf32 runs, so the message is
  // checked only when the run was refused.
  if (run("infer --precision tf32" + out + " " + kImage, d / "e.log") == 2)
    expect_log_has(d / "e.log", "device auto found no usable CUDA device");
}

// More image paths typed after --opts (README): a missing image path where a KEY belongs (it has a
// '/' or an image extension, so it cannot be a config key) is a per-image error like any missing input,
// not "odd number of values" for the whole run; `--opts K V` with no image at all says that no image
// was given (CLI11 had taken V as the image, and the message blamed K for having no value); a config
// key typed after the image paths is a usage error before any work, not an image that cannot be opened
// (the override was silently not applied and the run still wrote results). Found by a new user.
TEST(CliRobustness, OptsFollowedByMissingPathsNoImageOrMoreKeys) {
  const fs::path d = fresh_dir("maskrt_cli_robust_opts_edges");
  const fs::path out = d / "r.json";
  const std::string kOther = (kRepo / "samples" / "images" / "000019.jpg").string();
  const std::string opts = " --opts MODEL.ROI_HEADS.SCORE_THRESH_TEST 0.5";
  const std::string missing = (d / "no_such.png").string();
  // The missing path first, then an existing one: one image run, one per-image error, exit 1.
  EXPECT_EQ(run("infer --device cpu -o " + out.string() + opts + " " + missing + " " + kOther, d / "a.log"), 1)
      << slurp(d / "a.log");
  {
    std::ifstream is(out);
    ASSERT_TRUE(is.good()) << slurp(d / "a.log");
    const nlohmann::json r = nlohmann::json::parse(is);
    ASSERT_EQ(r.at("images").size(), 1u) << r.dump().substr(0, 300);
    EXPECT_EQ(r["images"][0]["file"], kOther);
    for (const auto& inst : r["images"][0]["instances"]) EXPECT_GE(inst["score"].get<double>(), 0.5);
    ASSERT_EQ(r.at("errors").size(), 1u);
    EXPECT_EQ(r["errors"][0]["file"], missing);
  }
  fs::remove(out);
  // No image at all: a usage error that says so and names the word taken as the image.
  EXPECT_EQ(run("infer --device cpu -o " + out.string() + opts, d / "b.log"), 2);
  expect_log_has(d / "b.log", "no image was given");
  expect_log_has(d / "b.log", "'0.5'");
  EXPECT_FALSE(fs::exists(out));
  // A KEY VALUE pair after the image paths: refused up front, naming the key; nothing written.
  EXPECT_EQ(run("infer --device cpu -o " + out.string() + opts + " " + kImage + " INPUT.MIN_SIZE_TEST 640 " + kOther,
                d / "c.log"),
            2)
      << slurp(d / "c.log");
  expect_log_has(d / "c.log", "INPUT.MIN_SIZE_TEST");
  EXPECT_FALSE(fs::exists(out));
}

// --class-names (README: one name per line): a file saved with CRLF line ends labels "circle", not
// "circle\r"; an empty file is refused like any other count mismatch (it was silently ignored, so the
// results had no names at all). Found by a new user.
TEST(CliRobustness, ClassNamesWithCrlfOrNoName) {
  const fs::path d = fresh_dir("maskrt_cli_robust_class_names");
  const fs::path out = d / "r.json";
  const std::vector<std::string> names = {"c0", "c1", "c2", "c3", "c4"};  // the default model has 5 classes
  {
    std::ofstream os(d / "crlf.txt", std::ios::binary);
    for (const auto& n : names) os << n << "\r\n";
  }
  ASSERT_EQ(run("infer --device cpu -o " + out.string() + " --class-names " + (d / "crlf.txt").string() + " " + kImage,
                d / "a.log"),
            0)
      << slurp(d / "a.log");
  {
    std::ifstream is(out);
    const nlohmann::json r = nlohmann::json::parse(is);
    ASSERT_GT(r.at("images").at(0).at("instances").size(), 0u);
    for (const auto& inst : r["images"][0]["instances"])
      EXPECT_EQ(inst.at("category_name"), names.at(inst.at("category_id").get<size_t>()));
  }
  fs::remove(out);
  std::ofstream(d / "empty.txt").close();
  EXPECT_EQ(run("infer --device cpu -o " + out.string() + " --class-names " + (d / "empty.txt").string() + " " + kImage,
                d / "b.log"),
            2);
  expect_log_has(d / "b.log", "has 0 names but the model has 5 classes");
  EXPECT_FALSE(fs::exists(out));
}

// An output that is one of the run's own inputs is a usage error (exit 2) that leaves the input as it
// was: `infer -o photo.jpg photo.jpg` replaced the photo with RESULTS.json, `--visualize` into the input
// folder replaced a PNG input with its picture, `eval -o ann.json --annotations ann.json` replaced the
// annotations with the metrics. Found by a new user.
TEST(CliRobustness, OutputsNeverOverwriteInputs) {
  const fs::path d = fresh_dir("maskrt_cli_robust_output_is_input");
  const fs::path photo = d / "photo.jpg", png = d / "pic.png", ann = d / "ann.json";
  fs::copy_file(kImage, photo);
  const std::string photo_bytes = slurp(photo);
  EXPECT_EQ(run("infer --device cpu -o " + photo.string() + " " + photo.string(), d / "a.log"), 2) << slurp(d / "a.log");
  expect_log_has(d / "a.log", "--output " + photo.string());
  EXPECT_EQ(slurp(photo), photo_bytes);
  // The same file by another spelling.
  EXPECT_EQ(run("infer --device cpu -o " + (d / "." / "photo.jpg").string() + " " + photo.string(), d / "b.log"), 2);
  EXPECT_EQ(slurp(photo), photo_bytes);
  {
    // A PNG input (any bytes will do: the run must stop before reading it) and pictures into its folder.
    std::ofstream(png, std::ios::binary) << "not really a png";
    EXPECT_EQ(run("infer --device cpu -o " + (d / "r.json").string() + " --visualize " + d.string() + " " + png.string(),
                  d / "c.log"),
              2)
        << slurp(d / "c.log");
    EXPECT_EQ(slurp(png), "not really a png");
    EXPECT_FALSE(fs::exists(d / "r.json"));
  }
  fs::copy_file(kRepo / "samples" / "shapes" / "annotations" / "val.json", ann);
  const std::string ann_bytes = slurp(ann);
  EXPECT_EQ(run("eval --device cpu --annotations " + ann.string() + " --images " +
                    (kRepo / "samples" / "shapes" / "val").string() + " -o " + ann.string(),
                d / "d.log"),
            2);
  expect_log_has(d / "d.log", "--output " + ann.string());
  EXPECT_EQ(run("eval --annotations " + ann.string() + " --results " + ann.string() + " --save-detections " + ann.string(),
                d / "e.log"),
            2);
  EXPECT_EQ(slurp(ann), ann_bytes);
}

// Runs `maskrt ARGS` in the background with its output in d/a.log, sends SIGTERM 2 s later and returns
// the exit status as the shell prints it ("143\n" for a process that ended on SIGTERM's 128 + 15).
std::string run_and_sigterm_after_2s(const std::string& args, const fs::path& d) {
  const std::string cmd = std::string(MASKRT_CLI_PATH) + " " + args + " > " + (d / "a.log").string() +
                          " 2>&1 & pid=$!; sleep 2; kill -TERM $pid; wait $pid; echo $? > " + (d / "status").string();
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  return slurp(d / "status");
}

// SIGTERM (or SIGINT) during a long infer run (README): the loop stops before the next batch, the
// finished images' results are written with "interrupted", and the exit status is 128 + the signal.
// Found by a new user: a killed run kept nothing. The signal is sent 2 s into a run of 40 images
// (~0.5 s each here), so the run is inside model loading or the loop, never finished.
TEST(CliRobustness, SigtermWritesTheFinishedResults) {
  const fs::path d = fresh_dir("maskrt_cli_robust_sigterm");
  std::string images;
  for (int i = 0; i < 40; ++i) images += " " + kImage;
  EXPECT_EQ(run_and_sigterm_after_2s("infer --device cpu -o " + (d / "r.json").string() + images, d), "143\n")
      << slurp(d / "a.log");
  expect_log_has(d / "a.log", "stopped by SIGTERM");
  std::ifstream is(d / "r.json");
  ASSERT_TRUE(is.good()) << slurp(d / "a.log");
  const nlohmann::json r = nlohmann::json::parse(is);
  ASSERT_TRUE(r.contains("interrupted")) << r.dump().substr(0, 400);
  EXPECT_EQ(r["interrupted"]["signal"], "SIGTERM");
  const size_t done = r["images"].size(), left = r["interrupted"]["images_not_run"].get<size_t>();
  EXPECT_EQ(done + left + r["errors"].size(), 40u);
  EXPECT_GT(left, 0u);
  for (const auto& im : r["images"]) EXPECT_GT(im["instances"].size(), 0u);
}

// README: exit status 1 when there was no image at all. An annotation file with no image gave exit 0.
TEST(CliRobustness, EvalWithNoImageExitsOne) {
  const fs::path d = fresh_dir("maskrt_cli_robust_eval_empty");
  std::ifstream is(kRepo / "samples" / "shapes" / "annotations" / "val.json");
  nlohmann::json ann = nlohmann::json::parse(is);
  ann["images"] = nlohmann::json::array();
  ann["annotations"] = nlohmann::json::array();
  std::ofstream(d / "ann.json") << ann.dump();
  EXPECT_EQ(run("eval --device cpu --annotations " + (d / "ann.json").string() + " --images " +
                    (kRepo / "samples" / "shapes" / "val").string() + " -o " + (d / "m.json").string(),
                d / "a.log"),
            1)
      << slurp(d / "a.log");
  expect_log_has(d / "a.log", "warning: " + (d / "ann.json").string() + ": has no image to evaluate");
  EXPECT_TRUE(fs::exists(d / "m.json")) << "everything else is still written";
}

// A bad value given with --opts is blamed on --opts as well as on the config file it overrides
// (the message used to name only config.yaml, which holds a valid value).
TEST(CliRobustness, BadOptsValueNamesOpts) {
  const fs::path d = fresh_dir("maskrt_cli_opts_blame");
  const fs::path log = d / "log.txt";
  EXPECT_EQ(run("infer --device cpu -o " + (d / "r.json").string() + " " + kImage + " --opts INPUT.MIN_SIZE_TEST -5", log), 2);
  expect_log_has(log, "--opts INPUT.MIN_SIZE_TEST");
  expect_log_has(log, "INPUT.MIN_SIZE_TEST = -5");
}

// A relative MODEL.WEIGHTS that is not there was reported only as "checkpoint 'model.pkl': cannot open"
// (found by a new user). The error must name the key, the config file and line or --opts that set it,
// and the path as resolved: against the current directory, as Detectron2 resolves it (not against the
// config's folder). Expected paths are built here from the folders the test chose.
int run_in(const fs::path& cwd, const std::string& args, const fs::path& log) {
  const std::string cmd = "cd " + cwd.string() + " && " + MASKRT_CLI_PATH + " " + args + " > " + log.string() + " 2>&1";
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(CliRobustness, MissingRelativeModelWeightsNamesKeyOriginAndResolvedPath) {
  const fs::path d = fresh_dir("maskrt_cli_robust_weights");
  fs::create_directories(d / "cfg");
  fs::create_directories(d / "work");
  const fs::path cfg = d / "cfg" / "my.yaml";
  std::ofstream(cfg) << "_BASE_: " << (kRepo / "models" / "default" / "config.yaml").string()
                     << "\nMODEL:\n  WEIGHTS: model.pkl\n";  // line 3
  // A model.pkl next to the config, where the user may have meant it.
  fs::create_symlink(kRepo / "models" / "default" / "model.pkl", d / "cfg" / "model.pkl");
  EXPECT_EQ(run_in(d / "work", "infer --device cpu --config " + cfg.string() + " -o r.json " + kImage, d / "a.log"), 2);
  expect_log_has(d / "a.log", "MODEL.WEIGHTS 'model.pkl'");
  expect_log_has(d / "a.log", cfg.string() + ":3");
  expect_log_has(d / "a.log", "current directory " + (d / "work").string());
  expect_log_has(d / "a.log", (d / "work" / "model.pkl").string());
  expect_log_has(d / "a.log", "--weights " + (d / "cfg" / "model.pkl").string());
  EXPECT_EQ(run_in(d / "work", "infer --device cpu -o r.json --opts MODEL.WEIGHTS sub/missing.pkl " + kImage, d / "b.log"),
            2);
  expect_log_has(d / "b.log", "MODEL.WEIGHTS 'sub/missing.pkl' (set by --opts)");
  expect_log_has(d / "b.log", (d / "work" / "sub" / "missing.pkl").string());
}

// eval -o and --save-detections naming one file (by any spelling, existing or not): one output replaced
// the other silently. README: a usage error (exit 2) before any work, the file left as it was.
TEST(CliRobustness, EvalOutputAndSaveDetectionsMustDiffer) {
  const fs::path d = fresh_dir("maskrt_cli_robust_eval_same_outputs");
  const std::string ann = (kRepo / "samples" / "shapes" / "annotations" / "val.json").string();
  const std::string eval = "eval --device cpu --annotations " + ann + " --images " +
                           (kRepo / "samples" / "shapes" / "val").string();
  EXPECT_EQ(run(eval + " -o " + (d / "x.json").string() + " --save-detections " + (d / "." / "x.json").string(),
                d / "a.log"),
            2);
  expect_log_has(d / "a.log", "--save-detections " + (d / "." / "x.json").string());
  EXPECT_FALSE(fs::exists(d / "x.json"));
  fs::create_directory_symlink(d, d / "link");
  std::ofstream(d / "y.json") << "keep";
  EXPECT_EQ(run(eval + " --save-detections " + (d / "link" / "y.json").string() + " -o " + (d / "y.json").string(),
                d / "b.log"),
            2);
  EXPECT_EQ(slurp(d / "y.json"), "keep");
  // bench's two outputs likewise (the report and the --plot PNG), refused before any work.
  EXPECT_EQ(run("bench --device cpu --iterations 1 --warmup 0 -o " + (d / "p.out").string() + " --plot " +
                    (d / "." / "p.out").string(),
                d / "c.log"),
            2);
  expect_log_has(d / "c.log", "(one would overwrite the other)");
  EXPECT_FALSE(fs::exists(d / "p.out"));
}

// SIGTERM during a long eval (README): no more images are run, the detections of the images run are
// written to --save-detections, METRICS.json says "interrupted", and the exit status is 128 + 15. A killed
// eval kept nothing (new user's note). 80 annotation images (the 5 sample images, 16 times); the signal
// comes 2 s in, so the run is inside model loading or the image loop.
TEST(CliRobustness, EvalSigtermKeepsTheDetectionsSoFar) {
  const fs::path d = fresh_dir("maskrt_cli_robust_eval_sigterm");
  std::ifstream is(kRepo / "samples" / "shapes" / "annotations" / "val.json");
  const nlohmann::json src = nlohmann::json::parse(is);
  nlohmann::json ann = src;
  ann["images"] = nlohmann::json::array();
  ann["annotations"] = nlohmann::json::array();
  int64_t next_ann = 1;
  for (int copy = 0; copy < 16; ++copy) {
    for (auto img : src["images"]) {
      const int64_t old_id = img["id"].get<int64_t>();
      img["id"] = copy * 1000 + old_id;
      ann["images"].push_back(img);
      for (auto a : src["annotations"])
        if (a["image_id"].get<int64_t>() == old_id) {
          a["image_id"] = img["id"];
          a["id"] = next_ann++;
          ann["annotations"].push_back(a);
        }
    }
  }
  std::ofstream(d / "ann.json") << ann.dump();
  EXPECT_EQ(run_and_sigterm_after_2s("eval --device cpu --annotations " + (d / "ann.json").string() + " --images " +
                                         (kRepo / "samples" / "shapes" / "val").string() + " -o " + (d / "m.json").string() +
                                         " --save-detections " + (d / "dets.json").string(),
                                     d),
            "143\n")
      << slurp(d / "a.log");
  expect_log_has(d / "a.log", "stopped by SIGTERM after ");
  std::ifstream ms(d / "m.json");
  ASSERT_TRUE(ms.good()) << slurp(d / "a.log");
  const nlohmann::json m = nlohmann::json::parse(ms);
  ASSERT_TRUE(m.contains("interrupted")) << m.dump().substr(0, 400);
  EXPECT_EQ(m["interrupted"]["signal"], "SIGTERM");
  const size_t evaluated = m["images_evaluated"].get<size_t>(), left = m["interrupted"]["images_not_run"].get<size_t>();
  EXPECT_GT(left, 0u);
  EXPECT_EQ(evaluated + left, 80u);  // no image of the sample is unreadable
  std::ifstream ds(d / "dets.json");
  ASSERT_TRUE(ds.good()) << slurp(d / "a.log");
  const nlohmann::json dets = nlohmann::json::parse(ds);
  ASSERT_TRUE(dets.is_array());
  EXPECT_EQ(dets.size(), m["detections"].get<size_t>());
  std::set<int64_t> run_ids;  // the first `evaluated` images of the annotation order
  for (size_t k = 0; k < evaluated; ++k) run_ids.insert(ann["images"][k]["id"].get<int64_t>());
  for (const auto& det : dets) EXPECT_TRUE(run_ids.count(det["image_id"].get<int64_t>())) << det.dump();
}

}  // namespace
