// The predicted cost of one concrete plan on one cluster: every op of a layer priced by the
// roofline (planner/cost_model.h) or by a calibrated profile, every collective by the
// alpha-beta model over the link its group uses, stages composed into a GPipe pipeline, and
// each GPU's weights and activations against its memory. docs/planner.md has the formulas.
#pragma once

#include <algorithm>
#include <optional>
#include <vector>

#include "config/deployment.h"
#include "config/plan.h"
#include "planner/cluster.h"
#include "planner/layer_ops.h"

namespace shardrt::planner {

// A plan as the planner builds and prices it: the degrees, the layers of each stage, the
// experts of each ep rank (copies included) and the rows of each replica.
struct Candidate {
  config::StrategyConfig strategy;
  std::vector<config::Range> stages;
  std::vector<std::vector<int>> expert_placement;  // empty for a dense model
  std::vector<int> dp_batch;
};

// One step of a generation on one microbatch (runtime/generation_executor.h): its tokens (a
// prefill's prompts packed back to back, or one a running request), the requests among them
// whose next token is chosen (the LM head's rows), and its attention over the KV cache as
// (token, visible key) pairs.
struct GenerationStep {
  double tokens = 0.0;
  double sequences = 0.0;
  double attention_pairs = 0.0;
};

// What the generation objectives price (objective.prompt_tokens and new_tokens): every request
// of the batch with prompt_tokens of prompt, then new_tokens decode steps.
struct GenerationWorkload {
  int prompt_tokens = 0, new_tokens = 0;
  bool on() const { return prompt_tokens > 0; }
};

// The objective's generation workload; none for the forward-pass objectives.
inline GenerationWorkload generationWorkload(const Objective& o) {
  return o.generation() ? GenerationWorkload{o.prompt_tokens, o.new_tokens} : GenerationWorkload{};
}

struct GenerationCost {
  double time_to_first_token = 0.0;       // the prefill round
  double time_per_output_token = 0.0;     // a decode round at the mean context
  double decode_tokens_per_second = 0.0;  // the batch's new tokens per decode round, all replicas
  double mean_context = 0.0;              // prompt_tokens + new_tokens / 2
  double kv_cache_bytes = 0.0;            // the fullest GPU's
  int largest_batch = 0;  // the most requests (of workload.seq_len positions) that fit
};

// One layer on one GPU for one microbatch.
struct LayerSeconds {
  double compute = 0.0;
  double comm = 0.0;
  double total() const { return compute + comm; }
};

struct RankCost {
  int stage = 0, replica = 0;
  // Compute, and collectives and sends, over one forward of the batch (all microbatches); with
  // a generation objective over one decode round at the mean context instead.
  double busy_seconds = 0.0;
  double comm_seconds = 0.0;
  double weight_bytes = 0.0;
  double activation_bytes = 0.0;
  double memory_limit_bytes = 0.0;  // the GPU's memory less the reserve
  double memoryBytes() const { return weight_bytes + activation_bytes; }
};

struct PlanCost {
  double latency_seconds = 0.0;       // one forward of the whole batch
  double tokens_per_second = 0.0;     // steady state: pipelines kept full batch after batch
  double comm_seconds = 0.0;          // communication on the critical path of one forward
  double bubble = 0.0;                // (pp - 1) / (m + pp - 1)
  double expert_imbalance = 1.0;      // max / mean expected expert load over ep ranks
  double busy_imbalance = 1.0;        // max / mean predicted compute time over GPUs
  std::vector<double> stage_seconds;  // per stage, one microbatch, slowest replica
  std::vector<RankCost> ranks;        // per world rank (estimate's detail)
  // Memory, by each tp group's fullest rank (the ep rank holding the most expert slots),
  // against each GPU's own limit: the maxima are of the GPU nearest its limit (the highest
  // share of it used), which on mixed clusters need not be the one holding the most bytes.
  bool fits = true;                     // every rank within its limit
  double max_memory_bytes = 0.0;        // the GPU nearest its limit: what it uses
  double max_memory_limit_bytes = 0.0;  // and its limit (its memory less the reserve)
  int max_memory_gpu = 0;               // and its world rank
  void noteMemory(double used, double limit, int gpu) {
    if (used > limit) fits = false;
    if (max_memory_limit_bytes <= 0.0 || used * max_memory_limit_bytes > max_memory_bytes * limit) {
      max_memory_bytes = used;
      max_memory_limit_bytes = limit;
      max_memory_gpu = gpu;
    }
  }
  // With a generation workload: its latencies and throughput; memory (fits, max_memory_bytes)
  // is then generation's: the KV cache, the embedding and LM head, a step's buffers.
  std::optional<GenerationCost> generation;
};

class PlanCostModel {
 public:
  PlanCostModel(const config::ModelConfig& model, const config::WorkloadConfig& workload,
                const ClusterConfig& cluster, const PlannerOptions& options,
                GenerationWorkload generation = {});

