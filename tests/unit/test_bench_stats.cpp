// bench statistics against hand-computed values (numpy.percentile's default "linear" method).
#include <gtest/gtest.h>

#include <cmath>

#include "bench/nvml_sampler.h"
#include "bench/stats.h"
#include "maskrt/errors.h"

namespace maskrt::bench {
namespace {

// samples {40, 15, 50, 35, 20} -> sorted {15, 20, 35, 40, 50}, n = 5, rank r = q/100 * 4:
//   p50: r = 2    -> 35
//   p90: r = 3.6  -> 40 + 0.6 * (50 - 40) = 46
//   p99: r = 3.96 -> 40 + 0.96 * 10 = 49.6
//   mean = 160 / 5 = 32; deviations -17 -12 3 8 18 -> squares sum 830; sample var 830/4 = 207.5
//   stddev = sqrt(207.5) = 14.404860290887934; cv = 14.4048.../32 = 0.4501518840902479
// (numpy: np.percentile(a, [50, 90, 99]) = [35, 46, 49.6]; a.std(ddof=1) = 14.404860290887934)
TEST(BenchStats, FiveSamplesHandComputed) {
  const SampleStats s = compute_stats({40, 15, 50, 35, 20});
  EXPECT_EQ(s.count, 5);
  EXPECT_DOUBLE_EQ(s.min, 15);
  EXPECT_DOUBLE_EQ(s.max, 50);
  EXPECT_DOUBLE_EQ(s.mean, 32);
  EXPECT_DOUBLE_EQ(s.median, 35);
  EXPECT_NEAR(s.p90, 46, 1e-12);
  EXPECT_NEAR(s.p99, 49.6, 1e-12);
  EXPECT_NEAR(s.stddev, 14.404860290887934, 1e-12);
  EXPECT_NEAR(s.cv, 0.4501518840902479, 1e-12);
}

// {1..10}: p50 r = 4.5 -> 5.5; p90 r = 8.1 -> 9.1; p99 r = 8.91 -> 9.91 (numpy agrees).
TEST(BenchStats, OneToTen) {
  std::vector<double> v;
  for (int i = 10; i >= 1; --i) v.push_back(i);
  const SampleStats s = compute_stats(v);
  EXPECT_DOUBLE_EQ(s.median, 5.5);
  EXPECT_NEAR(s.p90, 9.1, 1e-12);
  EXPECT_NEAR(s.p99, 9.91, 1e-12);
}

// {1, 2, 3, 4}: p0 = 1, p25 r = 0.75 -> 1.75, p50 -> 2.5, p75 r = 2.25 -> 3.25, p100 = 4.
TEST(BenchStats, PercentileEdges) {
  const std::vector<double> v = {4, 1, 3, 2};
  EXPECT_DOUBLE_EQ(percentile(v, 0), 1);
  EXPECT_DOUBLE_EQ(percentile(v, 25), 1.75);
  EXPECT_DOUBLE_EQ(percentile(v, 50), 2.5);
  EXPECT_DOUBLE_EQ(percentile(v, 75), 3.25);
  EXPECT_DOUBLE_EQ(percentile(v, 100), 4);
  EXPECT_DOUBLE_EQ(percentile({7}, 99), 7);
  EXPECT_THROW(percentile({}, 50), Error);
  EXPECT_THROW(percentile(v, 101), Error);
  EXPECT_THROW(percentile(v, -1), Error);
  EXPECT_THROW(percentile({1, std::nan("")}, 50), Error);
}

TEST(BenchStats, SingleAndEmpty) {
  const SampleStats one = compute_stats({3.5});
  EXPECT_EQ(one.count, 1);
  EXPECT_DOUBLE_EQ(one.median, 3.5);
  EXPECT_DOUBLE_EQ(one.p99, 3.5);
  EXPECT_DOUBLE_EQ(one.stddev, 0);
  EXPECT_DOUBLE_EQ(one.cv, 0);
  const SampleStats none = compute_stats({});
  EXPECT_EQ(none.count, 0);
  EXPECT_DOUBLE_EQ(none.mean, 0);
}

// CV is scale-free: multiplying every sample by a constant leaves it unchanged; constant samples -> 0.
TEST(BenchStats, CoefficientOfVariation) {
  const SampleStats a = compute_stats({10, 12, 14});  // mean 12, var (4 + 0 + 4) / 2 = 4, sd 2, cv 1/6
  EXPECT_NEAR(a.stddev, 2.0, 1e-12);
  EXPECT_NEAR(a.cv, 1.0 / 6.0, 1e-12);
  const SampleStats b = compute_stats({100, 120, 140});
  EXPECT_NEAR(b.cv, a.cv, 1e-12);
  EXPECT_DOUBLE_EQ(compute_stats({5, 5, 5}).cv, 0);
}

TEST(BenchStats, Throughput) {
  EXPECT_DOUBLE_EQ(throughput_images_per_s(80, 2000), 40);  // 80 images in 2 s
  EXPECT_THROW(throughput_images_per_s(1, 0), Error);
  EXPECT_THROW(throughput_images_per_s(-1, 10), Error);
}

// Warm-up iterations go to warmup_ms, the next to first_call_ms, only the rest to the statistics.
TEST(BenchRun, WarmupNeverInSteadyState) {
  BenchRun r;
  r.batch_size = 2;
  r.warmup_iterations = 3;
  StageTimes st;
  st.backbone = 4.0;
  for (double ms : {900.0, 500.0, 300.0}) r.record_iteration(ms, &st);  // warm-up, slow
  r.record_iteration(50.0, &st);                                          // first call after warm-up
  for (double ms : {10.0, 11.0, 12.0, 13.0}) r.record_iteration(ms, &st);
  ASSERT_EQ(r.warmup_ms, (std::vector<double>{900, 500, 300}));
  EXPECT_TRUE(r.has_first_call);
  EXPECT_DOUBLE_EQ(r.first_call_ms, 50);
  ASSERT_EQ(r.steady_ms, (std::vector<double>{10, 11, 12, 13}));
  EXPECT_EQ(r.iterations(), 4);
  const SampleStats s = r.steady_stats();
  EXPECT_DOUBLE_EQ(s.max, 13);
  EXPECT_DOUBLE_EQ(s.mean, 11.5);
  // Stage samples only for the 4 steady iterations.
  EXPECT_EQ(r.stage_ms[static_cast<int>(Stage::kBackbone)].size(), 4u);
  EXPECT_DOUBLE_EQ(r.stage_stats(Stage::kBackbone).median, 4.0);
  // Throughput without a wall clock: 2 images x 4 iterations / 46 ms.
  EXPECT_NEAR(r.throughput(), 8.0 / 0.046, 1e-9);
  r.streams = 2;
  r.steady_wall_ms = 25;  // concurrent streams: 2 x 2 x 4 = 16 images in 25 ms
  EXPECT_NEAR(r.throughput(), 640.0, 1e-9);
}

TEST(BenchRun, NoWarmup) {
  BenchRun r;
  r.record_iteration(7);
  r.record_iteration(3);
  EXPECT_TRUE(r.warmup_ms.empty());
  EXPECT_DOUBLE_EQ(r.first_call_ms, 7);
  EXPECT_EQ(r.steady_ms, std::vector<double>{3});
  EXPECT_DOUBLE_EQ(BenchRun{}.throughput(), 0);
}

// host_wait_share: median over calls of wait / latency, hand-computed; -1 when not recorded (the CPU)
// or when the wait samples do not pair with the latencies.
TEST(BenchRun, HostWaitShare) {
  BenchRun r;
  EXPECT_DOUBLE_EQ(r.host_wait_share(), -1);
  r.steady_ms = {10, 20, 40};
  r.host_wait_ms = {5, 2, 30};  // shares 0.5, 0.1, 0.75 -> median 0.5
  EXPECT_DOUBLE_EQ(r.host_wait_share(), 0.5);
  r.steady_ms.push_back(8);
  r.host_wait_ms.push_back(8);  // shares 0.5, 0.1, 0.75, 1.0 -> median (0.5 + 0.75) / 2
  EXPECT_DOUBLE_EQ(r.host_wait_share(), 0.625);
  r.host_wait_ms.pop_back();  // unpaired
  EXPECT_DOUBLE_EQ(r.host_wait_share(), -1);
}

TEST(BenchRun, StageNames) {
  EXPECT_STREQ(stage_name(Stage::kPreprocess), "preprocess");
  EXPECT_STREQ(stage_name(Stage::kBoxHead), "box_head");
  EXPECT_STREQ(stage_name(Stage::kPostprocess), "postprocess");
}

// GPU sample summary: hand-computed means, skipping unread (-1) metrics.
TEST(GpuSummary, HandComputed) {
  std::vector<GpuSample> s(3);
  s[0] = {0, 50, 1000, 200, 1500};
  s[1] = {20, 100, 3000, -1, 1700};
  s[2] = {40, 30, 2000, 300, -1};
  const GpuUtilSummary g = summarize_gpu_samples(s, 20);
  EXPECT_TRUE(g.available);
  EXPECT_EQ(g.samples, 3);
  EXPECT_DOUBLE_EQ(g.util_mean_pct, 60);
  EXPECT_DOUBLE_EQ(g.util_max_pct, 100);
  EXPECT_DOUBLE_EQ(g.mem_used_peak_mib, 3000);
  EXPECT_TRUE(g.power_available);
  EXPECT_DOUBLE_EQ(g.power_mean_w, 250);
  EXPECT_DOUBLE_EQ(g.sm_clock_mean_mhz, 1600);
  EXPECT_FALSE(summarize_gpu_samples({}, 20).available);
}

// Absent library: no crash, available() false with a reason naming the library; start/stop are inert.
TEST(NvmlSampler, MissingLibraryIsGraceful) {
  NvmlSampler s(0, "libmaskrt-no-such-nvml.so.1");
  EXPECT_FALSE(s.available());
  EXPECT_NE(s.reason().find("libmaskrt-no-such-nvml.so.1"), std::string::npos);
  s.start(5);
  const GpuUtilSummary g = s.stop();
  EXPECT_FALSE(g.available);
  EXPECT_EQ(g.reason, s.reason());
  EXPECT_TRUE(s.samples().empty());
  EXPECT_DOUBLE_EQ(s.sample_now().util_gpu_pct, -1);
  EXPECT_THROW(s.start(0), Error);
}

// The real library: on machines with an NVIDIA driver it samples; elsewhere it must say why not.
TEST(NvmlSampler, DefaultLibrary) {
  NvmlSampler s;
  if (!s.available()) {
    EXPECT_FALSE(s.reason().empty());
    GTEST_SKIP() << s.reason();
  }
  EXPECT_FALSE(s.device_name().empty());
  s.start(5);
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  const GpuUtilSummary g = s.stop();
  EXPECT_TRUE(g.available);
  EXPECT_GE(g.samples, 2);
  EXPECT_GE(g.util_max_pct, 0);
  EXPECT_LE(g.util_max_pct, 100);
  EXPECT_GT(g.mem_used_peak_mib, 0);
}

}  // namespace
}  // namespace maskrt::bench
