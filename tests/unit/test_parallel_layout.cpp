// Rank arithmetic, as properties over many grids: every rank has one place, and every group
// is consistent with the colors used to split it.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "config/parallel_layout.h"

namespace shardrt::config {
namespace {

class ParallelLayoutGrid : public ::testing::TestWithParam<std::tuple<int, int, int>> {};

TEST_P(ParallelLayoutGrid, EveryRankHasOnePlace) {
  const auto [tp, pp, dp] = GetParam();
  std::set<std::tuple<int, int, int>> places;
  for (int r = 0; r < tp * pp * dp; ++r) {
    const ParallelLayout l(tp, pp, dp, r);
    EXPECT_LT(l.tpRank(), tp);
    EXPECT_LT(l.dpRank(), dp);
    EXPECT_LT(l.ppRank(), pp);
    EXPECT_EQ(ParallelLayout::worldRankOf(tp, dp, l.tpRank(), l.dpRank(), l.ppRank()), r);
    places.insert({l.tpRank(), l.dpRank(), l.ppRank()});
  }
  EXPECT_EQ(static_cast<int>(places.size()), tp * pp * dp);
}

TEST_P(ParallelLayoutGrid, GroupsMatchColorsAndContainTheRankInOrder) {
  const auto [tp, pp, dp] = GetParam();
  for (int r = 0; r < tp * pp * dp; ++r) {
    const ParallelLayout l(tp, pp, dp, r);
    struct G {
      std::vector<int> members;
      int color;
      int index;
      int (ParallelLayout::*col)() const;
    };
    const G groups[] = {{l.tpGroup(), l.tpGroupColor(), l.tpRank(), &ParallelLayout::tpGroupColor},
                        {l.dpGroup(), l.dpGroupColor(), l.dpRank(), &ParallelLayout::dpGroupColor},
                        {l.ppGroup(), l.ppGroupColor(), l.ppRank(), &ParallelLayout::ppGroupColor}};
    for (const auto& g : groups) {
      ASSERT_LT(g.index, static_cast<int>(g.members.size()));
      EXPECT_EQ(g.members[g.index], r);  // group rank order is the layout's order
      // Exactly the members share this rank's color.
      for (int other = 0; other < tp * pp * dp; ++other) {
        const bool same_color = (ParallelLayout(tp, pp, dp, other).*g.col)() == g.color;
        const bool member = std::find(g.members.begin(), g.members.end(), other) != g.members.end();
        EXPECT_EQ(same_color, member) << "rank " << r << " vs " << other;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Grids, ParallelLayoutGrid,
                         ::testing::Combine(::testing::Values(1, 2, 4, 8),
                                            ::testing::Values(1, 2, 3),
                                            ::testing::Values(1, 2, 3)));

TEST(ParallelLayout, TensorParallelRanksAreAdjacent) {
  // tp fastest: ranks 0-3 form the first tp group of a tp=4 layout, as in Megatron-Core.
  const ParallelLayout l(4, 2, 2, 5);
  EXPECT_EQ(l.tpRank(), 1);
  EXPECT_EQ(l.dpRank(), 1);
  EXPECT_EQ(l.ppRank(), 0);
  EXPECT_EQ(l.tpGroup(), (std::vector<int>{4, 5, 6, 7}));
  EXPECT_EQ(l.ppGroup(), (std::vector<int>{5, 13}));
}

TEST(ParallelLayout, RefusesRanksOutsideTheWorld) {
  EXPECT_THROW(ParallelLayout(2, 1, 1, 2), std::invalid_argument);
  EXPECT_THROW(ParallelLayout(0, 1, 1, 0), std::invalid_argument);
}

// Expert parallelism over grids: (tp, pp, dp, ep) with ep every divisor of tp*dp.
std::vector<std::tuple<int, int, int, int>> epGrids() {
  std::vector<std::tuple<int, int, int, int>> grids;
  for (int tp : {1, 2, 4})
    for (int pp : {1, 2})
      for (int dp : {1, 2})
        for (int ep = 1; ep <= tp * dp; ++ep)
          if ((tp * dp) % ep == 0) grids.emplace_back(tp, pp, dp, ep);
  return grids;
}

class ExpertParallelGrid : public ::testing::TestWithParam<std::tuple<int, int, int, int>> {};

TEST_P(ExpertParallelGrid, GroupHoldsTheRankAtItsEpRankInOneStage) {
  const auto [tp, pp, dp, ep] = GetParam();
  for (int r = 0; r < tp * pp * dp; ++r) {
    const ParallelLayout l(tp, pp, dp, r, ep);
    EXPECT_EQ(l.ep(), ep);
    EXPECT_EQ(l.stageRank(), l.tpRank() + tp * l.dpRank());
    EXPECT_LT(l.epRank(), ep);
    const std::vector<int> g = l.epGroup();
    ASSERT_EQ(static_cast<int>(g.size()), ep) << "rank " << r;
    EXPECT_EQ(g[l.epRank()], r);
    for (int i = 0; i < ep; ++i) {
      const ParallelLayout m(tp, pp, dp, g[i], ep);
      EXPECT_EQ(m.epRank(), i) << "rank " << r << " member " << g[i];  // group-rank order
      EXPECT_EQ(m.epGroupColor(), l.epGroupColor()) << "rank " << r << " member " << g[i];
      EXPECT_EQ(m.ppRank(), l.ppRank()) << "rank " << r << " member " << g[i];
      EXPECT_EQ(m.epGroup(), g);
      if (i > 0) {
        EXPECT_EQ(g[i], g[i - 1] + 1);  // adjacent world ranks
      }
    }
  }
}

TEST_P(ExpertParallelGrid, GroupsPartitionTheWorldAndMatchColors) {
  const auto [tp, pp, dp, ep] = GetParam();
  const int world = tp * pp * dp;
  std::set<std::vector<int>> groups;
  for (int r = 0; r < world; ++r) groups.insert(ParallelLayout(tp, pp, dp, r, ep).epGroup());
  EXPECT_EQ(static_cast<int>(groups.size()), world / ep);
  std::vector<int> seen(world, 0);
  for (const auto& g : groups) {
    for (int m : g) {
      ASSERT_GE(m, 0);
      ASSERT_LT(m, world);
      ++seen[m];
    }
  }
  for (int r = 0; r < world; ++r) EXPECT_EQ(seen[r], 1) << "rank " << r;
  // Exactly the members share a rank's color.
  for (int r = 0; r < world; ++r) {
    const ParallelLayout l(tp, pp, dp, r, ep);
    const std::vector<int> g = l.epGroup();
    for (int other = 0; other < world; ++other) {
      const bool same_color =
          ParallelLayout(tp, pp, dp, other, ep).epGroupColor() == l.epGroupColor();
      const bool member = std::find(g.begin(), g.end(), other) != g.end();
      EXPECT_EQ(same_color, member) << "rank " << r << " vs " << other;
    }
  }
}

std::string epGridName(const ::testing::TestParamInfo<std::tuple<int, int, int, int>>& info) {
  const auto [tp, pp, dp, ep] = info.param;
  return "tp" + std::to_string(tp) + "_pp" + std::to_string(pp) + "_dp" + std::to_string(dp) +
         "_ep" + std::to_string(ep);
}

INSTANTIATE_TEST_SUITE_P(Grids, ExpertParallelGrid, ::testing::ValuesIn(epGrids()), epGridName);

TEST(ParallelLayout, ExpertGroupsAreAdjacentRanksOfAStage) {
  // tp=2, dp=2, pp=2: stage 0 is ranks 0-3, stage 1 ranks 4-7.
  const ParallelLayout a(2, 2, 2, 5, 4);
  EXPECT_EQ(a.stageRank(), 1);
  EXPECT_EQ(a.epRank(), 1);
  EXPECT_EQ(a.epGroup(), (std::vector<int>{4, 5, 6, 7}));
  const ParallelLayout b(2, 2, 2, 6, 2);
  EXPECT_EQ(b.stageRank(), 2);
  EXPECT_EQ(b.epRank(), 0);
  EXPECT_EQ(b.epGroup(), (std::vector<int>{6, 7}));
  EXPECT_EQ(ParallelLayout(2, 2, 2, 3, 1).epGroup(), (std::vector<int>{3}));
  EXPECT_EQ(ParallelLayout(2, 2, 2, 3).ep(), 1);  // ep defaults to 1
}

TEST(ParallelLayout, RefusesAnEpThatDoesNotDivideAStage) {
  EXPECT_THROW(ParallelLayout(2, 1, 2, 0, 3), std::invalid_argument);  // tp*dp = 4
  EXPECT_THROW(ParallelLayout(2, 2, 2, 0, 8), std::invalid_argument);  // divides the world only
  EXPECT_THROW(ParallelLayout(1, 4, 1, 0, 2), std::invalid_argument);  // a stage of one rank
  EXPECT_THROW(ParallelLayout(2, 1, 1, 0, 0), std::invalid_argument);
  EXPECT_THROW(ParallelLayout(2, 1, 1, 0, -2), std::invalid_argument);
  EXPECT_NO_THROW(ParallelLayout(2, 1, 2, 0, 4));
}

}  // namespace
}  // namespace shardrt::config
