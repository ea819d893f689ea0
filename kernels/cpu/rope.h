// Rotary position embedding in Hugging Face Llama's rotate-half form:
//   inv_freq[i] = ropeFrequency(i) (kernels/rope_frequencies.h: theta^(-2i/d), or Llama 3.1's
//   scaled form), i < d/2, d = rope.rotatedDims(head_dim);  angle = pos * inv_freq[i]
//   out[i]       = x[i] * cos(angle) - x[i + d/2] * sin(angle)
//   out[i + d/2] = x[i + d/2] * cos(angle) + x[i] * sin(angle)
//   out[j] = x[j] for d <= j < head_dim (partial rotary: those dimensions carry no position)
// with the rotated dims starting rope.rotary_offset into each head, and, when
// rope.interleaved, the pairs (2i, 2i + 1) in place of (i, i + d/2) (DeepSeek's layout).
// Positions are 0..seq_len-1 within each sequence, or given per token (rotaryEmbeddingAt).
#pragma once

#include <cstdint>

#include "kernels/rope_frequencies.h"

namespace shardrt::kernels::cpu {

// x: (batch, seq_len, heads, head_dim), rotated in place. The rotated dims must be even.
void rotaryEmbedding(float* x, int batch, int seq_len, int heads, int head_dim,
                     const RopeFrequencies& rope);

// x: (tokens, heads, head_dim), token t at positions[t] (generation: a prompt's tokens, or
// each sequence's next token, at their places in their sequences).
void rotaryEmbeddingAt(float* x, const std::int32_t* positions, long tokens, int heads,
                       int head_dim, const RopeFrequencies& rope);

}  // namespace shardrt::kernels::cpu
