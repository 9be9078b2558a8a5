// bench report formats: JSON parses (nlohmann) and carries every raw sample and the metadata, CSV rows
// have the header's column count (RFC 4180 quoting parsed by an independent splitter below), markdown
// tables have one row per run. Also host-info parsing and the progress bar text.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/build_info.h"
#include "bench/progress.h"
#include "bench/report.h"
#include "bench/system_info.h"
#include "maskrt/errors.h"

namespace maskrt::bench {
namespace {

BenchReport make_report() {
  BenchReport rep;
  rep.meta.host = collect_host_info();
  rep.meta.model_name = "mask_rcnn_R_50_FPN_3x";
  rep.meta.config_hash = "abc123";
  rep.meta.device_name = "Test GPU";
  rep.meta.driver_version = "580.1";
  rep.meta.cuda_version = "13.0";
  rep.meta.cudnn_version = "9.14.0";
  rep.meta.cublas_version = "13.0.1";
  rep.meta.gpu_sampling = "NVML not available: test";
  rep.meta.options = {{"precision", "fp32"}, {"sizes", "480x640,800x1067"}};

  BenchRun a;
  a.label = "480x640, b1";  // comma forces CSV quoting
  a.image_width = 640;
  a.image_height = 480;
  a.warmup_iterations = 2;
  a.engine_creation_ms = 1234.5;
  StageTimes st;
  st.preprocess = 1;
  st.backbone = 5;
  st.fpn = 2;
  st.rpn = 3;
  st.box_head = 4;
  st.mask_head = 6;
  st.postprocess = 0.5;
  for (double ms : {100.0, 90.0, 40.0, 20.0, 21.0, 22.0}) a.record_iteration(ms, &st);
  a.gpu.available = false;
  a.gpu.reason = "NVML not available: test";

  BenchRun b;
  b.label = "800x1067 \"b2\"";  // quote forces CSV escaping
  b.image_width = 1067;
  b.image_height = 800;
  b.batch_size = 2;
  b.record_iteration(60);
  for (double ms : {30.0, 31.0}) b.record_iteration(ms);
  b.host_wait_ms = {6, 15.5};  // shares 6/30 = 0.2 and 15.5/31 = 0.5 -> median 0.35
  b.gpu.available = true;
  b.gpu.samples = 10;
  b.gpu.util_mean_pct = 87.5;
  b.gpu.util_max_pct = 99;
  b.gpu.mem_used_peak_mib = 4096;
  b.gpu.mem_context_baseline_mib = 600;  // peak beyond the context: 4096 - 600 = 3496
  b.gpu.power_available = true;
  b.gpu.power_mean_w = 310;
  // Engine memory breakdown (MiB), hand-chosen: engine delta = 1910 - 600 = 1310; handles = 650 - 600 = 50;
  // other = 1310 - 170 (weights) - 900 (arena) - 0.5 (plan buffers) = 239.5.
  b.memory.available = true;
  b.memory.weights_mib = 170;
  b.memory.arena_mib = 900;
  b.memory.arena_workspace_mib = 256;
  b.memory.plan_buffers_mib = 0.5;
  b.memory.num_plans = 2;
  b.memory.pinned_host_mib = 12;
  b.memory.used_at_start_mib = 600;
  b.memory.used_after_context_mib = 650;
  b.memory.used_after_weights_mib = 822;
  b.memory.used_after_warmup_mib = 1900;
  b.memory.used_now_mib = 1910;
  rep.runs = {a, b};
  return rep;
}

// RFC 4180 field splitter, written independently of report.cpp's writer.
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows(1, std::vector<std::string>(1));
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') rows.back().back() += '"', ++i;
      else if (c == '"') quoted = false;
      else rows.back().back() += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      rows.back().emplace_back();
    } else if (c == '\n') {
      rows.emplace_back(1);
    } else {
      rows.back().back() += c;
    }
  }
  if (rows.back().size() == 1 && rows.back()[0].empty()) rows.pop_back();
  return rows;
}

