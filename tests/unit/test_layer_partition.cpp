// Layer splits over stages and row splits over replicas (planner/layer_partition) against
// brute force on small random cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <random>

#include "planner/layer_partition.h"

namespace shardrt::planner {
// The planner reads the config layer's values: Deployment, Plan, Range, the limits.
using namespace shardrt::config;
namespace {

// The best slowest-stage time over every split of n layers into `stages` non-empty runs.
double bruteForceBest(const std::vector<double>& cost, const std::vector<double>& speed,
                      const std::vector<double>& fixed) {
  const int n = static_cast<int>(cost.size()), stages = static_cast<int>(speed.size());
  double best = std::numeric_limits<double>::infinity();
  std::vector<Range> split;
  std::function<void(int, int)> go = [&](int stage, int begin) {
    if (stage == stages - 1) {
      split.push_back({begin, n});
      best = std::min(best, slowestStageSeconds(split, cost, speed, fixed));
      split.pop_back();
      return;
    }
    for (int end = begin + 1; end <= n - (stages - stage - 1); ++end) {
      split.push_back({begin, end});
      go(stage + 1, end);
      split.pop_back();
    }
  };
  go(0, 0);
  return best;
}

TEST(LayerPartition, MatchesBruteForceOnRandomCases) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<> u(0.1, 2.0);
  for (int trial = 0; trial < 300; ++trial) {
    const int layers = 1 + rng() % 11;
    const int stages = 1 + rng() % layers;
    std::vector<double> cost(layers), speed(stages), fixed(stages);
    for (double& c : cost) c = u(rng);
    for (double& s : speed) s = rng() % 3 ? 1.0 : u(rng);  // mostly equal, some not
    for (double& f : fixed) f = rng() % 2 ? 0.0 : 0.2 * u(rng);
    const auto split = partitionLayers(cost, speed, fixed);
    ASSERT_EQ(static_cast<int>(split.size()), stages);
    int next = 0;
    for (const auto& r : split) {
      EXPECT_EQ(r.begin, next);
      EXPECT_GT(r.size(), 0);
      next = r.end;
    }
    EXPECT_EQ(next, layers);
    const double got = slowestStageSeconds(split, cost, speed, fixed);
    const double best = bruteForceBest(cost, speed, fixed);
    EXPECT_LE(got, best * (1 + 1e-9)) << "trial " << trial;
  }
}

// With memory: the best time among the splits that keep every stage within its capacity,
// against brute force; where no split does, the split by time alone.
TEST(LayerPartition, WithinMemoryMatchesBruteForceOnRandomCases) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<> u(0.1, 2.0);
  int feasible = 0, infeasible = 0;
  for (int trial = 0; trial < 400; ++trial) {
    const int layers = 1 + rng() % 10;
    const int stages = 1 + rng() % layers;
    std::vector<double> cost(layers), speed(stages), fixed(stages, 0.0);
    LayerMemory memory;
    memory.layer_bytes.resize(layers);
    memory.capacity.resize(stages);
    for (double& c : cost) c = u(rng);
    for (double& s : speed) s = rng() % 2 ? 1.0 : u(rng);
    for (double& b : memory.layer_bytes) b = u(rng);
    const double even = 3.0 * layers / stages;  // about the bytes of an even share
    for (double& c : memory.capacity) c = rng() % 2 ? even : even * u(rng);
    if (rng() % 3 == 0) std::fill(memory.capacity.begin(), memory.capacity.end(), even * u(rng));
    // Brute force over every split within memory.
    double best = std::numeric_limits<double>::infinity();
    std::vector<Range> split;
    std::function<void(int, int)> go = [&](int stage, int begin) {
      for (int end = begin + 1; end <= layers - (stages - stage - 1); ++end) {
        if (stage == stages - 1 && end != layers) continue;
        double held = 0.0;
        for (int l = begin; l < end; ++l) held += memory.layer_bytes[l];
        if (held > memory.capacity[stage]) continue;
        split.push_back({begin, end});
        if (stage == stages - 1) {
          best = std::min(best, slowestStageSeconds(split, cost, speed, fixed));
        } else {
          go(stage + 1, end);
        }
        split.pop_back();
      }
    };
    go(0, 0);
    const auto got = partitionLayers(cost, speed, fixed, memory);
    ASSERT_EQ(static_cast<int>(got.size()), stages);
    if (std::isinf(best)) {
      ++infeasible;
      EXPECT_EQ(got, partitionLayers(cost, speed, fixed)) << "trial " << trial;
      continue;
    }
    ++feasible;
    for (int s = 0; s < stages; ++s) {
      double held = 0.0;
      for (int l = got[s].begin; l < got[s].end; ++l) held += memory.layer_bytes[l];
      EXPECT_LE(held, memory.capacity[s]) << "trial " << trial << " stage " << s;
    }
    EXPECT_LE(slowestStageSeconds(got, cost, speed, fixed), best * (1 + 1e-9)) << "trial " << trial;
  }
  EXPECT_GT(feasible, 100);
  EXPECT_GT(infeasible, 10);
}

