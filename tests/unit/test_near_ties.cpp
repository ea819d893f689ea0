// Near-ties (planner/near_ties.h): plans within kNearTie of the best are ordered by memory
// headroom, then fewer collectives, then fewer pipeline stages; a plan outside that band never
// moves ahead of the best, whatever its memory.
#include <gtest/gtest.h>

#include "planner/near_ties.h"
#include "tests/unit/planner_fixtures.h"

namespace shardrt::planner {
namespace {

using config::StrategyConfig;
using planner::testing::oneNode;

struct Fixture {
  config::Deployment d;
  ClusterConfig cluster = oneNode(4);
  PlannerOptions options;
  Objective latency;
  Fixture() {
    auto& m = d.model;
    m.layers = 4;
    m.hidden = 64;
    m.heads = m.kv_heads = 4;
    m.head_dim = 16;
    m.ffn_hidden = 128;
    d.workload = {8, 32, DType::F32};
    latency.kind = ObjectiveKind::Latency;
  }
  // A plan of these degrees whose predicted latency and memory are as given.
  RankedPlan plan(const PlanCostModel& costs, StrategyConfig s, double latency,
                  double memory_gb) const {
    RankedPlan p{buildCandidate(costs, d.model, d.workload, cluster, options, s), {}};
    p.cost = costs.estimate(p.candidate);
    p.cost.latency_seconds = latency;
    p.cost.max_memory_bytes = memory_gb * 1e9;
    p.cost.max_memory_limit_bytes = 72e9;
    return p;
  }
};

TEST(NearTies, MemoryHeadroomDecidesOnlyWithinNoise) {
  const Fixture f;
  const PlanCostModel costs(f.d.model, f.d.workload, f.cluster, f.options);
  std::vector<RankedPlan> plans = {
      f.plan(costs, {1, 1, 1, 4, 1}, 1.000, 60),  // the fastest, least room
      f.plan(costs, {2, 1, 1, 2, 1}, 1.015, 30),  // within 2%, much more room
      f.plan(costs, {4, 1, 1, 1, 1}, 1.030, 5),   // outside the band: stays behind
  };
  const TieBreak t = breakNearTies(costs, f.latency, plans);
  EXPECT_EQ(t.plans, 2);
  EXPECT_EQ(t.decided_by, "memory headroom");
  EXPECT_DOUBLE_EQ(t.fastest_value, 1.0);
  EXPECT_EQ(plans[0].candidate.strategy.tp, 2);
  EXPECT_EQ(plans[1].candidate.strategy.tp, 1);
  EXPECT_EQ(plans[2].candidate.strategy.tp, 4) << "a plan 3% slower moved into the band";
}

TEST(NearTies, EqualRoomGoesToFewerCollectivesThenFewerStages) {
  const Fixture f;
  const PlanCostModel costs(f.d.model, f.d.workload, f.cluster, f.options);
  // Same memory step: tp 2 makes two all-reduces a layer, dp none.
  std::vector<RankedPlan> plans = {f.plan(costs, {2, 1, 1, 2, 1}, 1.000, 30.0),
                                   f.plan(costs, {1, 1, 1, 4, 1}, 1.010, 30.2)};
  EXPECT_GT(collectiveCalls(costs, plans[0].candidate), 0);
  EXPECT_EQ(collectiveCalls(costs, plans[1].candidate), 0);
  TieBreak t = breakNearTies(costs, f.latency, plans);
  EXPECT_EQ(t.decided_by, "fewer collectives");
  EXPECT_EQ(plans[0].candidate.strategy.dp, 4);
  EXPECT_EQ(plans[0].collective_calls, 0);

  // A stage sends one message a microbatch however deep the pipeline: the calls tie and the
  // stages decide.
  std::vector<RankedPlan> staged = {f.plan(costs, {1, 4, 1, 1, 1}, 1.000, 30.0),
                                    f.plan(costs, {1, 2, 1, 2, 1}, 1.010, 30.2)};
  ASSERT_EQ(collectiveCalls(costs, staged[0].candidate),
            collectiveCalls(costs, staged[1].candidate));
  t = breakNearTies(costs, f.latency, staged);
  EXPECT_EQ(t.decided_by, "fewer pipeline stages");
  EXPECT_EQ(staged[0].candidate.strategy.pp, 2);
}

TEST(NearTies, TheFastestStaysWhenItLeadsOnEveryPreference) {
  const Fixture f;
  const PlanCostModel costs(f.d.model, f.d.workload, f.cluster, f.options);
  std::vector<RankedPlan> plans = {f.plan(costs, {1, 1, 1, 4, 1}, 1.000, 10),
                                   f.plan(costs, {2, 1, 1, 2, 1}, 1.010, 40)};
  const TieBreak t = breakNearTies(costs, f.latency, plans);
  EXPECT_EQ(t.plans, 2);
  EXPECT_EQ(t.decided_by, "");
  EXPECT_EQ(plans[0].candidate.strategy.dp, 4);
}

}  // namespace
}  // namespace shardrt::planner