TEST(BenchReport, JsonHasAllRawSamplesAndMetadata) {
  const BenchReport rep = make_report();
  const nlohmann::json j = nlohmann::json::parse(to_json(rep).dump());
  EXPECT_EQ(j["schema"], "maskrt.bench/2");
  const auto& m = j["metadata"];
  EXPECT_EQ(m["maskrt_version"], MASKRT_VERSION);
  EXPECT_EQ(m["maskrt_commit"], std::string(maskrt::build_git_commit()));
  EXPECT_EQ(m["model"], "mask_rcnn_R_50_FPN_3x");
  EXPECT_EQ(m["config_hash"], "abc123");
  EXPECT_EQ(m["device"], "Test GPU");
  EXPECT_EQ(m["driver_version"], "580.1");
  EXPECT_EQ(m["cuda_version"], "13.0");
  EXPECT_EQ(m["cudnn_version"], "9.14.0");
  EXPECT_EQ(m["cublas_version"], "13.0.1");
  EXPECT_EQ(m["options"]["precision"], "fp32");
  EXPECT_FALSE(m["cpu_model"].get<std::string>().empty());
  EXPECT_GE(m["cpu_cores"].get<int>(), 1);
  EXPECT_FALSE(m["hostname"].get<std::string>().empty());
  EXPECT_EQ(m["date_utc"].get<std::string>().size(), 20u);  // YYYY-MM-DDTHH:MM:SSZ

  ASSERT_EQ(j["runs"].size(), 2u);
  const auto& a = j["runs"][0];
  EXPECT_EQ(a["warmup_ms"], (std::vector<double>{100, 90}));
  EXPECT_DOUBLE_EQ(a["first_call_ms"].get<double>(), 40);
  EXPECT_EQ(a["steady_ms"], (std::vector<double>{20, 21, 22}));
  EXPECT_DOUBLE_EQ(a["engine_creation_ms"].get<double>(), 1234.5);
  EXPECT_TRUE(j["runs"][1]["engine_creation_ms"].is_null());  // a later size reuses the engine: not measured
  EXPECT_DOUBLE_EQ(a["stats"]["median"].get<double>(), 21);
  EXPECT_DOUBLE_EQ(a["stats"]["max"].get<double>(), 22);  // warm-up (100, 90) and first call (40) excluded
  EXPECT_EQ(a["stages"]["mask_head"]["samples_ms"], (std::vector<double>{6, 6, 6}));
  EXPECT_EQ(a["stages"].size(), 7u);
  EXPECT_FALSE(a["gpu"]["available"].get<bool>());
  EXPECT_EQ(a["gpu"]["reason"], "NVML not available: test");
  EXPECT_NEAR(a["throughput_img_s"].get<double>(), 3.0 / 0.063, 1e-9);
  const auto& b = j["runs"][1];
  EXPECT_EQ(b["batch_size"], 2);
  EXPECT_TRUE(b["first_call_ms"].is_number());
  EXPECT_TRUE(a["host_wait"].is_null());  // not recorded (a CPU run)
  EXPECT_EQ(b["host_wait"]["samples_ms"], (std::vector<double>{6, 15.5}));
  EXPECT_DOUBLE_EQ(b["host_wait"]["share_median"].get<double>(), 0.35);
  EXPECT_DOUBLE_EQ(b["host_wait"]["stats"]["max"].get<double>(), 15.5);
  EXPECT_DOUBLE_EQ(b["gpu"]["util_mean_pct"].get<double>(), 87.5);
  EXPECT_TRUE(b["gpu"]["sm_clock_mean_mhz"].is_null());  // not measured -> null, not 0
  EXPECT_DOUBLE_EQ(b["gpu"]["mem_context_baseline_mib"].get<double>(), 600);
  EXPECT_DOUBLE_EQ(b["gpu"]["mem_peak_beyond_context_mib"].get<double>(), 3496);
  EXPECT_FALSE(a["memory"]["available"].get<bool>());
  EXPECT_EQ(a["memory"].size(), 1u);  // no numbers when not measured
  const auto& bm = b["memory"];
  EXPECT_TRUE(bm["available"].get<bool>());
  EXPECT_DOUBLE_EQ(bm["weights_mib"].get<double>(), 170);
  EXPECT_DOUBLE_EQ(bm["arena_mib"].get<double>(), 900);
  EXPECT_DOUBLE_EQ(bm["arena_workspace_mib"].get<double>(), 256);
  EXPECT_DOUBLE_EQ(bm["plan_buffers_mib"].get<double>(), 0.5);
  EXPECT_EQ(bm["num_plans"], 2);
  EXPECT_DOUBLE_EQ(bm["pinned_host_mib"].get<double>(), 12);
  EXPECT_DOUBLE_EQ(bm["used_at_start_mib"].get<double>(), 600);
  EXPECT_DOUBLE_EQ(bm["used_after_context_mib"].get<double>(), 650);
  EXPECT_DOUBLE_EQ(bm["used_after_weights_mib"].get<double>(), 822);
  EXPECT_DOUBLE_EQ(bm["used_after_warmup_mib"].get<double>(), 1900);
  EXPECT_DOUBLE_EQ(bm["used_now_mib"].get<double>(), 1910);
  EXPECT_DOUBLE_EQ(bm["engine_delta_mib"].get<double>(), 1310);
  EXPECT_DOUBLE_EQ(bm["handles_mib"].get<double>(), 50);
  EXPECT_DOUBLE_EQ(bm["other_mib"].get<double>(), 239.5);
}

