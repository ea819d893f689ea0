// The ops one GPU runs for one layer of one pass, named, sized and counted as the runtime runs
// them and its tracer records them (runtime/tracing_backend.cpp, tracing_communicator.cpp). The
// cost model prices this list op by op (PlanCostModel), and tests/unit/test_priced_vs_traced.cpp
// holds it against the dry run's trace of every strategy of every example: what is priced is
// what runs.
#pragma once

#include <string>
#include <vector>

#include "config/deployment.h"
#include "planner/cost_model.h"

namespace shardrt::planner {

// How an op is priced: a GEMM, a pass over memory, attention (its FLOPs), attention over the
// KV cache (its FLOPs or its reads of the cache), a collective or a point-to-point message.
enum class OpClass { Gemm, Memory, Attention, CachedAttention, Collective };

struct PricedOp {
  int layer = -1;    // -1 outside the layers: the final norm, a stage's send
  std::string name;  // the executor's label: q_proj, attn_norm, dispatch, ...
  std::string op;    // the call: linear, rmsnorm, permute, all_to_all, send, ...
  OpClass cls = OpClass::Memory;
  double count = 1.0;  // how many run: one per active expert for an expert's GEMM
  double flops = 0.0;  // one op's
  double bytes = 0.0;  // one op's: read plus written; for communication, sent by this GPU
  double m = 0.0, n = 0.0, k = 0.0;  // Gemm: output rows x output columns, inner size
  const char* rate = nullptr;        // Memory: a profile's measured rate by this name
  // Collective: the group ("tp", "ep", "pp"), its size and the size nccl-tests gives the call
  // (cost_model.h: an all-gather's output, an all-to-all's send buffer, a message).
  Collective collective = Collective::AllReduce;
  std::string group;
  int ranks = 1;
  double size = 0.0;
};

// One layer's pass on one GPU.
struct LayerPass {
  double tokens = 0.0;  // the microbatch's, or a generation step's
  // The forward's attention (every token against its sequence), or generation's over the KV
  // cache (cached: its reads of the cache bound a decode step).
  double attention_flops = 0.0, attention_bytes = 0.0;
  bool cached = false;
  // MoE, for this GPU's ep rank: the slots its tp share of the tokens sends, the rows its
  // experts receive, the share of its own slots that stay on it, its expert slots and how many
  // of them rows reach.
  double sent_slots = 0.0, received_rows = 0.0, self_share = 0.0;
  int local_experts = 0;
  double active_experts = 0.0;
};

// Expected experts that one or more of `rows` rows reach when spread uniformly over `local`:
// local (1 - (1 - 1/local)^rows). All of them in a forward pass; few in a decode step.
double activeExperts(int local, double rows);

// The ops of layer `layer` (a MoE layer when `moe`) for `pass`, in the order the runtime runs
// them; collectives of one-rank groups are left out where the runtime skips them.
std::vector<PricedOp> layerOps(const config::ModelConfig& model,
                               const config::StrategyConfig& strategy, DType dtype,
                               const LayerPass& pass, bool moe, int layer);

// The final norm over a microbatch's `tokens` on the last stage.
PricedOp finalNormOp(const config::ModelConfig& model, DType dtype, double tokens);

// A stage's hidden states of `tokens` tokens to the next stage.
PricedOp stageSendOp(const config::ModelConfig& model, DType dtype, double tokens);

}  // namespace shardrt::planner
