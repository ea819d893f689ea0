// The plan: every head, kv head, FFN column, layer, expert and batch row is held by exactly one
// place, a rank's kv heads are the ones its query heads read, and explicit lists are used as
// given.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <tuple>

#include "config/plan.h"

namespace shardrt::config {
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

// A deployment with experts (no checks run: makePlan takes what it is given).
Deployment moeDeployment(int experts, int ep, int layers = 4) {
  Deployment d = deployment(8, 8, 64, 1, layers);
  d.model.moe.experts = experts;
  d.model.moe.top_k = 1;
  d.model.moe.expert_ffn_hidden = 16;
  d.strategy.ep = ep;
  return d;
}

class DefaultExpertPlacement : public ::testing::TestWithParam<std::tuple<int, int>> {};

TEST_P(DefaultExpertPlacement, IsEvenAndContiguousInEpRankOrder) {
  const auto [experts, ep] = GetParam();
  const Plan p = makePlan(moeDeployment(experts, ep));
  ASSERT_EQ(static_cast<int>(p.expert_placement.size()), ep);
  int next = 0;
  for (int r = 0; r < ep; ++r) {
    const auto& list = p.expert_placement[r];
    EXPECT_EQ(static_cast<int>(list.size()), experts / ep) << "ep rank " << r;
    for (int e : list) {
      EXPECT_EQ(e, next++) << "ep rank " << r;
      EXPECT_EQ(p.expertCopies(e), std::vector<int>{r});
    }
  }
  EXPECT_EQ(next, experts);
  EXPECT_TRUE(p.expertCopies(experts).empty());
}

INSTANTIATE_TEST_SUITE_P(Experts, DefaultExpertPlacement,
                         ::testing::Values(std::tuple{8, 1}, std::tuple{8, 2}, std::tuple{8, 4},
                                           std::tuple{8, 8}, std::tuple{6, 3}, std::tuple{64, 16}));

TEST(Plan, DefaultExpertPlacementValues) {
  const Plan p = makePlan(moeDeployment(8, 4));
  EXPECT_EQ(p.expert_placement, (std::vector<std::vector<int>>{{0, 1}, {2, 3}, {4, 5}, {6, 7}}));
  EXPECT_EQ(p.ep, 4);
}

TEST(Plan, DenseModelPlacesNoExperts) {
  const Plan p = makePlan(deployment(8, 8, 64, 2));
  EXPECT_TRUE(p.expert_placement.empty());
  EXPECT_TRUE(p.expertCopies(0).empty());
  EXPECT_FALSE(toJson(p).contains("expert_placement"));
}

TEST(Plan, ExplicitExpertPlacementIsUsedAsGiven) {
  Deployment d = moeDeployment(8, 3);
  d.plan.expert_placement = {{5, 0}, {}, {1, 2, 3, 4, 6, 7}};
  const Plan p = makePlan(d);
  EXPECT_EQ(p.expert_placement, d.plan.expert_placement);
  EXPECT_EQ(p.expertCopies(5), std::vector<int>{0});
  EXPECT_EQ(p.expertCopies(0), std::vector<int>{0});
  EXPECT_EQ(p.expertCopies(1), std::vector<int>{2});
  EXPECT_EQ(p.expertCopies(7), std::vector<int>{2});
  for (int e = 0; e < 8; ++e) {
    const auto copies = p.expertCopies(e);
    ASSERT_EQ(copies.size(), 1u) << e;
    const auto& list = p.expert_placement[copies[0]];
    EXPECT_NE(std::find(list.begin(), list.end(), e), list.end()) << e;
  }
  EXPECT_TRUE(p.expertCopies(8).empty());
}

TEST(Plan, ReplicatedExpertsListEveryCopyAscending) {
  Deployment d = moeDeployment(8, 4);
  // Expert 7 on all four ranks, 0 on ranks 0 and 3 (listed last there), rank 2 only copies.
  d.plan.expert_placement = {{7, 0, 1, 2}, {3, 4, 7}, {7, 0}, {5, 6, 7, 0}};
  const Plan p = makePlan(d);
  EXPECT_EQ(p.expert_placement, d.plan.expert_placement);
  EXPECT_EQ(p.expertCopies(7), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(p.expertCopies(0), (std::vector<int>{0, 2, 3}));
  EXPECT_EQ(p.expertCopies(3), std::vector<int>{1});
  EXPECT_EQ(p.expertCopies(6), std::vector<int>{3});
  std::size_t held = 0;
  for (const auto& list : p.expert_placement) held += list.size();
  std::size_t copies = 0;
  for (int e = 0; e < 8; ++e) copies += p.expertCopies(e).size();
  EXPECT_EQ(copies, held) << "every held expert is one copy";
  EXPECT_EQ(toJson(p)["expert_placement"], nlohmann::json(d.plan.expert_placement));
}

TEST(Plan, ExplicitStagesAreUsedAsGiven) {
  Deployment d = deployment(8, 8, 64, 1, 7);
  d.strategy.pp = 3;
  d.plan.stage_layers = {{0}, {1, 2, 3, 4, 5}, {6}};
  const Plan p = makePlan(d);
  ASSERT_EQ(p.stages.size(), 3u);
  EXPECT_EQ(p.stages[0].layers, (Range{0, 1}));
  EXPECT_EQ(p.stages[1].layers, (Range{1, 6}));
  EXPECT_EQ(p.stages[2].layers, (Range{6, 7}));
  for (int s = 0; s < 3; ++s) {
    for (int l : d.plan.stage_layers[s]) EXPECT_EQ(p.stageOf(l), s) << "layer " << l;
  }
  EXPECT_EQ(p.stageOf(7), -1);
  EXPECT_EQ(p.stageOf(-1), -1);
}

TEST(Plan, StageOfFollowsTheEvenStages) {
  Deployment d = deployment(8, 8, 64, 1, 7);
  d.strategy.pp = 3;  // {0,3}, {3,5}, {5,7}
  const Plan p = makePlan(d);
  const int expected[] = {0, 0, 0, 1, 1, 2, 2};
  for (int l = 0; l < 7; ++l) EXPECT_EQ(p.stageOf(l), expected[l]) << "layer " << l;
  for (int l = 0; l < 7; ++l) {
    const Range r = p.stages[p.stageOf(l)].layers;
    EXPECT_GE(l, r.begin);
    EXPECT_LT(l, r.end);
  }
}

// dp_batches are contiguous, in replica order, and cover [0, batch_size).
void expectCoversTheBatch(const Plan& p, int batch_size) {
  ASSERT_EQ(static_cast<int>(p.dp_batches.size()), p.dp);
  int row = 0;
  for (const Range& b : p.dp_batches) {
    EXPECT_EQ(b.begin, row);
    EXPECT_GT(b.size(), 0);
    row = b.end;
  }
  EXPECT_EQ(row, batch_size);
}

TEST(Plan, DefaultDpBatchesAreEven) {
  Deployment d = deployment(8, 8, 64, 1);
  d.workload.batch_size = 12;
  d.strategy.dp = 3;
  d.strategy.microbatches = 2;
  const Plan p = makePlan(d);
  EXPECT_EQ(p.microbatches, 2);
  EXPECT_EQ(p.dp_batches, (std::vector<Range>{{0, 4}, {4, 8}, {8, 12}}));
  expectCoversTheBatch(p, 12);
  d.strategy.dp = 1;
  EXPECT_EQ(makePlan(d).dp_batches, (std::vector<Range>{{0, 12}}));
}

TEST(Plan, ExplicitDpBatchIsUsedAsGiven) {
  Deployment d = deployment(8, 8, 64, 1);
  d.workload.batch_size = 12;
  d.strategy.dp = 3;
  d.plan.dp_batch = {6, 2, 4};
  const Plan p = makePlan(d);
  EXPECT_EQ(p.dp_batches, (std::vector<Range>{{0, 6}, {6, 8}, {8, 12}}));
  expectCoversTheBatch(p, 12);
}

TEST(Plan, SerialisesStagesExpertsAndBatches) {
  Deployment d = moeDeployment(8, 2, 4);
  d.strategy.pp = 2;
  d.strategy.dp = 2;
  d.strategy.microbatches = 2;
  d.workload.batch_size = 8;
  d.plan.stage_layers = {{0}, {1, 2, 3}};
  d.plan.expert_placement = {{0, 1, 2, 3, 4, 5}, {6, 7}};
  d.plan.dp_batch = {6, 2};
  const nlohmann::json j = toJson(makePlan(d));
  EXPECT_EQ(j["pp"], 2);
  EXPECT_EQ(j["ep"], 2);
  EXPECT_EQ(j["dp"], 2);
  EXPECT_EQ(j["microbatches"], 2);
  EXPECT_EQ(j["stages"][0]["layers"], nlohmann::json::array({0, 1}));
  EXPECT_EQ(j["stages"][1]["layers"], nlohmann::json::array({1, 4}));
  EXPECT_EQ(j["expert_placement"], nlohmann::json::parse("[[0, 1, 2, 3, 4, 5], [6, 7]]"));
  EXPECT_EQ(j["dp_batches"], nlohmann::json::parse("[[0, 6], [6, 8]]"));
}

}  // namespace
}  // namespace shardrt::config