// Option values: the numeric keys become JSON numbers (ints when integral), every other key stays the
// string it was; expected values written by hand from the JSON number grammar. nlohmann's == calls
// 3 and 3.0 equal, so the integer / float kind is checked with dump().
TEST(BenchReport, OptionValuesKeepTheirJsonTypes) {
  auto dumped = [](const char* s) { return option_value_json(s).dump(); };
  EXPECT_EQ(dumped("16"), "16");
  EXPECT_EQ(dumped("-3"), "-3");
  EXPECT_EQ(dumped("0"), "0");
  EXPECT_EQ(dumped("-0"), "0");
  EXPECT_EQ(dumped("0.5"), "0.5");
  EXPECT_EQ(dumped("0.000000"), "0.0");
  EXPECT_EQ(dumped("842.427938"), "842.427938");
  EXPECT_EQ(dumped("1e3"), "1000.0");
  EXPECT_EQ(dumped("2.5E-1"), "0.25");
  EXPECT_EQ(dumped("99999999999999999999"), "1e+20");  // past int64: a double
  for (const char* s : {"fp16", "", "-", "1.", ".5", "+4", "0x10", "inf", "nan", "1e", "1e+", " 16", "16 ", "00",
                        "0001", "007.5", "-01", "4 (--backbone-batch 4 ignored for fp32)", "n/a (cpu)", "480x640",
                        "1,2", "1e999", "1e-400"})
    EXPECT_EQ(option_value_json(s), nlohmann::json(s)) << "'" << s << "'";
  BenchReport rep = make_report();
  rep.meta.options = {{"batch", "16"}, {"precision", "fp16"}, {"duration_s", "0.500000"}, {"image", "0001"},
                      {"weights", "12"}, {"backbone_batch", "4"}};
  EXPECT_EQ(to_json(rep)["metadata"]["options"].dump(),
            R"({"backbone_batch":"4","batch":16,"duration_s":0.5,"image":"0001","precision":"fp16","weights":"12"})");
}

TEST(BenchReport, MemoryWarmupNotReadIsNull) {
  BenchReport rep = make_report();
  rep.runs[1].memory.used_after_warmup_mib = -1;  // engine created without warm-up
  const nlohmann::json j = nlohmann::json::parse(to_json(rep).dump());
  EXPECT_TRUE(j["runs"][1]["memory"]["used_after_warmup_mib"].is_null());
  EXPECT_DOUBLE_EQ(j["runs"][1]["memory"]["other_mib"].get<double>(), 239.5);
}

