#include "kernels/cpu/rope.h"

#include <cmath>
#include <vector>

namespace shardrt::kernels::cpu {

void rotaryEmbedding(float* x, int batch, int seq_len, int heads, int head_dim,
                     const RopeFrequencies& rope) {
  const int rotated = rope.rotatedDims(head_dim);
  const int half = rotated / 2;
  std::vector<float> cos_t(half), sin_t(half);
  std::vector<double> inv_freq(half);
  for (int i = 0; i < half; ++i) inv_freq[i] = ropeFrequency(rope, i, rotated);
  for (int s = 0; s < seq_len; ++s) {
    for (int i = 0; i < half; ++i) {
      // The angle in double: in fp32, pos * inv_freq loses about 1e-4 rad at pos 4096, and
      // the rotation should be the exact one every backend is checked against.
      const double angle = static_cast<double>(s) * inv_freq[i];
      cos_t[i] = static_cast<float>(std::cos(angle) * rope.magnitude);
      sin_t[i] = static_cast<float>(std::sin(angle) * rope.magnitude);
    }
    for (int b = 0; b < batch; ++b) {
      for (int h = 0; h < heads; ++h) {
        float* v =
            x + ((static_cast<long>(b) * seq_len + s) * heads + h) * head_dim + rope.rotary_offset;
        // Pair i: (i, i + half) in rotate-half form, (2i, 2i + 1) interleaved.
        const int stride = rope.interleaved ? 2 : 1, partner = rope.interleaved ? 1 : half;
        for (int i = 0; i < half; ++i) {
          float& a = v[i * stride];
          float& c = v[i * stride + partner];
          const float x1 = a, x2 = c;
          a = x1 * cos_t[i] - x2 * sin_t[i];
          c = x2 * cos_t[i] + x1 * sin_t[i];
        }
      }
    }
  }
}

}  // namespace shardrt::kernels::cpu
