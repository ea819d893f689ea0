#include "kernels/cpu/activations.h"

#include <cmath>

namespace shardrt::kernels::cpu {

void gelu(float* out, const float* inp, long n) {
  constexpr float kInvSqrt2 = 0.70710678118654752440f;
  for (long i = 0; i < n; ++i) out[i] = 0.5f * inp[i] * (1.0f + std::erf(inp[i] * kInvSqrt2));
}

void swiglu(float* out, const float* gate, const float* up, long n) {
  for (long i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

}  // namespace shardrt::kernels::cpu
