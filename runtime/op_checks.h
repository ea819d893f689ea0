// Shape rules of each Backend op, shared by every backend so that a wrong call fails the same
// way on cpu and cuda, with both shapes in the message.
#pragma once

#include <vector>

#include "kernels/attention_heads.h"
#include "runtime/tensor.h"

namespace shardrt::op_checks {

void linear(const TensorView& out, const TensorView& inp, const TensorView& weight);
void norm(const TensorView& out, const TensorView& inp, const TensorView& weight);
void bias(const TensorView& x, const TensorView& bias);
// copyColumns: same dtype; the blocks inside both rows; out rows a whole multiple of inp rows.
// Returns that multiple.
int columnBlock(const TensorView& out, int out_col, const TensorView& inp, int inp_col, int width);
void rowGate(const TensorView& x, const TensorView& gate_logits);
void rotary(const TensorView& x);
void attention(const TensorView& out, const TensorView& q, const TensorView& k, const TensorView& v,
               const kernels::AttentionHeads& heads);
void sameNumel(const char* op, const TensorView& a, const TensorView& b);
void sameDtype(const char* op, const TensorView& a, const TensorView& b);
void groupedLinear(const TensorView& out, const TensorView& inp,
                   const std::vector<const Tensor*>& weights, const std::vector<int>& rows);
// choice_bias, when given: (experts) of f32, experts as many as the logits' columns.
void routerTopK(const TensorView& experts, const TensorView& weights, const TensorView& logits,
                const TensorView* choice_bias);
// As routerTopK, and experts i32, weights and logits f32.
void routerWeightsOf(const TensorView& weights, const TensorView& experts,
                     const TensorView& logits);
// rows (index.numel(), cols) read from or written to table (any rows, cols) by index.
void rowIndex(const char* op, const TensorView& rows, const TensorView& table,
              const TensorView& index);
// embedRows: out (tokens, hidden), ids (tokens) of i32, table (rows, hidden).
void embedding(const TensorView& out, const TensorView& ids, const TensorView& table);
// rotaryEmbeddingAt: x (tokens, ..., heads, even head_dim), positions (tokens) of i32.
void rotaryAt(const TensorView& x, const TensorView& positions);
// cachedAttention: q and out alike, (tokens, ..., q_heads, head_dim); the caches (sequences,
// context, kv_heads, head_dim) alike; seq and pos (tokens) of i32.
void cachedAttention(const TensorView& out, const TensorView& q, const TensorView& k_cache,
                     const TensorView& v_cache, const TensorView& seq, const TensorView& pos,
                     const kernels::AttentionHeads& heads);
// argmaxRows: best_value (rows) f32, best_index (rows) i32, x (rows, cols).
void argmax(const TensorView& best_value, const TensorView& best_index, const TensorView& x);

}  // namespace shardrt::op_checks
