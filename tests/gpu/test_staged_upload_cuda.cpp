// staged_upload (host -> pinned -> device in chunks, several staging threads for large buffers) against
// the plain definition: the device bytes equal the source bytes, for sizes around every threshold
// (one chunk, the 256 KiB chunk floor, the parallel threshold, uneven last chunks) and every team size.
#include <cstdint>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "backend/cuda/staged_upload.h"
#include "cuda_test_util.h"

namespace maskrt {
namespace {

TEST(StagedUploadCuda, DeviceBytesEqualSourceForEverySizeAndTeam) {
  MASKRT_SKIP_WITHOUT_GPU();
  const size_t kib = 1024, mib = kib * kib;
  const std::vector<size_t> sizes = {1, 3, 256 * kib - 1, 256 * kib + 1, 2 * mib - 1, 2 * mib, 2 * mib + 5,
                                     1344 * 1344 * 3, 1920 * 1080 * 3 + 7, 9 * mib + 3};
  const size_t max_bytes = 9 * mib + 3;
  std::mt19937 rng(7);
  std::vector<uint8_t> src(max_bytes), back(max_bytes);
  char* pinned = nullptr;
  ASSERT_EQ(cudaMallocHost(reinterpret_cast<void**>(&pinned), max_bytes), cudaSuccess);
  test::DeviceBuffer dev(max_bytes);
  cudaStream_t s;
  ASSERT_EQ(cudaStreamCreate(&s), cudaSuccess);
  for (const int team : {0, 1, 2, 3, 5, 9}) {
    for (const size_t n : sizes) {
      for (size_t i = 0; i < n; ++i) src[i] = static_cast<uint8_t>(rng());
      ASSERT_EQ(cudaMemsetAsync(dev.get(), 0xA5, max_bytes, s), cudaSuccess);
      cuda::staged_upload(dev.get(), pinned, reinterpret_cast<const char*>(src.data()), n, s, team);
      ASSERT_EQ(cudaMemcpyAsync(back.data(), dev.get(), max_bytes, cudaMemcpyDeviceToHost, s), cudaSuccess);
      ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
      size_t bad = n;
      for (size_t i = 0; i < n && bad == n; ++i)
        if (back[i] != src[i]) bad = i;
      ASSERT_EQ(bad, n) << "first wrong byte at " << bad << " of " << n << " bytes, team " << team;
      for (size_t i = n; i < max_bytes; i += 4099) ASSERT_EQ(back[i], 0xA5) << "wrote past " << n << " bytes";
    }
  }
  cudaStreamDestroy(s);
  cudaFreeHost(pinned);
}

}  // namespace
}  // namespace maskrt
