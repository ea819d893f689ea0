// The planner's cost model against hand-computed values and the properties it must keep.
#include <gtest/gtest.h>

#include "planner/cost_model.h"

namespace shardrt::planner {
namespace {

TEST(CostModel, OpIsBoundByTheSlowerOfArithmeticAndMemory) {
  const DeviceRates d{1e12, 1e11};                 // 1 TFLOP/s, 100 GB/s
  EXPECT_DOUBLE_EQ(opSeconds(4e12, 1e9, d), 4.0);  // compute-bound
  EXPECT_DOUBLE_EQ(opSeconds(1e9, 3e11, d), 3.0);  // memory-bound
  EXPECT_THROW(opSeconds(1, 1, DeviceRates{0, 1}), std::invalid_argument);
}

TEST(CostModel, CollectivesFollowTheRingAlphaBetaModel) {
  const LinkRates link{1e9, 1e-6};  // 1 GB/s, 1 us
  const double bytes = 8e6;
  // All-reduce of 8 MB among 4: 2 * 3 steps of latency + 2 * 3/4 * 8 MB / 1 GB/s.
  EXPECT_NEAR(collectiveSeconds(Collective::AllReduce, bytes, 4, link), 6e-6 + 12e-3, 1e-12);
  EXPECT_NEAR(collectiveSeconds(Collective::AllGather, bytes, 4, link), 3e-6 + 6e-3, 1e-12);
  EXPECT_NEAR(collectiveSeconds(Collective::ReduceScatter, bytes, 8, link), 7e-6 + 7e-3, 1e-12);
  EXPECT_NEAR(collectiveSeconds(Collective::AllToAll, bytes, 2, link), 1e-6 + 4e-3, 1e-12);
  EXPECT_NEAR(collectiveSeconds(Collective::SendRecv, bytes, 2, link), 1e-6 + 8e-3, 1e-12);
  for (auto op : {Collective::AllReduce, Collective::AllGather, Collective::AllToAll}) {
    EXPECT_EQ(collectiveSeconds(op, bytes, 1, link), 0.0);  // one rank moves nothing
  }
}

TEST(CostModel, BusFactorsAreNcclTestsOnes) {
  EXPECT_DOUBLE_EQ(busFactor(Collective::AllReduce, 8), 2.0 * 7 / 8);
  EXPECT_DOUBLE_EQ(busFactor(Collective::AllGather, 8), 7.0 / 8);
  EXPECT_DOUBLE_EQ(busFactor(Collective::ReduceScatter, 2), 0.5);
  EXPECT_DOUBLE_EQ(busFactor(Collective::SendRecv, 2), 1.0);
}

TEST(CostModel, HierarchicalAllReduceSendsOnlyAShareAcrossNodes) {
  const LinkRates nvlink{400e9, 2e-6}, network{50e9, 10e-6};
  const double bytes = 1e9;
  const double hier = hierarchicalAllReduceSeconds(bytes, 8, 2, nvlink, network);
  // Inside: reduce-scatter + all-gather of 1 GB among 8; across: all-reduce of 125 MB among 2.
  const double want = 2 * (7 * 2e-6 + 7.0 / 8 * bytes / 400e9) + (2 * 10e-6 + 125e6 / 50e9);
  EXPECT_NEAR(hier, want, 1e-12);
  // Cheaper than one flat ring over all 16 GPUs at the network's speed.
  EXPECT_LT(hier, collectiveSeconds(Collective::AllReduce, bytes, 16, network));
}

TEST(CostModel, BubbleShrinksWithMicrobatches) {
  EXPECT_DOUBLE_EQ(pipelineBubble(1, 1), 0.0);
  EXPECT_DOUBLE_EQ(pipelineBubble(2, 1), 0.5);
  EXPECT_DOUBLE_EQ(pipelineBubble(2, 2), 1.0 / 3);
  EXPECT_DOUBLE_EQ(pipelineBubble(4, 13), 3.0 / 16);
  EXPECT_THROW(pipelineBubble(2, 0), std::invalid_argument);
}

TEST(CostModel, MoeFlopsCountTheChosenExpertsNotAllOfThem) {
  // Mixtral-like: 8 experts, top-2, hidden 4096, expert ffn 14336, swiglu.
  const double tokens = 1000;
  const double per_expert = 2.0 * 3 * 4096.0 * 14336.0;
  const double router = 2.0 * 4096 * 8;
  EXPECT_DOUBLE_EQ(moeFfnFlops(tokens, 4096, 8, 2, 14336, 0, true),
                   tokens * (router + 2 * per_expert));
  // A quarter of what counting all 8 experts would give (the estimate other tools shipped).
  EXPECT_LT(moeFfnFlops(tokens, 4096, 8, 2, 14336, 0, true), 0.3 * tokens * 8 * per_expert);
  // Shared experts run for every token; gelu FFNs have two matrices.
  EXPECT_DOUBLE_EQ(moeFfnFlops(1, 64, 4, 1, 32, 1, false), 2.0 * 64 * 4 + 2 * (2.0 * 2 * 64 * 32));
}

}  // namespace
}  // namespace shardrt::planner
