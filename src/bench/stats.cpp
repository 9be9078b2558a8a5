#include "bench/stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/check.h"

namespace maskrt::bench {

namespace {
// Linear interpolation between closest ranks on an already sorted, non-empty vector.
double percentile_sorted(const std::vector<double>& s, double q) {
  const double rank = q / 100.0 * double(s.size() - 1);
  const size_t i = static_cast<size_t>(std::floor(rank));
  if (i + 1 >= s.size()) return s.back();
  const double f = rank - double(i);
  return s[i] + f * (s[i + 1] - s[i]);
}
}  // namespace

double percentile(std::vector<double> samples, double q) {
  MASKRT_CHECK(!samples.empty(), ErrorCode::kInvalidArgument, "percentile: no samples");
  MASKRT_CHECK(q >= 0.0 && q <= 100.0, ErrorCode::kInvalidArgument, "percentile: q=", q, " is outside [0, 100]");
  for (double v : samples)
    MASKRT_CHECK(!std::isnan(v), ErrorCode::kInvalidArgument, "percentile: NaN sample");
  std::sort(samples.begin(), samples.end());
  return percentile_sorted(samples, q);
}

SampleStats compute_stats(const std::vector<double>& samples_ms) {
  SampleStats st;
  if (samples_ms.empty()) return st;
  std::vector<double> s = samples_ms;
  for (double v : s) MASKRT_CHECK(!std::isnan(v), ErrorCode::kInvalidArgument, "compute_stats: NaN sample");
  std::sort(s.begin(), s.end());
  const double n = double(s.size());
  st.count = static_cast<int64_t>(s.size());
  st.min = s.front();
  st.max = s.back();
  st.mean = std::accumulate(s.begin(), s.end(), 0.0) / n;
  st.median = percentile_sorted(s, 50.0);
  st.p90 = percentile_sorted(s, 90.0);
  st.p99 = percentile_sorted(s, 99.0);
  if (s.size() >= 2) {
    double ss = 0;  // two-pass: sum of squared deviations from the mean
    for (double v : s) ss += (v - st.mean) * (v - st.mean);
    st.stddev = std::sqrt(ss / (n - 1.0));
  }
  st.cv = st.mean != 0.0 ? st.stddev / st.mean : 0.0;
  return st;
}

double throughput_images_per_s(int64_t images, double wall_ms) {
  MASKRT_CHECK(images >= 0, ErrorCode::kInvalidArgument, "throughput: negative image count ", images);
  MASKRT_CHECK(wall_ms > 0.0, ErrorCode::kInvalidArgument, "throughput: wall time must be > 0 ms, got ", wall_ms);
  return double(images) / (wall_ms / 1000.0);
}

const char* stage_name(Stage stage) {
  switch (stage) {
    case Stage::kPreprocess: return "preprocess";
    case Stage::kBackbone: return "backbone";
    case Stage::kFpn: return "fpn";
    case Stage::kRpn: return "rpn";
    case Stage::kBoxHead: return "box_head";
    case Stage::kMaskHead: return "mask_head";
    case Stage::kPostprocess: return "postprocess";
  }
  MASKRT_ASSERT(false, "unknown stage");
  return "";
}

void BenchRun::add_stage_times(const StageTimes& t) {
  const double v[kNumStages] = {t.preprocess, t.backbone, t.fpn, t.rpn, t.box_head, t.mask_head, t.postprocess};
  for (int i = 0; i < kNumStages; ++i) stage_ms[i].push_back(v[i]);
}

void BenchRun::record_iteration(double ms, const StageTimes* stages) {
  if (static_cast<int64_t>(warmup_ms.size()) < warmup_iterations) {
    warmup_ms.push_back(ms);
  } else if (!has_first_call) {
    has_first_call = true;
    first_call_ms = ms;
  } else {
    steady_ms.push_back(ms);
    if (stages) add_stage_times(*stages);
  }
}

double BenchRun::throughput() const {
  if (steady_ms.empty()) return 0.0;
  double wall = steady_wall_ms;
  if (wall <= 0.0) wall = std::accumulate(steady_ms.begin(), steady_ms.end(), 0.0);
  if (wall <= 0.0) return 0.0;
  return throughput_images_per_s(int64_t(batch_size) * streams * iterations(), wall);
}

double BenchRun::host_wait_share() const {
  if (host_wait_ms.empty() || host_wait_ms.size() != steady_ms.size()) return -1.0;
  std::vector<double> share;
  share.reserve(steady_ms.size());
  for (size_t i = 0; i < steady_ms.size(); ++i)
    if (steady_ms[i] > 0) share.push_back(host_wait_ms[i] / steady_ms[i]);
  return share.empty() ? -1.0 : percentile(share, 50.0);
}

}  // namespace maskrt::bench
