// The memory estimate: weights exactly as the specs add up, shares that shrink as the model
// is split, and redundant expert copies that cost their weights.
#include <gtest/gtest.h>

#include "runtime/memory_estimate.h"
#include "runtime/model_weights.h"

namespace shardrt {
namespace {

config::Deployment deployment(int tp, int ep, bool moe) {
  config::Deployment d;
  d.model.layers = 4;
  d.model.hidden = 64;
  d.model.heads = 8;
  d.model.kv_heads = 8;
  d.model.head_dim = 8;
  d.model.ffn_hidden = 256;
  if (moe) d.model.moe = {8, 2, 96, config::RouterScoring::Softmax, true, 0, 0.0, 1};
  d.workload.batch_size = 4;
  d.workload.seq_len = 16;
  d.strategy.tp = tp;
  d.strategy.ep = ep;
  return d;
}

TEST(MemoryEstimate, WeightsAreTheSumOfTheRanksWeightSpecs) {
  const auto d = deployment(2, 2, true);
  const auto plan = config::makePlan(d);
  const config::ParallelLayout layout(2, 1, 1, 1, 2);
  std::size_t expect = 0;
  for (const auto& s : shardWeightSpecs(d.model, ShardHoldings::of(plan, 1, 0, 1))) {
    expect += static_cast<std::size_t>(s.localNumel()) * 4;
  }
  const MemoryEstimate e = estimateMemory(d, plan, layout);
  EXPECT_EQ(e.weight_bytes, expect);
  EXPECT_GT(e.activation_bytes, 0u);
  EXPECT_EQ(e.total(), e.weight_bytes + e.activation_bytes);
}

TEST(MemoryEstimate, SplittingShrinksEachRanksShare) {
  const auto one = deployment(1, 1, false), two = deployment(2, 1, false);
  const auto e1 = estimateMemory(one, config::makePlan(one), config::ParallelLayout(1, 1, 1, 0));
  const auto e2 = estimateMemory(two, config::makePlan(two), config::ParallelLayout(2, 1, 1, 0));
  EXPECT_LT(e2.weight_bytes, e1.weight_bytes);
  EXPECT_GT(e2.weight_bytes, e1.weight_bytes / 2);  // norms are replicated
  EXPECT_LT(e2.activation_bytes, e1.activation_bytes);
  const auto moe = deployment(1, 1, true);
  EXPECT_GT(estimateMemory(moe, config::makePlan(moe), config::ParallelLayout(1, 1, 1, 0))
                .activation_bytes,
            e1.activation_bytes);  // the exchange buffers of top_k slots per token
}

TEST(MemoryEstimate, EveryExpertCopyCostsItsWeights) {
  auto d = deployment(2, 2, true);  // 4 MoE layers, swiglu experts of 96 x 64
  const config::ParallelLayout ep_rank1(2, 1, 1, 1, 2);
  d.plan.expert_placement = {{0, 1, 2, 3}, {4, 5, 6, 7}};
  const auto single = estimateMemory(d, config::makePlan(d), ep_rank1);
  d.plan.expert_placement = {{0, 1, 2, 3}, {4, 5, 6, 7, 0, 3}};
  const auto copies = estimateMemory(d, config::makePlan(d), ep_rank1);
  const std::size_t per_expert = 4 * 3 * 96 * 64 * sizeof(float);  // layers x gate, up, down
  EXPECT_EQ(copies.weight_bytes, single.weight_bytes + 2 * per_expert);
}

// Generation: the first stage holds its vocabulary block of the embedding, the last its block
// of the LM head (tied: the same rows), and every rank a KV cache of its layers, kv heads and
// replica rows, sized as the executor allocates it.
TEST(MemoryEstimate, GenerationCountsTheVocabularyBlocksAndTheKvCache) {
  auto d = deployment(2, 1, false);
  d.model.vocab = 101;
  d.strategy.pp = 2;
  d.strategy.dp = 2;
  const auto plan = config::makePlan(d);
  for (int rank = 0; rank < 8; ++rank) {
    const config::ParallelLayout layout(2, 2, 2, rank, 1);
    const auto& shard = plan.tp_shards[layout.tpRank()];
    const std::size_t layers = plan.stages[layout.ppRank()].layers.size();
    const std::size_t rows = plan.dp_batches[layout.dpRank()].size();
    const std::size_t kv = 2 * layers * rows * 16 * shard.kv_heads.size() * 8 * 4;
    const MemoryEstimate run = estimateMemory(d, plan, layout);
    const MemoryEstimate generate = estimateMemory(d, plan, layout, 7);
    EXPECT_EQ(generate.kv_cache_bytes, kv) << "rank " << rank;
    EXPECT_EQ(run.kv_cache_bytes, 0u);
    // Exactly one of the embedding (first stage) and the LM head (last stage), pp being 2.
    EXPECT_EQ(generate.weight_bytes - run.weight_bytes,
              static_cast<std::size_t>(shard.vocab.size()) * 64 * 4)
        << "rank " << rank;
    EXPECT_EQ(generate.total(),
              generate.weight_bytes + generate.activation_bytes + generate.kv_cache_bytes);
  }
}

}  // namespace
}  // namespace shardrt
