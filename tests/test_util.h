// Helpers shared by the tests: random data and the normwise relative error.
#pragma once

#include <cmath>
#include <cstddef>
#include <random>
#include <vector>

namespace shardrt::testing {

// Uniform in [-1, 1): random data, never all zeros, reproducible by seed.
inline std::vector<float> randomVector(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// ||a - b|| / ||b||, in double.
inline double relErr(const std::vector<float>& a, const std::vector<float>& b) {
  double diff = 0.0, ref = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
    ref += static_cast<double>(b[i]) * b[i];
  }
  return std::sqrt(diff / ref);
}

// A result that is poisoned before the op runs: NaN everywhere, so an element the op forgets
// to write fails the comparison instead of passing on leftover values.
inline std::vector<float> poisoned(std::size_t n) { return std::vector<float>(n, NAN); }

}  // namespace shardrt::testing
