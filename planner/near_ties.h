// Plans the cost model cannot tell apart. Predictions that differ by less than kNearTie are
// within its noise (on this project's CPU runs the ratio of measured to predicted moves by more
// than that between plans, docs/benchmarks.md), so among the plans that close to the best the
// planner prefers what a practitioner would: the most memory left on the fullest GPU (room for
// the KV cache and activations), then the fewest collectives, then the fewest pipeline stages.
#pragma once

#include <string>
#include <vector>

#include "planner/strategy_search.h"

namespace shardrt::planner {

inline constexpr double kNearTie = 0.02;

// Collective calls and messages of the busiest GPU in one forward pass of the batch.
long collectiveCalls(const PlanCostModel& costs, const Candidate& candidate);

// Memory left on the plan's fullest GPU (against its own limit).
double headroomBytes(const PlanCost& cost);

// Reorders the plans within kNearTie of sorted[0] on the objective (sorted best first) by the
// preferences above; the rest keep their order after them. Returns how many plans were within
// noise and what moved a plan ahead of the fastest ("" when the fastest stayed first).
TieBreak breakNearTies(const PlanCostModel& costs, const Objective& objective,
                       std::vector<RankedPlan>& sorted);

}  // namespace shardrt::planner
