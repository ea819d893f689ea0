// The routed part of an MoE layer on one rank: router GEMM, scoring and top-k on every token
// of the microbatch, the capacity rule per sequence, then this tp rank's share of the tokens
// dispatched to the experts' copies with all-to-all(v) (counts first, then rows), the local
// experts' FFNs on the rows they received grouped by expert, the rows sent back, the weighted
// combine in the original token order, and an all-gather over tp that gives every tp rank the
// whole result again. No token slot is computed twice.
//
// Routing runs on all tokens on every tp rank (the router GEMM is tokens x hidden x experts,
// small beside the experts) so that the capacity rule, which counts positions along whole
// sequences, sees each sequence whole even though the tokens are dispatched in tp shares.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "comm/communicator.h"
#include "config/deployment.h"
#include "config/parallel_layout.h"
#include "config/plan.h"
#include "runtime/backend.h"
#include "runtime/model_weights.h"
#include "runtime/op_profile.h"

namespace shardrt {

// What one rank saw of one MoE layer in the last forward pass.
struct MoeCounters {
  std::vector<long> expert_tokens;  // per expert (global index): rows this rank's experts ran
  long dropped = 0;                 // slots of this rank's share dropped by capacity
  long received = 0;                // rows this rank received for its experts
};

// The experts each token chose, for comparing routing with the reference: [tokens][top_k],
// the experts of a token sorted ascending, -1 for tokens this rank did not route.
struct RoutingLog {
  std::vector<std::int32_t> experts;
};

class MoeBlock {
 public:
  MoeBlock(const config::ModelConfig& model, const config::Plan& plan, int seq_len,
           Backend& backend, comm::Communicator& tp, comm::Communicator& ep, OpTimer& timer);

  // out (tokens, hidden) = the routed experts' weighted sum for every token of normed
  // (tokens, hidden), identical on every tp rank. first_token: global index of normed's first
  // token, where the routing is logged. With `forced` (the whole batch's experts per token, as
  // a RoutingLog), tokens go to those experts, weighted by this router's scores of them; the
  // log still records the router's own choice.
  void forward(const TensorView& normed, const TensorView& out, const LayerWeights& layer_weights,
               long first_token, MoeCounters& counters, RoutingLog* log,
               const RoutingLog* forced = nullptr);

 private:
  // Replaces the router's choice (idx, wts on the host) with the forced experts and their
  // weights from this router's logits.
  void followRouting(const RoutingLog& forced, long first_token, const Tensor& logits,
                     std::vector<std::int32_t>& idx, std::vector<float>& wts);
  void runExperts(const TensorView& in, const TensorView& out, const LayerWeights& layer_weights,
                  const std::vector<int>& rows_per_expert);
  template <typename T>
  Tensor upload(const std::vector<T>& host, const char* name);

  const config::ModelConfig& model_;
  int seq_len_;
  Backend& backend_;
  comm::Communicator& tp_;
  comm::Communicator& ep_;
  OpTimer& run_;
  // The router's experts and weights while forward() runs: what the uploaded indices derive from.
  std::optional<std::pair<TensorView, TensorView>> routing_;
  std::vector<std::vector<int>> copies_;  // per expert: the ep ranks holding a copy
  std::vector<int> local_experts_;
};

}  // namespace shardrt
