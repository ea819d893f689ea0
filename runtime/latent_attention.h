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
//
// Generation caches the latent, not k and v (attendOverCache): one row of kv_rank + rope_dim
// values a token, [rmsnorm(c), rope(kr)], shared by every head (576 for DeepSeek-V3, against
// heads x 2 x 192 expanded). Attention over it absorbs kv_b into the query and the output
// (DeepSeek-V2, section 2.1.3; vLLM's and FlashMLA's decode): with W_UK_h and W_UV_h head h's
// rows of kv_b for its k_nope and its v,
//   q_nope_h . (W_UK_h c) = (W_UK_h^T q_nope_h) . c,   probs . (W_UV_h c) = W_UV_h (probs . c)
// so each head's query becomes [W_UK_h^T q_nope_h, q_rope_h] against keys [c, rope(kr)] (one kv
// head of kv_rank + rope_dim: Backend::cachedAttention as multi-query attention, the same rows
// passed as its values), and its output's first kv_rank dims, probs . c, go through W_UV_h.
// Every tp rank holds the whole latent cache, as every rank computes the whole latent.
#pragma once

#include "config/deployment.h"
#include "runtime/backend.h"
#include "runtime/model_weights.h"
#include "runtime/op_profile.h"

namespace shardrt {

class LatentAttentionBlock {
 public:
  // batch, seq and heads as the executor's q_ (heads: this rank's, of the model's).
  // latent_cache: the block will attend over a latent cache (generation): its buffers too.
  LatentAttentionBlock(const config::ModelConfig& model, Dim batch, Dim seq, Dim heads, DType dtype,
                       Backend& backend, OpTimer& timer, bool latent_cache = false);

  // Values a token of the latent cache holds: kv_rank + rope_dim.
  static int latentWidth(const config::ModelConfig& model) {
    return model.mla.kv_rank + model.mla.rope_dim;
  }
  // Splits each layer's kv_b into the per-head matrices attendOverCache applies (W_UK_h^T and
  // W_UV_h), once, before generation.
  void absorb(const std::vector<LayerWeights>& layers);
  // Generation: normed (tokens, 1, hidden) -> the values for o_proj (tokens, 1, heads, v_dim),
  // after writing each token's latent row into `cache` (sequences, context, 1, latentWidth) at
  // its slot and attending over the cache. q: the executor's (tokens, 1, heads, head_dim)
  // buffer; layer: the stage's index of the layer (absorb's order); heads: the executor's;
  // attention_pairs: the step's (token, visible key) pairs, for the FLOPs traced.
  const TensorView& attendOverCache(const TensorView& normed, const LayerWeights& weights,
                                    std::size_t layer, const TensorView& q,
                                    const TensorView& seq, const TensorView& pos,
                                    const TensorView& slot, const Tensor& cache,
                                    const kernels::AttentionHeads& heads, double attention_pairs);

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
  // q (rotated) from normed, and the latent and rotary key (kv_latent_, k_rope_).
  void projectQuery(const TensorView& normed, const LayerWeights& w, const TensorView& q,
                    const TensorView* positions);
  void projectLatent(const TensorView& normed, const LayerWeights& w, const TensorView* positions);
  // rows_of_heads[h] (tokens, in) -> out, through head h's matrix of `per_head`: the rows
  // regrouped head by head, one GEMM a head, and back in token order.
  void perHead(const TensorView& out, const TensorView& in, const std::vector<Tensor>& per_head,
               const char* label);

  // The memory of the views below, for the whole batch.
  struct Buffers {
    Tensor q_latent, kv_a, kv_latent, k_rope, kv_up, k_rope_heads, attn_v;
    // The latent cache's (latent_cache): a token's cache row; per-head rows in token order and
    // in head order (the widest of nope_dim, kv_rank and v_dim); the absorbed query and the
    // attention's output over the latent; the two row orders' indices.
    Tensor latent_row, latent_row_rope, head_rows_in, head_rows_out, by_head_in, by_head_out, q_absorbed,
        attn_latent, to_heads, to_tokens;
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
  bool latent_cache_;
  int heads_;                 // this rank's
  long ordered_tokens_ = -1;  // the token count to_heads_ and to_tokens_ hold indices for
  // Per stage layer, per local head: W_UK_h^T (kv_rank, nope_dim) and W_UV_h (v_dim, kv_rank).
  std::vector<std::vector<Tensor>> uk_t_, uv_;
  TensorView latent_row_, latent_row_rope_, q_absorbed_, attn_latent_, to_heads_, to_tokens_;
};

}  // namespace shardrt
