#include "planner/memory_split.h"

#include <algorithm>

namespace shardrt::planner {
namespace {

// The least usable memory among world ranks [first, last].
double usableIn(const ClusterConfig& cluster, int first, int last) {
  double least = -1.0;
  for (int r = first; r <= last; ++r) {
    const double m = cluster.groupOf(r).gpu.memory_bytes;
    if (least < 0.0 || m < least) least = m;
  }
  return least * (1.0 - cluster.memory_reserve);
}

// What grows with a replica of `rows` rows on one of its GPUs: its activations.
double rowBytes(const PlanCostModel& costs, const config::StrategyConfig& s, int rows,
                double imbalance) {
  return costs.activationBytes(s, std::max(1, rows / s.microbatches), rows, imbalance);
}

}  // namespace

LayerMemory layerMemory(const PlanCostModel& costs, const config::ModelConfig& model,
                        const ClusterConfig& cluster, const Candidate& c) {
  const config::StrategyConfig& s = c.strategy;
  const PlanCostModel::ExpertShares experts = costs.expertShares(c);
  const int slots = experts.mostSlots();
  const double imbalance = experts.imbalance;
  const int most_rows = *std::max_element(c.dp_batch.begin(), c.dp_batch.end());
  LayerMemory out;
  for (int l = 0; l < model.layers; ++l) {
    double bytes = costs.weightBytes(s, {l, l + 1}, model.isMoeLayer(l) ? slots : 0);
    if (costs.generating()) bytes += costs.kvCacheBytes(s, {l, l + 1}, most_rows);
    out.layer_bytes.push_back(bytes);
  }
  for (int st = 0; st < s.pp; ++st) {
    double room = -1.0;
    for (int r = 0; r < s.dp; ++r) {
      const int first = s.tp * (r + s.dp * st);
      const double left =
          usableIn(cluster, first, first + s.tp - 1) - rowBytes(costs, s, c.dp_batch[r], imbalance);
      if (room < 0.0 || left < room) room = left;
    }
    out.capacity.push_back(room);
  }
  return out;
}

std::vector<long> replicaRowCaps(const PlanCostModel& costs, const ClusterConfig& cluster,
                                 const Candidate& c) {
  const config::StrategyConfig& s = c.strategy;
  const PlanCostModel::ExpertShares experts = costs.expertShares(c);
  const int slots = experts.mostSlots();
  const double imbalance = experts.imbalance;
  std::vector<double> stage_weights;  // on each stage's fullest GPU
  for (const auto& range : c.stages) stage_weights.push_back(costs.weightBytes(s, range, slots));
  // What replica r holds with `units` units of rows: its fullest stage against its memory.
  auto holds = [&](int r, long units, double kv_per_row) {
    const int rows = static_cast<int>(units * s.microbatches);
    for (int st = 0; st < s.pp; ++st) {
      const int first = s.tp * (r + s.dp * st);
      const double used = stage_weights[st] + rowBytes(costs, s, rows, imbalance) +
                          kv_per_row * c.stages[st].size() * rows;
      if (used > usableIn(cluster, first, first + s.tp - 1)) return false;
    }
    return true;
  };
  const double kv_per_row =
      costs.generating() ? costs.kvCacheBytes(s, {0, 1}, 1.0) : 0.0;  // one layer, one row
  bool all_hold = true;
  for (int r = 0; r < s.dp && all_hold; ++r) {
    all_hold = holds(r, c.dp_batch[r] / s.microbatches, kv_per_row);
  }
  if (all_hold) return {};
  long units = 0;
  for (int rows : c.dp_batch) units += rows / s.microbatches;
  std::vector<long> caps(s.dp);
  for (int r = 0; r < s.dp; ++r) {
    long lo = 0, hi = units;  // the most that holds, by bisection
    while (lo < hi) {
      const long mid = (lo + hi + 1) / 2;
      if (holds(r, mid, kv_per_row)) {
        lo = mid;
      } else {
        hi = mid - 1;
      }
    }
    caps[r] = lo;
  }
  return caps;
}

}  // namespace shardrt::planner
