#include "runtime/latent_attention.h"

#include "runtime/head_views.h"
#include "runtime/model_rope.h"

namespace shardrt {

LatentAttentionBlock::LatentAttentionBlock(const config::ModelConfig& model, Dim batch, Dim seq,
                                           Dim heads, DType dtype, Backend& backend, OpTimer& timer)
    : model_(model), backend_(backend), run_(timer), seq_(seq.size) {
  const auto& a = model.mla;
  Buffers& b = buffers_;
  if (a.q_rank > 0) b.q_latent = backend.empty({batch, seq, Dim("q_lora_rank", a.q_rank)}, dtype);
  b.kv_a = backend.empty({batch, seq, Dim("kv_lora_rank+rope", a.kv_rank + a.rope_dim)}, dtype);
  b.kv_latent = backend.empty({batch, seq, Dim("kv_lora_rank", a.kv_rank)}, dtype);
  b.k_rope = backend.empty({batch, seq, Dim("heads", 1), Dim("d_rope", a.rope_dim)}, dtype);
  b.kv_up = backend.empty({batch, seq, heads, Dim("d_kv", a.nope_dim + a.v_dim)}, dtype);
  b.k_rope_heads = backend.empty({batch, seq, heads, Dim("d_k", a.nope_dim + a.rope_dim)}, dtype);
  b.attn_v = backend.empty({batch, seq, heads, Dim("d_v", a.v_dim)}, dtype);
  useRows(batch.size);
}

void LatentAttentionBlock::useRows(long rows, long global) {
  auto first = [rows, global](const Tensor& t) { return firstRows(t, rows, global); };
  const Buffers& b = buffers_;
  q_latent_ = first(b.q_latent);
  kv_a_ = first(b.kv_a);
  kv_latent_ = first(b.kv_latent);
  k_rope_ = first(b.k_rope);
  kv_up_ = first(b.kv_up);
  k_rope_heads_ = first(b.k_rope_heads);
  attn_v_ = first(b.attn_v);
  tokens_ = rows * seq_;
}

void LatentAttentionBlock::project(const TensorView& normed, const LayerWeights& w,
                                   const TensorView& q, const TensorView& k, const TensorView& v,
                                   const TensorView* positions) {
  const auto& a = model_.mla;
  const auto latent_eps = static_cast<float>(a.latent_eps);
  const TensorView q_rows = mergeHeads(q);
  if (a.q_rank > 0) {
    const Tensor& qa = w[LayerWeight::QAProj];
    const Tensor& qb = w[LayerWeight::QBProj];
    run_(
        "linear", linearFlops(tokens_, qa), [&] { backend_.linear(q_latent_, normed, qa); },
        "q_a_proj");
    run_(
        "rmsnorm", 0,
        [&] { backend_.rmsNorm(q_latent_, q_latent_, w[LayerWeight::QANorm], latent_eps); },
        "q_a_layernorm");
    run_(
        "linear", linearFlops(tokens_, qb), [&] { backend_.linear(q_rows, q_latent_, qb); },
        "q_b_proj");
  } else {
    const Tensor& wq = w[LayerWeight::QProj];
    run_(
        "linear", linearFlops(tokens_, wq), [&] { backend_.linear(q_rows, normed, wq); }, "q_proj");
  }
  const Tensor& kva = w[LayerWeight::KvAProj];
  const Tensor& kvb = w[LayerWeight::KvBProj];
  run_(
      "linear", linearFlops(tokens_, kva), [&] { backend_.linear(kv_a_, normed, kva); },
      "kv_a_proj_with_mqa");
  run_(
      "copy_columns", 0, [&] { backend_.copyColumns(kv_latent_, 0, kv_a_, 0, a.kv_rank); },
      "kv_latent");
  run_(
      "copy_columns", 0, [&] { backend_.copyColumns(k_rope_, 0, kv_a_, a.kv_rank, a.rope_dim); },
      "k_rope");
  run_(
      "rmsnorm", 0,
      [&] { backend_.rmsNorm(kv_latent_, kv_latent_, w[LayerWeight::KvANorm], latent_eps); },
      "kv_a_layernorm");
  const TensorView kv_up_rows = mergeHeads(kv_up_);
  run_(
      "linear", linearFlops(tokens_, kvb), [&] { backend_.linear(kv_up_rows, kv_latent_, kvb); },
      "kv_b_proj");

  // The rope dims of q (after each head's nope dims) and the one rotary key of each token.
  const kernels::RopeFrequencies q_rope = ropeFrequenciesOf(model_);
  kernels::RopeFrequencies k_rope = q_rope;
  k_rope.rotary_offset = 0;  // k_rope_ holds only the rope dims
  run_("rope", 0, [&] {
    if (positions) {
      backend_.rotaryEmbeddingAt(q, *positions, q_rope);
      backend_.rotaryEmbeddingAt(k_rope_, *positions, k_rope);
    } else {
      backend_.rotaryEmbedding(q, q_rope);
      backend_.rotaryEmbedding(k_rope_, k_rope);
    }
  });

  // k = cat(k_nope of each head, the token's rotary key): each copied into zeros, then added,
  // so that every op writes its whole output and the graph shows where each part came from.
  // v = v of each head, zero-padded to head_dim.
  const TensorView k_heads = headRows(k), v_heads = headRows(v), kv_heads = headRows(kv_up_);
  run_(
      "copy_columns", 0, [&] { backend_.copyColumns(k_heads, 0, kv_heads, 0, a.nope_dim); },
      "k_nope");
  run_(
      "copy_columns", 0,
      [&] {
        backend_.copyColumns(headRows(k_rope_heads_), a.nope_dim, headRows(k_rope_), 0, a.rope_dim);
      },
      "k_rope_heads");
  run_(
      "add", 0, [&] { backend_.add(k, k, k_rope_heads_); }, "k_assemble");
  run_(
      "copy_columns", 0, [&] { backend_.copyColumns(v_heads, 0, kv_heads, a.nope_dim, a.v_dim); },
      "v_padded");
}

const TensorView& LatentAttentionBlock::values(const TensorView& attn) {
  run_(
      "copy_columns", 0,
      [&] { backend_.copyColumns(headRows(attn_v_), 0, headRows(attn), 0, model_.mla.v_dim); },
      "attn_values");
  return attn_v_;
}

}  // namespace shardrt
