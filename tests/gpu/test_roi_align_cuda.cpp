// CUDA multi-level ROIAlign vs the CPU model: ROIPooler::forward (src/model/roi_heads/poolers.cpp,
// level assignment + roi_align_cpu, which is tested against torchvision fixtures). Seeded random
// boxes incl. zero-area, inverted, sub-pixel, NaN-free out-of-image and huge boxes; aligned and not;
// adaptive and fixed sampling ratios. fp32 NCHW must match within 1e-5 (abs, relative to the feature
// scale); the fp16 NHWC path is compared with the fp32 reference on fp16-rounded features (tolerance
// for one fp16 rounding of the output); the fp32 NHWC path (MASKRT_TF32_NHWC=1) as fp32 NCHW, padding
// channels 0. Rows >= count must be 0.
#include <cmath>
#include <random>

#include <cuda_fp16.h>
#include <gtest/gtest.h>

#include "cuda_test_util.h"
#include "model/roi_heads/poolers.h"
#include "ops/roi_align/roi_align_cuda.h"

namespace maskrt {
namespace {
using test::DeviceBuffer;

std::vector<float> random_boxes(std::mt19937& rng, int n, int img_h, int img_w) {
  std::uniform_real_distribution<float> ux(-50.f, img_w + 50.f), uy(-50.f, img_h + 50.f), us(0.f, 500.f);
  std::vector<float> b(size_t(n) * 4);
  for (int i = 0; i < n; ++i) {
    float x1 = ux(rng), y1 = uy(rng), w = us(rng) * (i % 3 == 0 ? 0.05f : 1.f), h = us(rng);
    switch (i % 11) {
      case 0: w = 0.f; break;                  // zero width
      case 1: w = -10.f; break;                // inverted
      case 2: w = h = 0.f; break;              // a point
      case 3: x1 = img_w + 200.f; break;       // fully outside
      case 4: w = 0.3f; h = 0.7f; break;       // sub-pixel
      case 5: x1 = -10.f; y1 = -5.f; w = 1400.f; h = 1100.f; break;  // larger than the image
      default: break;
    }
    b[i * 4] = x1;
    b[i * 4 + 1] = y1;
    b[i * 4 + 2] = x1 + w;
    b[i * 4 + 3] = y1 + h;
  }
  return b;
}

void run_case(int res, int sampling, bool aligned, int C, int img_h, int img_w, int count, int capacity, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  const std::vector<int> strides{4, 8, 16, 32};
  std::vector<Tensor> feats;
  std::vector<std::vector<__half>> feats16;
  ops::RoiAlignMultiLevelCudaParams p;
  p.num_levels = 4;
  p.min_level = 2;
  p.max_level = 5;
  p.channels = C;
  p.resolution = res;
  p.sampling_ratio = sampling;
  p.aligned = aligned;
  p.roi_capacity = capacity;
  const int cs = (C + 7) / 8 * 8;
  for (int l = 0; l < 4; ++l) {
    const int H = (img_h + 31) / 32 * 32 / strides[l], W = (img_w + 31) / 32 * 32 / strides[l];
    Tensor f = Tensor::empty({1, C, H, W});
    for (int64_t i = 0; i < f.numel(); ++i) f[i] = nd(rng);
    std::vector<__half> h(size_t(H) * W * cs, __float2half_rn(0.f));
    for (int c = 0; c < C; ++c)
      for (int yx = 0; yx < H * W; ++yx) {
        h[size_t(yx) * cs + c] = __float2half_rn(f[int64_t{c} * H * W + yx]);
      }
    feats.push_back(f);
    feats16.push_back(std::move(h));
    p.feat_h[l] = H;
    p.feat_w[l] = W;
    p.spatial_scale[l] = 1.0f / float(strides[l]);
  }
  const std::vector<float> boxes = random_boxes(rng, capacity, img_h, img_w);
  ROIPooler pooler(res, strides, sampling, aligned ? "ROIAlignV2" : "ROIAlign");
  const Tensor want = pooler.forward(feats, Tensor({count, 4}, std::vector<float>(boxes.begin(), boxes.begin() + size_t(count) * 4)));
  // fp16 reference: same pooler on the fp16-rounded features.
  std::vector<Tensor> feats_r;
  for (int l = 0; l < 4; ++l) {
    Tensor f = feats[l].clone();
    for (int64_t i = 0; i < f.numel(); ++i) f[i] = __half2float(__float2half_rn(f[i]));
    feats_r.push_back(f);
  }
  const Tensor want16 = pooler.forward(feats_r, Tensor({count, 4}, std::vector<float>(boxes.begin(), boxes.begin() + size_t(count) * 4)));

  DeviceBuffer drois = test::upload(boxes), dcount = test::upload(std::vector<int>{count});
  std::vector<DeviceBuffer> df, dh;
  ops::RoiAlignLevelInputs in32, in16;
  for (int l = 0; l < 4; ++l) {
    df.push_back(test::upload(feats[l].data(), size_t(feats[l].numel())));
    dh.push_back(test::upload(feats16[l]));
    in32.features[l] = df.back().get();
    in16.features[l] = dh.back().get();
  }
  const size_t per = size_t(C) * res * res;
  {  // fp32 NCHW
    DeviceBuffer out(size_t(capacity) * per * 4);
    MASKRT_CUDA_CHECK(cudaMemset(out.get(), 0x7F, out.bytes()));
    ops::roi_align_multilevel_cuda(p, in32, drois.as<float>(), dcount.as<int>(), out.get(), nullptr);
    const auto got = test::download<float>(out, size_t(capacity) * per);
    for (size_t i = 0; i < size_t(count) * per; ++i)
      ASSERT_NEAR(got[i], want[int64_t(i)], 1e-5f) << "seed " << seed << " roi " << i / per;
    for (size_t i = size_t(count) * per; i < got.size(); ++i) ASSERT_EQ(got[i], 0.f);
  }
  // fp32 NHWC in and out (tf32 with MASKRT_TF32_NHWC=1): the same values as fp32 NCHW. Output stride
  // cs4 takes the 4-channel vector kernel, cs4 + 1 the scalar one; padding channels must be 0.
  {
    const int cs4 = (C + 3) / 4 * 4;
    std::vector<DeviceBuffer> dn;
    ops::RoiAlignLevelInputs in_n;
    for (int l = 0; l < 4; ++l) {
      const int H = p.feat_h[l], W = p.feat_w[l];
      std::vector<float> nhwc(size_t(H) * W * cs4, 0.f);
      for (int c = 0; c < C; ++c)
        for (int yx = 0; yx < H * W; ++yx) nhwc[size_t(yx) * cs4 + c] = feats[l][int64_t{c} * H * W + yx];
      dn.push_back(test::upload(nhwc));
      in_n.features[l] = dn.back().get();
    }
    for (const int ocs : {cs4, cs4 + 1}) {
      SCOPED_TRACE(::testing::Message() << "fp32 NHWC out_c_stride " << ocs);
      ops::RoiAlignMultiLevelCudaParams q = p;
      q.in_layout = q.out_layout = ops::CudaLayout::kNhwcFp32;
      q.in_c_stride = cs4;
      q.out_c_stride = ocs;
      DeviceBuffer out(size_t(capacity) * res * res * ocs * 4);
      MASKRT_CUDA_CHECK(cudaMemset(out.get(), 0x7F, out.bytes()));
      ops::roi_align_multilevel_cuda(q, in_n, drois.as<float>(), dcount.as<int>(), out.get(), nullptr);
      const auto got = test::download<float>(out, size_t(capacity) * res * res * ocs);
      for (int r = 0; r < capacity; ++r)
        for (int y = 0; y < res; ++y)
          for (int x = 0; x < res; ++x)
            for (int c = 0; c < ocs; ++c) {
              const float g = got[((size_t(r) * res + y) * res + x) * ocs + c];
              const float w = (r < count && c < C) ? want[((int64_t{r} * C + c) * res + y) * res + x] : 0.f;
              ASSERT_NEAR(g, w, 1e-5f) << "seed " << seed << " roi " << r << " c " << c;
            }
    }
  }
  // fp16 NHWC in and out: output stride cs takes the 8-channel vector kernel, cs + 4 the scalar one.
  for (const int ocs : {cs, cs + 4}) {
    SCOPED_TRACE(::testing::Message() << "out_c_stride " << ocs);
    p.in_layout = p.out_layout = ops::CudaLayout::kNhwcFp16;
    p.in_c_stride = cs;
    p.out_c_stride = ocs;
    DeviceBuffer out(size_t(capacity) * res * res * ocs * 2);
    MASKRT_CUDA_CHECK(cudaMemset(out.get(), 0x7F, out.bytes()));
    ops::roi_align_multilevel_cuda(p, in16, drois.as<float>(), dcount.as<int>(), out.get(), nullptr);
    const auto got = test::download<__half>(out, size_t(capacity) * res * res * ocs);
    for (int r = 0; r < capacity; ++r)
      for (int y = 0; y < res; ++y)
        for (int x = 0; x < res; ++x)
          for (int c = 0; c < ocs; ++c) {
            const float g = __half2float(got[((size_t(r) * res + y) * res + x) * ocs + c]);
            const float w = (r < count && c < C) ? want16[((int64_t{r} * C + c) * res + y) * res + x] : 0.f;
            ASSERT_NEAR(g, w, 1e-5f + std::fabs(w) * 1e-3f) << "seed " << seed << " roi " << r << " c " << c;
          }
  }
}

TEST(RoiAlignCuda, MatchesPoolerAlignedAdaptive) {
  MASKRT_SKIP_WITHOUT_GPU();
  run_case(7, 0, true, 16, 600, 800, 200, 256, 1);
  run_case(14, 0, true, 8, 333, 517, 100, 100, 2);
}

TEST(RoiAlignCuda, MatchesPoolerNotAlignedAndFixedRatio) {
  MASKRT_SKIP_WITHOUT_GPU();
  run_case(7, 0, false, 8, 480, 640, 150, 160, 3);
  run_case(7, 2, true, 8, 480, 640, 150, 150, 4);
  run_case(5, 3, false, 3, 200, 300, 90, 120, 5);
}

TEST(RoiAlignCuda, ZeroCountWritesZeros) {
  MASKRT_SKIP_WITHOUT_GPU();
  run_case(7, 0, true, 4, 100, 100, 0, 10, 6);
}

}  // namespace
}  // namespace maskrt
