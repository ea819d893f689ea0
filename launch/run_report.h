// What a run reports: the summary printed by rank 0 and the result.json it writes.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "config/deployment.h"
#include "config/plan.h"
#include "launch/forward_prediction.h"
#include "runtime/op_profile.h"
#include "runtime/validation.h"

namespace shardrt::launch {

struct ValidationReport {
  Comparison worst;  // the rank whose output is furthest from the reference
  int worst_rank = 0;
  double tolerance = 0.0;
  long routing_compared = 0;  // (MoE layer, token) pairs whose expert sets were compared
  long routing_flips = 0;     // of those, the ones whose expert set differs from the reference
  // MoE layers whose slots per expert or dropped slots differ from the reference's: with the
  // same routing, capacity must keep and drop exactly the same slots.
  long load_mismatches = 0;
  // In fp32 the routing must match the reference exactly. In bf16 a sharded run rounds its
  // partial sums in another order than the single-device reference, which legitimately moves
  // router scores that sit within bf16 rounding of each other: the references then follow the
  // run's routing (their own choice is still what flips are counted against), and flips are
  // reported but do not decide the verdict.
  bool routing_decides = true;
  // Runs on a GPU are also held to the fp32 model computed on the CPU.
  std::optional<Comparison> versus_cpu;
  bool passed = false;
};

// One pipeline stage's time in the last timed pass: the busiest of its ranks, against the
// whole pass (from the common start to the end of the slowest stage).
struct StageReport {
  double busy_seconds = 0.0;
  double wall_seconds = 0.0;  // the pipeline's, the same for every stage
  double bubble() const { return wall_seconds > 0 ? 1.0 - busy_seconds / wall_seconds : 0.0; }
};

// One MoE layer over all ranks, in the last timed pass.
struct MoeLayerReport {
  int layer = 0;
  std::vector<long> expert_tokens;  // token slots each expert ran
  long dropped = 0;                 // slots dropped by the capacity rule
  std::vector<long> rank_tokens;    // slots each rank of the layer's stage received
  static double imbalance(const std::vector<long>& values);  // max / mean
};

// Where a rank runs: its host, its index among the ranks on that host (MPI_COMM_TYPE_SHARED,
// which picks its GPU), and its device.
struct RankPlacement {
  std::string host;
  int node_rank = 0;
  std::string device;  // "cpu", "cuda:1"
};

struct RunReport {
  config::Deployment deployment;
  std::string deployment_path;
  config::Plan plan;
  std::string backend;
  std::string communicator;
  std::string attention;  // rank 0's Backend::attentionSummary(): empty without --attention cudnn
  std::string weights;  // empty: generated from the seed; else what --weights indexed
  // Building the shards (allocating and filling every weight), the slowest rank's time, and
  // with --weights the rank that read the most bytes: how many and in what time.
  double weights_seconds = 0.0;
  double weights_bytes_read = 0.0;
  double weights_read_seconds = 0.0;  // of that rank's build, the time spent reading the files
  int blas_threads = 1;
  int warmup = 0;
  std::vector<double> forward_seconds;  // per timed iteration, the slowest rank's time
  std::optional<OpProfile> profile;     // rank 0's ops, one forward pass
  std::vector<StageReport> stages;      // per pipeline stage
  std::vector<MoeLayerReport> moe_layers;
  std::optional<ValidationReport> validation;
  std::optional<ForwardPrediction> prediction;  // the planner's, when the file has a cluster
  std::vector<RankPlacement> placement;          // per world rank

  double medianForwardSeconds() const;
};

void printSummary(std::ostream& os, const RunReport& report);
nlohmann::json toJson(const RunReport& report);

}  // namespace shardrt::launch
