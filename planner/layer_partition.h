// Splitting work in proportion to speed: consecutive layers over pipeline stages so that the
// slowest stage is as fast as it can be, and batch rows over data-parallel replicas.
#pragma once

#include <vector>

#include "config/plan.h"

namespace shardrt::planner {

// Splits layers [0, cost.size()) into speed.size() consecutive, non-empty ranges minimising
// max over stages of (fixed[s] + sum of the stage's layer costs / speed[s]). cost[l]: seconds
// of layer l on a speed-1 stage; fixed[s]: seconds stage s pays whatever it holds (sending to
// the next stage, say). Requires cost.size() >= speed.size().
std::vector<config::Range> partitionLayers(const std::vector<double>& cost,
                                           const std::vector<double>& speed,
                                           const std::vector<double>& fixed);

// The time of the slowest stage of a split, by the same formula.
double slowestStageSeconds(const std::vector<config::Range>& stages,
                           const std::vector<double>& cost, const std::vector<double>& speed,
                           const std::vector<double>& fixed);

// Splits `total` rows over replicas in multiples of `unit` (every replica at least one unit)
// in proportion to `speed`, minimising the largest rows / speed. Requires total to be a
// multiple of unit and at least speed.size() units.
std::vector<int> splitRows(int total, int unit, const std::vector<double>& speed);

}  // namespace shardrt::planner
