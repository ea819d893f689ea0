#include "runtime/transformer.h"

#include <algorithm>
#include <chrono>

#include "runtime/head_views.h"
#include "runtime/model_rope.h"

namespace shardrt {
namespace {

double seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

TransformerExecutor::TransformerExecutor(const config::Deployment& d, const config::Plan& plan,
                                         const config::ParallelLayout& layout, Backend& backend,
                                         ExecutorGroups groups, ExecutorOptions options)
    : model_(d.model),
      plan_(plan),
      shard_(plan.tp_shards.at(layout.tpRank())),
      backend_(backend),
      groups_(groups),
      options_(options),
      run_(backend, options.profile),
      pp_rank_(layout.ppRank()),
      first_stage_(layout.ppRank() == 0),
      last_stage_(layout.ppRank() == plan.pp - 1),
      replica_batch_(plan.dp_batches.at(layout.dpRank())),
      microbatch_size_(replica_batch_.size() / plan.microbatches),
      global_batch_(d.workload.batch_size),
      seq_len_(d.workload.seq_len),
      token_level_(options.step_tokens > 0),
      dtype_(d.workload.dtype) {
  const GeneratedWeights generated(d.seed);
  weights_ = materialiseShard(
      backend, model_,
      ShardHoldings::of(plan, layout.tpRank(), layout.ppRank(), layout.epRank(), token_level_),
      options_.weights ? *options_.weights : generated, d.workload.dtype);
  heads_ = {shard_.q_heads.size(), shard_.kv_heads.size(), shard_.q_heads.begin,
            shard_.kv_heads.begin, model_.groupSize(),     attentionScoreScale(model_),
            model_.sliding_window};

  // With token_level, a step's tokens are the rows, each a sequence of length 1 to the layers.
  const Dim batch = token_level_ ? Dim("tokens", options.step_tokens)
                                 : Dim("batch_size", microbatch_size_, d.workload.batch_size);
  const Dim seq("seq_len", token_level_ ? 1 : seq_len_);
  const Shape hidden_rows{batch, seq, Dim("hidden", model_.hidden)};
  const Dim d_k("d_k", model_.head_dim);
  const Dim q_heads("heads", shard_.q_heads.size(), model_.heads);
  const Dim kv_heads("kv_heads", shard_.kv_heads.size(), model_.kv_heads);
  const Dim ffn("ffn_hidden", shard_.ffn_columns.size(), model_.ffn_hidden);
  const DType dt = d.workload.dtype;
  Buffers& b = buffers_;
  b.residual = backend.empty(hidden_rows, dt);
  b.normed = backend.empty(hidden_rows, dt);
  b.partial = backend.empty(hidden_rows, dt);
  b.q = backend.empty({batch, seq, q_heads, d_k}, dt);
  b.k = backend.empty({batch, seq, kv_heads, d_k}, dt);
  b.v = backend.empty({batch, seq, kv_heads, d_k}, dt);
  b.attn = backend.empty({batch, seq, q_heads, d_k}, dt);
  b.ffn_a = backend.empty({batch, seq, ffn}, dt);
  if (token_level_ && last_stage_)
    b.selected = backend.empty({Dim("sequences", batch.size), Dim("hidden", model_.hidden)}, dt);
  if (model_.mla.on()) {
    latent_ = std::make_unique<LatentAttentionBlock>(model_, batch, seq, q_heads, dt, backend, run_,
                                                     token_level_);
    if (token_level_) latent_->absorb(weights_.layers);
  }
  const bool swiglu = model_.activation == config::Activation::SwiGlu;
  if (swiglu) b.ffn_b = backend.empty({batch, seq, ffn}, dt);

  moe_counters_.resize(model_.layers);
  routing_.resize(model_.layers);
  const bool stage_has_moe =
      std::any_of(weights_.layers.begin(), weights_.layers.end(),
                  [&](const LayerWeights& w) { return model_.isMoeLayer(w.layer); });
  if (stage_has_moe) {
    // Generation routes without capacity (checked before): a sequence is one token a step.
    moe_ = std::make_unique<MoeBlock>(model_, plan, token_level_ ? 1 : seq_len_, backend,
                                      *groups.tp, *groups.ep, run_);
    b.moe_out = backend.empty(hidden_rows, dt);
    const int shared = model_.moe.sharedWidth();
    if (shared > 0) {
      const Dim cols("ffn_hidden", shard_.shared_columns.size(), shared);
      b.shared_a = backend.empty({batch, seq, cols}, dt);
      if (swiglu) b.shared_b = backend.empty({batch, seq, cols}, dt);
      if (model_.moe.shared_gate) b.shared_gate = backend.empty({batch, seq, Dim("gate", 1)}, dt);
    }
  }
  if (token_level_) {  // the counters add up over every step of a generation
    for (const auto& w : weights_.layers) {
      if (model_.isMoeLayer(w.layer))
        moe_counters_[w.layer] = {std::vector<long>(model_.moe.experts, 0), 0, 0};
    }
  }
  useRows(batch.size);
}

void TransformerExecutor::useRows(long rows, long global) {
  auto first = [rows, global](const Tensor& t) { return firstRows(t, rows, global); };
  const Buffers& b = buffers_;
  residual_ = first(b.residual);
  normed_ = first(b.normed);
  partial_ = first(b.partial);
  moe_out_ = first(b.moe_out);
  q_ = first(b.q);
  k_ = first(b.k);
  v_ = first(b.v);
  attn_ = first(b.attn);
  ffn_a_ = first(b.ffn_a);
  ffn_b_ = first(b.ffn_b);
  shared_a_ = first(b.shared_a);
  shared_b_ = first(b.shared_b);
  shared_gate_ = first(b.shared_gate);
  if (latent_) latent_->useRows(rows, global);
  tokens_ = rows * (token_level_ ? 1 : seq_len_);
}

Shape TransformerExecutor::replicaShape() const {
  return {Dim("batch_size", replica_batch_.size(), global_batch_), Dim("seq_len", seq_len_),
          Dim("hidden", model_.hidden)};
}

Shape TransformerExecutor::microbatchShape() const {
  return {Dim("batch_size", microbatch_size_, global_batch_), Dim("seq_len", seq_len_),
          Dim("hidden", model_.hidden)};
}

void TransformerExecutor::norm(const TensorView& out, const TensorView& inp, const Tensor& weight,
                               const Tensor& bias, const char* label) {
  const auto eps = static_cast<float>(model_.norm_eps);
  if (model_.norm == config::NormKind::RmsNorm) {
    run_(
        "rmsnorm", 0, [&] { backend_.rmsNorm(out, inp, weight, eps); }, label);
  } else {
    run_(
        "layernorm", 0, [&] { backend_.layerNorm(out, inp, weight, bias, eps); }, label);
  }
}

void TransformerExecutor::tensorParallelAllReduce(const TensorView& partial, const char* op) {
  if (groups_.tp->size() == 1) return;
  if (options_.tracer) options_.tracer->nameView(partial);  // a step's tokens of its round
  run_(op, 0, [&] {
    groups_.tp->allReduce(partial.raw(), static_cast<std::size_t>(partial.numel()), partial.dtype(),
                          comm::ReduceOp::Sum);
  });
}

void TransformerExecutor::attentionBlock(const LayerWeights& layer_weights) {
  norm(normed_, residual_, layer_weights[LayerWeight::AttnNormWeight],
       layer_weights[LayerWeight::AttnNormBias], "attn_norm");
  const Tensor& wo = layer_weights[LayerWeight::OProj];
  if (latent_ && step_) {  // generation over the latent cache (runtime/latent_attention.h)
    const std::size_t local =
        static_cast<std::size_t>(layer_weights.layer - weights_.layers.front().layer);
    const TensorView o_in = mergeHeads(latent_->attendOverCache(
        normed_, layer_weights, local, q_, step_->seq, step_->pos, step_->slot,
        cache_->k.at(local), heads_, step_->attention_pairs));
    run_(
        "linear", linearFlops(tokens_, wo), [&] { backend_.linear(partial_, o_in, wo); }, "o_proj");
    tensorParallelAllReduce(partial_, "all_reduce");
    run_("residual_add", 0, [&] { backend_.add(residual_, residual_, partial_); });
    return;
  }
  if (latent_) {
    latent_->project(normed_, layer_weights, q_, k_, v_, step_ ? &step_->pos : nullptr);
  } else {
    projectHeads(layer_weights);
  }
  if (step_) {
    cachedAttention(layer_weights.layer);
  } else {
    // Useful FLOPs of QK^T and PV: a causal row i sees i + 1 keys.
    const double pairs = model_.causal ? 0.5 * seq_len_ * (seq_len_ + 1.0)
                                       : static_cast<double>(seq_len_) * seq_len_;
    const double attn_flops = 4.0 * microbatch_size_ * heads_.q_heads * model_.head_dim * pairs;
    run_("attention", attn_flops,
         [&] { backend_.attention(attn_, q_, k_, v_, heads_, model_.causal); });
  }
  const TensorView o_in = latent_ ? mergeHeads(latent_->values(attn_)) : mergeHeads(attn_);
  run_(
      "linear", linearFlops(tokens_, wo), [&] { backend_.linear(partial_, o_in, wo); }, "o_proj");
  tensorParallelAllReduce(partial_, "all_reduce");
  run_("residual_add", 0, [&] { backend_.add(residual_, residual_, partial_); });
}

void TransformerExecutor::cachedAttention(int layer) {
  const std::size_t local = static_cast<std::size_t>(layer - weights_.layers.front().layer);
  const Tensor &k_cache = cache_->k.at(local), &v_cache = cache_->v.at(local);
  run_(
      "kv_cache_write", 0,
      [&] { backend_.scatterRows(mergeHeads(k_cache), mergeHeads(k_), step_->slot); },
      "k_cache_write");
  run_(
      "kv_cache_write", 0,
      [&] { backend_.scatterRows(mergeHeads(v_cache), mergeHeads(v_), step_->slot); },
      "v_cache_write");
  const double attn_flops = 4.0 * step_->attention_pairs * heads_.q_heads * model_.head_dim;
  run_("attention", attn_flops, [&] {
    backend_.cachedAttention(attn_, q_, k_cache, v_cache, step_->seq, step_->pos, heads_);
  });
}

void TransformerExecutor::projectHeads(const LayerWeights& layer_weights) {
  const Tensor& wq = layer_weights[LayerWeight::QProj];
  const Tensor& wk = layer_weights[LayerWeight::KProj];
  const Tensor& wv = layer_weights[LayerWeight::VProj];
  run_(
      "linear", linearFlops(tokens_, wq), [&] { backend_.linear(mergeHeads(q_), normed_, wq); },
      "q_proj");
  run_(
      "linear", linearFlops(tokens_, wk), [&] { backend_.linear(mergeHeads(k_), normed_, wk); },
      "k_proj");
  run_(
      "linear", linearFlops(tokens_, wv), [&] { backend_.linear(mergeHeads(v_), normed_, wv); },
      "v_proj");
  if (model_.qkv_bias) {  // Qwen2: each projection's bias, split with its rows
    run_(
        "add_bias", 0, [&] { backend_.addBias(mergeHeads(q_), layer_weights[LayerWeight::QBias]); },
        "q_bias");
    run_(
        "add_bias", 0, [&] { backend_.addBias(mergeHeads(k_), layer_weights[LayerWeight::KBias]); },
        "k_bias");
    run_(
        "add_bias", 0, [&] { backend_.addBias(mergeHeads(v_), layer_weights[LayerWeight::VBias]); },
        "v_bias");
  }
  if (model_.qk_norm) {  // Qwen3: RMSNorm over head_dim on every query and key head, before rope
    const auto eps = static_cast<float>(model_.norm_eps);
    run_(
        "rmsnorm", 0, [&] { backend_.rmsNorm(q_, q_, layer_weights[LayerWeight::QNorm], eps); },
        "q_norm");
    run_(
        "rmsnorm", 0, [&] { backend_.rmsNorm(k_, k_, layer_weights[LayerWeight::KNorm], eps); },
        "k_norm");
  }
  if (model_.rope) {
    const kernels::RopeFrequencies rope = ropeFrequenciesOf(model_);
    run_("rope", 0, [&] {
      if (step_) {
        backend_.rotaryEmbeddingAt(q_, step_->pos, rope);
        backend_.rotaryEmbeddingAt(k_, step_->pos, rope);
      } else {
        backend_.rotaryEmbedding(q_, rope);
        backend_.rotaryEmbedding(k_, rope);
      }
    });
  }
}

void TransformerExecutor::mlp(const TensorView& out, const TensorView& inp, const Tensor& gate,
                              const Tensor& up, const Tensor& down, const TensorView& a,
                              const TensorView& b, const std::string& prefix) {
  if (model_.activation == config::Activation::SwiGlu) {
    run_(
        "linear", linearFlops(tokens_, gate), [&] { backend_.linear(a, inp, gate); },
        prefix + "gate_proj");
    run_(
        "linear", linearFlops(tokens_, up), [&] { backend_.linear(b, inp, up); },
        prefix + "up_proj");
    run_(
        "swiglu", 0, [&] { backend_.swiglu(a, a, b); }, prefix + "swiglu");
  } else {
    run_(
        "linear", linearFlops(tokens_, up), [&] { backend_.linear(a, inp, up); },
        prefix + "up_proj");
    run_(
        "gelu", 0, [&] { backend_.gelu(a, a); }, prefix + "gelu");
  }
  run_(
      "linear", linearFlops(tokens_, down), [&] { backend_.linear(out, a, down); },
      prefix + "down_proj");
}

void TransformerExecutor::ffnBlock(const LayerWeights& layer_weights) {
  norm(normed_, residual_, layer_weights[LayerWeight::FfnNormWeight],
       layer_weights[LayerWeight::FfnNormBias], "ffn_norm");
  mlp(partial_, normed_, layer_weights[LayerWeight::GateProj], layer_weights[LayerWeight::UpProj],
      layer_weights[LayerWeight::DownProj], ffn_a_, ffn_b_, "");
  tensorParallelAllReduce(partial_, "all_reduce");
  run_("residual_add", 0, [&] { backend_.add(residual_, residual_, partial_); });
}

void TransformerExecutor::moeBlock(const LayerWeights& layer_weights, long first_token) {
  norm(normed_, residual_, layer_weights[LayerWeight::FfnNormWeight],
       layer_weights[LayerWeight::FfnNormBias], "ffn_norm");
  moe_->forward(
      normed_, moe_out_, layer_weights, first_token, moe_counters_[layer_weights.layer],
      options_.log_routing ? &routing_[layer_weights.layer] : nullptr,
      options_.forced_routing ? &options_.forced_routing->at(layer_weights.layer) : nullptr);
  if (model_.moe.shared_experts > 0) {
    mlp(partial_, normed_, layer_weights[LayerWeight::SharedGateProj],
        layer_weights[LayerWeight::SharedUpProj], layer_weights[LayerWeight::SharedDownProj],
        shared_a_, shared_b_, "shared_");
    if (model_.moe.shared_gate) {
      // Qwen2-MoE: sigmoid(n Wg^T) per token scales the shared expert. Each rank scales its
      // partial sum before the all-reduce: the scale is the same on every rank, so it commutes.
      const Tensor& wg = layer_weights[LayerWeight::SharedGate];
      run_(
          "linear", linearFlops(tokens_, wg), [&] { backend_.linear(shared_gate_, normed_, wg); },
          "shared_expert_gate");
      run_(
          "sigmoid_gate", 0, [&] { backend_.sigmoidGateRows(partial_, shared_gate_); },
          "shared_expert_gated");
    }
    tensorParallelAllReduce(partial_, "all_reduce");
    run_(
        "add", 0, [&] { backend_.add(moe_out_, moe_out_, partial_); }, "shared_expert_add");
  }
  run_("residual_add", 0, [&] { backend_.add(residual_, residual_, moe_out_); });
}

void TransformerExecutor::runLayer(const LayerWeights& layer_weights, long first_token) {
  if (options_.tracer) options_.tracer->setLayer(layer_weights.layer);
  enterLayer(layer_weights.layer, currentOp().microbatch);
  attentionBlock(layer_weights);
  if (model_.isMoeLayer(layer_weights.layer)) {
    moeBlock(layer_weights, first_token);
  } else {
    ffnBlock(layer_weights);
  }
}

void TransformerExecutor::forward(const TensorView& input, const TensorView& output) {
  if (token_level_) throw std::logic_error("forward: a token-level executor runs step()");
  const long batch_tokens = static_cast<long>(global_batch_) * seq_len_;
  for (const auto& w : weights_.layers) {
    if (!model_.isMoeLayer(w.layer)) continue;
    moe_counters_[w.layer] = {std::vector<long>(model_.moe.experts, 0), 0, 0};
    if (options_.log_routing) {
      routing_[w.layer].experts.assign(batch_tokens * model_.moe.top_k, -1);
    }
  }
  timing_ = {};
  const double start = seconds();
  comm::Communicator& pp = *groups_.pp;
  const auto count = static_cast<std::size_t>(residual_.numel());
  Tracer* tracer = options_.tracer;
  if (tracer && first_stage_) tracer->recordBookkeeping(kOpModelInput, {}, {tracer->ref(input)});
  for (int mb = 0; mb < plan_.microbatches; ++mb) {
    if (tracer) tracer->setMicrobatch(mb), tracer->setLayer(-1);
    enterLayer(-1, mb);
    const long row = static_cast<long>(mb) * microbatch_size_;
    if (first_stage_) {
      backend_.copy(residual_, input.rows(row, microbatch_size_));
    } else {
      run_("recv", 0, [&] { pp.recv(residual_.raw(), count, residual_.dtype(), pp_rank_ - 1); });
    }
    const double busy_start = seconds();
    const long first_token = (replica_batch_.begin + row) * seq_len_;
    for (const auto& w : weights_.layers) runLayer(w, first_token);
    if (tracer) tracer->setLayer(-1);
    enterLayer(-1, mb);
    if (last_stage_) {
      norm(output.rows(row, microbatch_size_), residual_, weights_.final_norm_weight,
           weights_.final_norm_bias, "final_norm");
    }
    backend_.synchronize();
    timing_.busy_seconds += seconds() - busy_start;
    if (!last_stage_) {
      run_("send", 0, [&] { pp.send(residual_.raw(), count, residual_.dtype(), pp_rank_ + 1); });
    }
  }
  backend_.synchronize();
  enterLayer(-1, -1);
  timing_.wall_seconds = seconds() - start;
  if (tracer) {
    tracer->setMicrobatch(-1);
    if (last_stage_) tracer->recordBookkeeping(kOpModelOutput, {tracer->ref(output)}, {});
  }
}

TensorView TransformerExecutor::stepHidden(const TokenStep& step) const {
  return firstRows(buffers_.residual, step.tokens,
                   step.round_tokens > 0 ? step.round_tokens : step.tokens);
}

void TransformerExecutor::embed(const TokenStep& step) {
  useRows(step.tokens, step.round_tokens > 0 ? step.round_tokens : step.tokens);
  enterLayer(-1, currentOp().microbatch);
  run_(
      "embedding", 0,
      [&] { backend_.embedRows(residual_, step.ids, weights_.embedding, shard_.vocab.begin); },
      "embed_tokens");
  // Each tp rank wrote the rows of its vocabulary block and zeros elsewhere: the sum is whole.
  tensorParallelAllReduce(residual_, "all_reduce");
}

void TransformerExecutor::step(const TokenStep& step, KvCache& cache) {
  useRows(step.tokens, step.round_tokens > 0 ? step.round_tokens : step.tokens);
  step_ = &step;
  cache_ = &cache;
  for (const auto& w : weights_.layers) runLayer(w, 0);
  if (options_.tracer) options_.tracer->setLayer(-1);
  enterLayer(-1, currentOp().microbatch);
  step_ = nullptr;
  cache_ = nullptr;
}

void TransformerExecutor::logits(const TensorView& rows, const TensorView& out) {
  // One row a sequence that emits a token, of the batch's sequences (as `rows` counts them).
  const TensorView picked = firstRows(buffers_.selected, rows.numel(), rows.shape()[0].global);
  const Tensor& head = weights_.lmHead();
  run_(
      "gather_rows", 0, [&] { backend_.gatherRows(picked, residual_, rows); }, "last_tokens");
  norm(picked, picked, weights_.final_norm_weight, weights_.final_norm_bias, "final_norm");
  run_(
      "linear", linearFlops(rows.numel(), head), [&] { backend_.linear(out, picked, head); },
      "lm_head");
}

KvCache TransformerExecutor::makeKvCache(int sequences, int context) const {
  // A replica's cache holds its batch rows: with dp, sequences of the whole batch.
  const Dim rows("sequences", sequences, global_batch_);
  KvCache cache;
  if (latent_) {  // one latent row a token, its keys and values both (runtime/latent_attention.h)
    const Shape latent{rows, Dim("context", context), Dim("kv_heads", 1),
                       Dim("kv_lora_rank+rope", LatentAttentionBlock::latentWidth(model_))};
    for (std::size_t l = 0; l < weights_.layers.size(); ++l) {
      cache.k.push_back(backend_.empty(latent, dtype_));
    }
    return cache;
  }
  const Shape shape{rows, Dim("context", context),
                    Dim("kv_heads", shard_.kv_heads.size(), model_.kv_heads),
                    Dim("d_k", model_.head_dim)};
  for (std::size_t l = 0; l < weights_.layers.size(); ++l) {
    cache.k.push_back(backend_.empty(shape, dtype_));
    cache.v.push_back(backend_.empty(shape, dtype_));
  }
  return cache;
}

}  // namespace shardrt
