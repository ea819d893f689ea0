// Attention of new tokens over a KV cache: the prefill and decode steps of generation.
// Each query token t belongs to the cache's sequence seq[t] at position pos[t] and sees that
// sequence's keys at positions firstVisibleKey(pos[t]) .. pos[t] (causal, and Mistral's window):
//   out[t, h] = sum_j softmax_j(scale * q[t, h] . k_cache[seq[t], j, kv(h)]) v_cache[seq[t], j,
//   kv(h)]
// The cache must already hold the token's own key and value (written before, with scatterRows).
// Tokens of any sequences and positions may be mixed in one call: a prefill of prompts of
// different lengths packs their tokens back to back, with no padding, and a decode step has one
// token per sequence.
#pragma once

#include <cstdint>

#include "kernels/attention_heads.h"

namespace shardrt::kernels::cpu {

// q, out (tokens, q_heads, head_dim); k_cache, v_cache (sequences, context, kv_heads, head_dim);
// seq, pos (tokens).
void cachedAttention(float* out, const float* q, const float* k_cache, const float* v_cache,
                     const std::int32_t* seq, const std::int32_t* pos, long tokens, int context,
                     int head_dim, const AttentionHeads& heads);

}  // namespace shardrt::kernels::cpu
