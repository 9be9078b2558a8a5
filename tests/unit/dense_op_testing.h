#pragma once
// Helpers shared by the dense-op unit tests (test_conv2d, test_linear, test_pooling, test_upsample,
// test_conv_transpose2d): seeded random tensors, tolerance checks, and the torch fixtures written by
// tools/reference/make_dense_op_fixtures.py under tests/unit/data/dense_ops/.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "core/tensor.h"

namespace maskrt::testing {

// Normal(0, scale) values: never all-zero test data.
inline Tensor random_tensor(const Shape& shape, std::mt19937& rng, float scale = 1.0f) {
  std::normal_distribution<float> dist(0.0f, scale);
  Tensor t = Tensor::empty(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = dist(rng);
  return t;
}

// Checks equal shapes and max|a - b| <= rel * max(1, max|expected|) + abs_tol; reports the worst index.
inline ::testing::AssertionResult tensors_close(const Tensor& actual, const Tensor& expected, double rel,
                                                double abs_tol = 0.0) {
  if (actual.shape() != expected.shape())
    return ::testing::AssertionFailure() << "shape " << shape_str(actual.shape()) << " != expected "
                                         << shape_str(expected.shape());
  double scale = 1.0, worst = 0.0;
  int64_t worst_i = -1;
  for (int64_t i = 0; i < expected.numel(); ++i) scale = std::max(scale, std::fabs(double(expected[i])));
  for (int64_t i = 0; i < expected.numel(); ++i) {
    const double a = actual[i], e = expected[i];
    if (std::isnan(a) != std::isnan(e))
      return ::testing::AssertionFailure() << "NaN mismatch at flat index " << i << ": " << a << " vs " << e;
    if (std::isnan(e)) continue;
    const double d = std::fabs(a - e);
    if (d > worst || worst_i < 0) worst = d, worst_i = i;
  }
  const double tol = rel * scale + abs_tol;
  if (worst > tol)
    return ::testing::AssertionFailure() << "max|d| = " << worst << " > tol " << tol << " at flat index " << worst_i
                                         << " (actual " << actual[worst_i] << ", expected " << expected[worst_i]
                                         << ", scale " << scale << ")";
  return ::testing::AssertionSuccess();
}

inline nlohmann::json load_dense_op_fixture(const std::string& op) {
  const std::string path = std::string(MASKRT_TEST_DATA) + "/unit/data/dense_ops/" + op + ".json";
  std::ifstream f(path);
  if (!f) {
    ADD_FAILURE() << "cannot open fixture " << path << " (run tools/reference/make_dense_op_fixtures.py)";
    return nlohmann::json::object({{"cases", nlohmann::json::array()}});
  }
  nlohmann::json j = nlohmann::json::parse(f);
  EXPECT_FALSE(j.at("cases").empty()) << path;
  return j;
}

inline Tensor tensor_from_json(const nlohmann::json& j) {
  Shape shape = j.at("shape").get<Shape>();
  std::vector<float> data = j.at("data").get<std::vector<float>>();
  return Tensor(std::move(shape), std::move(data));
}

// The named input of a fixture case, or an undefined Tensor when absent (e.g. no bias).
inline Tensor fixture_input(const nlohmann::json& c, const char* name) {
  const auto& in = c.at("inputs");
  return in.contains(name) ? tensor_from_json(in.at(name)) : Tensor();
}

}  // namespace maskrt::testing
