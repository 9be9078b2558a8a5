#pragma once
// Pillow's fixed-point bilinear filter coefficients for one axis (see resize.h for the arithmetic:
// centre (i + 0.5) * scale, support max(scale, 1), triangle filter, normalised, int(w * 2^22 + 0.5)).
// Shared by the CPU resize and the CUDA preprocess (computed on the host once per (in, out) size and
// uploaded), so both use the same coefficients.
// Thread safety: pure function.
#include <cstdint>
#include <vector>

namespace maskrt::ops {

inline constexpr int kPillowPrecisionBits = 22;

struct PillowCoeffs {
  int in_size = 0, out_size = 0;
  int max_taps = 0;
  std::vector<int32_t> first;    // (out_size,) first source index of output i
  std::vector<int32_t> count;    // (out_size,) number of taps (>= 1)
  std::vector<int32_t> weights;  // (out_size, max_taps) fixed point, zero padded
};

// Errors: in_size or out_size < 1 -> maskrt::Error(kInvalidArgument).
PillowCoeffs make_pillow_coeffs(int in_size, int out_size);

}  // namespace maskrt::ops
