// The planner's search: every tp x pp x dp split of the cluster's GPUs, every ep degree and
// microbatch count the runtime accepts, each made concrete (layers per stage balanced by
// predicted stage time, experts placed by expected load, rows per replica by speed), priced
// by PlanCostModel, and ranked by the objective.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "config/deployment.h"
#include "planner/cluster.h"
#include "planner/plan_cost.h"

namespace shardrt::planner {

// The first rule of the runtime or the cluster that a strategy breaks, "" when none: tp
// divides heads, FFN columns and shared-expert columns; pp <= layers; ep divides tp * dp and
// is 1 without experts, at most the experts; every replica gets whole microbatches; tp groups
// stay inside a node unless the cluster allows otherwise; tp * pp * dp uses every GPU.
std::string ruleBroken(const config::ModelConfig& model, const config::WorkloadConfig& workload,
                       const ClusterConfig& cluster, const PlannerOptions& options,
                       const config::StrategyConfig& strategy);

// Every strategy ruleBroken accepts (memory not yet considered), in a fixed order.
std::vector<config::StrategyConfig> validStrategies(const config::ModelConfig& model,
                                                    const config::WorkloadConfig& workload,
                                                    const ClusterConfig& cluster,
                                                    const PlannerOptions& options);

struct RankedPlan {
  Candidate candidate;
  PlanCost cost;
  long collective_calls = -1;  // per forward on the busiest GPU; -1 unless within noise of the best
};

// Plans within noise of the best (planner/near_ties.h): how many, the best included, and which
// preference put the chosen one ahead of the fastest ("" when the fastest was chosen).
struct TieBreak {
  int plans = 1;
  std::string decided_by;
  double fastest_value = 0.0;     // the fastest plan's objective figure (objectiveValue)
  double fastest_headroom = 0.0;  // memory left on its GPU nearest its limit
};

struct SearchResult {
  std::vector<RankedPlan> top;    // best first
  long strategies = 0;            // valid by the rules
  long fit = 0;                   // of those, fitting in memory
  long within_bound = 0;          // of those, within the latency bound (if any)
  double imbalance_before = 1.0;  // expected expert load max/mean, default placement (best ep)
  TieBreak ties;
};

// The figure the objective ranks by, smaller better: latency, seconds per token, ...
double objectiveValue(const PlanCost& cost, const Objective& objective);

// Expert placements by ep degree: the same for every strategy of one ep, so the search
// balances each degree once.
using PlacementCache = std::map<int, std::vector<std::vector<int>>>;

// Makes a strategy concrete: placement, rows per replica, layers per stage.
Candidate buildCandidate(const PlanCostModel& costs, const config::ModelConfig& model,
                         const config::WorkloadConfig& workload, const ClusterConfig& cluster,
                         const PlannerOptions& options, const config::StrategyConfig& strategy,
                         PlacementCache* placements = nullptr);

// Whether a is better than b for the objective (ties broken by the degrees, so the order is
// total and repeatable).
bool betterPlan(const RankedPlan& a, const RankedPlan& b, const Objective& objective);

// The top_k plans; ConfigError naming the constraint when no plan is valid or none fits.
SearchResult searchPlans(const config::Deployment& deployment, const PlanningInput& in, int top_k);

// The deployment running the candidate: its strategy and an explicit plan of every placement.
config::Deployment withCandidate(const config::Deployment& deployment, const Candidate& candidate);

}  // namespace shardrt::planner
