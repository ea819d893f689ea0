// The planner's generation figures (issue 17, item 8; planner/plan_cost.h): the KV cache it
// counts is the runtime's, a decode step grows linearly with its context and is bound by the
// weights it streams, the largest batch it reports is the largest that fits, the generation
// objectives rank by their own figure and refuse what generate would refuse, and a measured
// generation's rounds become the steps the prediction prices (launch/generation_prediction.h).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/errors.h"
#include "config/plan.h"
#include "launch/generation_prediction.h"
#include "planner/plan_cost.h"
#include "planner/strategy_search.h"
#include "planner_fixtures.h"
#include "runtime/memory_estimate.h"

namespace shardrt::planner {
using namespace shardrt::config;
namespace {

using testing::oneNode;

// Hidden 1000, 10 heads (5 kv) of 100, 6 layers, vocab 5003: no size a multiple of a tile.
Deployment denseDeployment(int batch, int context) {
  Deployment d;
  ModelConfig& m = d.model;
  m.layers = 6;
  m.hidden = 1000;
  m.heads = 10;
  m.kv_heads = 5;
  m.head_dim = 100;
  m.ffn_hidden = 2700;
  m.vocab = 5003;
  d.workload = {batch, context, DType::BF16};
  return d;
}

Candidate candidateOf(const Deployment& d, const Plan& plan) {
  Candidate c;
  c.strategy = d.strategy;
  for (const auto& s : plan.stages) c.stages.push_back(s.layers);
  c.expert_placement = plan.expert_placement;
  for (const auto& rows : plan.dp_batches) c.dp_batch.push_back(rows.size());
  return c;
}

// Every replica's microbatches a decode step of `rows` sequences at `context`.
std::vector<std::vector<GenerationStep>> decodeSteps(const Candidate& c, double context) {
  std::vector<std::vector<GenerationStep>> steps(c.strategy.dp);
  for (int r = 0; r < c.strategy.dp; ++r) {
    const double rows = static_cast<double>(c.dp_batch[r]) / c.strategy.microbatches;
    steps[r].assign(c.strategy.microbatches, {rows, rows, rows * context});
  }
  return steps;
}

// The KV cache the planner counts on each stage is what the runtime allocates there (its
// memory estimate, runtime/memory_estimate.h, counts the executor's cache tensors).
TEST(GenerationCost, KvCacheIsTheRuntimes) {
  Deployment d = denseDeployment(12, 333);
  d.strategy = {2, 3, 1, 2, 2};
  const Plan plan = makePlan(d);
  const PlanCostModel costs(d.model, d.workload, oneNode(12), {});
  for (int rank = 0; rank < d.strategy.worldSize(); ++rank) {
    const ParallelLayout at(2, 3, 2, rank, 1);
    const double planned = costs.kvCacheBytes(d.strategy, plan.stages.at(at.ppRank()).layers,
                                              plan.dp_batches.at(at.dpRank()).size());
    EXPECT_DOUBLE_EQ(planned, static_cast<double>(kvCacheBytes(d, plan, at))) << "rank " << rank;
  }
  // Latent attention: one row of kv_rank + rope_dim a position, on every tp rank.
  Deployment latent = d;
  latent.model.mla.kv_rank = 37;
  latent.model.mla.rope_dim = 6;
  latent.model.mla.nope_dim = 94;
  latent.model.mla.v_dim = 70;
  ASSERT_TRUE(latent.model.mla.on());
  const PlanCostModel mla(latent.model, latent.workload, oneNode(12), {});
  for (int rank = 0; rank < latent.strategy.worldSize(); ++rank) {
    const ParallelLayout at(2, 3, 2, rank, 1);
    const config::Range layers = plan.stages.at(at.ppRank()).layers;
    const int rows = plan.dp_batches.at(at.dpRank()).size();
    const double planned = mla.kvCacheBytes(latent.strategy, layers, rows);
    EXPECT_DOUBLE_EQ(planned, static_cast<double>(layers.size()) * rows * 333 * 43 * 2);
    EXPECT_DOUBLE_EQ(planned, static_cast<double>(kvCacheBytes(latent, plan, at)));
  }
}

// Attention over the cache is the only part that grows with the context: equal steps of
// context cost equal time, and more context costs more.
TEST(GenerationCost, DecodeStepGrowsLinearlyWithContext) {
  Deployment d = denseDeployment(8, 4096);
  d.strategy = {2, 1, 1, 1, 1};
  const Plan plan = makePlan(d);
  const Candidate c = candidateOf(d, plan);
  const PlanCostModel costs(d.model, d.workload, oneNode(2), {});
  const double t1 = costs.roundSeconds(c, decodeSteps(c, 1000));
  const double t2 = costs.roundSeconds(c, decodeSteps(c, 2000));
  const double t3 = costs.roundSeconds(c, decodeSteps(c, 3000));
  EXPECT_GT(t2, t1);
  EXPECT_NEAR(t3 - t2, t2 - t1, 1e-9 * t3);
}

// A decode step's GEMMs read their weights once for a few rows: with a calibrated profile they
// run at its streaming rate, so halving that rate nearly doubles a decode step, while a
// prefill, bound by its FLOPs, hardly changes.
TEST(GenerationCost, DecodeIsBoundByTheWeightsItStreams) {
  Deployment d = denseDeployment(4, 2048);
  d.workload.dtype = DType::F32;
  d.strategy = {1, 1, 1, 1, 1};
  const Plan plan = makePlan(d);
  const Candidate c = candidateOf(d, plan);
  HardwareProfile profile;
  profile.backend = "cpu";
  for (long n : {64L, 256L, 1024L, 2048L})
    profile.gemm_fp32.push_back({n, n, n, 2.0 * n * n * n / 50e9});
  profile.attention_fp32.push_back({1, 512, 8, 64, 4.0 * 8 * 64 * 0.5 * 512 * 513 / 20e9});
  profile.memory_bytes_per_second = 20e9;
  profile.op_overhead_seconds = 1e-7;
  profile.gemm_stream_fp32 = 10e9;
  profile.cached_attention_fp32 = 10e9;
  ClusterConfig fast = oneNode(1), slow = oneNode(1);
  fast.groups[0].gpu.profile = profile;
  profile.gemm_stream_fp32 = 5e9;
  slow.groups[0].gpu.profile = profile;
  const PlanCostModel a(d.model, d.workload, fast, {}), b(d.model, d.workload, slow, {});
  const double decode_a = a.roundSeconds(c, decodeSteps(c, 512));
  const double decode_b = b.roundSeconds(c, decodeSteps(c, 512));
  EXPECT_GT(decode_b / decode_a, 1.8);
  const std::vector<std::vector<GenerationStep>> prefill = {{{4 * 512.0, 4, 4 * 512 * 513 / 2.0}}};
  EXPECT_LT(b.roundSeconds(c, prefill) / a.roundSeconds(c, prefill), 1.1);
}

// Under a generation objective a plan's per-GPU busy and communication times are a decode
// round's, not the forward's: on pp 2 each stage's GPUs carry their stage's share of the round,
// which (one microbatch, the stages in turn) adds up to the time per output token less the new
// tokens' hand-back to the first stage (one microbatch's turn through both stages and back is
// the overlapped round).
TEST(GenerationCost, PerGpuBusyIsADecodeRounds) {
  Deployment d = denseDeployment(4, 2048);
  d.strategy = {2, 2, 1, 1, 1};
  const Plan plan = makePlan(d);
  const Candidate c = candidateOf(d, plan);
  const ClusterConfig cluster = oneNode(4);
  const PlanCostModel forward(d.model, d.workload, cluster, {});
  const PlanCostModel decode(d.model, d.workload, cluster, {}, GenerationWorkload{512, 64});
  const PlanCost f = forward.estimate(c, true), g = decode.estimate(c, true);
  ASSERT_EQ(g.ranks.size(), 4u);
  double round = 0.0;
  for (int stage = 0; stage < 2; ++stage) {
    const RankCost& r = g.ranks[static_cast<std::size_t>(2 * stage)];
    EXPECT_EQ(r.busy_seconds, g.ranks[2 * stage + 1].busy_seconds) << "one tp group, one time";
    EXPECT_LT(r.busy_seconds, 0.2 * f.ranks[2 * stage].busy_seconds) << "a forward's, not a step's";
    round += r.busy_seconds + r.comm_seconds;
  }
  const double broadcast =
      collectiveSeconds(Collective::SendRecv, 4 * 4.0, 2, cluster.groups[0].intra_node);
  EXPECT_NEAR(round + broadcast, g.generation->time_per_output_token, 1e-12);
}

// Overlapped rounds (the runtime's default) are priced at the pipeline's period: with more
// microbatches than stages, the busiest stage's work over the round; lockstep adds the fill
// and drain and the tokens' broadcast. The prefill starts from an empty pipeline either way,
// less the broadcast when overlapped. With one stage the three agree.
TEST(GenerationCost, OverlappedRoundsArePricedAtThePipelinesPeriod) {
  using Pace = PlanCostModel::RoundPace;
  Deployment d = denseDeployment(8, 2048);
  d.strategy = {1, 2, 1, 1, 4};
  const Plan plan = makePlan(d);
  const Candidate c = candidateOf(d, plan);
  const ClusterConfig cluster = oneNode(2);
  const PlanCostModel costs(d.model, d.workload, cluster, {});
  EXPECT_TRUE(costs.roundsOverlap(d.strategy));
  const auto steps = decodeSteps(c, 700);
  std::vector<LayerSeconds> cells;
  const double steady = costs.roundSeconds(c, steps, &cells, Pace::Steady);
  ASSERT_EQ(cells.size(), 2u);
  EXPECT_NEAR(steady, std::max(cells[0].total(), cells[1].total()), 1e-12 * steady);
  const double lockstep = costs.roundSeconds(c, steps, nullptr, Pace::Lockstep);
  const double fill = costs.roundSeconds(c, steps, nullptr, Pace::Fill);
  // Four microbatches over two stages: a lockstep round is about five steps, an overlapped one
  // four (the stages are not equal: the last holds the LM head).
  EXPECT_GT(lockstep / steady, 1.1);
  EXPECT_LT(lockstep / steady, 5.0 / 4.0 * 1.1);
  EXPECT_NEAR(lockstep - fill,
              collectiveSeconds(Collective::SendRecv, 8 * 4.0, 2, cluster.groups[0].intra_node),
              1e-12 * lockstep);
  // One microbatch: its turn through both stages and back.
  Deployment one = d;
  one.strategy.microbatches = 1;
  const Candidate c1 = candidateOf(one, makePlan(one));
  std::vector<LayerSeconds> cells1;
  const double turn = costs.roundSeconds(c1, decodeSteps(c1, 700), &cells1, Pace::Steady);
  EXPECT_NEAR(turn,
              cells1[0].total() + cells1[1].total() +
                  collectiveSeconds(Collective::SendRecv, 8 * 4.0, 2, cluster.groups[0].intra_node),
              1e-12 * turn);
  // One stage.
  Deployment flat = d;
  flat.strategy.pp = 1;
  const Candidate cf = candidateOf(flat, makePlan(flat));
  const auto flat_steps = decodeSteps(cf, 700);
  const double a = costs.roundSeconds(cf, flat_steps, nullptr, Pace::Steady);
  EXPECT_NEAR(a, costs.roundSeconds(cf, flat_steps, nullptr, Pace::Lockstep), 1e-12 * a);
  EXPECT_NEAR(a, costs.roundSeconds(cf, flat_steps, nullptr, Pace::Fill), 1e-12 * a);
  // An expert-parallel group wider than tp spans replicas: lockstep.
  Deployment moe = d;
  moe.model.moe.experts = 4;
  moe.model.moe.top_k = 2;
  moe.model.moe.expert_ffn_hidden = 300;
  moe.strategy = {1, 1, 2, 2, 1};
  const PlanCostModel moe_costs(moe.model, moe.workload, oneNode(2), {});
  EXPECT_FALSE(moe_costs.roundsOverlap(moe.strategy));
  moe.strategy = {2, 1, 2, 1, 1};
  EXPECT_TRUE(moe_costs.roundsOverlap(moe.strategy));
}

// The largest batch reported fits, and one more microbatch per replica does not.
TEST(GenerationCost, LargestBatchFitsAndOneMoreDoesNot) {
  Deployment d = denseDeployment(4, 8192);
  d.strategy = {2, 2, 1, 1, 2};
  const GenerationWorkload g{1000, 200};
  const ClusterConfig c = oneNode(4, 400e6);
  auto priced = [&](int batch) {
    Deployment x = d;
    x.workload.batch_size = batch;
    const PlanCostModel costs(x.model, x.workload, c, {}, g);
    return costs.estimate(candidateOf(x, makePlan(x)));
  };
  const PlanCost at4 = priced(4);
  ASSERT_TRUE(at4.generation);
  const int largest = at4.generation->largest_batch;
  ASSERT_GE(largest, 4);
  ASSERT_EQ(largest % 2, 0);  // whole microbatches
  EXPECT_TRUE(priced(largest).fits);
  EXPECT_FALSE(priced(largest + 2).fits);
  EXPECT_EQ(priced(largest).generation->largest_batch, largest);
}

PlanningInput generationInput(const std::string& objective_json, const Deployment& d) {
  const nlohmann::json doc = {
      {"cluster",
       {{"groups",
         {{{"name", "h"},
           {"nodes", 1},
           {"gpus_per_node", 4},
           {"gpu",
            {{"memory_gib", 80},
             {"bf16_tflops", 900},
             {"fp32_tflops", 60},
             {"memory_bandwidth_gbps", 3000}}},
           {"intra_node", {{"bandwidth_gbps", 400}, {"latency_us", 3}}}}}}}},
      {"objective", nlohmann::json::parse(objective_json)}};
  return *planningInputOf(doc, ".", d);
}

// Each generation objective ranks the plans by its own figure; a bound on the time per token
// keeps only the plans within it.
TEST(GenerationCost, ObjectivesRankByTheirFigure) {
  Deployment d = denseDeployment(8, 2048);
  const auto figure = [](const PlanCost& c, const std::string& kind) {
    const GenerationCost& g = *c.generation;
    return kind == "time_to_first_token"     ? g.time_to_first_token
           : kind == "time_per_output_token" ? g.time_per_output_token
                                             : 1.0 / g.decode_tokens_per_second;
  };
  for (const std::string kind :
       {"time_to_first_token", "time_per_output_token", "decode_throughput"}) {
    const PlanningInput in = generationInput(
        R"({"optimize": ")" + kind + R"(", "prompt_tokens": 1500, "new_tokens": 300})", d);
    const SearchResult r = searchPlans(d, in, 50);
    ASSERT_GT(r.top.size(), 3u) << kind;
    for (std::size_t i = 1; i < r.top.size(); ++i) {
      EXPECT_LE(figure(r.top[i - 1].cost, kind), figure(r.top[i].cost, kind)) << kind << " " << i;
    }
  }
  const PlanningInput all = generationInput(
      R"({"optimize": "decode_throughput", "prompt_tokens": 1500, "new_tokens": 300})", d);
  const SearchResult unbounded = searchPlans(d, all, 200);
  std::vector<double> tpot;
  for (const auto& p : unbounded.top) tpot.push_back(p.cost.generation->time_per_output_token);
  std::sort(tpot.begin(), tpot.end());
  const double bound = tpot[tpot.size() / 2];
  char objective[160];
  std::snprintf(objective, sizeof objective,
                R"({"optimize": "decode_throughput", "prompt_tokens": 1500, "new_tokens": 300,
                    "max_time_per_output_token_ms": %.17g})",
                bound * 1e3);
  const SearchResult bounded = searchPlans(d, generationInput(objective, d), 200);
  ASSERT_FALSE(bounded.top.empty());
  EXPECT_LT(bounded.within_bound, unbounded.within_bound);
  for (const auto& p : bounded.top) {
    EXPECT_LE(p.cost.generation->time_per_output_token, bound * (1 + 1e-12));
  }
}

