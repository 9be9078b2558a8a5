// count_differing_bytes (src/backend/cuda/bit_compare.h, ConvCudnn::plan_pinned's bit check) against
// the plain definition counted on the host: for sizes around the 16-byte word and tail boundaries,
// aligned and misaligned pointers, no / one / many flipped bytes (first, last, inside a word, in the
// tail), and a result buffer holding garbage before the call (it must be zeroed by the call).
#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "backend/cuda/bit_compare.h"
#include "cuda_test_util.h"

namespace maskrt {
namespace {

TEST(BitCompareCuda, CountsEqualTheHostCountForEverySizeAndAlignment) {
  MASKRT_SKIP_WITHOUT_GPU();
  const std::vector<size_t> sizes = {0, 1, 15, 16, 17, 31, 32, 33, 4096 + 5, (size_t(1) << 20) + 3,
                                     size_t(40) << 20};
  const size_t max_bytes = (size_t(40) << 20) + 64;
  std::mt19937 rng(11);
  std::vector<uint8_t> a(max_bytes), b(max_bytes);
  for (auto& v : a) v = static_cast<uint8_t>(rng());
  test::DeviceBuffer da(max_bytes), db(max_bytes), dcount(sizeof(unsigned long long));
  cudaStream_t s;
  ASSERT_EQ(cudaStreamCreate(&s), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(da.get(), a.data(), max_bytes, cudaMemcpyHostToDevice), cudaSuccess);
  for (const size_t n : sizes)
    for (const size_t off_a : {size_t(0), size_t(1)})
      for (const size_t off_b : {size_t(0), size_t(3)})
        for (const int flips : {0, 1, 2, 7, 1000}) {
          if (off_a + n > max_bytes || off_b + n > max_bytes) continue;
          // b's compared window starts as a copy of a's window, then `flips` positions change.
          std::copy(a.begin() + off_a, a.begin() + off_a + n, b.begin() + off_b);
          std::vector<size_t> at;
          if (n > 0 && flips > 0) {
            at = {0, n - 1};  // first and last byte (the last one is in the tail unless n % 16 == 0)
            for (int k = 2; k < flips; ++k) at.push_back(rng() % n);
            at.resize(std::min<size_t>(at.size(), static_cast<size_t>(flips)));
          }
          for (size_t i : at) b[off_b + i] ^= static_cast<uint8_t>(1u << (rng() % 8));
          size_t want = 0;
          for (size_t i = 0; i < n; ++i) want += a[off_a + i] != b[off_b + i];
          ASSERT_EQ(cudaMemcpy(db.get(), b.data(), max_bytes, cudaMemcpyHostToDevice), cudaSuccess);
          ASSERT_EQ(cudaMemset(dcount.get(), 0x5A, sizeof(unsigned long long)), cudaSuccess);  // garbage
          auto* count = static_cast<unsigned long long*>(dcount.get());
          cuda::count_differing_bytes(static_cast<const uint8_t*>(da.get()) + off_a,
                                      static_cast<const uint8_t*>(db.get()) + off_b, n, count, s);
          unsigned long long got = 0;
          ASSERT_EQ(cudaMemcpyAsync(&got, count, sizeof(got), cudaMemcpyDeviceToHost, s), cudaSuccess);
          ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
          EXPECT_EQ(got, want) << n << " bytes, offsets " << off_a << "/" << off_b << ", " << flips << " flips";
        }
  cudaStreamDestroy(s);
}

}  // namespace
}  // namespace maskrt
