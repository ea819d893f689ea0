#include "planner/near_ties.h"

#include <algorithm>
#include <cmath>
#include <tuple>

namespace shardrt::planner {

long collectiveCalls(const PlanCostModel& costs, const Candidate& candidate) {
  const config::StrategyConfig& s = candidate.strategy;
  long most = 0;
  for (int stage = 0; stage < s.pp; ++stage) {  // a stage's GPUs make the same calls
    long calls = 0;
    for (const PricedOp& op : costs.rankOps(candidate, stage * s.tp * s.dp)) {
      if (op.cls == OpClass::Collective && op.ranks > 1) ++calls;
    }
    most = std::max(most, calls);
  }
  return most * s.microbatches;
}

double headroomBytes(const PlanCost& cost) {
  return cost.max_memory_limit_bytes - cost.max_memory_bytes;
}

TieBreak breakNearTies(const PlanCostModel& costs, const Objective& objective,
                       std::vector<RankedPlan>& sorted) {
  TieBreak out;
  if (sorted.empty()) return out;
  out.fastest_value = objectiveValue(sorted.front().cost, objective);
  out.fastest_headroom = headroomBytes(sorted.front().cost);
  const auto band_end = std::find_if(sorted.begin(), sorted.end(), [&](const RankedPlan& p) {
    return objectiveValue(p.cost, objective) > out.fastest_value * (1.0 + kNearTie);
  });
  out.plans = static_cast<int>(band_end - sorted.begin());
  if (out.plans < 2) return out;
  // Headroom in steps of kHeadroomStep of the GPU's usable memory: closer than that is a tie
  // too, and the next preference decides.
  struct Key {
    long headroom_steps, calls;
    int stages;
  };
  auto keyOf = [&](const RankedPlan& p) {
    const double step = kHeadroomStep * p.cost.max_memory_limit_bytes;
    return Key{static_cast<long>(std::floor(headroomBytes(p.cost) / step)),
               collectiveCalls(costs, p.candidate), p.candidate.strategy.pp};
  };
  std::vector<std::pair<Key, RankedPlan>> band;
  for (auto it = sorted.begin(); it != band_end; ++it) {
    const Key key = keyOf(*it);
    it->collective_calls = key.calls;
    band.emplace_back(key, *it);
  }
  const Key first = band.front().first;  // the fastest's, before the reordering
  std::stable_sort(band.begin(), band.end(), [](const auto& a, const auto& b) {
    return std::make_tuple(-a.first.headroom_steps, a.first.calls, a.first.stages) <
           std::make_tuple(-b.first.headroom_steps, b.first.calls, b.first.stages);
  });
  const Key chosen = band.front().first;
  if (chosen.headroom_steps != first.headroom_steps) {
    out.decided_by = "memory headroom";
  } else if (chosen.calls != first.calls) {
    out.decided_by = "fewer collectives";
  } else if (chosen.stages != first.stages) {
    out.decided_by = "fewer pipeline stages";
  }
  for (std::size_t i = 0; i < band.size(); ++i) sorted[i] = std::move(band[i].second);
  return out;
}

}  // namespace shardrt::planner