  // Prices a candidate whose degrees use every GPU of the cluster; `detail` also fills
  // PlanCost::ranks (one entry per GPU: the search leaves it out, a report wants it).
  PlanCost estimate(const Candidate& candidate, bool detail = false) const;

  // One dense or MoE layer for a microbatch of `rows` sequences on GPUs of `group`; tp/ep
  // groups spanning nodes use the inter-node link. rank_share: per ep rank, its share of the
  // ep group's token slots (empty: uniform).
  LayerSeconds layerSeconds(const GpuGroup& group, const config::StrategyConfig& strategy, int rows,
                            bool moe, bool tp_spans_nodes, bool ep_spans_nodes,
                            const std::vector<double>& rank_share,
                            const std::vector<int>& experts_per_rank) const;

  // The ops world rank `rank` runs for one microbatch of the candidate's forward pass, each
  // layer's and the final norm or the send to the next stage, as the cost model prices them.
  std::vector<PricedOp> rankOps(const Candidate& candidate, int rank) const;

  // Weights one GPU holds for `layers` of a stage, holding `local_experts` expert slots.
  double weightBytes(const config::StrategyConfig& strategy, config::Range layers,
                     int local_experts) const;
  // Activation bytes of one GPU running microbatches of `rows` sequences of a replica of
  // `replica_rows` sequences.
  double activationBytes(const config::StrategyConfig& strategy, int rows, int replica_rows,
                         double expert_imbalance) const;

  // The candidate's experts: each ep rank's share of the group's token slots (by the expected
  // loads), its expert slots, and the expected max/mean load over ep ranks. Empty for a dense
  // model.
  struct ExpertShares {
    std::vector<double> share;
    std::vector<int> per_rank;
    double imbalance = 1.0;
    int mostSlots() const {
      return per_rank.empty() ? 0 : *std::max_element(per_rank.begin(), per_rank.end());
    }
  };
  ExpertShares expertShares(const Candidate& candidate) const;

  // Whether the objective is a generation's (the KV cache then counts in memory).
  bool generating() const { return generation_.on(); }

  // Per expert, the share of token slots it takes: the file's loads (averaged over MoE layers)
  // or uniform.
  const std::vector<double>& expertLoads() const { return loads_; }

  // How a round is timed (runtime/generation_executor.h, RoundSchedule).
  enum class RoundPace {
    Lockstep,  // from an empty pipeline, then the new tokens broadcast over the pipeline
    Fill,      // overlapped rounds' first: from an empty pipeline; each microbatch's tokens
               // leave the last stage as they are chosen
    Steady,    // overlapped rounds after it: the pipeline's period (docs/planner.md)
  };
  // Whether GenerationExecutor overlaps this strategy's rounds (by default): unless an
  // expert-parallel group spans replicas.
  bool roundsOverlap(const config::StrategyConfig& strategy) const;
  // Generation: one round, as GenerationExecutor runs it. steps[r][mb]: replica r's microbatch
  // mb's step; each replica's microbatches go through its stages in order (a stage takes the
  // next microbatch once it has sent the last), and the round ends with the slowest replica.
  // cells: where given, each tp cell's compute and communication over the round, indexed
  // replica + dp * stage.
  double roundSeconds(const Candidate& candidate,
                      const std::vector<std::vector<GenerationStep>>& steps,
                      std::vector<LayerSeconds>* cells = nullptr,
                      RoundPace pace = RoundPace::Lockstep) const;
  // The KV cache one GPU of stage `stage` holds for a replica of `rows` requests.
  double kvCacheBytes(const config::StrategyConfig& strategy, config::Range layers,
                      double rows) const;

