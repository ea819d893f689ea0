// Comparing a sharded result with the unsharded reference: normwise relative error
// ||out - ref||_2 / ||ref||_2 and the largest absolute difference, accumulated in double.
#pragma once

#include <cstddef>

#include "common/dtype.h"

namespace shardrt {

struct Comparison {
  double rel_err = 0.0;      // ||out - ref|| / ||ref||
  double max_abs_err = 0.0;  // max |out - ref|
  bool finite = true;        // no NaN or Inf in out
  // Written so that a NaN error fails: NaN <= tolerance is false.
  bool passes(double tolerance) const { return finite && rel_err <= tolerance; }
};

Comparison compare(const float* out, const float* ref, std::size_t count);

// The normwise tolerance a dtype is held to. fp32: 1e-5, several hundred ulps of headroom for
// the different summation order of an all-reduce over tp partial sums. bf16: 2e-2.
double validationTolerance(DType dtype);

}  // namespace shardrt
