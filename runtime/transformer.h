// The forward pass of a transformer, dense or Mixture-of-Experts, written once against a
// Backend and a Communicator. Each layer, Megatron-style (Shoeybi et al. 2019, section 3):
//   x = x + o_proj(attention(rope(q_proj(n)), rope(k_proj(n)), v_proj(n)))   n = norm(x)
//       q/k/v column-parallel by heads, o_proj row-parallel, then all-reduce over tp
//   x = x + down(act(up(n), gate(n)))                                       n = norm(x)
//       gate/up column-parallel by FFN columns, down row-parallel, then all-reduce over tp
//   or, in MoE layers, x = x + shared(n) + moe(n) (runtime/moe_block.h)
// and the final norm after the last layer.
//
// A rank runs its pipeline stage's layers on its data-parallel replica's rows of the batch,
// in microbatches, GPipe-style: every microbatch flows through the stages in order, a stage
// receiving it from the one before and sending it to the one after. With every degree 1 the
// same code is the unsharded reference.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "config/deployment.h"
#include "config/parallel_layout.h"
#include "config/plan.h"
#include "runtime/backend.h"
#include "runtime/latent_attention.h"
#include "runtime/model_weights.h"
#include "runtime/moe_block.h"
#include "runtime/op_profile.h"

namespace shardrt {

struct ExecutorOptions {
  OpProfile* profile = nullptr;  // time every op when set
  bool log_routing = false;      // keep each token's experts for comparison with the reference
  // Route every MoE layer's tokens to these experts (per global layer, the whole batch) instead
  // of the router's choice: a reference that follows a run's routing (runtime/reference.h).
  const std::vector<RoutingLog>* forced_routing = nullptr;
  Tracer* tracer = nullptr;  // record every op (runtime/tracer.h); set with setTracer
  // Where the weights' values come from (not owned); nullptr: generated from the seed.
  const WeightSource* weights = nullptr;
  // > 0: the token level (generate, runtime/generation_executor.h). The activations hold this
  // many tokens of a step (rows of seq_len 1), the stage holds its share of the embedding and
  // LM head, and the layers run through step() over a KV cache instead of forward().
  long step_tokens = 0;
};

// One step of generation on one microbatch, for the executor (device tensors, i32, (tokens)):
// each token's id (read on the first stage), its sequence's row in the KV cache, its position
// in that sequence, and its cache slot (row * context + position).
struct TokenStep {
  long tokens = 0;
  // The round's tokens over every replica and microbatch: the global size of the step's
  // "tokens" dimension, as a trace labels it ("tokens=3 (of 12)"). 0: the step's own.
  long round_tokens = 0;
  TensorView ids, seq, pos, slot;
  double attention_pairs = 0.0;  // (query, key) pairs attention computes, for its FLOPs
};

// A rank's KV cache: for each layer of its stage, keys and values of its kv heads, (sequences,
// context, kv_heads, head_dim), allocated once for the replica's requests and the context.
// With latent attention, k alone: each layer's latent rows (sequences, context, 1, kv_rank +
// rope_dim), keys and values both (runtime/latent_attention.h); v is empty.
struct KvCache {
  std::vector<Tensor> k, v;  // by the stage's layer order
};

// The communicators of the groups this rank belongs to (not owned).
struct ExecutorGroups {
  comm::Communicator* tp = nullptr;
  comm::Communicator* ep = nullptr;
  comm::Communicator* pp = nullptr;
};

// Time one stage spent in the last forward pass.
struct StageTiming {
  double busy_seconds = 0.0;  // computing its layers
  double wall_seconds = 0.0;  // the whole pass, waiting on other stages included
};

class TransformerExecutor {
 public:
  TransformerExecutor(const config::Deployment& deployment, const config::Plan& plan,
                      const config::ParallelLayout& layout, Backend& backend, ExecutorGroups groups,
                      ExecutorOptions options = {});

  // input: this replica's rows of the model input, read on the first stage.
  // output: this replica's rows of the model output, written on the last stage.
  // Both (replica batch_size, seq_len, hidden).
  void forward(const TensorView& input, const TensorView& output);

  // The token level (options.step_tokens > 0). stepHidden: the hidden states of a step's
  // tokens, (tokens, 1, hidden), what the stages send each other. embed: the first stage's
  // vocab-parallel embedding of step.ids into stepHidden (all-reduced over tp). step: this
  // stage's layers on stepHidden, writing each token's keys and values into `cache` and
  // attending over it. logits: the last stage's final norm and LM head on the rows `rows`
  // (i32) of stepHidden, into out (rows, vocab shard).
  TensorView stepHidden(const TokenStep& step) const;
  void embed(const TokenStep& step);
  void step(const TokenStep& step, KvCache& cache);
  void logits(const TensorView& rows, const TensorView& out);
  // A KV cache of `sequences` rows of `context` positions for this stage's layers.
  KvCache makeKvCache(int sequences, int context) const;
  const config::TensorParallelShard& shard() const { return shard_; }

