// DeepSeek-V2/V3's multi-head latent attention around the attention kernel (Liu et al. 2024,
// DeepSeek-V2, section 2.1; Hugging Face transformers' DeepseekV3Attention), for a rank's heads:
//   q     = q_b(rmsnorm(q_a(n)))  (or q_proj(n))             (tokens, heads, nope + rope)
//   c, kr = split(kv_a(n), [kv_rank, rope])                  one latent and one rotary key a token
//   kv    = kv_b(rmsnorm(c))                                 (tokens, heads, nope + v)
//   k     = cat(kv[..., :nope], rope(kr) for every head),  v = kv[..., nope:]
//   q     = cat(q[..., :nope], rope(q[..., nope:]))
// q_a, kv_a and their norms are whole on every tp rank (each rank needs the whole latent);
// q_b, kv_b and o_proj are split by heads, as Megatron-Core and vLLM split MLA.
//
// The attention kernels take one head_dim for q, k and v; v_dim < head_dim here, so v is
// stored zero-padded to head_dim and the output's first v_dim dims of each head are kept (vLLM
// pads MLA's values the same way for FlashAttention in prefill). The padding costs the ·V
// product (head_dim - v_dim) / v_dim more work, half again for DeepSeek-V3's 192 and 128.
#pragma once

#include "config/deployment.h"
#include "runtime/backend.h"
#include "runtime/model_weights.h"
#include "runtime/op_profile.h"

namespace shardrt {

class LatentAttentionBlock {
 public:
  // batch, seq and heads as the executor's q_ (heads: this rank's, of the model's).
  LatentAttentionBlock(const config::ModelConfig& model, Dim batch, Dim seq, Dim heads, DType dtype,
                       Backend& backend, OpTimer& timer);

  // The passes to come use the first `rows` of batch (a generate step's tokens; the whole
  // batch otherwise, as after construction).
  void useRows(long rows, long global = -1);
  // normed (batch, seq, hidden) -> q, k, v (batch, seq, heads, head_dim), rotated, v padded.
  // positions (batch rows, i32): each row's position (generate); nullptr: 0..seq-1.
  void project(const TensorView& normed, const LayerWeights& weights, const TensorView& q,
               const TensorView& k, const TensorView& v, const TensorView* positions = nullptr);
  // attn (batch, seq, heads, head_dim) -> (batch, seq, heads*v_dim): o_proj's input.
  const TensorView& values(const TensorView& attn);

 private:
  // The memory of the views below, for the whole batch.
  struct Buffers {
    Tensor q_latent, kv_a, kv_latent, k_rope, kv_up, k_rope_heads, attn_v;
  };

  const config::ModelConfig& model_;
  Backend& backend_;
  OpTimer& run_;
  long seq_;
  long tokens_ = 0;
  Buffers buffers_;
  TensorView q_latent_;   // (batch, seq, q_rank)
  TensorView kv_a_;       // (batch, seq, kv_rank + rope_dim)
  TensorView kv_latent_;  // (batch, seq, kv_rank)
  TensorView k_rope_;     // (batch, seq, 1, rope_dim): the one rotary key of each token
  TensorView kv_up_;      // (batch, seq, heads, nope_dim + v_dim)
  TensorView
      k_rope_heads_;   // (batch, seq, heads, head_dim): the rotary key in each head's rope dims
  TensorView attn_v_;  // (batch, seq, heads, v_dim)
};

}  // namespace shardrt
