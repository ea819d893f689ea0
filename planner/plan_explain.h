// What `shardrt plan` prints: the top plans in one table, then the chosen plan explained
// (into how many parts each module was divided, the check that parts x replicas equal the
// GPUs, per-GPU time and memory with max/mean, the expert balance before and after, and why
// the runner-up lost). Pure text from the search's results, so tests read it as a user does.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "planner/strategy_search.h"

namespace shardrt::planner {

// best_detail: the best plan's cost with per-GPU entries (PlanCostModel::estimate's detail).
std::string planReport(const config::Deployment& deployment, const PlanningInput& in,
                       const SearchResult& result, const PlanCost& best_detail);

// The same facts as JSON (`shardrt plan --json`).
nlohmann::json planReportJson(const config::Deployment& deployment, const PlanningInput& in,
                              const SearchResult& result, const PlanCost& best_detail);

// Per-GPU busy time and memory, max over mean: 1 is perfect balance.
double busyMaxOverMean(const PlanCost& detail);
double memoryMaxOverMean(const PlanCost& detail);

}  // namespace shardrt::planner