// What generate would refuse, and fields that belong to another objective, are refused with
// the field named.
TEST(GenerationCost, ObjectiveRefusesWhatGenerationCannotRun) {
  const Deployment d = denseDeployment(8, 2048);
  const auto refusal = [&](const std::string& objective, const Deployment& with) {
    try {
      generationInput(objective, with);
    } catch (const ConfigError& e) {
      return e.field() + ": " + e.rule();
    }
    return std::string("accepted");
  };
  EXPECT_EQ(refusal(R"({"optimize": "time_per_output_token", "prompt_tokens": 100})", d),
            "objective.new_tokens: is required by optimize time_per_output_token (the requests' "
            "prompt and new tokens)");
  EXPECT_NE(refusal(R"({"optimize": "latency", "prompt_tokens": 100})", d)
                .find("objective.prompt_tokens: describes generation"),
            std::string::npos);
  EXPECT_NE(refusal(R"({"optimize": "time_to_first_token", "prompt_tokens": 1, "new_tokens": 1,
                        "max_time_per_output_token_ms": 5})",
                    d)
                .find("objective.max_time_per_output_token_ms: is a bound on decode_throughput"),
            std::string::npos);
  EXPECT_EQ(refusal(R"({"optimize": "time_to_first_token", "prompt_tokens": 2000,
                        "new_tokens": 49})",
                    d),
            "objective.new_tokens: prompt_tokens + new_tokens (2000 + 49) must fit the KV "
            "cache's context, workload.seq_len (2048)");
  Deployment no_vocab = d;
  no_vocab.model.vocab = 0;
  EXPECT_EQ(refusal(R"({"optimize": "time_to_first_token", "prompt_tokens": 2, "new_tokens": 2})",
                    no_vocab),
            "objective.optimize: generation needs the model's vocabulary: set model.vocab_size");
  EXPECT_EQ(refusal(R"({"optimize": "decode_throughput", "prompt_tokens": 2000,
                        "new_tokens": 48})",
                    d),
            "accepted");
}

