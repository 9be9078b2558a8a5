#pragma once
// Test-only: float32 values stored as 8-hex-digit bit patterns in the detops fixtures
// (tools/reference/make_detops_fixtures.py), so that expected values are exact.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace maskrt::testing {

inline std::vector<float> hex_floats(const std::string& s) {
  std::vector<float> v(s.size() / 8);
  for (size_t i = 0; i < v.size(); ++i) {
    const uint32_t u = static_cast<uint32_t>(std::stoul(s.substr(i * 8, 8), nullptr, 16));
    std::memcpy(&v[i], &u, 4);
  }
  return v;
}

}  // namespace maskrt::testing
