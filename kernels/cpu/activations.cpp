#include "kernels/cpu/activations.h"

#include "kernels/cpu/fast_exp.h"

#include <cmath>

namespace shardrt::kernels::cpu {

void gelu(float* out, const float* inp, long n) {
  constexpr float kInvSqrt2 = 0.70710678118654752440f;
  for (long i = 0; i < n; ++i) out[i] = 0.5f * inp[i] * (1.0f + std::erf(inp[i] * kInvSqrt2));
}

void swiglu(float* out, const float* gate, const float* up, long n) {
  // In chunks: the exp loop alone vectorises (fastExp has no libm call), and out may be gate.
  constexpr long kChunk = 256;
  float e[kChunk];
  for (long begin = 0; begin < n; begin += kChunk) {
    const long len = n - begin < kChunk ? n - begin : kChunk;
    for (long i = 0; i < len; ++i) e[i] = fastExp(-gate[begin + i]);
    for (long i = 0; i < len; ++i) {
      out[begin + i] = gate[begin + i] / (1.0f + e[i]) * up[begin + i];
    }
  }
}

}  // namespace shardrt::kernels::cpu
