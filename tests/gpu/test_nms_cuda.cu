// CUDA grouped NMS (src/ops/nms/nms_cuda.cuh: grouped_nms_mask_kernel + both scan kernels) vs the
// scalar reference ops::batched_nms_ref. Each group holds its boxes in processing order; the oracle
// gets scores that decrease along that order (with runs of equal scores, whose ties the reference
// breaks by lower index = lower position) and group ids as idxs, so it must keep exactly the boxes
// the kernels flag. Coordinates are >= 0, so the coordinate trick (on when the total count * 4 <=
// 4000) cannot let groups suppress each other, as in batched_nms_cpu. Sweeps cover groups of
// 0, 1, 63, 64, 65, 127, 128 boxes, full capacity, groups spanning many 64-box blocks, duplicates
// and near-duplicates (long suppression chains), zero-area boxes, several thresholds (one negative:
// disjoint boxes suppress), the block scan up to its largest capacity and the warp scan beyond it;
// scratch starts dirty.
#include <algorithm>
#include <random>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "core/tensor.h"
#include "cuda_test_util.h"
#include "ops/nms/nms.h"
#include "ops/nms/nms_cuda.cuh"

namespace maskrt {
namespace {
using test::DeviceBuffer;
using namespace ops::cuda_detail;

struct GroupCase {
  int capacity;
  std::vector<int> counts;  // per group, <= capacity
  float thr;
  int style;  // 0 clustered, 1 duplicates / chains, 2 uniform, 3 tiny and zero-area boxes
};

std::vector<float> make_boxes(const GroupCase& c, std::mt19937& rng) {
  const int G = static_cast<int>(c.counts.size());
  std::vector<float> b(size_t(G) * c.capacity * 4, 0.f);
  std::uniform_real_distribution<float> U(0.f, 1.f);
  const float img_w = 900.f, img_h = 700.f;
  for (int g = 0; g < G; ++g) {
    const float size = 24.f + 300.f * U(rng);
    float cx[10], cy[10];
    for (int k = 0; k < 10; ++k) cx[k] = img_w * U(rng), cy[k] = img_h * U(rng);
    for (int j = 0; j < c.counts[g]; ++j) {
      float* o = &b[(size_t(g) * c.capacity + j) * 4];
      if (c.style == 1 && j > 0 && rng() % 3 == 0) {  // exact duplicate or a small shift of the previous box
        const float* prev = o - 4;
        const float d = (rng() % 2) ? 0.f : 2.f * U(rng);
        o[0] = prev[0] + d, o[1] = prev[1], o[2] = prev[2] + d, o[3] = prev[3];
        continue;
      }
      float x, y;
      if (c.style == 2 || U(rng) < 0.15f) x = img_w * U(rng), y = img_h * U(rng);
      else {
        const int k = int(rng() % 10);
        x = cx[k] + 0.3f * size * (U(rng) - 0.5f), y = cy[k] + 0.3f * size * (U(rng) - 0.5f);
      }
      float w = size * (0.6f + 0.8f * U(rng)), h = size * (0.6f + 0.8f * U(rng));
      if (c.style == 3 && rng() % 4 == 0) w = (rng() % 2) ? 0.f : 0.5f * U(rng);
      o[0] = std::clamp(x - w / 2, 0.f, img_w), o[1] = std::clamp(y - h / 2, 0.f, img_h);
      o[2] = std::clamp(x + w / 2, 0.f, img_w), o[3] = std::clamp(y + h / 2, 0.f, img_h);
    }
  }
  return b;
}

// Runs the mask kernel and the chosen scan kernel; compares keep flags and the kept count with the
// reference for every group.
void run_case(const GroupCase& c, uint32_t seed, bool block_kernel) {
  std::mt19937 rng(seed);
  const int G = static_cast<int>(c.counts.size());
  const std::vector<float> boxes = make_boxes(c, rng);
  int total = 0;
  for (int n : c.counts) total += n;
  // Oracle input: the used slots in (group, position) order; index = running offset + position.
  std::vector<float> rb, scores;
  std::vector<int64_t> idxs;
  std::vector<std::pair<int, int>> slot_of;
  float max_coord = 0.f;
  for (int g = 0; g < G; ++g) {
    float s = 100.f;
    for (int j = 0; j < c.counts[g]; ++j) {
      if (rng() % 4 != 0) s -= 0.25f;  // runs of equal scores
      const float* o = &boxes[(size_t(g) * c.capacity + j) * 4];
      rb.insert(rb.end(), o, o + 4);
      for (int k = 0; k < 4; ++k) max_coord = std::max(max_coord, o[k]);
      scores.push_back(s);
      idxs.push_back(g);
      slot_of.emplace_back(g, j);
    }
  }
  std::set<std::pair<int, int>> want;
  if (total > 0) {
    const Tensor t({int64_t{total}, 4}, rb);
    for (int64_t i : ops::batched_nms_ref(t, scores, idxs, c.thr)) want.insert(slot_of[size_t(i)]);
  }

  const int words = nms_words(c.capacity);
  DeviceBuffer d_boxes = test::upload(boxes);
  DeviceBuffer d_counts = test::upload(c.counts);
  DeviceBuffer d_total = test::upload(std::vector<int>{total});
  DeviceBuffer d_max = test::upload(std::vector<float>{max_coord});
  DeviceBuffer d_mask = test::dirty_workspace(size_t(G) * c.capacity * words * 8);
  DeviceBuffer d_keep = test::dirty_workspace(size_t(G) * c.capacity);
  DeviceBuffer d_kept = test::upload(std::vector<int>{0});
  GroupedNms p{};
  p.boxes = d_boxes.as<float4>();
  p.counts = d_counts.as<int>();
  p.num_groups = G;
  p.capacity = c.capacity;
  p.iou_threshold = c.thr;
  p.trick_total = d_total.as<int>();
  p.max_coord = d_max.as<float>();
  p.trick_max_numel = static_cast<int>(ops::kBatchedNmsCoordinateTrickMaxNumel);
  p.mask = d_mask.as<unsigned long long>();
  p.keep = d_keep.as<uint8_t>();
  launch_grouped_nms_mask(p, nullptr);
  launch_grouped_nms_scan(p, d_kept.as<int>(), block_kernel, nullptr);
  MASKRT_CUDA_CHECK(cudaGetLastError());
  MASKRT_CUDA_CHECK(cudaDeviceSynchronize());
  const std::vector<uint8_t> keep = test::download<uint8_t>(d_keep, size_t(G) * c.capacity);
  const int kept = test::download_one<int>(d_kept);
  const char* which = block_kernel ? "block scan" : "warp scan";
  ASSERT_EQ(kept, static_cast<int>(want.size())) << which << " seed " << seed << " capacity " << c.capacity;
  for (int g = 0; g < G; ++g)
    for (int j = 0; j < c.capacity; ++j) {
      const int expect = (j < c.counts[g] && want.count({g, j})) ? 1 : 0;
      ASSERT_EQ(int(keep[size_t(g) * c.capacity + j]), expect)
          << which << " seed " << seed << " capacity " << c.capacity << " group " << g << " (" << c.counts[g]
          << " boxes) position " << j;
    }
}

void run_both(const GroupCase& c, uint32_t seed) {
  run_case(c, seed, false);
  if (nms_scan_uses_block_kernel(c.capacity)) run_case(c, seed, true);
}

TEST(GroupedNmsCuda, ScanKernelChoiceByCapacity) {
  EXPECT_TRUE(nms_scan_uses_block_kernel(1000));  // RPN PRE_NMS_TOPK_TEST / box head proposals
  EXPECT_TRUE(nms_scan_uses_block_kernel(2000));
  EXPECT_TRUE(nms_scan_uses_block_kernel(3008));
  EXPECT_FALSE(nms_scan_uses_block_kernel(3009));
}

TEST(GroupedNmsCuda, BlockBoundariesAndEmptyGroups) {
  MASKRT_SKIP_WITHOUT_GPU();
  uint32_t seed = 1;
  for (int style = 0; style < 4; ++style)
    for (float thr : {0.5f, 0.7f, 0.3f}) {
      run_both({130, {0, 1, 63, 64, 65, 127, 128, 130, 2}, thr, style}, seed++);  // trick on (total 581)
      run_both({1, {1, 0, 1}, thr, style}, seed++);
      run_both({64, {64, 64, 0, 33}, thr, style}, seed++);
    }
  // A negative threshold suppresses disjoint boxes too (0 > thr): the division-free path for
  // disjoint boxes must give the same answer, and zero-area pairs (0 / 0 = NaN) must not suppress.
  // One non-empty group only: with the coordinate trick the reference's single NMS would let
  // disjoint boxes of different groups suppress each other at thr < 0 (the kernels, like
  // batched_nms_cpu, never do).
  run_both({130, {130}, -0.1f, 3}, seed++);
  run_both({130, {0, 97, 0}, -0.1f, 0}, seed++);
}

TEST(GroupedNmsCuda, LargeGroupsRpnAndBoxHeadShapes) {
  MASKRT_SKIP_WITHOUT_GPU();
  uint32_t seed = 100;
  for (int style = 0; style < 4; ++style) {
    run_both({1000, {1000, 1000, 1000, 1000, 663}, 0.7f, style}, seed++);  // RPN levels, no trick
    std::vector<int> cls(80, 0);  // box head: a few big classes, many empty (trick on: 770 boxes)
    cls[0] = 400, cls[3] = 129, cls[7] = 64, cls[11] = 65, cls[79] = 100, cls[40] = 12;
    run_both({1000, cls, 0.5f, style}, seed++);
    run_both({2000, {2000, 1999, 1500, 0, 700}, 0.7f, style}, seed++);
  }
}

TEST(GroupedNmsCuda, CapacityLimitsOfBothScans) {
  MASKRT_SKIP_WITHOUT_GPU();
  run_both({3008, {3008, 0, 1, 2999, 64}, 0.5f, 0}, 200);  // the block scan's largest capacity
  run_both({3008, {3008, 3000}, 0.7f, 1}, 201);
  run_both({3100, {3100, 129, 0}, 0.6f, 0}, 202);  // warp scan only
}

TEST(GroupedNmsCuda, RandomSweep) {
  MASKRT_SKIP_WITHOUT_GPU();
  std::mt19937 rng(17);
  for (uint32_t s = 0; s < 40; ++s) {
    const int cap = 1 + int(rng() % 1200);
    const int G = 1 + int(rng() % 12);
    std::vector<int> counts(static_cast<size_t>(G), 0);
    for (int& n : counts) n = (rng() % 5 == 0) ? 0 : (rng() % 3 == 0 ? cap : int(rng() % (cap + 1)));
    const float thr = (s % 3 == 0) ? 0.5f : (s % 3 == 1 ? 0.7f : 0.05f + 0.9f * float(rng() % 100) / 100.f);
    run_both({cap, counts, thr, int(s % 4)}, 300 + s);
  }
}

}  // namespace
}  // namespace maskrt