 private:
  // A layer's pass over `tokens` tokens (planner/layer_ops.h): its attention either the
  // forward's (every token of a sequence sees the sequence) or generation's over the cache.
  LayerSeconds passSeconds(const GpuGroup& group, const config::StrategyConfig& strategy,
                           const LayerPass& pass, bool moe, bool tp_spans_nodes,
                           bool ep_spans_nodes, const std::vector<double>& rank_share,
                           const std::vector<int>& experts_per_rank) const;
  LayerPass forwardPass(const config::StrategyConfig& strategy, double rows) const;
  LayerPass stepPass(const config::StrategyConfig& strategy, const GenerationStep& step) const;
  // `pass` on an ep rank that takes `share` of its group's token slots into `local` experts.
  LayerPass onEpRank(LayerPass pass, const config::StrategyConfig& strategy, double share,
                     int local) const;
  // The embedding on the first stage and the LM head on the last, for one step.
  LayerSeconds endsSeconds(const GpuGroup& group, const config::StrategyConfig& strategy,
                           const GenerationStep& step, bool first_stage, bool last_stage,
                           bool tp_spans_nodes) const;
  // Generation's memory on the fullest GPU of each stage: weights (the embedding and LM head
  // too), the KV cache, a step's buffers; fills cost.fits and the maxima.
  void generationMemory(const Candidate& candidate, PlanCost& cost) const;
  // The weights one GPU of `stage` holds for generation (its layers with the most expert slots,
  // and vocabulary_bytes: its embedding and LM head rows), and what grows with a replica of
  // `rows` requests (kv_bytes: its KV cache; a step's buffers; the logits).
  double generationWeightBytes(const Candidate& candidate, int stage, const ExpertShares& experts,
                               double& vocabulary_bytes) const;
  double generationRowBytes(const Candidate& candidate, int stage, double rows,
                            const ExpertShares& experts, double& kv_bytes) const;
  // decode_cells: where given, each tp cell's time in the priced decode round.
  GenerationCost generationCost(const Candidate& candidate,
                                std::vector<LayerSeconds>* decode_cells = nullptr) const;
  // Activation bytes of a pass over `tokens` tokens: the executor's per-token buffers.
  double tokenActivationBytes(const config::StrategyConfig& strategy, double tokens,
                              double expert_imbalance) const;
  double attentionPairs(double context) const;  // one token at `context` positions
  double latentWidth() const { return model_.mla.kv_rank + model_.mla.rope_dim; }
  // A GEMM of output m x n and inner size k moving `bytes` (its input, weight and output).
  double gemm(const GpuSpec& gpu, double m, double n, double k, double bytes) const;
  // The ops of a layer (planner/layer_ops.h), each at its price, on a GPU of `group`.
  LayerSeconds priceOps(const GpuGroup& group, const std::vector<PricedOp>& ops,
                        bool tp_spans_nodes, bool ep_spans_nodes) const;
  // An op bound by memory; `op` names its measured rate in a profile (rmsnorm, rope, ...).
  double memory(const GpuSpec& gpu, double bytes, const char* op = nullptr) const;
  double attention(const GpuSpec& gpu, double flops, double bytes) const;
  double overhead(const GpuSpec& gpu) const;
  // Of a tp group's GPUs [first, last], the one with the least memory.
  int cellSmallestGpu(int first, int last) const;
  double collective(const GpuGroup& group, Collective op, double bytes, int ranks,
                    bool spans_nodes) const;

  config::ModelConfig model_;
  config::WorkloadConfig workload_;
  ClusterConfig cluster_;
  double dtype_bytes_;
  std::vector<double> loads_;
  GenerationWorkload generation_;
};

}  // namespace shardrt::planner
