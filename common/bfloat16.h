// bfloat16 on the host: the upper 16 bits of an IEEE float, rounded to nearest even. The
// same layout as CUDA's __nv_bfloat16, so device buffers of either are the same bytes.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

namespace shardrt {

struct bfloat16 {
  std::uint16_t bits;
};

inline bfloat16 toBfloat16(float value) {
  std::uint32_t u;
  std::memcpy(&u, &value, sizeof u);
  if ((u & 0x7F800000u) == 0x7F800000u && (u & 0x007FFFFFu)) {  // NaN stays a (quiet) NaN
    return {static_cast<std::uint16_t>((u >> 16) | 0x0040u)};
  }
  const std::uint32_t rounding = 0x7FFFu + ((u >> 16) & 1u);  // to nearest, ties to even
  return {static_cast<std::uint16_t>((u + rounding) >> 16)};
}

inline float toFloat(bfloat16 value) {
  const std::uint32_t u = static_cast<std::uint32_t>(value.bits) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

inline std::vector<bfloat16> toBfloat16(const std::vector<float>& values) {
  std::vector<bfloat16> out(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) out[i] = toBfloat16(values[i]);
  return out;
}

}  // namespace shardrt
