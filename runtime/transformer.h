// The forward pass of a dense transformer, written once against a Backend and a Communicator.
// Each layer, Megatron-style (Shoeybi et al. 2019, "Megatron-LM", section 3):
//   x = x + o_proj(attention(rope(q_proj(n)), rope(k_proj(n)), v_proj(n)))   n = norm(x)
//       q/k/v column-parallel by heads, o_proj row-parallel, then all-reduce over tp
//   x = x + down(act(up(n), gate(n)))                                       n = norm(x)
//       gate/up column-parallel by FFN columns, down row-parallel, then all-reduce over tp
// and the final norm after the last layer. With tp = 1 and a one-rank communicator the same
// code is the unsharded reference.
#pragma once

#include <functional>

#include "comm/communicator.h"
#include "planner/deployment.h"
#include "planner/plan.h"
#include "runtime/backend.h"
#include "runtime/model_weights.h"
#include "runtime/op_profile.h"

namespace shardrt {

struct ExecutorOptions {
  OpProfile* profile = nullptr;  // time every op when set
  // Test-only fault: leave out the all-reduce after o_proj, so that each tp rank keeps only
  // its partial sum. Exists to prove that validation catches a wrong shard.
  bool fault_skip_attention_allreduce = false;
};

class TransformerExecutor {
 public:
  TransformerExecutor(const planner::Deployment& deployment, const planner::Plan& plan, int tp_rank,
                      int pp_rank, Backend& backend, comm::Communicator& tp_group,
                      ExecutorOptions options = {});

  // input, output: (batch_size, seq_len, hidden), full hidden on every tp rank.
  void forward(const TensorView& input, const TensorView& output);

  // Time every op into profile from now on (nullptr: stop).
  void setProfile(OpProfile* profile) { options_.profile = profile; }

  const ShardWeights& weights() const { return weights_; }
  Shape activationShape() const;  // (batch_size, seq_len, hidden)

 private:
  void attentionBlock(const LayerWeights& w);
  void ffnBlock(const LayerWeights& w);
  void norm(const TensorView& out, const TensorView& inp, const Tensor& weight, const Tensor& bias);
  void tensorParallelAllReduce(const TensorView& partial, const char* op);
  void run(const char* op, double flops, const std::function<void()>& body);

  const planner::ModelConfig& model_;
  planner::TensorParallelShard shard_;
  Backend& backend_;
  comm::Communicator& tp_;
  ExecutorOptions options_;
  bool last_stage_;
  ShardWeights weights_;
  kernels::AttentionHeads heads_;
  int batch_size_;
  int seq_len_;
  long tokens_;  // batch_size * seq_len

  // Activations, allocated once and reused by every layer.
  Tensor residual_;  // (batch_size, seq_len, hidden)
  Tensor normed_;    // (batch_size, seq_len, hidden)
  Tensor partial_;   // (batch_size, seq_len, hidden): a row-parallel output before all-reduce
  Tensor q_;         // (batch_size, seq_len, heads, d_k), local heads
  Tensor k_;         // (batch_size, seq_len, kv_heads, d_k)
  Tensor v_;         // (batch_size, seq_len, kv_heads, d_k)
  Tensor attn_;      // (batch_size, seq_len, heads, d_k)
  Tensor ffn_a_;     // (batch_size, seq_len, ffn_hidden), local columns
  Tensor ffn_b_;     // (batch_size, seq_len, ffn_hidden), swiglu's up branch
};

}  // namespace shardrt
