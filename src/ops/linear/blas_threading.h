#pragma once
// OpenBLAS threading policy shared by the CPU ops that call sgemm (conv2d, linear, conv_transpose2d).
//
// maskrt parallelises its CPU ops itself with OpenMP (over images, groups and output tiles) and calls
// OpenBLAS from inside those parallel regions, so OpenBLAS must run single-threaded: the installed
// OpenBLAS is the pthread variant, whose own thread pool would otherwise oversubscribe the cores
// (and, with more than one BLAS thread, serialise concurrent callers on its internal lock).
// blas_use_single_thread() sets OpenBLAS's process-global thread count to 1 when it is not already 1.
// Call it from the calling thread before entering a parallel region (not from inside one).
// The thread count of the ops is omp_get_max_threads() (OMP_NUM_THREADS / omp_set_num_threads).
#include <cblas.h>

namespace maskrt::ops::detail {

inline void blas_use_single_thread() {
  if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
}

}  // namespace maskrt::ops::detail
