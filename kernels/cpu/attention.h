// Scaled dot-product attention with grouped-query heads, on one rank's slice of heads:
//   out[b, i, h] = sum_j softmax_j(q[b, i, h] . k[b, j, kv(h)] / sqrt(head_dim)) v[b, j, kv(h)]
// with j <= i when causal; kv(h) as AttentionHeads defines it.
#pragma once

#include "kernels/attention_heads.h"

namespace shardrt::kernels::cpu {

// q, out: (batch, seq_len, q_heads, head_dim); k, v: (batch, seq_len, kv_heads, head_dim).
void attention(float* out, const float* q, const float* k, const float* v, int batch, int seq_len,
               int head_dim, const AttentionHeads& heads, bool causal);

// One query row at a time with plain loops: the reference for tests.
void attentionReference(float* out, const float* q, const float* k, const float* v, int batch,
                        int seq_len, int head_dim, const AttentionHeads& heads, bool causal);

}  // namespace shardrt::kernels::cpu
