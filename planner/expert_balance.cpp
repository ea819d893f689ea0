#include "planner/expert_balance.h"

#include <algorithm>
#include <numeric>
#include <queue>
#include <utility>

namespace shardrt::planner {
namespace {

bool holds(const std::vector<int>& list, int expert) {
  return std::find(list.begin(), list.end(), expert) != list.end();
}

// Copies per expert: each extra copy goes to the expert whose load per copy is highest now,
// which lowers the largest piece a rank must take whole.
std::vector<int> chooseCopies(const std::vector<double>& loads, int ep, int redundant) {
  const int experts = static_cast<int>(loads.size());
  std::vector<int> copies(experts, 1);
  std::priority_queue<std::pair<double, int>> heaviest;  // (load per copy, -expert)
  for (int e = 0; e < experts; ++e) heaviest.push({loads[e], -e});
  while (redundant > 0 && !heaviest.empty()) {
    const int e = -heaviest.top().second;
    heaviest.pop();
    if (copies[e] == ep) continue;  // on every rank already
    ++copies[e];
    --redundant;
    heaviest.push({loads[e] / copies[e], -e});
  }
  return copies;
}

// Swaps one copy on the most loaded rank with one on another rank while that lowers the
// larger of the two ranks' loads; stops when no swap helps.
void improveBySwaps(const std::vector<double>& piece, ExpertPlacement& p) {
  const int ep = static_cast<int>(p.ranks.size());
  std::vector<double> load(ep, 0.0);
  for (int r = 0; r < ep; ++r) {
    for (int e : p.ranks[r]) load[r] += piece[e];
  }
  for (int round = 0; round < 64 * ep; ++round) {
    const int hi = static_cast<int>(std::max_element(load.begin(), load.end()) - load.begin());
    double best_peak = load[hi] * (1.0 - 1e-12);
    int best_lo = -1, best_x = -1, best_y = -1;
    for (int lo = 0; lo < ep; ++lo) {
      if (lo == hi) continue;
      for (int xi = 0; xi < static_cast<int>(p.ranks[hi].size()); ++xi) {
        const int x = p.ranks[hi][xi];
        if (holds(p.ranks[lo], x)) continue;
        for (int yi = 0; yi < static_cast<int>(p.ranks[lo].size()); ++yi) {
          const int y = p.ranks[lo][yi];
          if (holds(p.ranks[hi], y)) continue;
          const double delta = piece[x] - piece[y];
          if (delta <= 0.0) continue;
          const double peak = std::max(load[hi] - delta, load[lo] + delta);
          if (peak < best_peak) best_peak = peak, best_lo = lo, best_x = xi, best_y = yi;
        }
      }
    }
    if (best_lo < 0) return;
    const double delta = piece[p.ranks[hi][best_x]] - piece[p.ranks[best_lo][best_y]];
    std::swap(p.ranks[hi][best_x], p.ranks[best_lo][best_y]);
    load[hi] -= delta;
    load[best_lo] += delta;
  }
}

}  // namespace

std::vector<double> rankLoads(const std::vector<double>& loads, const ExpertPlacement& p) {
  std::vector<double> out;
  for (const auto& list : p.ranks) {
    double sum = 0.0;
    for (int e : list) sum += loads[e] / p.copies[e];
    out.push_back(sum);
  }
  return out;
}

double loadImbalance(const std::vector<double>& loads, const ExpertPlacement& p) {
  const auto per_rank = rankLoads(loads, p);
  const double mean = std::accumulate(per_rank.begin(), per_rank.end(), 0.0) / per_rank.size();
  return mean > 0.0 ? *std::max_element(per_rank.begin(), per_rank.end()) / mean : 1.0;
}

ExpertPlacement contiguousPlacement(int experts, int ep) {
  ExpertPlacement p;
  p.copies.assign(experts, 1);
  const int base = experts / ep, extra = experts % ep;
  int next = 0;
  for (int r = 0; r < ep; ++r) {
    p.ranks.emplace_back();
    for (int i = 0; i < base + (r < extra ? 1 : 0); ++i) p.ranks.back().push_back(next++);
  }
  return p;
}

ExpertPlacement balanceExperts(const std::vector<double>& loads, int ep, int redundant) {
  const int experts = static_cast<int>(loads.size());
  ExpertPlacement p;
  p.copies = chooseCopies(loads, ep, std::min(redundant, experts * (ep - 1)));
  std::vector<double> piece(experts);
  for (int e = 0; e < experts; ++e) piece[e] = loads[e] / p.copies[e];

  // Every rank gets the same number of slots (memory is balanced too), the first few one more.
  const int slots = std::accumulate(p.copies.begin(), p.copies.end(), 0);
  std::vector<int> capacity(ep, slots / ep);
  for (int r = 0; r < slots % ep; ++r) ++capacity[r];

  std::vector<int> order;  // one entry per copy, heaviest piece first
  for (int e = 0; e < experts; ++e) order.insert(order.end(), p.copies[e], e);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return piece[a] > piece[b]; });

  p.ranks.assign(ep, {});
  std::vector<double> load(ep, 0.0);
  for (int e : order) {
    int best = -1;
    for (int r = 0; r < ep; ++r) {
      if (static_cast<int>(p.ranks[r].size()) == capacity[r] || holds(p.ranks[r], e)) continue;
      if (best < 0 || load[r] < load[best]) best = r;
    }
    if (best < 0) {
      // Every rank with a free slot holds e already. Some full rank b does not (e has fewer
      // copies placed than ranks); b holds an expert f that the free rank a lacks (a holds e
      // and b does not, and a holds no more than b). Move f to a and put e on b.
      int a = 0;
      while (static_cast<int>(p.ranks[a].size()) == capacity[a]) ++a;
      int b = 0;
      while (holds(p.ranks[b], e)) ++b;
      auto f = std::find_if(p.ranks[b].begin(), p.ranks[b].end(),
                            [&](int x) { return !holds(p.ranks[a], x); });
      p.ranks[a].push_back(*f);
      load[a] += piece[*f];
      load[b] -= piece[*f];
      p.ranks[b].erase(f);
      best = b;
    }
    p.ranks[best].push_back(e);
    load[best] += piece[e];
  }
  improveBySwaps(piece, p);
  for (auto& list : p.ranks) std::sort(list.begin(), list.end());
  return p;
}

}  // namespace shardrt::planner
