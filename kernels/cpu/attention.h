// Scaled dot-product attention with grouped-query heads, on one rank's slice of heads:
//   out[b, i, h] = sum_j softmax_j(q[b, i, h] . k[b, j, kv(h)] / sqrt(head_dim)) v[b, j, kv(h)]
// with j <= i when causal; kv(h) as AttentionHeads defines it.
#pragma once

#include "kernels/attention_heads.h"

namespace shardrt::kernels::cpu {

// q, out: (batch, seq_len, q_heads, head_dim); k, v: (batch, seq_len, kv_heads, head_dim).
void attention(float* out, const float* q, const float* k, const float* v, int batch, int seq_len,
               int head_dim, const AttentionHeads& heads, bool causal);

// Shared with the cached attention (kernels/cpu/cached_attention.h): the local kv head that
// local query head h reads, or std::logic_error for head ranges without it; and one row of
// scores (n) turned into softmax weights in place.
int kvIndexOf(const AttentionHeads& heads, int local_q_head);
void softmaxRow(float* row, int n);

// One query row at a time with plain loops: the reference for tests.
void attentionReference(float* out, const float* q, const float* k, const float* v, int batch,
                        int seq_len, int head_dim, const AttentionHeads& heads, bool causal);

}  // namespace shardrt::kernels::cpu
