// bench_ops_cpu: times maskrt's CPU dense ops on the shapes of a full-width R50-FPN at 800x1088
// (an 800x1067 image padded to 32) and of the box/mask heads. A measurement instrument, not a test.
//
//   bench_ops_cpu [--iters N] [--warmup N] [--only SUBSTRING] [--backbone]
// Threads: OMP_NUM_THREADS (OpenBLAS is forced to one thread; see ops/linear/blas_threading.h).
// Per case: warm-up runs, then N timed runs; prints median, p10, p90 (ms) and the raw samples.
// --backbone sums median * count over every conv of the R50-FPN backbone (stem, res2..res5, FPN).
// bench/bench_ops_torch.py times the same cases with PyTorch for comparison.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/build_info.h"
#include "ops/conv2d/conv2d.h"
#include "ops/conv_transpose2d/conv_transpose2d.h"
#include "ops/linear/blas_threading.h"
#include "ops/linear/linear.h"
#include "ops/pooling/pooling.h"
#include "ops/upsample/upsample.h"

using namespace maskrt;

namespace {

struct ConvCase {
  const char* name;
  int c, o, k, stride, pad, h, w, count;  // count: how many times the backbone runs this conv
};

// R50-FPN (Detectron2 defaults: STRIDE_IN_1X1 True, RES2_OUT_CHANNELS 256) on a 1x3x800x1088 input.
const std::vector<ConvCase> kBackbone = {
    {"stem 7x7 s2 3->64 @800x1088", 3, 64, 7, 2, 3, 800, 1088, 1},
    {"res2 1x1 64->256 @200x272", 64, 256, 1, 1, 0, 200, 272, 4},   // shortcut + 3x conv3
    {"res2 1x1 64->64 @200x272", 64, 64, 1, 1, 0, 200, 272, 1},     // block0 conv1
    {"res2 1x1 256->64 @200x272", 256, 64, 1, 1, 0, 200, 272, 2},   // blocks1-2 conv1
    {"res2 3x3 64->64 @200x272", 64, 64, 3, 1, 1, 200, 272, 3},
    {"res3 1x1 s2 256->512 @200x272", 256, 512, 1, 2, 0, 200, 272, 1},  // shortcut
    {"res3 1x1 s2 256->128 @200x272", 256, 128, 1, 2, 0, 200, 272, 1},  // block0 conv1
    {"res3 1x1 512->128 @100x136", 512, 128, 1, 1, 0, 100, 136, 3},
    {"res3 3x3 128->128 @100x136", 128, 128, 3, 1, 1, 100, 136, 4},
    {"res3 1x1 128->512 @100x136", 128, 512, 1, 1, 0, 100, 136, 4},
    {"res4 1x1 s2 512->1024 @100x136", 512, 1024, 1, 2, 0, 100, 136, 1},
    {"res4 1x1 s2 512->256 @100x136", 512, 256, 1, 2, 0, 100, 136, 1},
    {"res4 1x1 1024->256 @50x68", 1024, 256, 1, 1, 0, 50, 68, 5},
    {"res4 3x3 256->256 @50x68", 256, 256, 3, 1, 1, 50, 68, 6},
    {"res4 1x1 256->1024 @50x68", 256, 1024, 1, 1, 0, 50, 68, 6},
    {"res5 1x1 s2 1024->2048 @50x68", 1024, 2048, 1, 2, 0, 50, 68, 1},
    {"res5 1x1 s2 1024->512 @50x68", 1024, 512, 1, 2, 0, 50, 68, 1},
    {"res5 1x1 2048->512 @25x34", 2048, 512, 1, 1, 0, 25, 34, 2},
    {"res5 3x3 512->512 @25x34", 512, 512, 3, 1, 1, 25, 34, 3},
    {"res5 1x1 512->2048 @25x34", 512, 2048, 1, 1, 0, 25, 34, 3},
    {"fpn lateral 1x1 256->256 @200x272", 256, 256, 1, 1, 0, 200, 272, 1},
    {"fpn lateral 1x1 512->256 @100x136", 512, 256, 1, 1, 0, 100, 136, 1},
    {"fpn lateral 1x1 1024->256 @50x68", 1024, 256, 1, 1, 0, 50, 68, 1},
    {"fpn lateral 1x1 2048->256 @25x34", 2048, 256, 1, 1, 0, 25, 34, 1},
    {"fpn output 3x3 256->256 @200x272", 256, 256, 3, 1, 1, 200, 272, 1},
    {"fpn output 3x3 256->256 @100x136", 256, 256, 3, 1, 1, 100, 136, 1},
    {"fpn output 3x3 256->256 @50x68", 256, 256, 3, 1, 1, 50, 68, 1},
    {"fpn output 3x3 256->256 @25x34", 256, 256, 3, 1, 1, 25, 34, 1},
};

// The brief's representative convs (unpadded 800x1067 feature sizes) plus a ResNeXt grouped conv.
const std::vector<ConvCase> kRepresentative = {
    {"3x3 256->256 @200x268", 256, 256, 3, 1, 1, 200, 268, 1},
    {"1x1 1024->256 @50x67", 1024, 256, 1, 1, 0, 50, 67, 1},
    {"7x7 s2 3->64 @800x1088", 3, 64, 7, 2, 3, 800, 1088, 1},
};

struct Stats {
  double median, p10, p90;
  std::vector<double> samples;
};

Stats time_it(const std::function<void()>& fn, int warmup, int iters) {
  for (int i = 0; i < warmup; ++i) fn();
  Stats s;
  for (int i = 0; i < iters; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    s.samples.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::vector<double> v = s.samples;
  std::sort(v.begin(), v.end());
  auto q = [&](double f) { return v[std::min(v.size() - 1, static_cast<size_t>(f * (v.size() - 1) + 0.5))]; };
  s.median = q(0.5), s.p10 = q(0.1), s.p90 = q(0.9);
  return s;
}

void print(const char* name, const Stats& s) {
  std::printf("%-40s median %9.3f ms  p10 %9.3f  p90 %9.3f  samples [", name, s.median, s.p10, s.p90);
  for (size_t i = 0; i < s.samples.size(); ++i) std::printf("%s%.3f", i ? " " : "", s.samples[i]);
  std::printf("]\n");
}

Tensor random_tensor(const Shape& shape, std::mt19937& rng, float scale) {
  std::normal_distribution<float> d(0.0f, scale);
  Tensor t = Tensor::empty(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = d(rng);
  return t;
}

double run_conv(const ConvCase& c, int warmup, int iters, std::mt19937& rng) {
  const Tensor x = random_tensor({1, c.c, c.h, c.w}, rng, 1.0f);
  const Tensor w = random_tensor({c.o, c.c, c.k, c.k}, rng, 0.05f);
  const Tensor b = random_tensor({c.o}, rng, 0.1f);
  ops::Conv2dParams p;
  p.stride_h = p.stride_w = c.stride;
  p.pad_h = p.pad_w = c.pad;
  p.relu = true;
  const Stats s = time_it([&] { ops::conv2d_cpu(p, x, w, b); }, warmup, iters);
  print(c.name, s);
  return s.median;
}

}  // namespace

int main(int argc, char** argv) {
  int iters = 10, warmup = 2;
  std::string only;
  bool backbone = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--iters") && i + 1 < argc) iters = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--warmup") && i + 1 < argc) warmup = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
    else if (!std::strcmp(argv[i], "--backbone")) backbone = true;
    else {
      std::fprintf(stderr, "usage: %s [--iters N] [--warmup N] [--only SUBSTRING] [--backbone]\n", argv[0]);
      return 2;
    }
  }
  ops::detail::blas_prepare();  // what the ops do on their first call
  std::printf("# bench_ops_cpu  maskrt %s (%s)  omp threads %d  %s  kernel %s\n", MASKRT_VERSION, maskrt::build_git_commit(),
              omp_get_max_threads(), openblas_get_config(), ops::detail::blas_description().c_str());
  std::printf("# warmup %d iters %d; conv cases include bias + ReLU\n", warmup, iters);
  std::mt19937 rng(1);
  auto wanted = [&](const char* name) { return only.empty() || std::string(name).find(only) != std::string::npos; };

  for (const auto& c : kRepresentative)
    if (wanted(c.name)) run_conv(c, warmup, iters, rng);

  if (wanted("grouped")) {  // ResNeXt-101 32x8d res3-like grouped conv
    const ConvCase g{"grouped 3x3 g32 512->512 @100x136", 512, 512, 3, 1, 1, 100, 136, 1};
    const Tensor x = random_tensor({1, 512, 100, 136}, rng, 1.0f), w = random_tensor({512, 16, 3, 3}, rng, 0.05f);
    ops::Conv2dParams p;
    p.pad_h = p.pad_w = 1;
    p.groups = 32;
    print(g.name, time_it([&] { ops::conv2d_cpu(p, x, w, Tensor()); }, warmup, iters));
  }
  if (wanted("maxpool")) {
    const Tensor x = random_tensor({1, 64, 400, 544}, rng, 1.0f);
    print("maxpool k3 s2 p1 64 @400x544", time_it([&] { ops::max_pool2d_cpu({3, 2, 1}, x); }, warmup, iters));
  }
  if (wanted("upsample")) {
    const Tensor top = random_tensor({1, 256, 100, 136}, rng, 1.0f), lat = random_tensor({1, 256, 200, 272}, rng, 1.0f);
    print("upsample2x_add 256 @100x136", time_it([&] { ops::upsample_nearest2x_add_cpu(top, lat); }, warmup, iters));
  }
  if (wanted("linear")) {
    const Tensor x = random_tensor({1000, 12544}, rng, 1.0f), w = random_tensor({1024, 12544}, rng, 0.01f);
    const Tensor b = random_tensor({1024}, rng, 0.1f);
    print("linear fc6 1000x12544 -> 1024", time_it([&] { ops::linear_cpu(x, w, b, true); }, warmup, iters));
  }
  if (wanted("deconv")) {
    const Tensor x = random_tensor({100, 256, 14, 14}, rng, 1.0f), w = random_tensor({256, 256, 2, 2}, rng, 0.05f);
    const Tensor b = random_tensor({256}, rng, 0.1f);
    print("deconv 100x256x14x14 -> 256x28x28", time_it([&] { ops::conv_transpose2x2_cpu(x, w, b, true); }, warmup, iters));
  }
  if (backbone) {
    double total = 0.0;
    for (const auto& c : kBackbone) total += c.count * run_conv(c, warmup, iters, rng);
    std::printf("R50-FPN backbone convs at 800x1088: sum(median * count) = %.1f ms\n", total);
  }
  return 0;
}