TEST(BenchReport, CsvColumnsAndQuoting) {
  const BenchReport rep = make_report();
  const auto rows = parse_csv(render_csv(rep));
  ASSERT_EQ(rows.size(), 3u);  // header + 2 runs
  const size_t ncol = csv_columns().size();
  for (const auto& r : rows) EXPECT_EQ(r.size(), ncol);
  EXPECT_EQ(rows[0][0], "run");
  EXPECT_EQ(rows[1][0], "480x640, b1");
  EXPECT_EQ(rows[2][0], "800x1067 \"b2\"");
  auto col = [&](const std::string& name) {
    for (size_t i = 0; i < rows[0].size(); ++i)
      if (rows[0][i] == name) return i;
    ADD_FAILURE() << "no column " << name;
    return size_t(0);
  };
  EXPECT_DOUBLE_EQ(std::stod(rows[1][col("median_ms")]), 21);
  EXPECT_DOUBLE_EQ(std::stod(rows[1][col("first_call_ms")]), 40);
  EXPECT_DOUBLE_EQ(std::stod(rows[1][col("warmup_mean_ms")]), 95);
  EXPECT_DOUBLE_EQ(std::stod(rows[1][col("backbone_median_ms")]), 5);
  EXPECT_EQ(rows[1][col("gpu_util_mean_pct")], "");  // unavailable -> empty cell
  EXPECT_DOUBLE_EQ(std::stod(rows[2][col("gpu_util_mean_pct")]), 87.5);
  EXPECT_EQ(rows[1][col("gpu_mem_beyond_context_mib")], "");
  EXPECT_DOUBLE_EQ(std::stod(rows[2][col("gpu_mem_beyond_context_mib")]), 3496);
  EXPECT_NEAR(std::stod(rows[2][col("megapixels")]), 0.8536, 1e-9);
  EXPECT_EQ(rows[2][col("device")], "Test GPU");
  EXPECT_DOUBLE_EQ(std::stod(rows[1][col("engine_creation_ms")]), 1234.5);
  EXPECT_EQ(rows[2][col("engine_creation_ms")], "");  // the second size reuses the first size's engine
  // Memory columns come last; empty when not measured.
  EXPECT_EQ(rows[0].back(), "mem_used_after_warmup_mib");
  for (const char* c : {"mem_weights_mib", "mem_arena_mib", "mem_other_mib", "mem_used_after_warmup_mib"})
    EXPECT_EQ(rows[1][col(c)], "") << c;
  EXPECT_DOUBLE_EQ(std::stod(rows[2][col("mem_weights_mib")]), 170);
  EXPECT_DOUBLE_EQ(std::stod(rows[2][col("mem_arena_mib")]), 900);
  EXPECT_DOUBLE_EQ(std::stod(rows[2][col("mem_arena_workspace_mib")]), 256);
  EXPECT_DOUBLE_EQ(std::stod(rows[2][col("mem_other_mib")]), 239.5);
  EXPECT_DOUBLE_EQ(std::stod(rows[2][col("mem_engine_delta_mib")]), 1310);
  EXPECT_DOUBLE_EQ(std::stod(rows[2][col("mem_handles_mib")]), 50);
  EXPECT_DOUBLE_EQ(std::stod(rows[2][col("mem_plan_buffers_mib")]), 0.5);
  EXPECT_DOUBLE_EQ(std::stod(rows[2][col("mem_pinned_host_mib")]), 12);
  EXPECT_DOUBLE_EQ(std::stod(rows[2][col("mem_used_at_start_mib")]), 600);
  EXPECT_DOUBLE_EQ(std::stod(rows[2][col("mem_used_after_warmup_mib")]), 1900);
}

TEST(BenchReport, MarkdownTableRows) {
  const BenchReport rep = make_report();
  const std::string md = render_markdown(rep);
  std::istringstream in(md);
  std::string line;
  std::vector<std::string> table;
  while (std::getline(in, line))
    if (!line.empty() && line[0] == '|') table.push_back(line);
  // main table, memory table, stage table: header, separator, 2 runs each
  ASSERT_EQ(table.size(), 12u);
  auto cells = [](const std::string& l) {
    int n = 0;
    for (size_t i = 0; i < l.size(); ++i)
      if (l[i] == '|' && (i == 0 || l[i - 1] != '\\')) ++n;
    return n - 1;
  };
  for (int i = 0; i < 4; ++i) EXPECT_EQ(cells(table[i]), cells(table[0])) << table[i];
  // Sizes are HEIGHTxWIDTH everywhere (as --sizes and the net input column): run a is 480 high, 640 wide.
  EXPECT_EQ(table[0].rfind("| run | size (HxW) |", 0), 0u) << table[0];
  EXPECT_NE(table[2].find(" | 480x640 | "), std::string::npos) << table[2];
  EXPECT_NE(table[3].find(" | 800x1067 | "), std::string::npos) << table[3];
  EXPECT_NE(table[2].find(" | 1234.500 | "), std::string::npos) << table[2];       // the engine's creation
  EXPECT_NE(table[3].find(" | (same engine) | "), std::string::npos) << table[3];  // a later size, no new engine
  for (int i = 4; i < 8; ++i) EXPECT_EQ(cells(table[i]), 10) << table[i];  // run + 9 memory columns
  for (int i = 8; i < 12; ++i) EXPECT_EQ(cells(table[i]), 8) << table[i];  // run + 7 stages
  EXPECT_EQ(table[6], "| 480x640, b1 | n/a | n/a | n/a | n/a | n/a | n/a | n/a | n/a | n/a |");
  EXPECT_EQ(table[7], "| 800x1067 \"b2\" | 3496.0 | 1310.0 | 170.0 | 900.0 | 256.0 | 239.5 | 50.0 | 0.50 (2) | 12.0 |");
  EXPECT_NE(md.find("Test GPU"), std::string::npos);
  EXPECT_NE(md.find("NVML not available: test"), std::string::npos);
  EXPECT_NE(md.find("| n/a |"), std::string::npos);
  EXPECT_NE(md.find("| 4096 (+3496) |"), std::string::npos) << md;  // peak (+ beyond the context)
  EXPECT_NE(md.find(std::string(maskrt::build_git_commit())), std::string::npos);
}

