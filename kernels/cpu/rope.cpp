#include "kernels/cpu/rope.h"

#include <cmath>
#include <vector>

namespace shardrt::kernels::cpu {
namespace {

// The rotation at one position: cos and sin of pos * inv_freq[i], times the magnitude.
struct Rotation {
  std::vector<double> inv_freq;
  std::vector<float> cos_t, sin_t;

  Rotation(const RopeFrequencies& rope, int rotated)
      : inv_freq(rotated / 2), cos_t(rotated / 2), sin_t(rotated / 2) {
    for (int i = 0; i < rotated / 2; ++i) inv_freq[i] = ropeFrequency(rope, i, rotated);
  }

  void at(long pos, const RopeFrequencies& rope) {
    for (std::size_t i = 0; i < inv_freq.size(); ++i) {
      // The angle in double: in fp32, pos * inv_freq loses about 1e-4 rad at pos 4096, and
      // the rotation should be the exact one every backend is checked against.
      const double angle = static_cast<double>(pos) * inv_freq[i];
      cos_t[i] = static_cast<float>(std::cos(angle) * rope.magnitude);
      sin_t[i] = static_cast<float>(std::sin(angle) * rope.magnitude);
    }
  }

  // Rotates every head of one token, x (heads, head_dim).
  void apply(float* x, int heads, int head_dim, const RopeFrequencies& rope) const {
    const int half = static_cast<int>(inv_freq.size());
    // Pair i: (i, i + half) in rotate-half form, (2i, 2i + 1) interleaved.
    const int stride = rope.interleaved ? 2 : 1, partner = rope.interleaved ? 1 : half;
    for (int h = 0; h < heads; ++h) {
      float* v = x + static_cast<long>(h) * head_dim + rope.rotary_offset;
      for (int i = 0; i < half; ++i) {
        float& a = v[i * stride];
        float& c = v[i * stride + partner];
        const float x1 = a, x2 = c;
        a = x1 * cos_t[i] - x2 * sin_t[i];
        c = x2 * cos_t[i] + x1 * sin_t[i];
      }
    }
  }
};

}  // namespace

void rotaryEmbedding(float* x, int batch, int seq_len, int heads, int head_dim,
                     const RopeFrequencies& rope) {
  Rotation rotation(rope, rope.rotatedDims(head_dim));
  const long token = static_cast<long>(heads) * head_dim;
  for (int s = 0; s < seq_len; ++s) {
    rotation.at(s, rope);
    for (int b = 0; b < batch; ++b) {
      rotation.apply(x + (static_cast<long>(b) * seq_len + s) * token, heads, head_dim, rope);
    }
  }
}

void rotaryEmbeddingAt(float* x, const std::int32_t* positions, long tokens, int heads,
                       int head_dim, const RopeFrequencies& rope) {
  Rotation rotation(rope, rope.rotatedDims(head_dim));
  const long token = static_cast<long>(heads) * head_dim;
  for (long t = 0; t < tokens; ++t) {
    rotation.at(positions[t], rope);
    rotation.apply(x + t * token, heads, head_dim, rope);
  }
}

}  // namespace shardrt::kernels::cpu
