// Expert placement over expert-parallel ranks from measured expert loads, with redundant
// copies of hot experts (the method of DeepSeek's EPLB, "Expert Parallelism Load Balancer",
// 2025): first give copies to the experts whose load per copy is highest, then pack the copies
// onto ranks heaviest first, each onto the least-loaded rank with a free slot that does not
// hold that expert yet, then improve by swaps. Rearranging alone cannot fix a heavy skew (one
// expert hotter than a whole rank's share); copies can, since the runtime splits a replicated
// expert's tokens evenly among its copies.
#pragma once

#include <vector>

namespace shardrt::planner {

struct ExpertPlacement {
  std::vector<std::vector<int>> ranks;  // per ep rank, the experts it holds (copies included)
  std::vector<int> copies;              // per expert, how many ranks hold it
};

// Per ep rank, the share of all token slots it computes: each expert's load split evenly over
// its copies. loads: per expert, shares summing to 1.
std::vector<double> rankLoads(const std::vector<double>& loads, const ExpertPlacement& placement);

// max / mean of rankLoads: 1 is perfect balance.
double loadImbalance(const std::vector<double>& loads, const ExpertPlacement& placement);

// The default placement the runtime uses: experts split evenly in index order.
ExpertPlacement contiguousPlacement(int experts, int ep);

// Places `loads.size()` experts and `redundant` extra copies on `ep` ranks, every rank holding
// the same number of slots (or one more), no rank holding two copies of one expert. redundant
// is capped at what fits (at most ep copies of an expert).
ExpertPlacement balanceExperts(const std::vector<double>& loads, int ep, int redundant);

}  // namespace shardrt::planner
