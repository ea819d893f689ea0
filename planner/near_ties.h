// Plans the cost model cannot tell apart. Predictions that differ by less than kNearTie are
// within its noise (on this project's CPU runs the ratio of measured to predicted moves by more
// than that between plans, docs/benchmarks.md), so among the plans that close to the best the
// planner prefers what a practitioner would: the most memory left on the fullest GPU (room for
// the KV cache and activations, in steps of kHeadroomStep), then the fewest collectives, then
// the fewest pipeline stages.
#pragma once

#include <string>
#include <vector>

#include "planner/strategy_search.h"

namespace shardrt::planner {

inline constexpr double kNearTie = 0.02;
// Memory headroom is compared in quarters of a GPU's usable memory: a plan wins on room alone
// only when it leaves a quarter more of the memory free (room for a KV cache of that size);
// closer than that, the collectives and then the stages decide. Finer steps let a few GiB
// decide between plans that all leave most of the memory free (an 8B model on 80 GB GPUs:
// a four-stage pipeline inside a node over eight replicas, for 8% more free memory).
inline constexpr double kHeadroomStep = 0.25;

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
