// CUDA packed mask paste (paste_mask_cuda.h) vs detector_postprocess on the host (boxes rescaled and
// clipped, empty ones dropped, paste_mask_cpu + rle_encode per detection): after one download and
// unpack_pasted_masks, every instance (box bits, score, class, kept set, RLE counts) must be equal.
// Seeded random sweeps over image sizes (1x1, odd, 1080x1920), box kinds (inside, partly outside,
// inverted / degenerate, sub-pixel, whole image, NaN), mask sizes, counts (0, some, capacity, above
// capacity, null count) and mask values (uniform, exactly 0.5, next to 0.5); word capacities that
// force the CPU fallback; a garbage-filled output block; a CUDA-graph replay with a new device count.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include <gtest/gtest.h>

#include "cuda_test_util.h"
#include "model/postprocessing.h"
#include "ops/paste_mask/paste_mask_cuda.h"

namespace maskrt {
namespace {
using test::DeviceBuffer;

struct Case {
  int resized_h, resized_w, orig_h, orig_w, M, D;
};

struct Inputs {
  std::vector<float> boxes;   // (D, 4) resized pixels
  std::vector<float> scores;  // (D)
  std::vector<int> classes;   // (D)
  std::vector<float> masks;   // (D, M, M)
};

Inputs random_inputs(std::mt19937& rng, const Case& c) {
  Inputs in;
  in.boxes.resize(4 * static_cast<size_t>(c.D));
  in.scores.resize(c.D);
  in.classes.resize(c.D);
  in.masks.resize(static_cast<size_t>(c.D) * c.M * c.M);
  const float rw = static_cast<float>(c.resized_w), rh = static_cast<float>(c.resized_h);
  std::uniform_real_distribution<float> u01(0.f, 1.f);
  auto in_range = [&](float lo, float hi) { return lo + (hi - lo) * u01(rng); };
  for (int i = 0; i < c.D; ++i) {
    float* b = &in.boxes[4 * static_cast<size_t>(i)];
    float x0, y0, x1, y1;
    switch (rng() % 9) {
      case 0: x0 = in_range(0, rw); y0 = in_range(0, rh); x1 = in_range(x0, rw); y1 = in_range(y0, rh); break;  // inside
      case 1: x0 = in_range(-0.5f * rw, rw); y0 = in_range(-0.5f * rh, rh);                                  // partly outside
              x1 = x0 + in_range(0, rw); y1 = y0 + in_range(0, rh); break;
      case 2: x0 = in_range(0, rw); y0 = in_range(0, rh); x1 = x0 - in_range(0, 5); y1 = y0 + in_range(0, 5); break;  // inverted
      case 3: x0 = in_range(0, rw); y0 = in_range(0, rh); x1 = x0; y1 = y0 + 1; break;   // zero width
      case 4: x0 = in_range(0, rw); y0 = in_range(0, rh); x1 = x0 + in_range(0, 0.05f); y1 = y0 + in_range(0, 0.05f); break;  // sub-pixel
      case 5: x0 = 0; y0 = 0; x1 = rw; y1 = rh; break;                                   // whole image
      case 6: x0 = std::floor(in_range(0, rw / 2)); y0 = std::floor(in_range(0, rh / 2)); // integer box
              x1 = x0 + std::floor(in_range(1, rw / 2)); y1 = y0 + std::floor(in_range(1, rh / 2)); break;
      case 7: x0 = in_range(-rw, 2 * rw); y0 = in_range(-rh, 2 * rh); x1 = in_range(-rw, 2 * rw); y1 = in_range(-rh, 2 * rh); break;
      default:
        x0 = (rng() % 4 == 0) ? NAN : in_range(0, rw / 2); y0 = in_range(0, rh / 2); x1 = in_range(rw / 2, rw); y1 = in_range(rh / 2, rh);
    }
    b[0] = x0;
    b[1] = y0;
    b[2] = x1;
    b[3] = y1;
    in.scores[i] = u01(rng);
    in.classes[i] = static_cast<int>(rng() % 80);
    float* m = &in.masks[static_cast<size_t>(i) * c.M * c.M];
    const int kind = static_cast<int>(rng() % 4);
    for (int k = 0; k < c.M * c.M; ++k) {
      switch (kind) {
        case 0: m[k] = u01(rng); break;
        case 1: m[k] = 0.5f; break;  // constant at the threshold: the FMA order decides every pixel
        case 2: m[k] = (rng() % 3 == 0) ? 0.5f : (rng() % 2 ? std::nextafter(0.5f, 1.f) : std::nextafter(0.5f, 0.f)); break;
        default: m[k] = (rng() % 2) ? 0.5f : u01(rng);
      }
    }
  }
  return in;
}

ops::PasteMaskCudaParams params_for(const Case& c, int64_t words_capacity) {
  ops::PasteMaskCudaParams p;
  p.capacity = c.D;
  p.mask_size = c.M;
  p.resized_h = c.resized_h;
  p.resized_w = c.resized_w;
  p.orig_h = c.orig_h;
  p.orig_w = c.orig_w;
  p.threshold = 0.5f;
  p.words_capacity = words_capacity;
  return p;
}

std::vector<Instance> host_reference(const Case& c, const Inputs& in, int n) {
  Detections det;
  det.pred_boxes = Tensor({n, 4}, std::vector<float>(in.boxes.begin(), in.boxes.begin() + 4 * static_cast<size_t>(n)));
  det.scores.assign(in.scores.begin(), in.scores.begin() + n);
  det.pred_classes.assign(in.classes.begin(), in.classes.begin() + n);
  det.mask_probs = Tensor({n, c.M, c.M}, std::vector<float>(in.masks.begin(),
                                                              in.masks.begin() + static_cast<size_t>(n) * c.M * c.M));
  return detector_postprocess(det, c.resized_h, c.resized_w, c.orig_h, c.orig_w, true, 0.5f);
}

void expect_same(const std::vector<Instance>& got, const std::vector<Instance>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t j = 0; j < got.size(); ++j) {
    for (int k = 0; k < 4; ++k)
      ASSERT_EQ(std::memcmp(&got[j].box[k], &want[j].box[k], sizeof(float)), 0)
          << what << " instance " << j << " box[" << k << "] " << got[j].box[k] << " vs " << want[j].box[k];
    ASSERT_EQ(got[j].score, want[j].score) << what << " instance " << j;
    ASSERT_EQ(got[j].pred_class, want[j].pred_class) << what << " instance " << j;
    ASSERT_TRUE(got[j].has_mask) << what;
    ASSERT_EQ(got[j].mask.height, want[j].mask.height) << what;
    ASSERT_EQ(got[j].mask.width, want[j].mask.width) << what;
    ASSERT_EQ(got[j].mask.counts, want[j].mask.counts) << what << " instance " << j;
  }
}

struct RunResult {
  std::vector<Instance> instances;
  ops::PasteMaskHeader header;
};

// Upload, paste into a garbage-filled block, download the block in one copy, unpack.
RunResult run_device(const ops::PasteMaskCudaParams& p, const Inputs& in, const int* count_or_null) {
  const ops::PasteMaskBlockLayout l = ops::paste_mask_block_layout(p);
  DeviceBuffer d_boxes = test::upload(in.boxes), d_masks = test::upload(in.masks);
  DeviceBuffer d_count;
  if (count_or_null) d_count = test::upload(count_or_null, 1);
  DeviceBuffer d_block = test::dirty_workspace(l.bytes);
  ops::paste_masks_cuda(p, count_or_null ? d_count.as<int>() : nullptr, d_boxes.as<float>(), d_masks.as<float>(),
                        d_block.get(), nullptr);
  MASKRT_CUDA_CHECK(cudaDeviceSynchronize());
  const std::vector<uint32_t> block = test::download<uint32_t>(d_block, l.bytes / 4);
  RunResult r;
  std::memcpy(&r.header, block.data(), sizeof r.header);
  r.instances = ops::unpack_pasted_masks(p, block.data(), in.scores.data(), in.classes.data(), in.masks.data());
  return r;
}

const Case kCases[] = {
    {800, 1067, 480, 640, 28, 100},  // COCO-like
    {800, 1333, 1080, 1920, 28, 40},  // full HD
    {37, 53, 61, 89, 28, 17},         // odd, upscaled
    {64, 64, 1, 1, 28, 8},            // 1x1 original
    {1, 1, 1, 1, 28, 3},              // 1x1 everywhere
    {200, 120, 33, 65, 14, 23},       // other M
    {96, 160, 97, 161, 7, 30},
    {50, 70, 400, 300, 1, 5},         // M = 1
    {300, 300, 257, 255, 56, 12},
};

TEST(PasteMaskCuda, RandomSweepsEqualHostPostprocess) {
  MASKRT_SKIP_WITHOUT_GPU();
  std::mt19937 rng(20240611);
  int placed_words = 0, kept_total = 0;
  for (const Case& c : kCases)
    for (int rep = 0; rep < 3; ++rep) {
      const Inputs in = random_inputs(rng, c);
      const int counts[] = {0, 1, static_cast<int>(rng() % c.D), c.D, c.D + 7, -3};
      for (int n : counts) {
        const int n_eff = std::clamp(n, 0, c.D);
        const auto p = params_for(c, ops::paste_mask_default_words_capacity(c.orig_h, c.orig_w));
        const RunResult r = run_device(p, in, &n);
        const std::string what = "case " + std::to_string(c.orig_w) + "x" + std::to_string(c.orig_h) + " M=" +
                                 std::to_string(c.M) + " rep " + std::to_string(rep) + " count " + std::to_string(n);
        EXPECT_EQ(r.header.count, n_eff) << what;
        expect_same(r.instances, host_reference(c, in, n_eff), what);
        placed_words += r.header.words_used;
        kept_total += r.header.kept;
      }
      // Null count = all capacity rows.
      const auto p = params_for(c, ops::paste_mask_default_words_capacity(c.orig_h, c.orig_w));
      expect_same(run_device(p, in, nullptr).instances, host_reference(c, in, c.D), "null count");
    }
  EXPECT_GT(kept_total, 100);
  EXPECT_GT(placed_words, 1000);
}

TEST(PasteMaskCuda, CapacityOverflowFallsBackToCpu) {
  MASKRT_SKIP_WITHOUT_GPU();
  std::mt19937 rng(5);
  int unplaced = 0, placed = 0;
  for (const Case& c : {kCases[0], kCases[1], kCases[2], kCases[5]}) {
    const Inputs in = random_inputs(rng, c);
    const int64_t def = ops::paste_mask_default_words_capacity(c.orig_h, c.orig_w);
    for (int64_t cap : {int64_t{0}, int64_t{1}, def / 40, def / 8, def / 3}) {
      const auto p = params_for(c, cap);
      const int n = c.D;
      const RunResult r = run_device(p, in, &n);
      EXPECT_LE(r.header.words_used, cap);
      expect_same(r.instances, host_reference(c, in, n), "capacity " + std::to_string(cap));
      unplaced += r.header.unplaced;
      placed += r.header.kept - r.header.unplaced;
    }
  }
  EXPECT_GT(unplaced, 0);
  EXPECT_GT(placed, 0);
}

TEST(PasteMaskCuda, GraphReplayWithNewDeviceCount) {
  MASKRT_SKIP_WITHOUT_GPU();
  std::mt19937 rng(11);
  const Case c = kCases[0];
  const Inputs in = random_inputs(rng, c);
  const auto p = params_for(c, ops::paste_mask_default_words_capacity(c.orig_h, c.orig_w));
  const ops::PasteMaskBlockLayout l = ops::paste_mask_block_layout(p);
  DeviceBuffer d_boxes = test::upload(in.boxes), d_masks = test::upload(in.masks), d_count(sizeof(int));
  DeviceBuffer d_block = test::dirty_workspace(l.bytes);
  cudaStream_t s;
  MASKRT_CUDA_CHECK(cudaStreamCreate(&s));
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  MASKRT_CUDA_CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
  ops::paste_masks_cuda(p, d_count.as<int>(), d_boxes.as<float>(), d_masks.as<float>(), d_block.get(), s);
  MASKRT_CUDA_CHECK(cudaStreamEndCapture(s, &graph));
  MASKRT_CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
  for (int n : {c.D, 3, 0, 57}) {
    MASKRT_CUDA_CHECK(cudaMemcpy(d_count.get(), &n, sizeof n, cudaMemcpyHostToDevice));
    MASKRT_CUDA_CHECK(cudaGraphLaunch(exec, s));
    MASKRT_CUDA_CHECK(cudaStreamSynchronize(s));
    const std::vector<uint32_t> block = test::download<uint32_t>(d_block, l.bytes / 4);
    const auto got = ops::unpack_pasted_masks(p, block.data(), in.scores.data(), in.classes.data(), in.masks.data());
    expect_same(got, host_reference(c, in, n), "graph replay count " + std::to_string(n));
  }
  MASKRT_CUDA_CHECK(cudaGraphExecDestroy(exec));
  MASKRT_CUDA_CHECK(cudaGraphDestroy(graph));
  MASKRT_CUDA_CHECK(cudaStreamDestroy(s));
}

TEST(PasteMaskCuda, RejectsBadParams) {
  MASKRT_SKIP_WITHOUT_GPU();
  auto p = params_for(kCases[0], 100);
  p.threshold = NAN;
  EXPECT_THROW(ops::paste_masks_cuda(p, nullptr, nullptr, nullptr, nullptr, nullptr), Error);
  p = params_for(kCases[0], 100);
  EXPECT_THROW(ops::paste_masks_cuda(p, nullptr, nullptr, nullptr, nullptr, nullptr), Error);  // null pointers
}

}  // namespace
}  // namespace maskrt
