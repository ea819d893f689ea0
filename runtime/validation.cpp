#include "runtime/validation.h"

#include <algorithm>
#include <cmath>

namespace shardrt {

Comparison compare(const float* out, const float* ref, std::size_t count) {
  Comparison c;
  double diff_sq = 0.0, ref_sq = 0.0;
  for (std::size_t i = 0; i < count; ++i) {
    if (!std::isfinite(out[i])) c.finite = false;
    const double d = static_cast<double>(out[i]) - ref[i];
    diff_sq += d * d;
    ref_sq += static_cast<double>(ref[i]) * ref[i];
    c.max_abs_err = std::max(c.max_abs_err, std::abs(d));
  }
  c.rel_err = ref_sq > 0.0 ? std::sqrt(diff_sq / ref_sq) : std::sqrt(diff_sq);
  // NaN compares false with everything: a NaN error would neither exceed a tolerance nor rank
  // as the worst copy. Any NaN or Inf, in the output or the reference, is an infinite error.
  if (!c.finite || !std::isfinite(c.rel_err)) c.rel_err = INFINITY;
  if (!c.finite || !std::isfinite(c.max_abs_err) || std::isnan(diff_sq)) c.max_abs_err = INFINITY;
  return c;
}

double validationTolerance(DType dtype) {
  switch (dtype) {
    case DType::F32:
      return 1e-5;
    case DType::BF16:
      return 2e-2;  // 8 mantissa bits: ~4e-3 per rounding, over a few dozen ops
    case DType::I32:
      return 0.0;
  }
  return 0.0;
}

}  // namespace shardrt
