#include "runtime/transformer.h"

#include <chrono>

namespace shardrt {
namespace {

// (batch, seq, heads, d_k) seen as (batch, seq, heads*d_k): what a projection writes.
TensorView mergeHeads(const TensorView& t) {
  const auto& s = t.shape();
  return t.reshaped({s[0], s[1], Dim("heads*d_k", s.size(2) * s.size(3), s[2].global * s.size(3))});
}

double linearFlops(long tokens, const Tensor& weight) {
  return 2.0 * static_cast<double>(tokens) * static_cast<double>(weight.numel());
}

}  // namespace

TransformerExecutor::TransformerExecutor(const planner::Deployment& d, const planner::Plan& plan,
                                         int tp_rank, int pp_rank, Backend& backend,
                                         comm::Communicator& tp_group, ExecutorOptions options)
    : model_(d.model),
      shard_(plan.tp_shards.at(tp_rank)),
      backend_(backend),
      tp_(tp_group),
      options_(options),
      last_stage_(pp_rank == plan.pp - 1),
      batch_size_(d.workload.batch_size),
      seq_len_(d.workload.seq_len),
      tokens_(static_cast<long>(batch_size_) * seq_len_) {
  const planner::Range layers = plan.stages.at(pp_rank).layers;
  weights_ = materialiseShard(backend, model_, shard_, layers, last_stage_, d.seed);
  heads_ = {shard_.q_heads.size(), shard_.kv_heads.size(), shard_.q_heads.begin,
            shard_.kv_heads.begin, model_.groupSize()};

  const Dim batch("batch_size", batch_size_), seq("seq_len", seq_len_);
  const Dim d_k("d_k", model_.head_dim);
  const Dim q_heads("heads", shard_.q_heads.size(), model_.heads);
  const Dim kv_heads("kv_heads", shard_.kv_heads.size(), model_.kv_heads);
  const Dim ffn("ffn_hidden", shard_.ffn_columns.size(), model_.ffn_hidden);
  const DType dt = d.workload.dtype;
  residual_ = backend.empty(activationShape(), dt);
  normed_ = backend.empty(activationShape(), dt);
  partial_ = backend.empty(activationShape(), dt);
  q_ = backend.empty({batch, seq, q_heads, d_k}, dt);
  k_ = backend.empty({batch, seq, kv_heads, d_k}, dt);
  v_ = backend.empty({batch, seq, kv_heads, d_k}, dt);
  attn_ = backend.empty({batch, seq, q_heads, d_k}, dt);
  ffn_a_ = backend.empty({batch, seq, ffn}, dt);
  if (model_.activation == planner::Activation::SwiGlu) {
    ffn_b_ = backend.empty({batch, seq, ffn}, dt);
  }
}

Shape TransformerExecutor::activationShape() const {
  return {Dim("batch_size", batch_size_), Dim("seq_len", seq_len_), Dim("hidden", model_.hidden)};
}

void TransformerExecutor::run(const char* op, double flops, const std::function<void()>& body) {
  if (!options_.profile) {
    body();
    return;
  }
  const auto t0 = std::chrono::steady_clock::now();
  body();
  backend_.synchronize();
  const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
  options_.profile->record(op, dt.count(), flops);
}

void TransformerExecutor::norm(const TensorView& out, const TensorView& inp, const Tensor& weight,
                               const Tensor& bias) {
  const auto eps = static_cast<float>(model_.norm_eps);
  if (model_.norm == planner::NormKind::RmsNorm) {
    run("rmsnorm", 0, [&] { backend_.rmsNorm(out, inp, weight, eps); });
  } else {
    run("layernorm", 0, [&] { backend_.layerNorm(out, inp, weight, bias, eps); });
  }
}

void TransformerExecutor::tensorParallelAllReduce(const TensorView& partial, const char* op) {
  if (tp_.size() == 1) return;
  run(op, 0, [&] {
    tp_.allReduce(partial.raw(), static_cast<std::size_t>(partial.numel()), partial.dtype(),
                  comm::ReduceOp::Sum);
  });
}

void TransformerExecutor::attentionBlock(const LayerWeights& w) {
  norm(normed_, residual_, w[LayerWeight::AttnNormWeight], w[LayerWeight::AttnNormBias]);
  const Tensor& wq = w[LayerWeight::QProj];
  const Tensor& wk = w[LayerWeight::KProj];
  const Tensor& wv = w[LayerWeight::VProj];
  run("linear", linearFlops(tokens_, wq), [&] { backend_.linear(mergeHeads(q_), normed_, wq); });
  run("linear", linearFlops(tokens_, wk), [&] { backend_.linear(mergeHeads(k_), normed_, wk); });
  run("linear", linearFlops(tokens_, wv), [&] { backend_.linear(mergeHeads(v_), normed_, wv); });
  if (model_.rope) {
    const auto theta = static_cast<float>(model_.rope_theta);
    run("rope", 0, [&] {
      backend_.rotaryEmbedding(q_, theta);
      backend_.rotaryEmbedding(k_, theta);
    });
  }
  // Useful FLOPs of QK^T and PV: a causal row i sees i + 1 keys.
  const double pairs =
      model_.causal ? 0.5 * seq_len_ * (seq_len_ + 1.0) : static_cast<double>(seq_len_) * seq_len_;
  const double attn_flops = 4.0 * batch_size_ * heads_.q_heads * model_.head_dim * pairs;
  run("attention", attn_flops,
      [&] { backend_.attention(attn_, q_, k_, v_, heads_, model_.causal); });
  const Tensor& wo = w[LayerWeight::OProj];
  run("linear", linearFlops(tokens_, wo),
      [&] { backend_.linear(partial_, mergeHeads(attn_), wo); });
  if (!options_.fault_skip_attention_allreduce) {
    tensorParallelAllReduce(partial_, "all_reduce");
  }
  run("residual_add", 0, [&] { backend_.add(residual_, residual_, partial_); });
}

void TransformerExecutor::ffnBlock(const LayerWeights& w) {
  norm(normed_, residual_, w[LayerWeight::FfnNormWeight], w[LayerWeight::FfnNormBias]);
  const Tensor& up = w[LayerWeight::UpProj];
  if (model_.activation == planner::Activation::SwiGlu) {
    const Tensor& gate = w[LayerWeight::GateProj];
    run("linear", linearFlops(tokens_, gate), [&] { backend_.linear(ffn_a_, normed_, gate); });
    run("linear", linearFlops(tokens_, up), [&] { backend_.linear(ffn_b_, normed_, up); });
    run("swiglu", 0, [&] { backend_.swiglu(ffn_a_, ffn_a_, ffn_b_); });
  } else {
    run("linear", linearFlops(tokens_, up), [&] { backend_.linear(ffn_a_, normed_, up); });
    run("gelu", 0, [&] { backend_.gelu(ffn_a_, ffn_a_); });
  }
  const Tensor& down = w[LayerWeight::DownProj];
  run("linear", linearFlops(tokens_, down), [&] { backend_.linear(partial_, ffn_a_, down); });
  tensorParallelAllReduce(partial_, "all_reduce");
  run("residual_add", 0, [&] { backend_.add(residual_, residual_, partial_); });
}

void TransformerExecutor::forward(const TensorView& input, const TensorView& output) {
  backend_.copy(residual_, input);
  for (const auto& layer : weights_.layers) {
    attentionBlock(layer);
    ffnBlock(layer);
  }
  if (last_stage_) {
    norm(output, residual_, weights_.final_norm_weight, weights_.final_norm_bias);
  } else {
    backend_.copy(output, residual_);
  }
  backend_.synchronize();
}

}  // namespace shardrt
