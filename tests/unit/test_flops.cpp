// bench/flops.h, the model cost counter. Oracles:
//   - hand-derived counts of single layers (worked out in the comments) and of Detectron2's
//     resize + pad-to-32 network input size;
//   - tests/unit/data/flops/expected.json, made by tools/reference/make_flops_fixtures.py running
//     Detectron2 + fvcore.nn.FlopCountAnalysis (per-module MACs of conv/linear/deconv) and forward
//     hooks (weights and activations of every layer call) on three configs (R50 mask, R18 with small
//     class-agnostic heads, grouped R50 on res3..res5 without masks), with the proposal and detection
//     counts Detectron2 actually ran.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "bench/flops.h"
#include "bench/report.h"
#include "io/config.h"
#include "maskrt/errors.h"

namespace maskrt::bench {
namespace {

const std::string kData = std::string(MASKRT_TEST_DATA) + "/unit/data/flops/";

TEST(Flops, Conv3x3SamePadding) {
  // 3 -> 4 channels, 3x3, stride 1, pad 1 on 8x8: output 8x8.
  // MACs = 4 out ch * 64 positions * (3 in ch * 9 taps) = 6912; weights 4*3*9 + 4 bias = 112;
  // activations 3*64 in + 4*64 out = 448.
  const LayerCost c = conv2d_cost(1, 3, 8, 8, 4, 3, 1, 1);
  EXPECT_EQ(c.macs, 6912);
  EXPECT_EQ(c.weight_elems, 112);
  EXPECT_EQ(c.act_elems, 448);
  EXPECT_DOUBLE_EQ(c.gflops(), 2.0 * 6912 / 1e9);
  EXPECT_EQ(c.bytes(4), 4 * (112 + 448));
  EXPECT_EQ(c.bytes(2), 2 * (112 + 448));
}

TEST(Flops, GroupedStridedConv) {
  // batch 2, 8 -> 4 channels in 2 groups (4 input channels per group), 3x3, stride 2, pad 1 on 5x5:
  // output (5 + 2 - 2 - 1) / 2 + 1 = 3, so 3x3.
  // MACs = 2 images * 4 out ch * 9 positions * (4 * 9) = 2592; weights 4*4*9 + 4 = 148;
  // activations 2 * (8*25 + 4*9) = 472.
  const LayerCost c = conv2d_cost(2, 8, 5, 5, 4, 3, 2, 1, 1, 2);
  EXPECT_EQ(c.macs, 2592);
  EXPECT_EQ(c.weight_elems, 148);
  EXPECT_EQ(c.act_elems, 472);
}

TEST(Flops, StemConvOutputSize) {
  // 7x7 stride 2 pad 3 on 224x320 -> 112x160; 3x3 stride 2 pad 1 max-pool -> 56x80.
  EXPECT_EQ(conv_output_size(224, 7, 2, 3), 112);
  EXPECT_EQ(conv_output_size(320, 7, 2, 3), 160);
  EXPECT_EQ(conv_output_size(112, 3, 2, 1), 56);
  // p6 = max-pool(k1, s2) of an odd p5 of 9 -> 5 (Detectron2's LastLevelMaxPool).
  EXPECT_EQ(conv_output_size(9, 1, 2, 0), 5);
  // Dilated 3x3 with pad = dilation keeps the size.
  EXPECT_EQ(conv_output_size(20, 3, 1, 2, 2), 20);
  EXPECT_THROW(conv_output_size(2, 7, 1, 0), Error);
  const LayerCost stem = conv2d_cost(1, 3, 224, 320, 64, 7, 2, 3);
  EXPECT_EQ(stem.macs, int64_t(64) * 112 * 160 * 3 * 49);
}

TEST(Flops, TransposedConvLinearPoolRoiAlign) {
  // Deconv 2x2 stride 2, 6 -> 5 channels, 3 ROIs of 4x4 -> 8x8: each of the 3*6*16 input elements
  // meets 5*2*2 weights: MACs 5760; weights 6*5*4 + 5 = 125; activations 3*6*16 + 3*5*64 = 1248.
  const LayerCost d = conv_transpose2d_cost(3, 6, 4, 4, 5, 2, 2);
  EXPECT_EQ(d.macs, 5760);
  EXPECT_EQ(d.weight_elems, 125);
  EXPECT_EQ(d.act_elems, 1248);
  // Linear 20 -> 7 on 10 rows: MACs 1400, weights 147, activations 270.
  const LayerCost l = linear_cost(10, 20, 7);
  EXPECT_EQ(l.macs, 1400);
  EXPECT_EQ(l.weight_elems, 147);
  EXPECT_EQ(l.act_elems, 270);
  // Max-pool 3x3/2 pad 1, 2 channels, 6x6 -> 3x3: no MACs, activations 2 * (36 + 9).
  const LayerCost p = max_pool2d_cost(1, 2, 6, 6, 3, 2, 1);
  EXPECT_EQ(p.macs, 0);
  EXPECT_EQ(p.act_elems, 90);
  // ROIAlign: 7 ROIs x 16 channels x 5x5 bins written.
  const LayerCost r = roi_align_cost(7, 16, 5);
  EXPECT_EQ(r.macs, 0);
  EXPECT_EQ(r.weight_elems, 0);
  EXPECT_EQ(r.act_elems, 7 * 16 * 25);
  EXPECT_THROW(conv2d_cost(1, 6, 8, 8, 4, 3, 1, 1, 1, 4), Error);  // 6 channels in 4 groups
  EXPECT_THROW(linear_cost(1, 0, 4), Error);
}

TEST(Flops, NetworkInputSize) {
  ModelSpec spec;  // MIN_SIZE_TEST 800, MAX_SIZE_TEST 1333
  // 480x640: scale 800/480 -> 800 x 1066.67 -> 800x1067; padded to 32 -> 800x1088.
  EXPECT_EQ(network_input_size(spec, 480, 640), std::make_pair(800, 1088));
  // 1080x1920: 800/1080 would make the long side 1422 > 1333, so scale 1333/1920: 749.8 -> 750 x 1333;
  // padded -> 768x1344.
  EXPECT_EQ(network_input_size(spec, 1080, 1920), std::make_pair(768, 1344));
  spec.min_size_test = 0;  // no resize: only the padding
  EXPECT_EQ(network_input_size(spec, 200, 300), std::make_pair(224, 320));
  EXPECT_EQ(network_input_size(spec, 256, 64), std::make_pair(256, 64));
}

TEST(Flops, MaxProposals) {
  ModelSpec spec;  // p2..p6, 3 anchors per location, PRE/POST_NMS_TOPK_TEST 1000/1000
  // 32x32: p2 8x8, p3 4x4, p4 2x2, p5 1x1, p6 1x1 -> 3 * (64 + 16 + 4 + 1 + 1) = 258 anchors.
  EXPECT_EQ(max_proposals(spec, 32, 32), 258);
  // 64x64: 3 * (256 + 64 + 16 + 4 + 1) = 1023 -> capped at POST_NMS_TOPK_TEST 1000.
  EXPECT_EQ(max_proposals(spec, 64, 64), 1000);
  spec.rpn_pre_nms_topk_test = 100;  // per level: min(100, 768), min(100, 192), 48, 12, 3
  EXPECT_EQ(max_proposals(spec, 64, 64), 263);
  // 96x64 (p6 of the odd p5 3x2 is 2x1): p2's 3 * 24*16 = 1152 anchors give at most PRE_NMS_TOPK_TEST
  // 1000, then 3 * (12*8 + 6*4 + 3*2 + 2*1) = 384 more; POST_NMS_TOPK_TEST raised to 2000 -> 1384.
  spec.rpn_pre_nms_topk_test = 1000;
  spec.rpn_post_nms_topk_test = 2000;
  EXPECT_EQ(max_proposals(spec, 96, 64), 1000 + 3 * (12 * 8 + 6 * 4 + 3 * 2 + 2 * 1));
}

TEST(Flops, HeadsWithoutRoisCountNothingAndTotalsAdd) {
  const Config cfg = load_config(kData + "r50_mask.yaml");
  const ModelCost none = count_model_cost(cfg.spec, 224, 320, 0, 0);
  EXPECT_EQ(none.stage(Stage::kBoxHead).macs, 0);
  EXPECT_EQ(none.stage(Stage::kMaskHead).macs, 0);
  EXPECT_EQ(none.stage(Stage::kMaskHead).weight_elems, 0);
  EXPECT_EQ(none.stage(Stage::kPreprocess).macs, 0);
  const ModelCost some = count_model_cost(cfg.spec, 224, 320, 10, 3);
  int64_t sum = 0;
  for (const LayerCost& s : some.stages) sum += s.macs;
  EXPECT_EQ(some.total().macs, sum);
  EXPECT_EQ(some.stage(Stage::kBackbone).macs, none.stage(Stage::kBackbone).macs);  // ROI counts only move heads
  ModelSpec no_mask = cfg.spec;
  no_mask.mask_on = false;
  EXPECT_EQ(count_model_cost(no_mask, 224, 320, 10, 3).stage(Stage::kMaskHead).macs, 0);
  EXPECT_THROW(count_model_cost(cfg.spec, 0, 320, 10, 3), Error);
  EXPECT_THROW(count_model_cost(cfg.spec, 224, 320, -1, 3), Error);
}

// Every stage's MACs, weights and activations equal Detectron2 + fvcore's for the ROI counts
// Detectron2 ran.
TEST(Flops, MatchesDetectron2Fvcore) {
  std::ifstream is(kData + "expected.json");
  ASSERT_TRUE(is.good()) << kData << "expected.json";
  const nlohmann::json j = nlohmann::json::parse(is);
  ASSERT_GE(j["cases"].size(), 3u);
  const std::pair<Stage, const char*> stages[] = {{Stage::kBackbone, "backbone"},
                                                  {Stage::kFpn, "fpn"},
                                                  {Stage::kRpn, "rpn"},
                                                  {Stage::kBoxHead, "box_head"},
                                                  {Stage::kMaskHead, "mask_head"}};
  for (const auto& [name, c] : j["cases"].items()) {
    SCOPED_TRACE(name);
    const Config cfg = load_config(kData + c["config"].get<std::string>());
    const auto [ph, pw] = network_input_size(cfg.spec, c["image_h"].get<int>(), c["image_w"].get<int>());
    EXPECT_EQ(ph, c["padded_h"].get<int>());
    EXPECT_EQ(pw, c["padded_w"].get<int>());
    const ModelCost mc = count_model_cost(cfg.spec, c["padded_h"].get<int>(), c["padded_w"].get<int>(),
                                          c["proposals"].get<int64_t>(), c["detections"].get<int64_t>());
    EXPECT_LE(c["proposals"].get<int64_t>(), max_proposals(cfg.spec, ph, pw));
    int64_t macs_sum = 0;
    for (const auto& [stage, key] : stages) {
      SCOPED_TRACE(key);
      EXPECT_EQ(mc.stage(stage).macs, c["macs"][key].get<int64_t>());
      EXPECT_EQ(mc.stage(stage).weight_elems, c["weight_elems"][key].get<int64_t>());
      EXPECT_EQ(mc.stage(stage).act_elems, c["act_elems"][key].get<int64_t>());
      macs_sum += c["macs"][key].get<int64_t>();
    }
    EXPECT_EQ(mc.total().macs, macs_sum);
  }
}

}  // namespace
}  // namespace maskrt::bench

