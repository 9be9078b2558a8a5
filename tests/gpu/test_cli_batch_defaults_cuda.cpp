// The CLI's batch defaults on CUDA (tools/cli/infer_cmd.cpp engine_options; README "--backbone-batch"):
// fp16 / tf32 runs with --batch >= 16 group same-size images in fours unless --backbone-batch or
// MASKRT_BACKBONE_BATCH says otherwise; smaller batches and fp32 do not. bench records the value in
// effect (metadata.options.backbone_batch). And what the default must not change: `maskrt infer` of 16
// images at --batch 16 (groups of 4) writes, per image, exactly the instances --batch 1 writes.
// The two runs are two processes: both plan with MASKRT_CUDNN_FIND=0 (cuDNN's heuristic choice), since
// the default measured choice may pick other fp16 / tf32 kernels in another process (timing noise), and
// then the bits differ for a reason that has nothing to do with batching (session 11 on the H200: every
// image differed by ~1e-3 px in its boxes between two processes). Within one engine the property is
// tested with measured plans (BackboneBatch.PinnedGroupsEqualSingleImagesBitForBit).
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cuda_test_util.h"
#include "support/cli_run.h"

namespace {

namespace fs = std::filesystem;
using maskrt::testing::fresh_dir;
using maskrt::testing::run;
using maskrt::testing::slurp;

const fs::path kRepo = fs::path(MASKRT_TEST_DATA).parent_path();

// backbone_batch recorded by a one-iteration bench of the default model with `args`.
std::string bench_backbone_batch(const std::string& args, const fs::path& d, const std::string& tag) {
  const fs::path out = d / (tag + ".json"), log = d / (tag + ".log");
  const int rc = run("bench --device cuda --warmup 1 --iterations 1 --sizes 240x320 --format json " + args +
                         " -o " + out.string(), log);
  EXPECT_EQ(rc, 0) << tag << ": " << slurp(log);
  if (rc != 0) return "";
  std::ifstream is(out);
  return nlohmann::json::parse(is).at("metadata").at("options").at("backbone_batch").get<std::string>();
}

TEST(CliBatchDefaultsCuda, GroupsFromBatch16UnlessToldOtherwise) {
  MASKRT_SKIP_WITHOUT_GPU();
  unsetenv("MASKRT_BACKBONE_BATCH");
  const fs::path d = fresh_dir("maskrt_cli_batch_defaults");
  EXPECT_EQ(bench_backbone_batch("--precision fp16 --batch 16", d, "fp16_b16"), "4");
  EXPECT_EQ(bench_backbone_batch("--precision tf32 --batch 16", d, "tf32_b16"), "4");
  EXPECT_EQ(bench_backbone_batch("--precision fp16 --batch 8", d, "fp16_b8"), "1");
  EXPECT_EQ(bench_backbone_batch("--precision fp32 --batch 16", d, "fp32_b16"), "1");
  EXPECT_EQ(bench_backbone_batch("--precision fp16 --batch 16 --backbone-batch 1", d, "fp16_b16_off"), "1");
  EXPECT_EQ(bench_backbone_batch("--precision fp16 --batch 16 --backbone-batch 2", d, "fp16_b16_bb2"), "2");
  setenv("MASKRT_BACKBONE_BATCH", "2", 1);  // the variable wins over the CLI default
  EXPECT_EQ(bench_backbone_batch("--precision fp16 --batch 16", d, "fp16_b16_env2"), "2");
  unsetenv("MASKRT_BACKBONE_BATCH");
}

TEST(CliBatchDefaultsCuda, GroupedBatchWritesTheSameInstancesAsOneByOne) {
  MASKRT_SKIP_WITHOUT_GPU();
  unsetenv("MASKRT_BACKBONE_BATCH");
  unsetenv("MASKRT_BACKBONE_BATCH_PIN");
  setenv("MASKRT_CUDNN_FIND", "0", 1);  // the same plans in both processes (see the top of this file)
  const fs::path d = fresh_dir("maskrt_cli_batch_defaults_infer");
  // 16 paths: four sample images of different sizes, each four times in a row (runs of one size: groups).
  std::string paths;
  for (const char* f : {"000016.jpg", "000019.jpg", "000029.jpg", "000034.jpg"})
    for (int k = 0; k < 4; ++k) paths += " " + (kRepo / "samples" / "images" / f).string();
  for (const char* prec : {"fp16", "tf32"}) {
    const fs::path b16 = d / (std::string(prec) + "_b16.json"), b1 = d / (std::string(prec) + "_b1.json");
    ASSERT_EQ(run(std::string("infer --device cuda --precision ") + prec + " --batch 16 -o " + b16.string() + paths,
                  d / "b16.log"), 0) << slurp(d / "b16.log");
    ASSERT_EQ(run(std::string("infer --device cuda --precision ") + prec + " --batch 1 -o " + b1.string() + paths,
                  d / "b1.log"), 0) << slurp(d / "b1.log");
    EXPECT_NE(slurp(d / "b16.log").find("cuda group plan"), std::string::npos) << slurp(d / "b16.log");
    std::ifstream i16(b16), i1(b1);
    const auto j16 = nlohmann::json::parse(i16), j1 = nlohmann::json::parse(i1);
    ASSERT_EQ(j16.at("images").size(), 16u);
    ASSERT_EQ(j1.at("images").size(), 16u);
    size_t instances = 0;
    for (size_t i = 0; i < 16; ++i) {
      EXPECT_EQ(j16["images"][i]["file"], j1["images"][i]["file"]);
      EXPECT_EQ(j16["images"][i]["instances"].dump(), j1["images"][i]["instances"].dump()) << prec << " image " << i;
      instances += j1["images"][i]["instances"].size();
    }
    EXPECT_GT(instances, 0u) << prec << ": no instances at all (an empty-vs-empty comparison)";
  }
  unsetenv("MASKRT_CUDNN_FIND");
}

}  // namespace
