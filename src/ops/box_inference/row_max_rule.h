#pragma once
// The reduction rule of box_inference_cuda.cu's per-row maximum, written once for the device kernel
// and the host test that checks it against the sequential loop (tests/unit/test_box_inference_row_order.cpp).
//
// The CPU model (roi_heads.cpp) computes m = l[0]; for j >= 1: m = std::max(m, l[j]). std::max(a, b)
// is (a < b) ? b : a, so m only moves on a strict "<" and never to a NaN operand: m is l[0] when l[0]
// is NaN, and otherwise the FIRST column holding the largest non-NaN value (the sign of a zero
// maximum depends on which zero comes first). The warp kernel reduces (value, column) pairs, with
// NaN columns left out, by: larger value wins, equal values (== , so -0 == +0) -> lower column wins.
// That rule is associative and commutative, so any reduction order (lanes striding over columns,
// then a butterfly of shuffles) yields the same pair, and hence the same bits as the sequential loop.
// Thread safety: pure function.

#if defined(__CUDACC__)
#define MASKRT_BOXINF_HD __host__ __device__ __forceinline__
#else
#define MASKRT_BOXINF_HD inline
#endif

namespace maskrt::ops::box_inference_detail {

// Combines the pair (v, i) with (ov, oi); a column index < 0 means "no non-NaN value seen".
MASKRT_BOXINF_HD void take_first_max(float& v, int& i, float ov, int oi) {
  if (oi < 0) return;
  if (i < 0 || v < ov || (v == ov && oi < i)) {
    v = ov;
    i = oi;
  }
}

}  // namespace maskrt::ops::box_inference_detail

#undef MASKRT_BOXINF_HD  // local to this header