namespace maskrt::bench {
namespace {

// The bench report's cost section: achieved rates worked out by hand from a made-up cost and times.
TEST(FlopsReport, AchievedRatesAndRendering) {
  BenchReport rep;
  rep.meta.model_name = "m";
  BenchRun run;
  run.label = "r1";
  run.batch_size = 2;
  run.image_height = 480;
  run.image_width = 640;
  StageTimes st;
  st.backbone = 4;  // ms
  st.fpn = 0;       // untimed stage -> no rate
  for (double ms : {30.0, 10.0, 20.0}) {
    run.steady_ms.push_back(ms);
    run.add_stage_times(st);
  }
  run.steady_wall_ms = 60;  // 6 images in 60 ms -> 100 img/s
  RunCost rc;
  rc.available = true;
  rc.bytes_per_element = 2;
  rc.cost.padded_h = 800;
  rc.cost.padded_w = 1088;
  rc.cost.proposals = 1000;
  rc.cost.detections = 7;
  LayerCost& bb = rc.cost.stages[static_cast<int>(Stage::kBackbone)];
  bb.macs = 6'000'000'000;      // 12 GFLOPs
  bb.weight_elems = 10'000'000;
  bb.act_elems = 40'000'000;    // 50e6 elements * 2 B = 100 MB
  rc.cost.stages[static_cast<int>(Stage::kMaskHead)].macs = 1'000'000'000;  // 2 GFLOPs
  rep.runs.push_back(run);
  rep.costs.push_back(rc);

  const AchievedRates a = achieved_rates(rep.runs[0], rc);
  // 14 GFLOPs per image * 2 images / 20 ms median = 1.4 TFLOP/s; at 100 img/s: 1.4 TFLOP/s.
  EXPECT_NEAR(a.tflops_at_median, 1.4, 1e-12);
  EXPECT_NEAR(a.tflops_at_throughput, 1.4, 1e-12);
  // 100 MB * 2 / 20 ms = 10 GB/s.
  EXPECT_NEAR(a.gbytes_per_s_at_median, 10.0, 1e-12);
  // backbone: 12 GFLOPs / 4 ms = 3 TFLOP/s; 100 MB / 4 ms = 25 GB/s.
  EXPECT_NEAR(a.stage_tflops[static_cast<int>(Stage::kBackbone)], 3.0, 1e-12);
  EXPECT_NEAR(a.stage_gbytes_per_s[static_cast<int>(Stage::kBackbone)], 25.0, 1e-12);
  EXPECT_EQ(a.stage_tflops[static_cast<int>(Stage::kFpn)], 0.0);

  const nlohmann::json j = to_json(rep);
  const auto& c = j["runs"][0]["cost"];
  EXPECT_EQ(c["net_height"], 800);
  EXPECT_EQ(c["detections"], 7);
  EXPECT_EQ(c["bytes_per_element"], 2);
  EXPECT_NEAR(c["total"]["gflops"].get<double>(), 14.0, 1e-9);
  EXPECT_EQ(c["total"]["bytes"].get<int64_t>(), 100'000'000);
  EXPECT_NEAR(c["stages"]["backbone"]["tflops"].get<double>(), 3.0, 1e-12);
  EXPECT_TRUE(c["stages"]["fpn"]["tflops"].is_null());
  EXPECT_NEAR(c["tflops_at_median"].get<double>(), 1.4, 1e-12);

  // CSV: the cost columns exist and hold the numbers; a run without cost leaves them empty.
  BenchRun run2 = run;
  run2.label = "r2";
  rep.runs.push_back(run2);
  const std::string csv = render_csv(rep);
  std::vector<std::vector<std::string>> rows;
  std::stringstream ss(csv);
  for (std::string line; std::getline(ss, line);) {  // no quoted fields in this report
    rows.emplace_back();
    std::stringstream ls(line);
    for (std::string f; std::getline(ls, f, ',');) rows.back().push_back(f);
    if (!line.empty() && line.back() == ',') rows.back().push_back("");
  }
  ASSERT_EQ(rows.size(), 3u);
  const auto& cols = csv_columns();
  auto col = [&](const std::string& name) {
    for (size_t i = 0; i < cols.size(); ++i)
      if (cols[i] == name) return i;
    ADD_FAILURE() << "no column " << name;
    return size_t(0);
  };
  ASSERT_EQ(rows[1].size(), cols.size());
  ASSERT_EQ(rows[2].size(), cols.size());
  EXPECT_EQ(rows[1][col("net_width")], "1088");
  EXPECT_NEAR(std::stod(rows[1][col("gflops_total")]), 14.0, 1e-6);
  EXPECT_NEAR(std::stod(rows[1][col("gflops_mask_head")]), 2.0, 1e-6);
  EXPECT_NEAR(std::stod(rows[1][col("tflops_at_median")]), 1.4, 1e-6);
  EXPECT_EQ(rows[2][col("gflops_total")], "");

  const std::string md = render_markdown(rep);
  EXPECT_NE(md.find("GFLOPs = 2 x multiply-accumulates"), std::string::npos);
  EXPECT_NE(md.find("fp16 activations and weights, 2 bytes per element"), std::string::npos);
  EXPECT_NE(md.find("| r1 | 800x1088 | 1000 | 7 | 12.00 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| r1 | backbone | 12.00 | 100.0 | 120.0 | 4.000 | 3.000 | 25.0 |"), std::string::npos) << md;
}

}  // namespace
}  // namespace maskrt::bench
