// One plan's predicted cost (planner/plan_cost) against the formulas of docs/planner.md,
// computed here by hand from the same rates.
#include <gtest/gtest.h>

#include "config/deployment.h"
#include "planner/expert_balance.h"
#include "planner/plan_cost.h"
#include "planner_fixtures.h"
#include "runtime/model_weights.h"

namespace shardrt::planner {
// The planner reads the config layer's values: Deployment, Plan, Range, the limits.
using namespace shardrt::config;
namespace {

using testing::oneNode;

ModelConfig denseModel() {
  ModelConfig m;
  m.layers = 8;
  m.hidden = 1024;
  m.heads = m.kv_heads = 8;
  m.head_dim = 128;
  m.ffn_hidden = 4096;
  return m;
}

Candidate candidate(StrategyConfig s, std::vector<Range> stages, std::vector<int> rows) {
  Candidate c;
  c.strategy = s;
  c.stages = std::move(stages);
  c.dp_batch = std::move(rows);
  return c;
}

// GPipe, forward only: sum of the stages plus (m - 1) times the slowest; the bubble formula.
TEST(PlanCost, PipelineComposesStagesAsGpipe) {
  const ModelConfig m = denseModel();
  const WorkloadConfig w{8, 256, DType::BF16};
  const PlanCostModel costs(m, w, oneNode(2), {});
  const PlanCost cost = costs.estimate(candidate({1, 2, 1, 1, 4}, {{0, 3}, {3, 8}}, {8}), true);
  ASSERT_EQ(cost.stage_seconds.size(), 2u);
  const double t0 = cost.stage_seconds[0], t1 = cost.stage_seconds[1];
  EXPECT_GT(t1, t0);  // 5 layers against 3
  EXPECT_NEAR(cost.latency_seconds, t0 + t1 + 3 * t1, 1e-12 * cost.latency_seconds);
  EXPECT_NEAR(cost.tokens_per_second, 8.0 * 256 / (4 * t1), 1e-9 * cost.tokens_per_second);
  EXPECT_DOUBLE_EQ(cost.bubble, 1.0 / 5);
  EXPECT_EQ(cost.ranks[1].stage, 1);
}

// Tensor parallelism halves each rank's GEMM and attention work and adds two all-reduces per layer,
// priced by the ring formula over the intra-node link.
TEST(PlanCost, TensorParallelLayerHalvesComputeAndAddsAllReduces) {
  const ModelConfig m = denseModel();
  const WorkloadConfig w{4, 512, DType::BF16};
  const ClusterConfig c = oneNode(2);
  const PlanCostModel costs(m, w, c, {});
  const LayerSeconds one =
      costs.layerSeconds(c.groups[0], {1, 1, 1, 1, 1}, 4, false, false, false, {}, {});
  const LayerSeconds two =
      costs.layerSeconds(c.groups[0], {2, 1, 1, 1, 1}, 4, false, false, false, {}, {});
  EXPECT_EQ(one.comm, 0.0);
  const double bytes = 4.0 * 512 * 1024 * 2;
  EXPECT_NEAR(two.comm,
              2 * collectiveSeconds(Collective::AllReduce, bytes, 2, c.groups[0].intra_node),
              1e-15);
  // Projections, attention and the MLP halve; norms and residual adds run on the whole
  // hidden on every tp rank (as the runtime does), so the layer lands a little above half.
  EXPECT_LT(two.compute, 0.75 * one.compute);
  EXPECT_GT(two.compute, 0.5 * one.compute);
}

// An ep rank holding the hot experts sets the MoE layer's time; a balanced placement of the
// same loads is faster, and its memory counts the copies.
TEST(PlanCost, ExpertImbalanceSlowsTheLayer) {
  ModelConfig m = denseModel();
  m.moe.experts = 8;
  m.moe.top_k = 2;
  m.moe.expert_ffn_hidden = 2048;
  const WorkloadConfig w{8, 512, DType::BF16};
  PlannerOptions o;
  o.expert_loads = {{0.4, 0.2, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05}};
  const ClusterConfig c = oneNode(4);
  const PlanCostModel costs(m, w, c, o);
  const StrategyConfig s{1, 1, 4, 4, 1};
  Candidate plain = candidate(s, {{0, 8}}, {2, 2, 2, 2});
  plain.expert_placement = contiguousPlacement(8, 4).ranks;
  Candidate balanced = plain;
  balanced.expert_placement = balanceExperts(costs.expertLoads(), 4, 4).ranks;
  const PlanCost a = costs.estimate(plain, true), b = costs.estimate(balanced, true);
  EXPECT_NEAR(a.expert_imbalance, (0.6) / 0.25, 1e-9);  // rank 0 holds experts 0 and 1
  EXPECT_LT(b.expert_imbalance, 1.05);
  EXPECT_LT(b.latency_seconds, a.latency_seconds);
  EXPECT_GT(b.ranks[0].weight_bytes, a.ranks[0].weight_bytes);  // 3 slots per rank, not 2
}

TEST(PlanCost, MemoryOverTheLimitDoesNotFit) {
  const ModelConfig m = denseModel();
  const WorkloadConfig w{8, 256, DType::F32};
  ClusterConfig c = oneNode(1);
  const PlanCostModel roomy(m, w, c, {});
  EXPECT_TRUE(roomy.estimate(candidate({1, 1, 1, 1, 1}, {{0, 8}}, {8})).fits);
  c.groups[0].gpu.memory_bytes = 100e6;  // the weights alone are ~400 MB
  const PlanCostModel tight(m, w, c, {});
  const PlanCost cost = tight.estimate(candidate({1, 1, 1, 1, 1}, {{0, 8}}, {8}));
  EXPECT_FALSE(cost.fits);
  EXPECT_GT(cost.max_memory_bytes, 100e6 * 0.9);
  EXPECT_DOUBLE_EQ(cost.max_memory_limit_bytes, 100e6 * 0.9);
}

// The planner sizes each family's weights as the runtime holds them: q/k/v biases (Qwen2),
// q/k norms (Qwen3), a shared expert of its own width with its gate (Qwen2-MoE), Llama 3.1,
// GLM-4.5 and a DeepSeek-style MoE (the fp32 choice bias, the dense first layer).
// The runtime's count is the sum of the weights it materialises (runtime/model_weights.h).
TEST(PlanCost, WeightBytesOfEachFamilyAreWhatTheRuntimeHolds) {
  for (const char* example : {"tiny-llama31-hf", "tiny-qwen2-hf", "tiny-qwen3-hf",
                              "tiny-qwen3-moe-hf", "tiny-qwen2-moe-hf", "tiny-mixtral-hf",
                              "tiny-glm4-moe-hf", "tiny-deepseek-moe"}) {
    const Deployment d = loadDeployment(std::string(SHARDRT_EXAMPLES) + "/" + example + ".json");
    const ModelConfig& m = d.model;
    double held = 0.0;
    for (const auto& spec : shardWeightSpecs(m, ShardHoldings::whole(m))) {
      if (spec.name.rfind("model.norm.", 0) != 0) held += 4.0 * spec.localNumel();
    }
    const PlanCostModel costs(m, d.workload, oneNode(1), {});
    StrategyConfig whole;
    const int experts = m.hasMoe() ? m.moe.experts : 0;
    EXPECT_DOUBLE_EQ(costs.weightBytes(whole, {0, m.layers}, experts), held) << example;
  }
}

}  // namespace
}  // namespace shardrt::planner