TEST(BenchReport, WriteAndFormatNames) {
  const BenchReport rep = make_report();
  const std::string path = ::testing::TempDir() + "maskrt_bench_report.json";
  write_report(path, rep, parse_report_format("json"));
  std::ifstream f(path);
  const nlohmann::json j = nlohmann::json::parse(f);
  EXPECT_EQ(j["runs"].size(), 2u);
  std::remove(path.c_str());
  EXPECT_EQ(parse_report_format("md"), ReportFormat::kMarkdown);
  EXPECT_EQ(parse_report_format("csv"), ReportFormat::kCsv);
  EXPECT_THROW(parse_report_format("xml"), Error);
  try {
    write_report("/nonexistent-dir/x.csv", rep, ReportFormat::kCsv);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIo);
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/x.csv"), std::string::npos);
  }
}

TEST(SystemInfo, ParseCpuModel) {
  const std::string x86 =
      "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel\t\t: 143\n"
      "model name\t: Intel(R) Xeon(R) Platinum 8480+\nstepping\t: 8\n\nprocessor\t: 1\n"
      "model name\t: Intel(R) Xeon(R) Platinum 8480+\n";
  EXPECT_EQ(parse_cpu_model(x86), "Intel(R) Xeon(R) Platinum 8480+");
  EXPECT_EQ(parse_cpu_model("processor : 0\nCPU part : 0xd4f\n"), "0xd4f");
  EXPECT_EQ(parse_cpu_model(""), "unknown");
}

TEST(Progress, TextAndTtyGate) {
  EXPECT_EQ(format_progress("warm-up", 5, 10, 10), "warm-up [#####     ]  5/10");
  EXPECT_EQ(format_progress("x", 20, 10, 4), "x [####] 10/10");
  EXPECT_EQ(format_progress("x", 0, 0, 2), "x [  ] 0/0");
  // Disabled bars write nothing (checked by redirecting stderr to a file).
  const std::string path = ::testing::TempDir() + "maskrt_progress.txt";
  std::fflush(stderr);
  const int saved_fd = dup(STDERR_FILENO);
  const int file_fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(file_fd, 0);
  ASSERT_GE(dup2(file_fd, STDERR_FILENO), 0);
  {
    ProgressBar bar("run", 3, /*enabled=*/false);
    for (int i = 1; i <= 3; ++i) bar.update(i);
  }
  ProgressBar tty_default("run", 3);  // stderr is now a file, not a TTY
  EXPECT_FALSE(tty_default.enabled());
  tty_default.finish();
  std::fflush(stderr);
  dup2(saved_fd, STDERR_FILENO);
  close(saved_fd);
  close(file_fd);
  std::ifstream f(path);
  std::string content((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(content.empty()) << content;
  std::remove(path.c_str());
}

}  // namespace
}  // namespace maskrt::bench

namespace maskrt::bench {
namespace {

// Reports record the MASKRT_* switches: only those names, sorted, "NAME=value" as given; none -> "".
TEST(BenchSystemInfo, MaskrtEnvSettingsListsOnlyMaskrtSwitchesSorted) {
  const char* env[] = {"PATH=/usr/bin", "MASKRT_STEM_S2D=1", "HOME=/root", "MASKRT_BACKBONE_BATCH=4",
                       "XMASKRT_NOT=1", "MASKRT_EMPTY=", "maskrt_lower=1", nullptr};
  EXPECT_EQ(maskrt_env_settings(env), "MASKRT_BACKBONE_BATCH=4 MASKRT_EMPTY= MASKRT_STEM_S2D=1");
  const char* none[] = {"PATH=/usr/bin", "CUDA_MODULE_LOADING=LAZY", nullptr};
  EXPECT_EQ(maskrt_env_settings(none), "");
  const char* empty[] = {nullptr};
  EXPECT_EQ(maskrt_env_settings(empty), "");
  EXPECT_EQ(maskrt_env_settings(nullptr), "");
}

}  // namespace
}  // namespace maskrt::bench
