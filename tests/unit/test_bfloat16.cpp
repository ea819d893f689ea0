// Host bfloat16: round to nearest, ties to even, NaN kept, and exact for values with 8
// significant bits.
#include <gtest/gtest.h>

#include <cmath>

#include "common/bfloat16.h"
#include "runtime/cpu_backend.h"
#include "runtime/host_values.h"
#include "tests/test_util.h"

namespace shardrt {
namespace {

TEST(Bfloat16, ExactValuesRoundTrip) {
  for (float f : {0.0f, -0.0f, 1.0f, -2.5f, 0.15625f, 65280.0f, std::ldexp(1.0f, 100)}) {
    EXPECT_EQ(toFloat(toBfloat16(f)), f) << f;
  }
}

TEST(Bfloat16, RoundsToNearestTiesToEven) {
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even mantissa, 1.
  EXPECT_EQ(toFloat(toBfloat16(1.0f + std::ldexp(1.0f, -8))), 1.0f);
  // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even): up.
  EXPECT_EQ(toFloat(toBfloat16(1.0f + 3 * std::ldexp(1.0f, -8))), 1.0f + std::ldexp(1.0f, -6));
  // Just above halfway rounds up.
  EXPECT_EQ(toFloat(toBfloat16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20))),
            1.0f + std::ldexp(1.0f, -7));
  EXPECT_TRUE(std::isnan(toFloat(toBfloat16(NAN))));
  EXPECT_TRUE(std::isinf(toFloat(toBfloat16(INFINITY))));
}

TEST(Bfloat16, RelativeErrorIsAtMostHalfAnUlp) {
  const auto v = testing::randomVector(10000, 7);
  for (float f : v) {
    if (f == 0.0f) continue;
    EXPECT_LE(std::abs(toFloat(toBfloat16(f)) - f), std::abs(f) * std::ldexp(1.0f, -8)) << f;
  }
}

TEST(HostValues, UploadAndDownloadThroughBf16) {
  CpuBackend be;
  const auto v = testing::randomVector(33, 8);
  Tensor t = be.empty({Dim("n", 33)}, DType::BF16);
  uploadFloats(be, t, v);
  const auto back = downloadFloats(be, t);
  for (std::size_t i = 0; i < v.size(); ++i) EXPECT_EQ(back[i], toFloat(toBfloat16(v[i])));
  Tensor i32 = be.empty({Dim("n", 33)}, DType::I32);
  EXPECT_THROW(uploadFloats(be, i32, v), std::logic_error);
}

}  // namespace
}  // namespace shardrt
