// The predicted cost of one concrete plan on one cluster: every op of a layer priced by the
// roofline (planner/cost_model.h) or by a calibrated profile, every collective by the
// alpha-beta model over the link its group uses, stages composed into a GPipe pipeline, and
// each GPU's weights and activations against its memory. docs/planner.md has the formulas.
#pragma once

#include <vector>

#include "config/deployment.h"
#include "config/plan.h"
#include "planner/cluster.h"

namespace shardrt::planner {

// A plan as the planner builds and prices it: the degrees, the layers of each stage, the
// experts of each ep rank (copies included) and the rows of each replica.
struct Candidate {
  config::StrategyConfig strategy;
  std::vector<config::Range> stages;
  std::vector<std::vector<int>> expert_placement;  // empty for a dense model
  std::vector<int> dp_batch;
};

// One layer on one GPU for one microbatch.
struct LayerSeconds {
  double compute = 0.0;
  double comm = 0.0;
  double total() const { return compute + comm; }
};

struct RankCost {
  int stage = 0, replica = 0;
  double busy_seconds = 0.0;  // compute over one forward of the batch (all microbatches)
  double comm_seconds = 0.0;  // collectives and sends over one forward
  double weight_bytes = 0.0;
  double activation_bytes = 0.0;
  double memory_limit_bytes = 0.0;  // the GPU's memory less the reserve
  double memoryBytes() const { return weight_bytes + activation_bytes; }
};

struct PlanCost {
  double latency_seconds = 0.0;    // one forward of the whole batch
  double tokens_per_second = 0.0;  // steady state: pipelines kept full batch after batch
  double comm_seconds = 0.0;       // communication on the critical path of one forward
  double bubble = 0.0;             // (pp - 1) / (m + pp - 1)
  double expert_imbalance = 1.0;   // max / mean expected expert load over ep ranks
  double busy_imbalance = 1.0;     // max / mean predicted compute time over GPUs
  std::vector<double> stage_seconds;  // per stage, one microbatch, slowest replica
  std::vector<RankCost> ranks;        // per world rank (estimate's detail)
  // Memory, by each tp group's fullest rank (the ep rank holding the most expert slots).
  bool fits = true;                     // every rank within its limit
  double max_memory_bytes = 0.0;        // the fullest rank's
  double max_memory_limit_bytes = 0.0;  // that rank's limit
};

class PlanCostModel {
 public:
  PlanCostModel(const config::ModelConfig& model, const config::WorkloadConfig& workload,
                const ClusterConfig& cluster, const PlannerOptions& options);

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

  // Weights one GPU holds for `layers` of a stage, holding `local_experts` expert slots.
  double weightBytes(const config::StrategyConfig& strategy, config::Range layers,
                     int local_experts) const;
  // Activation bytes of one GPU running microbatches of `rows` sequences of a replica of
  // `replica_rows` sequences.
  double activationBytes(const config::StrategyConfig& strategy, int rows, int replica_rows,
                         double expert_imbalance) const;

  // Per expert, the share of token slots it takes: the file's loads (averaged over MoE layers)
  // or uniform.
  const std::vector<double>& expertLoads() const { return loads_; }

 private:
  double gemm(const GpuSpec& gpu, double m, double n, double k) const;
  // An op bound by memory; `op` names its measured rate in a profile (rmsnorm, rope, ...).
  double memory(const GpuSpec& gpu, double bytes, const char* op = nullptr) const;
  double attention(const GpuSpec& gpu, double flops, double bytes) const;
  double overhead(const GpuSpec& gpu) const;
  double collective(const GpuGroup& group, Collective op, double bytes, int ranks,
                    bool spans_nodes) const;

  config::ModelConfig model_;
  config::WorkloadConfig workload_;
  ClusterConfig cluster_;
  double dtype_bytes_;
  std::vector<double> loads_;
};

}  // namespace shardrt::planner
