#include "planner/layer_partition.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <queue>
#include <stdexcept>

namespace shardrt::planner {
namespace {

// Greedy fill of layers [first_layer, end) over stages [first_stage, end) of equal speed and
// fixed cost: each stage takes as many layers as fit in `limit`, leaving one for every later
// stage. With equal stages taking the most that fit never hurts a later one, so this succeeds
// whenever any split within `limit` exists.
bool fillWithin(double limit, const std::vector<double>& cost, const std::vector<double>& speed,
                const std::vector<double>& fixed, const LayerMemory& memory, int first_stage,
                int first_layer) {
  const int layers = static_cast<int>(cost.size()), stages = static_cast<int>(speed.size());
  int next = first_layer;
  for (int s = first_stage; s < stages; ++s) {
    const int last_allowed = layers - (stages - s - 1);  // exclusive end that leaves enough
    double t = fixed[s], held = 0.0;
    int end = next;
    while (end < last_allowed && t + cost[end] / speed[s] <= limit &&
           memory.fits(s, held + memory.bytes(end))) {
      t += cost[end] / speed[s];
      held += memory.bytes(end++);
    }
    if (end == next) return false;  // not even one layer fits
    next = end;
  }
  return next == layers;
}

// Among the splits within `limit` (one exists), stage by stage the one closest to an even
// share of the work left: the greedy fill leaves the last stages short, which costs no time
// but wastes their GPUs. An end is allowed when the rest still fits within the limit.
std::vector<config::Range> spreadWithin(double limit, const std::vector<double>& cost,
                                        const std::vector<double>& speed,
                                        const std::vector<double>& fixed,
                                        const LayerMemory& memory) {
  const int layers = static_cast<int>(cost.size()), stages = static_cast<int>(speed.size());
  std::vector<config::Range> out;
  int next = 0;
  for (int s = 0; s < stages; ++s) {
    double rest = 0.0, rest_speed = 0.0;  // the work left, and the speed left to do it
    for (int l = next; l < layers; ++l) rest += cost[l];
    for (int t = s; t < stages; ++t) rest_speed += speed[t];
    const double target = rest * speed[s] / rest_speed;  // this stage's fair share, unit speed
    int best_end = -1;
    double best_gap = 0.0, taken = 0.0, held = 0.0;
    for (int end = next + 1; end <= layers - (stages - s - 1); ++end) {
      taken += cost[end - 1];
      held += memory.bytes(end - 1);
      if (fixed[s] + taken / speed[s] > limit || !memory.fits(s, held)) break;
      const bool rest_fits = s + 1 == stages
                                 ? end == layers
                                 : fillWithin(limit, cost, speed, fixed, memory, s + 1, end);
      if (!rest_fits) continue;
      const double gap = std::abs(taken - target);
      if (best_end < 0 || gap < best_gap) best_end = end, best_gap = gap;
    }
    if (best_end < 0) throw std::logic_error("partitionLayers: no split within the limit");
    out.push_back({next, best_end});
    next = best_end;
  }
  return out;
}

// Stages of different speeds or fixed costs: the greedy fill is no longer safe (taking more
// layers early can hand a heavy layer to a slow stage), so an exact dynamic programme over
// (stage, layers covered) finds the min-max split, O(stages x layers^2).
std::vector<config::Range> exactSplit(const std::vector<double>& cost,
                                      const std::vector<double>& speed,
                                      const std::vector<double>& fixed, const LayerMemory& memory) {
  const int layers = static_cast<int>(cost.size()), stages = static_cast<int>(speed.size());
  std::vector<double> prefix(layers + 1, 0.0), held(layers + 1, 0.0);
  for (int l = 0; l < layers; ++l) {
    prefix[l + 1] = prefix[l] + cost[l];
    held[l + 1] = held[l] + memory.bytes(l);
  }
  // best[s][j]: the slowest of stages 0..s when they cover layers [0, j), and among splits
  // as slow the one with the least sum of squared stage times (the most even); from[s][j]:
  // where stage s starts in that split.
  struct Score {
    double slowest = std::numeric_limits<double>::infinity();
    double squares = std::numeric_limits<double>::infinity();
    bool operator<(const Score& o) const {
      if (std::abs(slowest - o.slowest) > 1e-12 * std::max(slowest, o.slowest)) {
        return slowest < o.slowest;
      }
      return squares < o.squares;
    }
  };
  std::vector<std::vector<Score>> best(stages, std::vector<Score>(layers + 1));
  std::vector<std::vector<int>> from(stages, std::vector<int>(layers + 1, 0));
  // A stage over more layers than its memory holds is no split at all (its score stays
  // infinite).
  for (int j = 1; j <= layers; ++j) {
    if (!memory.fits(0, held[j])) continue;
    const double t = fixed[0] + prefix[j] / speed[0];
    best[0][j] = {t, t * t};
  }
  for (int s = 1; s < stages; ++s) {
    for (int j = s + 1; j <= layers; ++j) {
      for (int i = s; i < j; ++i) {
        if (!memory.fits(s, held[j] - held[i])) continue;
        const double t = fixed[s] + (prefix[j] - prefix[i]) / speed[s];
        const Score here{std::max(best[s - 1][i].slowest, t), best[s - 1][i].squares + t * t};
        if (here < best[s][j]) best[s][j] = here, from[s][j] = i;
      }
    }
  }
  if (!std::isfinite(best[stages - 1][layers].slowest)) return {};  // memory allows none
  std::vector<config::Range> out(stages);
  int end = layers;
  for (int s = stages - 1; s >= 0; --s) {
    const int begin = s == 0 ? 0 : from[s][end];
    out[s] = {begin, end};
    end = begin;
  }
  return out;
}

}  // namespace

double slowestStageSeconds(const std::vector<config::Range>& stages,
                           const std::vector<double>& cost, const std::vector<double>& speed,
                           const std::vector<double>& fixed) {
  double worst = 0.0;
  for (std::size_t s = 0; s < stages.size(); ++s) {
    double t = fixed[s];
    for (int l = stages[s].begin; l < stages[s].end; ++l) t += cost[l] / speed[s];
    worst = std::max(worst, t);
  }
  return worst;
}

std::vector<config::Range> partitionLayers(const std::vector<double>& cost,
                                           const std::vector<double>& speed,
                                           const std::vector<double>& fixed,
                                           const LayerMemory& memory) {
  if (cost.size() < speed.size() || speed.empty()) {
    throw std::invalid_argument("partitionLayers: fewer layers than stages");
  }
  if (memory.on() &&
      (memory.layer_bytes.size() != cost.size() || memory.capacity.size() != speed.size())) {
    throw std::invalid_argument("partitionLayers: memory sizes differ from the layers or stages");
  }
  const bool uniform =
      std::all_of(speed.begin(), speed.end(), [&](double x) { return x == speed[0]; }) &&
      std::all_of(fixed.begin(), fixed.end(), [&](double x) { return x == fixed[0]; }) &&
      std::all_of(memory.capacity.begin(), memory.capacity.end(),
                  [&](double x) { return x == memory.capacity[0]; });
  if (!uniform) {
    std::vector<config::Range> split = exactSplit(cost, speed, fixed, memory);
    // No split within memory: the split by time alone, which the cost model then finds
    // does not fit.
    return split.empty() ? exactSplit(cost, speed, fixed, {}) : split;
  }
  if (memory.on() &&
      !fillWithin(std::numeric_limits<double>::infinity(), cost, speed, fixed, memory, 0, 0)) {
    return partitionLayers(cost, speed, fixed, {});
  }
  // Equal stages: the answer lies between the largest single stage-layer time and everything on the
  // slowest stage; bisect on it (the greedy test is monotone in the limit).
  const double total = std::accumulate(cost.begin(), cost.end(), 0.0);
  const double slowest = *std::min_element(speed.begin(), speed.end());
  double lo = 0.0, hi = total / slowest + *std::max_element(fixed.begin(), fixed.end());
  hi = hi * (1 + 1e-9) + 1e-300;
  for (int i = 0; i < 100 && hi - lo > 1e-12 * hi; ++i) {
    const double mid = 0.5 * (lo + hi);
    (fillWithin(mid, cost, speed, fixed, memory, 0, 0) ? hi : lo) = mid;
  }
  return spreadWithin(hi, cost, speed, fixed, memory);
}

std::vector<int> splitRows(int total, int unit, const std::vector<double>& speed,
                           const std::vector<long>& max_units) {
  const int parts = static_cast<int>(speed.size());
  if (unit <= 0 || total % unit != 0 || total / unit < parts) {
    throw std::invalid_argument("splitRows: rows do not divide into a unit per replica");
  }
  const long units = total / unit;
  if (!max_units.empty()) {
    long room = 0;
    for (int r = 0; r < parts; ++r) room += std::max(1L, max_units[r]);
    // More rows than the replicas hold: by speed alone (the plan then does not fit).
    if (room < units) return splitRows(total, unit, speed);
  }
  auto cap = [&](int r) { return max_units.empty() ? units : std::max(1L, max_units[r]); };
  const double speed_sum = std::accumulate(speed.begin(), speed.end(), 0.0);
  // Start from the proportional share rounded down (at least one unit each), then move single
  // units, at most `parts` of them: a greedy unit-by-unit fill would cost units x parts.
  std::vector<long> n(parts);
  long given = 0;
  for (int r = 0; r < parts; ++r) {
    n[r] =
        std::min(cap(r), std::max(1L, static_cast<long>(std::floor(units * speed[r] / speed_sum))));
    given += n[r];
  }
  using Entry = std::pair<double, int>;  // (finish time, replica), ties to the lower index
  if (given > units) {  // the minimum of one unit each overshot: take from the latest finishers
    std::priority_queue<Entry> latest;
    for (int r = 0; r < parts; ++r) latest.push({n[r] / speed[r], -r});
    while (given > units) {
      const int r = -latest.top().second;
      latest.pop();
      if (n[r] == 1) continue;
      --n[r];
      --given;
      latest.push({n[r] / speed[r], -r});
    }
  }
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> earliest;
  for (int r = 0; r < parts; ++r) {
    if (n[r] < cap(r)) earliest.push({(n[r] + 1) / speed[r], r});
  }
  for (; given < units; ++given) {  // each further unit where it finishes first, room allowing
    const int r = earliest.top().second;
    earliest.pop();
    ++n[r];
    if (n[r] < cap(r)) earliest.push({(n[r] + 1) / speed[r], r});
  }
  std::vector<int> rows(parts);
  for (int r = 0; r < parts; ++r) rows[r] = static_cast<int>(n[r] * unit);
  return rows;
}

}  // namespace shardrt::planner
