// Expert placement with redundant copies (planner/expert_balance): the placement is a valid
// one for the runtime, and it balances skewed loads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "planner/expert_balance.h"

namespace shardrt::planner {
namespace {

std::vector<double> zipfLoads(int experts, double exponent, unsigned shuffle_seed) {
  std::vector<double> loads(experts);
  for (int i = 0; i < experts; ++i) loads[i] = 1.0 / std::pow(i + 1, exponent);
  const double sum = std::accumulate(loads.begin(), loads.end(), 0.0);
  for (double& x : loads) x /= sum;
  std::mt19937 rng(shuffle_seed);  // which experts are hot is not their index order
  std::shuffle(loads.begin(), loads.end(), rng);
  return loads;
}

// Every expert on at least one rank, never twice on one, copies as counted, slots even.
void expectValid(const ExpertPlacement& p, int experts, int ep, int copies_added) {
  ASSERT_EQ(static_cast<int>(p.ranks.size()), ep);
  std::vector<int> seen(experts, 0);
  std::size_t fewest = p.ranks[0].size(), most = p.ranks[0].size();
  for (const auto& list : p.ranks) {
    for (std::size_t i = 0; i < list.size(); ++i) {
      ASSERT_GE(list[i], 0);
      ASSERT_LT(list[i], experts);
      ++seen[list[i]];
      for (std::size_t j = 0; j < i; ++j) EXPECT_NE(list[i], list[j]) << "two copies on a rank";
    }
    fewest = std::min(fewest, list.size());
    most = std::max(most, list.size());
  }
  EXPECT_LE(most - fewest, 1u) << "slots per rank must be even";
  int total = 0;
  for (int e = 0; e < experts; ++e) {
    EXPECT_GE(seen[e], 1) << "expert " << e << " placed nowhere";
    EXPECT_EQ(seen[e], p.copies[e]) << "expert " << e;
    total += seen[e];
  }
  EXPECT_EQ(total, experts + copies_added);
}

// The case (DeepSeek's EPLB figure): 256 experts on 32 GPUs, Zipf(1.0) loads.
TEST(ExpertBalance, ZipfOn32RanksWith32CopiesIsWithinFivePercent) {
  for (unsigned seed : {1u, 2u, 3u}) {
    const auto loads = zipfLoads(256, 1.0, seed);
    const double before = loadImbalance(loads, contiguousPlacement(256, 32));
    const ExpertPlacement without_copies = balanceExperts(loads, 32, 0);
    const ExpertPlacement with_copies = balanceExperts(loads, 32, 32);
    expectValid(without_copies, 256, 32, 0);
    expectValid(with_copies, 256, 32, 32);
    const double rearranged = loadImbalance(loads, without_copies);
    const double after = loadImbalance(loads, with_copies);
    std::printf("seed %u: max/mean contiguous %.2f, rearranged %.2f, 32 copies %.3f\n", seed,
                before, rearranged, after);
    // The hottest expert alone is ~5x a rank's mean share: rearranging cannot go below it.
    const double hottest = *std::max_element(loads.begin(), loads.end()) * 32;
    EXPECT_GE(rearranged, hottest * (1 - 1e-9));
    EXPECT_GT(before, 2.0);
    EXPECT_LE(after, 1.05);
  }
}

TEST(ExpertBalance, UniformLoadsStayPerfectlyBalanced) {
  const std::vector<double> loads(12, 1.0 / 12);
  const auto p = balanceExperts(loads, 4, 0);
  expectValid(p, 12, 4, 0);
  EXPECT_NEAR(loadImbalance(loads, p), 1.0, 1e-12);
}

// Random loads, ranks and copy budgets (including more copies than fit, and experts not a
// multiple of ranks): always a valid placement, never worse than the contiguous one when no
// copies are added, and copies never make it worse than without.
TEST(ExpertBalance, RandomCasesAreValidAndNoWorse) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    const int experts = 1 + rng() % 40;
    const int ep = 1 + rng() % 9;
    const int redundant = rng() % 30;
    std::vector<double> loads(experts);
    double sum = 0.0;
    for (double& x : loads) sum += (x = std::exp(3.0 * std::uniform_real_distribution<>(0, 1)(rng)));
    for (double& x : loads) x /= sum;
    const auto plain = balanceExperts(loads, ep, 0);
    const auto copied = balanceExperts(loads, ep, redundant);
    const int added = std::min(redundant, experts * (ep - 1));
    expectValid(plain, experts, ep, 0);
    expectValid(copied, experts, ep, added);
    if (::testing::Test::HasFailure()) return;
    if (experts >= ep) {
      EXPECT_LE(loadImbalance(loads, plain),
                loadImbalance(loads, contiguousPlacement(experts, ep)) + 1e-9);
    }
  }
}

TEST(ExpertBalance, RankLoadsSplitAnExpertEvenlyOverItsCopies) {
  ExpertPlacement p;
  p.ranks = {{0, 1}, {0, 2}};
  p.copies = {2, 1, 1};
  const auto r = rankLoads({0.5, 0.3, 0.2}, p);
  EXPECT_DOUBLE_EQ(r[0], 0.25 + 0.3);
  EXPECT_DOUBLE_EQ(r[1], 0.25 + 0.2);
}

}  // namespace
}  // namespace shardrt::planner
