// bench_unpack_masks: host time of ops::unpack_pasted_masks, the CUDA pipeline's last step on the
// CPU (COCO RLE of every detection from the downloaded packed bits; on the batch-1 critical path).
// A measurement instrument, not a test: a synthetic block of D elliptic masks with seeded random
// regions (20 .. a third of each image side) in an H x W image, the layout the paste kernel writes.
// Prints the minimum over trials of the mean time per call (the minimum filters out other load).
//   bench_unpack_masks [height=1344] [width=1344] [detections=100] [trials=15] [calls_per_trial=30]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "ops/paste_mask/paste_mask_packed.h"

using namespace maskrt::ops;

int main(int argc, char** argv) {
  const int H = argc > 1 ? std::atoi(argv[1]) : 1344, W = argc > 2 ? std::atoi(argv[2]) : 1344;
  const int D = argc > 3 ? std::atoi(argv[3]) : 100;
  const int trials = argc > 4 ? std::atoi(argv[4]) : 15, calls = argc > 5 ? std::atoi(argv[5]) : 30;
  if (H < 64 || W < 64 || D < 1 || D > kPasteMaskMaxDetections || trials < 1 || calls < 1) {
    std::fprintf(stderr, "usage: bench_unpack_masks [height>=64] [width>=64] [detections 1..%d] [trials] [calls]\n",
                 kPasteMaskMaxDetections);
    return 2;
  }
  PasteMaskCudaParams p;
  p.capacity = D;
  p.mask_size = 28;
  p.resized_h = p.orig_h = H;
  p.resized_w = p.orig_w = W;
  p.threshold = 0.5f;
  p.words_capacity = paste_mask_default_words_capacity(H, W);
  const PasteMaskBlockLayout l = paste_mask_block_layout(p);
  std::vector<uint64_t> storage(l.bytes / 8 + 1, 0);  // 8-byte aligned block
  char* block = reinterpret_cast<char*>(storage.data());
  auto* rec = reinterpret_cast<PasteMaskRecord*>(block + l.records);
  auto* words = reinterpret_cast<uint32_t*>(block + l.words);
  std::mt19937 rng(1);
  int64_t used = 0;
  int kept = 0;
  for (int j = 0; j < D; ++j) {
    const int w = 20 + static_cast<int>(rng() % (W / 3)), h = 20 + static_cast<int>(rng() % (H / 3));
    const int x0 = static_cast<int>(rng() % (W - w)), y0 = static_cast<int>(rng() % (H - h));
    const int64_t need = paste_mask_region_words(w, h);
    if (used + need > p.words_capacity) break;
    PasteMaskRecord& r = rec[kept];
    r.src = j;
    r.box[0] = static_cast<float>(x0);
    r.box[1] = static_cast<float>(y0);
    r.box[2] = static_cast<float>(x0 + w);
    r.box[3] = static_cast<float>(y0 + h);
    r.x0 = x0;
    r.y0 = y0;
    r.w = w;
    r.h = h;
    r.word_offset = static_cast<int32_t>(used);
    const int wpc = (h + 31) / 32;
    for (int x = 0; x < w; ++x)
      for (int y = 0; y < h; ++y) {
        const double dx = (x + 0.5) / w - 0.5, dy = (y + 0.5) / h - 0.5;
        if (dx * dx + dy * dy < 0.25) words[used + int64_t{x} * wpc + y / 32] |= 1u << (y % 32);
      }
    used += need;
    ++kept;
  }
  const PasteMaskHeader hdr{kept, static_cast<int32_t>(used), 0, kept};
  std::memcpy(block + l.header, &hdr, sizeof hdr);
  const std::vector<float> scores(D, 0.9f);
  const std::vector<int> classes(D, 1);
  size_t runs = 0;
  for (int i = 0; i < 5; ++i) runs += unpack_pasted_masks(p, block, scores.data(), classes.data(), nullptr).size();
  double best = 1e30;
  for (int t = 0; t < trials; ++t) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int c = 0; c < calls; ++c) {
      const std::vector<maskrt::Instance> v = unpack_pasted_masks(p, block, scores.data(), classes.data(), nullptr);
      runs += v.empty() ? 0 : v.front().mask.counts.size();
    }
    best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / calls);
  }
  std::printf("unpack_pasted_masks %dx%d, %d masks, %lld words: %.3f ms per call (min over %d trials of %d; %zu)\n",
              H, W, kept, static_cast<long long>(used), best, trials, calls, runs);
  return 0;
}
