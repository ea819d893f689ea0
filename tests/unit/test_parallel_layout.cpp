// Rank arithmetic, as properties over many grids: every rank has one place, and every group
// is consistent with the colors used to split it.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <tuple>

#include "planner/parallel_layout.h"

namespace shardrt::planner {
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

}  // namespace
}  // namespace shardrt::planner
