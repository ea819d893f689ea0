// Splitting work in proportion to speed within each GPU's memory: consecutive layers over
// pipeline stages so that the slowest stage is as fast as it can be, and batch rows over
// data-parallel replicas.
#pragma once

#include <vector>

#include "config/plan.h"

namespace shardrt::planner {

// What each layer holds on a stage's fullest GPU, and what each stage's GPUs can hold for
// layers (their memory less everything else on them). Empty: memory is not considered.
struct LayerMemory {
  std::vector<double> layer_bytes;  // per layer
  std::vector<double> capacity;     // per stage
  bool on() const { return !capacity.empty(); }
  double bytes(int layer) const { return on() ? layer_bytes[layer] : 0.0; }
  bool fits(int stage, double held) const { return !on() || held <= capacity[stage]; }
};

// Splits layers [0, cost.size()) into speed.size() consecutive, non-empty ranges minimising
// max over stages of (fixed[s] + sum of the stage's layer costs / speed[s]), among the splits
// whose every stage holds its layers within its capacity (when `memory` is given and such a
// split exists; else by time alone). cost[l]: seconds of layer l on a speed-1 stage;
// fixed[s]: seconds stage s pays whatever it holds (sending to the next stage, say). Requires
// cost.size() >= speed.size().
std::vector<config::Range> partitionLayers(const std::vector<double>& cost,
                                           const std::vector<double>& speed,
                                           const std::vector<double>& fixed,
                                           const LayerMemory& memory = {});

// The time of the slowest stage of a split, by the same formula.
double slowestStageSeconds(const std::vector<config::Range>& stages,
                           const std::vector<double>& cost, const std::vector<double>& speed,
                           const std::vector<double>& fixed);

// Splits `total` rows over replicas in multiples of `unit` (every replica at least one unit)
// in proportion to `speed`, minimising the largest rows / speed, with at most max_units[r]
// units on replica r where given and the caps hold every row (else by speed alone). Requires
// total to be a multiple of unit and at least speed.size() units.
std::vector<int> splitRows(int total, int unit, const std::vector<double>& speed,
                           const std::vector<long>& max_units = {});

}  // namespace shardrt::planner
