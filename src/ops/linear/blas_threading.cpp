// OpenBLAS set-up for the CPU ops (see blas_threading.h).
#include "ops/linear/blas_threading.h"

#include <cstdlib>
#include <cstring>
#include <mutex>

extern "C" {
// DYNAMIC_ARCH OpenBLAS internals (exported, not in cblas.h); weak so that other builds still link.
void gotoblas_dynamic_init(void) __attribute__((weak));
void gotoblas_dynamic_quit(void) __attribute__((weak));
}

namespace maskrt::ops::detail {
namespace {

void fix_fallback_kernel() {
  if (std::getenv("OPENBLAS_CORETYPE") || std::getenv("MASKRT_KEEP_BLAS_CORE")) return;
  if (!gotoblas_dynamic_init || !gotoblas_dynamic_quit) return;
  const char* core = openblas_get_corename();
  if (!core || std::strcmp(core, "Prescott") != 0) return;
  const char* want = nullptr;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")) {
    want = "SkylakeX";
  } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    want = "Haswell";
  }
  if (!want) return;
  setenv("OPENBLAS_CORETYPE", want, 0);
  gotoblas_dynamic_quit();
  gotoblas_dynamic_init();
}

}  // namespace

void blas_prepare() {
  static std::once_flag once;
  std::call_once(once, fix_fallback_kernel);
  if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
}

std::string blas_description() {
  const char* core = openblas_get_corename();
  const int n = openblas_get_num_threads();
  return std::string(core ? core : "?") + ", " + std::to_string(n) + (n == 1 ? " thread" : " threads");
}

}  // namespace maskrt::ops::detail
