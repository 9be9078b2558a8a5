#include "bench/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace maskrt::bench {

std::string format_progress(const std::string& label, int64_t done, int64_t total, int width) {
  width = std::max(width, 1);
  done = std::clamp<int64_t>(done, 0, std::max<int64_t>(total, 0));
  const int filled = total > 0 ? static_cast<int>(done * width / total) : 0;
  std::string s = label + " [" + std::string(filled, '#') + std::string(width - filled, ' ') + "] ";
  const std::string t = std::to_string(std::max<int64_t>(total, 0));
  std::string d = std::to_string(done);
  if (d.size() < t.size()) d = std::string(t.size() - d.size(), ' ') + d;
  return s + d + "/" + t;
}

ProgressBar::ProgressBar(std::string label, int64_t total)
    : ProgressBar(std::move(label), total, isatty(STDERR_FILENO) == 1) {}

ProgressBar::ProgressBar(std::string label, int64_t total, bool enabled)
    : label_(std::move(label)), total_(total), enabled_(enabled) {}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::draw(int64_t done) {
  std::fprintf(stderr, "\r%s", format_progress(label_, done, total_).c_str());
  std::fflush(stderr);
  last_draw_ = std::chrono::steady_clock::now();
}

void ProgressBar::update(int64_t done) {
  last_done_ = done;
  if (!enabled_ || finished_) return;
  const auto now = std::chrono::steady_clock::now();
  if (done >= total_ || now - last_draw_ >= std::chrono::milliseconds(50)) draw(done);
}

void ProgressBar::finish() {
  if (finished_) return;
  finished_ = true;
  if (!enabled_) return;
  draw(last_done_);
  std::fputc('\n', stderr);
  std::fflush(stderr);
}

}  // namespace maskrt::bench
