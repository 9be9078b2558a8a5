#pragma once
// OpenBLAS set-up shared by the CPU ops that call sgemm (conv2d, linear, conv_transpose2d).
//
// 1. Threads. maskrt parallelises its CPU ops itself with OpenMP (over images, groups and output
//    tiles) and calls OpenBLAS from inside those parallel regions, so OpenBLAS must run
//    single-threaded: the installed OpenBLAS is the pthread variant, whose own thread pool would
//    otherwise oversubscribe the cores (and, with more than one BLAS thread, serialise concurrent
//    callers on its internal lock). The ops' thread count is omp_get_max_threads()
//    (OMP_NUM_THREADS / omp_set_num_threads).
// 2. Kernel. A DYNAMIC_ARCH OpenBLAS picks its kernels from the CPU model at load time. OpenBLAS
//    0.3.21 (Debian 12) does not know recent Xeons (e.g. family 6 model 207, Emerald Rapids) and
//    falls back to the SSE3 "Prescott" kernels, about 3.5x slower than its AVX-512 "SkylakeX"
//    kernels on conv-sized sgemm. When OpenBLAS reports Prescott, OPENBLAS_CORETYPE is unset and the
//    CPU has AVX-512 (F/BW/DQ/VL) or AVX2+FMA, blas_prepare() re-runs OpenBLAS's dispatcher with
//    OPENBLAS_CORETYPE=SkylakeX or Haswell (gotoblas_dynamic_init, resolved weakly: a no-op on
//    builds that lack it). Set OPENBLAS_CORETYPE yourself to choose, or MASKRT_KEEP_BLAS_CORE=1 to
//    keep OpenBLAS's own choice.
//
// blas_prepare() does both; call it from the calling thread before entering a parallel region (not
// from inside one). The kernel switch happens once per process, on the first call, and must not
// race with other BLAS calls in flight (call the first op before starting concurrent BLAS users).
#include <cblas.h>

#include <string>

namespace maskrt::ops::detail {

void blas_prepare();

// OpenBLAS's kernel name and thread count, for logs and benchmarks ("SkylakeX, 1 thread").
std::string blas_description();

}  // namespace maskrt::ops::detail
