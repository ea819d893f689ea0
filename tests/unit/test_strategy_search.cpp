// The planner's search (planner/strategy_search): it never emits a plan the runtime would
// refuse, never misses one (against a brute-force count over every degree), picks what a
// brute-force evaluation of the same cost model picks, balances heterogeneous GPUs, and says
// which constraint failed when nothing fits.
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <set>
#include <tuple>

#include "common/errors.h"
#include "planner/layer_partition.h"
#include "planner/near_ties.h"
#include "planner/plan_explain.h"
#include "planner/strategy_search.h"

namespace shardrt::planner {
// The planner reads the config layer's values: Deployment, Plan, Range, the limits.
using namespace shardrt::config;
namespace {

using Degrees = std::tuple<int, int, int, int, int>;  // tp, pp, ep, dp, microbatches

Degrees degreesOf(const StrategyConfig& s) { return {s.tp, s.pp, s.ep, s.dp, s.microbatches}; }

GpuGroup gpuGroup(const std::string& name, int nodes, int per_node, double tflops) {
  GpuGroup g;
  g.name = name;
  g.nodes = nodes;
  g.gpus_per_node = per_node;
  g.gpu.memory_bytes = 80e9;
  g.gpu.flops_fp32 = tflops * 1e12;
  g.gpu.flops_bf16 = 2 * tflops * 1e12;
  g.gpu.memory_bytes_per_second = 2e12;
  g.intra_node = {300e9, 3e-6};
  return g;
}

struct Case {
  Deployment d;
  PlanningInput in;
};

Case randomCase(std::mt19937& rng) {
  auto pick = [&](int lo, int hi) { return lo + static_cast<int>(rng() % (hi - lo + 1)); };
  Case c;
  auto& m = c.d.model;
  m.layers = pick(1, 8);
  m.kv_heads = pick(1, 4);
  m.heads = m.kv_heads * pick(1, 3);
  m.head_dim = 2 * pick(1, 8);
  m.hidden = m.heads * m.head_dim;
  m.ffn_hidden = pick(1, 24);
  if (rng() % 2) {
    m.moe.experts = pick(1, 8);
    m.moe.top_k = pick(1, m.moe.experts);
    m.moe.expert_ffn_hidden = pick(1, 12);
    m.moe.shared_experts = pick(0, 2);
    m.moe.every = pick(1, std::min(2, m.layers));
  }
  c.d.workload = {pick(1, 12), pick(1, 9), DType::F32};
  c.in.cluster.groups.push_back(gpuGroup("a", pick(1, 2), pick(1, 4), 10));
  if (rng() % 3 == 0) c.in.cluster.groups.push_back(gpuGroup("b", pick(1, 2), pick(1, 4), 5));
  c.in.cluster.inter_node = {25e9, 8e-6};
  c.in.cluster.tp_across_nodes = rng() % 4 == 0;
  c.in.options.max_microbatches = pick(1, 6);
  if (m.hasMoe() && rng() % 2) c.in.options.redundant_experts = pick(1, 4);
  return c;
}

// Everything the runtime checks when it reads the plan the planner writes.
std::string runtimeRefuses(const Deployment& d, const Candidate& cand) {
  try {
    const Deployment planned = withCandidate(d, cand);
    checkRules(planned);
    checkWorldSize(planned, cand.strategy.worldSize());
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

// The brute force: every tp, pp, dp, ep, microbatches from 1 to the GPU count with
// tp*pp*dp = GPUs, kept when the runtime accepts its plan (the rows split as evenly as the
// microbatches allow), its tp groups stay in a node (unless allowed), and the planner's
// policy holds (ep <= experts, microbatches <= the maximum).
std::set<Degrees> bruteForce(const Case& c, const PlanCostModel& costs) {
  const int gpus = c.in.cluster.gpus();
  const auto& m = c.d.model;
  std::set<Degrees> valid;
  for (int tp = 1; tp <= gpus; ++tp) {
    for (int pp = 1; pp <= gpus; ++pp) {
      for (int dp = 1; dp <= gpus; ++dp) {
        if (tp * pp * dp != gpus) continue;
        for (int ep = 1; ep <= gpus; ++ep) {
          for (int mb = 1; mb <= gpus + 6; ++mb) {
            const StrategyConfig s{tp, pp, ep, dp, mb};
            if (mb > c.in.options.max_microbatches) continue;
            if (m.hasMoe() && ep > m.moe.experts) continue;
            bool in_node = true;
            for (int first = 0; first < gpus && !c.in.cluster.tp_across_nodes; first += tp) {
              in_node =
                  in_node && c.in.cluster.nodeOf(first) == c.in.cluster.nodeOf(first + tp - 1);
            }
            if (!in_node) continue;
            Candidate cand;
            cand.strategy = s;
            if (pp > m.layers) continue;  // no split of the layers to hand to the runtime
            std::vector<double> unit(m.layers, 1.0), speed(pp, 1.0), fixed(pp, 0.0);
            cand.stages = partitionLayers(unit, speed, fixed);
            if (m.hasMoe()) {
              for (int r = 0; r < ep; ++r) {
                cand.expert_placement.emplace_back();
                for (int e = r; e < m.moe.experts; e += ep)
                  cand.expert_placement.back().push_back(e);
              }
            }
            const int b = c.d.workload.batch_size;
            if (b % mb == 0 && b / mb >= dp) {
              cand.dp_batch = splitRows(b, mb, std::vector<double>(dp, 1.0));
            } else {
              cand.dp_batch.assign(dp, b / dp);  // the runtime must refuse this
            }
            if (runtimeRefuses(c.d, cand).empty()) valid.insert(degreesOf(s));
          }
        }
      }
    }
  }
  (void)costs;
  return valid;
}

TEST(StrategySearch, NeverEmitsAPlanTheRuntimeRefusesNorMissesOne) {
  std::mt19937 rng(11);
  int compared = 0, nonempty = 0;
  for (int trial = 0; trial < 150; ++trial) {
    const Case c = randomCase(rng);
    const PlanCostModel costs(c.d.model, c.d.workload, c.in.cluster, c.in.options);
    const auto strategies = validStrategies(c.d.model, c.d.workload, c.in.cluster, c.in.options);
    std::set<Degrees> found;
    for (const auto& s : strategies) {
      EXPECT_TRUE(found.insert(degreesOf(s)).second) << "emitted twice";
      EXPECT_EQ(ruleBroken(c.d.model, c.d.workload, c.in.cluster, c.in.options, s), "");
      const Candidate cand =
          buildCandidate(costs, c.d.model, c.d.workload, c.in.cluster, c.in.options, s);
      const std::string refused = runtimeRefuses(c.d, cand);
      EXPECT_EQ(refused, "") << "trial " << trial << ": tp " << s.tp << " pp " << s.pp << " ep "
                             << s.ep << " dp " << s.dp << " mb " << s.microbatches;
    }
    EXPECT_EQ(found, bruteForce(c, costs)) << "trial " << trial;
    ++compared;
    nonempty += found.empty() ? 0 : 1;
    if (::testing::Test::HasFailure()) return;
  }
  EXPECT_GT(nonempty, compared / 3) << "the random cases should mostly have plans";
}

TEST(StrategySearch, PicksWhatBruteForceEvaluationPicks) {
  std::mt19937 rng(5);
  for (int trial = 0; trial < 60; ++trial) {
    Case c = randomCase(rng);
    c.in.objective.kind = trial % 2 ? ObjectiveKind::Throughput : ObjectiveKind::Latency;
    const PlanCostModel costs(c.d.model, c.d.workload, c.in.cluster, c.in.options);
    const auto valid = validStrategies(c.d.model, c.d.workload, c.in.cluster, c.in.options);
    if (valid.empty()) continue;
    // Every plan that fits, ranked by the objective, the near-ties then broken.
    std::vector<RankedPlan> all;
    for (const auto& s : valid) {
      RankedPlan p{buildCandidate(costs, c.d.model, c.d.workload, c.in.cluster, c.in.options, s),
                   {}};
      p.cost = costs.estimate(p.candidate);
      if (p.cost.fits) all.push_back(p);
    }
    if (all.empty()) continue;
    std::sort(all.begin(), all.end(),
              [&](const auto& a, const auto& b) { return betterPlan(a, b, c.in.objective); });
    const TieBreak ties = breakNearTies(costs, c.in.objective, all);
    const SearchResult r = searchPlans(c.d, c.in, 3);
    ASSERT_FALSE(r.top.empty());
    EXPECT_EQ(degreesOf(r.top[0].candidate.strategy), degreesOf(all[0].candidate.strategy))
        << "trial " << trial;
    EXPECT_EQ(r.ties.plans, ties.plans);
    for (std::size_t i = std::max<std::size_t>(1, ties.plans); i < r.top.size(); ++i) {
      EXPECT_FALSE(betterPlan(r.top[i], r.top[i - 1], c.in.objective)) << "top list out of order";
    }
  }
}

// Twice-as-fast GPUs take twice the work, so predicted per-GPU times match within 10%.
TEST(StrategySearch, HeterogeneousGpusGetWorkInProportionToSpeed) {
  Deployment d;
  d.model.layers = 24;
  d.model.hidden = 256;
  d.model.heads = d.model.kv_heads = 4;
  d.model.head_dim = 64;
  d.model.ffn_hidden = 1024;
  d.workload = {12, 64, DType::F32};
  PlanningInput in;
  in.cluster.groups = {gpuGroup("fast", 1, 1, 20), gpuGroup("slow", 1, 1, 10)};
  in.cluster.inter_node = {25e9, 8e-6};
  const PlanCostModel costs(d.model, d.workload, in.cluster, in.options);
  for (const StrategyConfig s : {StrategyConfig{1, 2, 1, 1, 4}, StrategyConfig{1, 1, 1, 2, 1}}) {
    const Candidate c = buildCandidate(costs, d.model, d.workload, in.cluster, in.options, s);
    const PlanCost cost = costs.estimate(c, true);
    if (s.pp == 2) {
      EXPECT_GT(c.stages[0].size(), c.stages[1].size());
    } else {
      EXPECT_GT(c.dp_batch[0], c.dp_batch[1]);
    }
    EXPECT_LE(busyMaxOverMean(cost), 1.10) << "pp " << s.pp << " dp " << s.dp;
    EXPECT_NEAR(cost.busy_imbalance, busyMaxOverMean(cost), 1e-9);  // cells agree with GPUs
  }
}

TEST(StrategySearch, NothingFitsNamesTheMemoryNeed) {
  Deployment d;
  d.model.layers = 80;
  d.model.hidden = 8192;
  d.model.heads = d.model.kv_heads = 64;
  d.model.head_dim = 128;
  d.model.ffn_hidden = 28672;
  d.workload = {8, 128, DType::BF16};
  PlanningInput in;
  in.cluster.groups = {gpuGroup("small", 1, 2, 10)};
  in.cluster.groups[0].gpu.memory_bytes = 40e9;  // 2 x 40 GB for ~140 GB of weights
  try {
    searchPlans(d, in, 3);
    FAIL() << "a 70B-class model fitted in 80 GB";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), "cluster");
    EXPECT_NE(std::string(e.what()).find("the weights need 1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("the cluster has 67"), std::string::npos) << e.what();
  }
}

// Issue 18: a 70B-class model on 8 large and 8 small (9 GB) GPUs was refused ("no plan fits")
// because layers were split by time alone. Within each GPU's own memory, plans fit, and every
// GPU of each is within its own limit.
TEST(StrategySearch, MixedMemoryClusterSplitsByEachGpusMemory) {
  Deployment d;
  d.model.layers = 80;
  d.model.hidden = 8192;
  d.model.heads = 64;
  d.model.kv_heads = 8;
  d.model.head_dim = 128;
  d.model.ffn_hidden = 28672;
  d.workload = {16, 512, DType::BF16};
  PlanningInput in;
  in.cluster.groups = {gpuGroup("big", 1, 8, 400), gpuGroup("small", 1, 8, 400)};
  in.cluster.groups[1].gpu.memory_bytes = 9.0 * (1 << 30);
  in.cluster.inter_node = {25e9, 8e-6};
  const SearchResult r = searchPlans(d, in, 5);
  ASSERT_FALSE(r.top.empty());
  const PlanCostModel costs(d.model, d.workload, in.cluster, in.options);
  for (const RankedPlan& p : r.top) {
    const PlanCost detail = costs.estimate(p.candidate, true);
    EXPECT_TRUE(detail.fits);
    for (std::size_t g = 0; g < detail.ranks.size(); ++g) {
      EXPECT_LE(detail.ranks[g].memoryBytes(), detail.ranks[g].memory_limit_bytes) << "GPU " << g;
    }
    // The binding GPU is a small one: the share of its own memory, not the most bytes.
    EXPECT_EQ(in.cluster.groupOf(p.cost.max_memory_gpu).name, "small");
  }
}

// Rows over replicas within memory: two equally fast GPUs, one with little memory, split a
// batch whose activations do not fit half on the small one: it gets fewer rows, and fits.
TEST(StrategySearch, ReplicasTakeTheRowsTheirMemoryHolds) {
  Deployment d;
  d.model.layers = 2;
  d.model.hidden = 1024;
  d.model.heads = d.model.kv_heads = 8;
  d.model.head_dim = 128;
  d.model.ffn_hidden = 4096;
  d.workload = {16, 2048, DType::F32};
  PlanningInput in;
  in.cluster.groups = {gpuGroup("big", 1, 1, 20), gpuGroup("small", 1, 1, 20)};
  in.cluster.inter_node = {25e9, 8e-6};
  const PlanCostModel costs(d.model, d.workload, in.cluster, in.options);
  const StrategyConfig dp2{1, 1, 1, 2, 1};
  // The small GPU's memory: room for its weights and about a quarter of the batch.
  Candidate even = buildCandidate(costs, d.model, d.workload, in.cluster, in.options, dp2);
  const double weights = costs.weightBytes(dp2, {0, 2}, 0);
  const double quarter = costs.activationBytes(dp2, 4, 4, 1.0);
  in.cluster.groups[1].gpu.memory_bytes =
      (weights + quarter * 1.2) / (1 - in.cluster.memory_reserve);
  ASSERT_EQ(even.dp_batch, (std::vector<int>{8, 8})) << "equal GPUs of ample memory split evenly";
  const PlanCostModel tight(d.model, d.workload, in.cluster, in.options);
  const Candidate c = buildCandidate(tight, d.model, d.workload, in.cluster, in.options, dp2);
  EXPECT_GT(c.dp_batch[0], c.dp_batch[1]);
  EXPECT_EQ(c.dp_batch[0] + c.dp_batch[1], 16);
  EXPECT_TRUE(tight.estimate(c).fits);
}

TEST(StrategySearch, NoStrategyNamesTheRule) {
  Deployment d;
  d.model.layers = 1;
  d.model.hidden = 70;
  d.model.heads = d.model.kv_heads = 7;
  d.model.head_dim = 10;
  d.model.ffn_hidden = 7;
  d.workload = {1, 16, DType::F32};  // one sequence: no data parallelism either
  PlanningInput in;
  in.cluster.groups = {gpuGroup("g", 1, 4, 10)};
  try {
    searchPlans(d, in, 3);
    FAIL() << "found a plan for 7 heads on 4 GPUs with one sequence";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("no parallel strategy for 4 GPUs"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("batch 1 does not give 4 replicas"), std::string::npos)
        << e.what();
  }
}

// The scale: 4096 GPUs. The time is printed, not asserted (timed assertions do not
// belong in tests); docs/benchmarks.md records it.
TEST(StrategySearch, PlansFor4096Gpus) {
  Deployment d;
  d.model.layers = 61;
  d.model.hidden = 7168;
  d.model.heads = d.model.kv_heads = 128;
  d.model.head_dim = 128;
  d.model.ffn_hidden = 18432;
  d.model.moe = {256, 8, 2048, RouterScoring::Sigmoid, true, 1, 0.0, 1};
  d.workload = {4096, 4096, DType::BF16};
  PlanningInput in;
  in.cluster.groups = {gpuGroup("h100", 512, 8, 67)};
  in.cluster.inter_node = {50e9, 8e-6};
  in.options.redundant_experts = 32;
  const auto start = std::chrono::steady_clock::now();
  const SearchResult r = searchPlans(d, in, 5);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("4096 GPUs: %ld valid strategies searched in %.3f s\n", r.strategies, s);
  ASSERT_FALSE(r.top.empty());
  EXPECT_EQ(r.top[0].candidate.strategy.worldSize(), 4096);
}

}  // namespace
}  // namespace shardrt::planner
