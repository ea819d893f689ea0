// The default plan: every head, kv head and FFN column is held, and a rank's kv heads are the
// ones its query heads read.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "planner/plan.h"

namespace shardrt::planner {
namespace {

Deployment deployment(int heads, int kv_heads, int ffn, int tp, int layers = 5) {
  Deployment d;
  d.model.layers = layers;
  d.model.hidden = 64;
  d.model.heads = heads;
  d.model.kv_heads = kv_heads;
  d.model.head_dim = 8;
  d.model.ffn_hidden = ffn;
  d.workload.batch_size = 1;
  d.workload.seq_len = 4;
  d.strategy.tp = tp;
  return d;
}

class PlanCases : public ::testing::TestWithParam<std::tuple<int, int, int>> {};

TEST_P(PlanCases, ShardsCoverTheModelAndHoldTheKvHeadsTheyRead) {
  const auto [heads, kv_heads, tp] = GetParam();
  const Deployment d = deployment(heads, kv_heads, 24 * tp, tp);
  const Plan p = makePlan(d);
  ASSERT_EQ(static_cast<int>(p.tp_shards.size()), tp);
  int next_head = 0, next_col = 0;
  for (const auto& s : p.tp_shards) {
    EXPECT_EQ(s.q_heads.begin, next_head);  // contiguous, in tp-rank order, no overlap
    EXPECT_EQ(s.q_heads.size(), heads / tp);
    EXPECT_EQ(s.ffn_columns.begin, next_col);
    next_head = s.q_heads.end;
    next_col = s.ffn_columns.end;
    for (int h = s.q_heads.begin; h < s.q_heads.end; ++h) {
      const int kv = h / d.model.groupSize();
      EXPECT_GE(kv, s.kv_heads.begin);
      EXPECT_LT(kv, s.kv_heads.end);
    }
    // Nothing more than needed: the first and last kv heads are both read.
    EXPECT_EQ(s.kv_heads.begin, s.q_heads.begin / d.model.groupSize());
    EXPECT_EQ(s.kv_heads.end - 1, (s.q_heads.end - 1) / d.model.groupSize());
  }
  EXPECT_EQ(next_head, heads);
  EXPECT_EQ(next_col, d.model.ffn_hidden);
}

INSTANTIATE_TEST_SUITE_P(Heads, PlanCases,
                         ::testing::Values(std::tuple{8, 8, 1}, std::tuple{8, 8, 8},
                                           std::tuple{8, 2, 2}, std::tuple{8, 2, 8},
                                           std::tuple{32, 8, 4}, std::tuple{24, 6, 4},
                                           std::tuple{16, 1, 4}));

TEST(Plan, KvHeadsAreReplicatedWhenTpExceedsThem) {
  const Plan p = makePlan(deployment(8, 2, 64, 8));
  for (int t = 0; t < 8; ++t) {
    EXPECT_EQ(p.tp_shards[t].kv_heads.size(), 1);
    EXPECT_EQ(p.tp_shards[t].kv_heads.begin, t / 4);
  }
}

TEST(Plan, StagesSplitLayersEvenly) {
  Deployment d = deployment(8, 8, 64, 1, 7);
  d.strategy.pp = 3;
  const Plan p = makePlan(d);
  ASSERT_EQ(p.stages.size(), 3u);
  EXPECT_EQ(p.stages[0].layers, (Range{0, 3}));
  EXPECT_EQ(p.stages[1].layers, (Range{3, 5}));
  EXPECT_EQ(p.stages[2].layers, (Range{5, 7}));
}

TEST(Plan, SerialisesEveryRange) {
  const nlohmann::json j = toJson(makePlan(deployment(8, 2, 64, 2)));
  EXPECT_EQ(j["tp"], 2);
  EXPECT_EQ(j["tp_shards"][1]["q_heads"], nlohmann::json::array({4, 8}));
  EXPECT_EQ(j["tp_shards"][1]["kv_heads"], nlohmann::json::array({1, 2}));
  EXPECT_EQ(j["tp_shards"][1]["ffn_columns"], nlohmann::json::array({32, 64}));
  EXPECT_EQ(j["stages"][0]["layers"], nlohmann::json::array({0, 5}));
}

}  // namespace
}  // namespace shardrt::planner
