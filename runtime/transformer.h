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
  // q_, k_, v_ from the normed input: the q/k/v projections, biases, q/k norms and rope.
  void projectHeads(const LayerWeights& layer_weights);
  void ffnBlock(const LayerWeights& layer_weights);
  void moeBlock(const LayerWeights& layer_weights, long first_token);
  void mlp(const TensorView& out, const TensorView& inp, const Tensor& gate, const Tensor& up,
           const Tensor& down, const Tensor& a, const Tensor& b, const std::string& prefix);
  void norm(const TensorView& out, const TensorView& inp, const Tensor& weight, const Tensor& bias,
            const char* label);
  void tensorParallelAllReduce(const TensorView& partial, const char* op);

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
  long tokens_;  // per microbatch: microbatch_size * seq_len
  ShardWeights weights_;
  kernels::AttentionHeads heads_;
  std::unique_ptr<MoeBlock> moe_;
  std::vector<MoeCounters> moe_counters_;
  std::vector<RoutingLog> routing_;
  StageTiming timing_;

  // Activations of one microbatch, allocated once and reused by every layer.
  Tensor residual_;  // (batch_size, seq_len, hidden)
  Tensor normed_;    // (batch_size, seq_len, hidden)
  Tensor partial_;   // (batch_size, seq_len, hidden): a row-parallel output before all-reduce
  Tensor moe_out_;   // (batch_size, seq_len, hidden): the routed experts' sum, MoE models only
  std::unique_ptr<LatentAttentionBlock> latent_;  // DeepSeek's latent attention (model.mla)
  Tensor q_;                                      // (batch_size, seq_len, heads, d_k), local heads
  Tensor k_;                                      // (batch_size, seq_len, kv_heads, d_k)
  Tensor v_;                                      // (batch_size, seq_len, kv_heads, d_k)
  Tensor attn_;                                   // (batch_size, seq_len, heads, d_k)
  Tensor ffn_a_;     // (batch_size, seq_len, ffn_hidden), local columns
  Tensor ffn_b_;     // (batch_size, seq_len, ffn_hidden), swiglu's up branch
  Tensor shared_a_;  // (batch_size, seq_len, shared ffn), local columns, MoE with shared experts
  Tensor shared_b_;
  Tensor shared_gate_;  // (batch_size, seq_len, 1): the shared expert's gate logit, Qwen2-MoE
};

}  // namespace shardrt