// A stage twice as fast takes twice the layers, so predicted stage times are equal.
TEST(LayerPartition, HeterogeneousStagesGetLayersInProportionToSpeed) {
  const std::vector<double> cost(24, 1.0);
  const auto split = partitionLayers(cost, {2.0, 1.0}, {0.0, 0.0});
  EXPECT_EQ(split[0].size(), 16);
  EXPECT_EQ(split[1].size(), 8);
}

// A stage that also pays a fixed cost (its send, an embedding) takes fewer layers.
TEST(LayerPartition, FixedCostShiftsLayersAway) {
  const std::vector<double> cost(10, 1.0);
  const auto split = partitionLayers(cost, {1.0, 1.0}, {2.0, 0.0});
  EXPECT_EQ(split[0].size(), 4);
  EXPECT_EQ(split[1].size(), 6);
}

TEST(SplitRows, ProportionalToSpeedInUnits) {
  EXPECT_EQ(splitRows(12, 2, {1.0, 1.0, 1.0}), (std::vector<int>{4, 4, 4}));
  EXPECT_EQ(splitRows(12, 1, {2.0, 1.0}), (std::vector<int>{8, 4}));
  EXPECT_EQ(splitRows(10, 1, {1.0, 1.0, 1.0, 1.0}), (std::vector<int>{3, 3, 2, 2}));
  const auto rows = splitRows(6, 2, {5.0, 1.0, 1.0});
  EXPECT_EQ(rows, (std::vector<int>{2, 2, 2}));  // every replica keeps one unit
  EXPECT_THROW(splitRows(7, 2, {1.0}), std::invalid_argument);
  EXPECT_THROW(splitRows(4, 2, {1.0, 1.0, 1.0}), std::invalid_argument);
}

// A replica whose memory holds fewer rows than its speed asks for gets what it holds; caps
// that cannot hold every row are set aside (the plan then does not fit, and says so).
TEST(SplitRows, CapsHoldWhereTheyCan) {
  EXPECT_EQ(splitRows(12, 1, {1.0, 1.0}, {3, 100}), (std::vector<int>{3, 9}));
  EXPECT_EQ(splitRows(12, 2, {1.0, 1.0, 1.0}, {1, 6, 6}), (std::vector<int>{2, 6, 4}));
  EXPECT_EQ(splitRows(12, 1, {1.0, 1.0}, {3, 4}), splitRows(12, 1, {1.0, 1.0}));
  EXPECT_EQ(splitRows(12, 1, {1.0, 1.0}, {100, 100}), (std::vector<int>{6, 6}));
}

// Against the plain greedy (each unit to the replica that finishes it first) on random cases.
TEST(SplitRows, MatchesUnitByUnitGreedy) {
  std::mt19937 rng(9);
  std::uniform_real_distribution<> u(0.2, 3.0);
  for (int trial = 0; trial < 500; ++trial) {
    const int parts = 1 + rng() % 9, unit = 1 + rng() % 4;
    const int total = unit * (parts + static_cast<int>(rng() % 40));
    std::vector<double> speed(parts);
    for (double& s : speed) s = rng() % 2 ? 1.0 : u(rng);
    std::vector<int> greedy(parts, unit);
    for (int left = total / unit - parts; left > 0; --left) {
      int best = 0;
      for (int r = 1; r < parts; ++r) {
        if ((greedy[r] + unit) / speed[r] < (greedy[best] + unit) / speed[best]) best = r;
      }
      greedy[best] += unit;
    }
    const auto rows = splitRows(total, unit, speed);
    double got = 0.0, want = 0.0;  // the slowest replica's time: what the split is for
    for (int r = 0; r < parts; ++r) {
      got = std::max(got, rows[r] / speed[r]);
      want = std::max(want, greedy[r] / speed[r]);
      EXPECT_GE(rows[r], unit);
      EXPECT_EQ(rows[r] % unit, 0);
    }
    EXPECT_EQ(std::accumulate(rows.begin(), rows.end(), 0), total);
    EXPECT_NEAR(got, want, 1e-12 * want) << "trial " << trial;
  }
}

}  // namespace
}  // namespace shardrt::planner
