#pragma once
// A one-line progress bar on stderr for long benchmark loops. It draws only when stderr is a
// terminal (isatty), so redirected logs and machine-readable output (stdout, report files) never
// contain it. Not thread-safe: update from one thread.
#include <chrono>
#include <cstdint>
#include <string>

namespace maskrt::bench {

// The bar's text without the leading '\r', e.g. "warm-up [##########          ]  5/10". `width` is
// the number of cells between the brackets; done is clamped to [0, total]; total <= 0 draws an empty bar.
std::string format_progress(const std::string& label, int64_t done, int64_t total, int width = 30);

class ProgressBar {
 public:
  // enabled defaults to isatty(STDERR_FILENO).
  ProgressBar(std::string label, int64_t total);
  ProgressBar(std::string label, int64_t total, bool enabled);
  ~ProgressBar();  // finish()es
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  bool enabled() const { return enabled_; }
  // Redraws at most every 50 ms (and always for the final value).
  void update(int64_t done);
  // Draws the final state and ends the line (once).
  void finish();

 private:
  void draw(int64_t done);
  std::string label_;
  int64_t total_;
  bool enabled_;
  bool finished_ = false;
  int64_t last_done_ = 0;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace maskrt::bench