// The prediction prices the rounds the generation ran: the prompts packed in the prefill, then
// one token a request while it runs, each seeing its context (within the window).
TEST(GenerationCost, PredictionStepsFollowTheMeasuredRounds) {
  Deployment d = denseDeployment(4, 64);
  d.model.sliding_window = 6;
  d.strategy = {1, 1, 1, 2, 1};
  const Plan plan = makePlan(d);  // replicas of rows {0, 1} and {2, 3}
  const std::vector<GenerationRequest> requests = {
      {{1, 2, 3}, 4}, {{4, 5, 6, 7, 8}, 1}, {{9, 9, 9, 9, 9, 9, 9, 9}, 3}};
  GenerationResult result;
  result.last_round = {3, 0, 2};
  result.round_seconds = {1, 2, 3, 4};
  // Round 0: replica 0 packs 3 + 5 prompt tokens; keys min(p + 1, 6) each.
  auto steps = launch::stepsOfRound(d, plan, requests, result, 0);
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_EQ(steps[0][0].tokens, 8.0);
  EXPECT_EQ(steps[0][0].sequences, 2.0);
  EXPECT_EQ(steps[0][0].attention_pairs, (1 + 2 + 3) + (1 + 2 + 3 + 4 + 5));
  EXPECT_EQ(steps[1][0].attention_pairs, 1 + 2 + 3 + 4 + 5 + 6 + 6 + 6);
  // Round 2: request 1 is done; request 0's newest token sits at position 4 (5 keys), request
  // 2's at position 9 (the window's 6).
  steps = launch::stepsOfRound(d, plan, requests, result, 2);
  EXPECT_EQ(steps[0][0].tokens, 1.0);
  EXPECT_EQ(steps[0][0].attention_pairs, 5.0);
  EXPECT_EQ(steps[1][0].tokens, 1.0);
  EXPECT_EQ(steps[1][0].attention_pairs, 6.0);
  // Round 3: only request 0.
  steps = launch::stepsOfRound(d, plan, requests, result, 3);
  EXPECT_EQ(steps[0][0].tokens, 1.0);
  EXPECT_EQ(steps[1][0].tokens, 0.0);
}

}  // namespace
}  // namespace shardrt::planner