  Shape replicaShape() const;     // (replica batch_size, seq_len, hidden)
  Shape microbatchShape() const;  // (microbatch batch_size, seq_len, hidden)
  bool holdsOutput() const { return last_stage_; }
  config::Range replicaBatch() const { return replica_batch_; }
  void setProfile(OpProfile* profile) { run_.setProfile(profile); }
  // Passes run while a tracer is set report their ops to it (its recorders must wrap the
  // Backend and Communicators this executor was built with).
  void setTracer(Tracer* tracer) {
    options_.tracer = tracer;
    run_.setTracer(tracer);
  }

  const StageTiming& timing() const { return timing_; }
  // Per global layer index; empty vectors for dense layers and other stages' layers.
  const std::vector<MoeCounters>& moeCounters() const { return moe_counters_; }
  // The whole batch's routing per global layer ([tokens][top_k]), -1 where not routed here.
  const std::vector<RoutingLog>& routing() const { return routing_; }

 private:
  void runLayer(const LayerWeights& layer_weights, long first_token);
  void attentionBlock(const LayerWeights& layer_weights);
  // step(): the tokens' keys and values into the layer's cache, attention over it.
  void cachedAttention(int layer);
  // q_, k_, v_ from the normed input: the q/k/v projections, biases, q/k norms and rope.
  void projectHeads(const LayerWeights& layer_weights);
  void ffnBlock(const LayerWeights& layer_weights);
  void moeBlock(const LayerWeights& layer_weights, long first_token);
  void mlp(const TensorView& out, const TensorView& inp, const Tensor& gate, const Tensor& up,
           const Tensor& down, const TensorView& a, const TensorView& b, const std::string& prefix);
  void norm(const TensorView& out, const TensorView& inp, const Tensor& weight, const Tensor& bias,
            const char* label);
  void tensorParallelAllReduce(const TensorView& partial, const char* op);
  // The activations' views become the first `rows` rows of their buffers, `global` their first
  // dimension's global size where given (a step's tokens of its round); tokens_ follows.
  void useRows(long rows, long global = -1);

  const config::ModelConfig& model_;
  const config::Plan& plan_;
  config::TensorParallelShard shard_;
  Backend& backend_;
  ExecutorGroups groups_;
  ExecutorOptions options_;
  OpTimer run_;
  int pp_rank_;
  bool first_stage_, last_stage_;
  config::Range replica_batch_;  // this dp replica's batch rows
  int microbatch_size_;          // batch rows per microbatch
  int global_batch_;
  int seq_len_;
  long tokens_ = 0;  // of the pass at hand: microbatch_size * seq_len, or a step's tokens
  bool token_level_;
  DType dtype_;
  const TokenStep* step_ = nullptr;  // while step() runs
  KvCache* cache_ = nullptr;
  ShardWeights weights_;
  kernels::AttentionHeads heads_;
  std::unique_ptr<MoeBlock> moe_;
  std::vector<MoeCounters> moe_counters_;
  std::vector<RoutingLog> routing_;
  StageTiming timing_;

  // Activations of one microbatch (or one step's tokens, as rows of seq_len 1), allocated
  // once and reused by every layer; the views below are their first rows for the pass at hand.
  struct Buffers {
    Tensor residual, normed, partial, moe_out, q, k, v, attn, ffn_a, ffn_b, shared_a, shared_b,
        shared_gate, selected;
  };
  Buffers buffers_;
  TensorView residual_;  // (batch_size, seq_len, hidden)
  TensorView normed_;    // (batch_size, seq_len, hidden)
  TensorView partial_;   // (batch_size, seq_len, hidden): a row-parallel output before all-reduce
  TensorView moe_out_;   // (batch_size, seq_len, hidden): the routed experts' sum, MoE models only
  std::unique_ptr<LatentAttentionBlock> latent_;  // DeepSeek's latent attention (model.mla)
  TensorView q_;                                  // (batch_size, seq_len, heads, d_k), local heads
  TensorView k_;                                  // (batch_size, seq_len, kv_heads, d_k)
  TensorView v_;                                  // (batch_size, seq_len, kv_heads, d_k)
  TensorView attn_;                               // (batch_size, seq_len, heads, d_k)
  TensorView ffn_a_;  // (batch_size, seq_len, ffn_hidden), local columns
  TensorView ffn_b_;  // (batch_size, seq_len, ffn_hidden), swiglu's up branch
  TensorView
      shared_a_;  // (batch_size, seq_len, shared ffn), local columns, MoE with shared experts
  TensorView shared_b_;
  TensorView shared_gate_;  // (batch_size, seq_len, 1): the shared expert's gate logit, Qwen2-MoE
};

}  // namespace shardrt
