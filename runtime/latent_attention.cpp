#include "runtime/latent_attention.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "runtime/head_views.h"
#include "runtime/host_values.h"
#include "runtime/model_rope.h"

namespace shardrt {

LatentAttentionBlock::LatentAttentionBlock(const config::ModelConfig& model, Dim batch, Dim seq,
                                           Dim heads, DType dtype, Backend& backend, OpTimer& timer,
                                           bool latent_cache)
    : model_(model),
      backend_(backend),
      run_(timer),
      seq_(seq.size),
      latent_cache_(latent_cache),
      heads_(static_cast<int>(heads.size)) {
  const auto& a = model.mla;
  Buffers& b = buffers_;
  if (a.q_rank > 0) b.q_latent = backend.empty({batch, seq, Dim("q_lora_rank", a.q_rank)}, dtype);
  b.kv_a = backend.empty({batch, seq, Dim("kv_lora_rank+rope", a.kv_rank + a.rope_dim)}, dtype);
  b.kv_latent = backend.empty({batch, seq, Dim("kv_lora_rank", a.kv_rank)}, dtype);
  b.k_rope = backend.empty({batch, seq, Dim("heads", 1), Dim("d_rope", a.rope_dim)}, dtype);
  b.kv_up = backend.empty({batch, seq, heads, Dim("d_kv", a.nope_dim + a.v_dim)}, dtype);
  b.k_rope_heads = backend.empty({batch, seq, heads, Dim("d_k", a.nope_dim + a.rope_dim)}, dtype);
  b.attn_v = backend.empty({batch, seq, heads, Dim("d_v", a.v_dim)}, dtype);
  if (latent_cache) {
    const Dim width("kv_lora_rank+rope", latentWidth(model));
    const Dim rows("tokens*heads", batch.size * seq.size * heads.size);
    const Dim widest("d", std::max({a.nope_dim, a.kv_rank, a.v_dim}));
    b.latent_row = backend.empty({batch, seq, Dim("kv_heads", 1), width}, dtype);
    b.latent_row_rope = backend.empty({batch, seq, Dim("kv_heads", 1), width}, dtype);
    b.head_rows_in = backend.empty({rows, widest}, dtype);
    b.head_rows_out = backend.empty({rows, widest}, dtype);
    b.by_head_in = backend.empty({Dim("heads*tokens", rows.size), widest}, dtype);
    b.by_head_out = backend.empty({Dim("heads*tokens", rows.size), widest}, dtype);
    b.q_absorbed = backend.empty({batch, seq, heads, width}, dtype);
    b.attn_latent = backend.empty({batch, seq, heads, width}, dtype);
    b.to_heads = backend.empty({rows}, DType::I32);
    b.to_tokens = backend.empty({rows}, DType::I32);
  }
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
  if (!latent_cache_) return;
  latent_row_ = first(b.latent_row);
  latent_row_rope_ = first(b.latent_row_rope);
  q_absorbed_ = first(b.q_absorbed);
  attn_latent_ = first(b.attn_latent);
  // Row t*H + h (token order) is row h*T + t in head order: the two gathers' indices.
  const long T = tokens_, H = heads_;
  to_heads_ = firstRows(b.to_heads, T * H);
  to_tokens_ = firstRows(b.to_tokens, T * H);
  // The indices depend on T alone: uploaded when T changes, not at every embed and step.
  if (T == 0 || T == ordered_tokens_) return;
  ordered_tokens_ = T;
  std::vector<std::int32_t> to_heads(static_cast<std::size_t>(T * H)), to_tokens(to_heads.size());
  for (long t = 0; t < T; ++t) {
    for (long h = 0; h < H; ++h) {
      to_heads[h * T + t] = static_cast<std::int32_t>(t * H + h);
      to_tokens[t * H + h] = static_cast<std::int32_t>(h * T + t);
    }
  }
  backend_.copyFromHost(to_heads_, to_heads.data());
  backend_.copyFromHost(to_tokens_, to_tokens.data());
}

void LatentAttentionBlock::absorb(const std::vector<LayerWeights>& layers) {
  const auto& a = model_.mla;
  const int kv = a.kv_rank, nope = a.nope_dim, vd = a.v_dim;
  uk_t_.clear();
  uv_.clear();
  for (const LayerWeights& w : layers) {
    const Tensor& kvb = w[LayerWeight::KvBProj];  // (heads*(nope + v), kv_rank), by head
    const std::vector<float> rows = downloadFloats(backend_, kvb);
    std::vector<Tensor> uk_t, uv;
    for (int h = 0; h < heads_; ++h) {
      const float* head = rows.data() + static_cast<std::size_t>(h) * (nope + vd) * kv;
      std::vector<float> t(static_cast<std::size_t>(kv) * nope);  // W_UK_h^T: (kv_rank, nope)
      for (int i = 0; i < nope; ++i) {
        for (int j = 0; j < kv; ++j) t[static_cast<std::size_t>(j) * nope + i] = head[i * kv + j];
      }
      uk_t.push_back(backend_.empty({Dim("kv_lora_rank", kv), Dim("d_nope", nope)}, kvb.dtype()));
      uploadFloats(backend_, uk_t.back(), t);
      uv.push_back(backend_.empty({Dim("d_v", vd), Dim("kv_lora_rank", kv)}, kvb.dtype()));
      uploadFloats(backend_, uv.back(),
                   std::vector<float>(head + static_cast<std::size_t>(nope) * kv,
                                      head + static_cast<std::size_t>(nope + vd) * kv));
    }
    uk_t_.push_back(std::move(uk_t));
    uv_.push_back(std::move(uv));
  }
}

void LatentAttentionBlock::perHead(const TensorView& out, const TensorView& in,
                                   const std::vector<Tensor>& per_head, const char* label) {
  const long T = tokens_;
  const long rows = T * heads_;
  const TensorView by_head_in =
      prefixAs(buffers_.by_head_in, {Dim("heads*tokens", rows), in.shape()[1]});
  const TensorView by_head_out =
      prefixAs(buffers_.by_head_out, {Dim("heads*tokens", rows), out.shape()[1]});
  run_(
      "permute", 0, [&] { backend_.gatherRows(by_head_in, in, to_heads_); },
      (std::string(label) + "_by_head").c_str());
  for (int h = 0; h < heads_; ++h) {
    const Tensor& w = per_head[static_cast<std::size_t>(h)];
    run_(
        "linear", linearFlops(T, w),
        [&] { backend_.linear(by_head_out.rows(h * T, T), by_head_in.rows(h * T, T), w); }, label);
  }
  run_(
      "permute", 0, [&] { backend_.gatherRows(out, by_head_out, to_tokens_); },
      (std::string(label) + "_by_token").c_str());
}

const TensorView& LatentAttentionBlock::attendOverCache(
    const TensorView& normed, const LayerWeights& w, std::size_t layer, const TensorView& q,
    const TensorView& seq, const TensorView& pos, const TensorView& slot, const Tensor& cache,
    const kernels::AttentionHeads& heads, double attention_pairs) {
  const auto& a = model_.mla;
  projectQuery(normed, w, q, &pos);
  projectLatent(normed, w, &pos);
  // The token's cache row, [rmsnorm(c), rope(kr)], into its slot: each part copied into zeros
  // (copyColumns writes its whole output), then added.
  run_(
      "copy_columns", 0,
      [&] { backend_.copyColumns(headRows(latent_row_), 0, kv_latent_, 0, a.kv_rank); },
      "latent_row");
  run_(
      "copy_columns", 0,
      [&] {
        backend_.copyColumns(headRows(latent_row_rope_), a.kv_rank, headRows(k_rope_), 0,
                             a.rope_dim);
      },
      "latent_row_rope");
  run_(
      "add", 0, [&] { backend_.add(latent_row_, latent_row_, latent_row_rope_); },
      "latent_row_assemble");
  run_(
      "kv_cache_write", 0,
      [&] { backend_.scatterRows(mergeHeads(cache), mergeHeads(latent_row_), slot); },
      "latent_cache_write");
  // The absorbed query: [W_UK_h^T q_nope_h, q_rope_h] for each head.
  const long rows = tokens_ * heads_;
  const TensorView q_nope =
      prefixAs(buffers_.head_rows_in, {Dim("tokens*heads", rows), Dim("d_nope", a.nope_dim)});
  const TensorView q_latent =
      prefixAs(buffers_.head_rows_out, {Dim("tokens*heads", rows), Dim("kv_lora_rank", a.kv_rank)});
  run_(
      "copy_columns", 0, [&] { backend_.copyColumns(q_nope, 0, headRows(q), 0, a.nope_dim); },
      "q_nope");
  perHead(q_latent, q_nope, uk_t_.at(layer), "q_absorb");
  // Its rope part goes through attn_latent_, free until the attention writes it.
  run_(
      "copy_columns", 0,
      [&] { backend_.copyColumns(headRows(q_absorbed_), 0, q_latent, 0, a.kv_rank); },
      "q_absorbed");
  run_(
      "copy_columns", 0,
      [&] {
        backend_.copyColumns(headRows(attn_latent_), a.kv_rank, headRows(q), a.nope_dim,
                             a.rope_dim);
      },
      "q_absorbed_rope");
  run_(
      "add", 0, [&] { backend_.add(q_absorbed_, q_absorbed_, attn_latent_); },
      "q_absorbed_assemble");
  // Multi-query attention over the latent rows: one kv head for every query head, the same
  // rows as keys and values, scaled as the model's heads of nope + rope dims are.
  kernels::AttentionHeads latent = heads;
  latent.kv_heads = 1;
  latent.kv_head_begin = 0;
  latent.group_size = model_.heads;
  latent.score_scale =
      heads.score_scale > 0.0f ? heads.score_scale
                               : 1.0f / std::sqrt(static_cast<float>(model_.head_dim));
  // 4 FLOPs per latent dim, query head and visible key: the scores and the values.
  const double flops = 4.0 * attention_pairs * heads_ * latentWidth(model_);
  run_("attention", flops, [&] {
    backend_.cachedAttention(attn_latent_, q_absorbed_, cache, cache, seq, pos, latent);
  });
  // probs . c (the output's first kv_rank dims) through W_UV_h: each head's values.
  const TensorView o_latent =
      prefixAs(buffers_.head_rows_in, {Dim("tokens*heads", rows), Dim("kv_lora_rank", a.kv_rank)});
  run_(
      "copy_columns", 0,
      [&] { backend_.copyColumns(o_latent, 0, headRows(attn_latent_), 0, a.kv_rank); },
      "attn_latent");
  perHead(headRows(attn_v_), o_latent, uv_.at(layer), "v_unabsorb");
  return attn_v_;
}

void LatentAttentionBlock::projectQuery(const TensorView& normed, const LayerWeights& w,
                                        const TensorView& q, const TensorView* positions) {
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
  // The rope dims of q, after each head's nope dims.
  const kernels::RopeFrequencies q_rope = ropeFrequenciesOf(model_);
  run_("rope", 0, [&] {
    if (positions) {
      backend_.rotaryEmbeddingAt(q, *positions, q_rope);
    } else {
      backend_.rotaryEmbedding(q, q_rope);
    }
  });
}

void LatentAttentionBlock::projectLatent(const TensorView& normed, const LayerWeights& w,
                                         const TensorView* positions) {
  const auto& a = model_.mla;
  const auto latent_eps = static_cast<float>(a.latent_eps);
  const Tensor& kva = w[LayerWeight::KvAProj];
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
  // The one rotary key of each token (k_rope_ holds only the rope dims).
  kernels::RopeFrequencies k_rope = ropeFrequenciesOf(model_);
  k_rope.rotary_offset = 0;
  run_("rope", 0, [&] {
    if (positions) {
      backend_.rotaryEmbeddingAt(k_rope_, *positions, k_rope);
    } else {
      backend_.rotaryEmbedding(k_rope_, k_rope);
    }
  });
}

void LatentAttentionBlock::project(const TensorView& normed, const LayerWeights& w,
                                   const TensorView& q, const TensorView& k, const TensorView& v,
                                   const TensorView* positions) {
  const auto& a = model_.mla;
  projectQuery(normed, w, q, positions);
  projectLatent(normed, w, positions);
  const Tensor& kvb = w[LayerWeight::KvBProj];
  const TensorView kv_up_rows = mergeHeads(kv_up_);
  run_(
      "linear", linearFlops(tokens_, kvb), [&] { backend_.linear(kv_up_rows, kv_latent_, kvb); },
      "kv_b_proj");

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
