// Generated weights: a shard's slice is exactly the corresponding part of the whole tensor,
// so sharded runs and the unsharded reference see identical values.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "config/plan.h"
#include "runtime/cpu_backend.h"
#include "runtime/model_input.h"
#include "runtime/model_weights.h"
#include "runtime/weight_generator.h"

namespace shardrt {
namespace {

config::Deployment deployment(int tp, config::NormKind norm, config::Activation act) {
  config::Deployment d;
  d.seed = 42;
  d.model.layers = 2;
  d.model.hidden = 24;
  d.model.heads = 8;
  d.model.kv_heads = 2;
  d.model.head_dim = 6;
  d.model.ffn_hidden = 40;
  d.model.norm = norm;
  d.model.activation = act;
  d.workload.batch_size = 1;
  d.workload.seq_len = 3;
  d.strategy.tp = tp;
  return d;
}

TEST(WeightGenerator, IsDeterministicAndKeyedBySeedAndName) {
  const WeightGenerator a(1, "w"), b(1, "w"), c(2, "w"), e(1, "v");
  for (std::uint64_t i : {0ull, 1ull, 12345ull}) {
    EXPECT_EQ(a.uniform(i), b.uniform(i));
    EXPECT_NE(a.uniform(i), c.uniform(i));
    EXPECT_NE(a.uniform(i), e.uniform(i));
  }
}

TEST(WeightGenerator, IsUniformOnMinusOneToOne) {
  const WeightGenerator g(3, "u");
  double sum = 0, sum_sq = 0;
  const int n = 100000;
  std::set<float> distinct;
  for (int i = 0; i < n; ++i) {
    const float u = g.uniform(i);
    ASSERT_GE(u, -1.0f);
    ASSERT_LT(u, 1.0f);
    sum += u;
    sum_sq += double(u) * u;
    distinct.insert(u);
  }
  EXPECT_NEAR(sum / n, 0.0, 0.01);         // mean 0, standard error 0.0018
  EXPECT_NEAR(sum_sq / n, 1.0 / 3, 0.01);  // variance of U(-1, 1) is 1/3
  EXPECT_GT(distinct.size(), n * 0.99);
}

class ShardSlices
    : public ::testing::TestWithParam<std::tuple<int, config::NormKind, config::Activation>> {};

TEST_P(ShardSlices, EqualThePartOfTheWholeTensorTheyCover) {
  const auto [tp, norm, act] = GetParam();
  config::Deployment d = deployment(tp, norm, act);
  d.model.moe = {4, 2, 12, config::RouterScoring::Softmax, true, 2, 0.0, 2};  // MoE in layer 1
  d.strategy.ep = 2;
  const config::Plan plan = config::makePlan(d);
  std::map<std::string, WeightSpec> whole;
  for (auto& w : shardWeightSpecs(d.model, ShardHoldings::whole(d.model))) whole[w.name] = w;
  std::set<std::string> covered;
  for (int t = 0; t < tp; ++t) {
    for (int e = 0; e < d.strategy.ep; ++e) {
      for (const auto& s : shardWeightSpecs(d.model, ShardHoldings::of(plan, t, 0, e))) {
        ASSERT_TRUE(whole.count(s.name)) << s.name;
        const WeightSpec& w = whole.at(s.name);
        ASSERT_EQ(s.global_shape, w.global_shape);
        covered.insert(s.name);
        const auto part = generateSlice(s, d.seed);
        const auto full = generateSlice(w, d.seed);
        const int cols = s.global_shape.back();
        const config::Range rows = s.slice.size() == 2 ? s.slice[0] : config::Range{0, 1};
        const config::Range cs = s.slice.back();
        std::size_t k = 0;
        for (int r = rows.begin; r < rows.end; ++r)
          for (int c = cs.begin; c < cs.end; ++c)
            ASSERT_EQ(part[k++], full[r * cols + c]) << s.name;
      }
    }
  }
  EXPECT_EQ(covered.size(), whole.size());  // every weight is held by some rank
  EXPECT_TRUE(covered.count("model.layers.1.mlp.experts.3.down_proj.weight"));
  EXPECT_TRUE(covered.count("model.layers.1.mlp.shared_experts.up_proj.weight"));
  EXPECT_TRUE(covered.count("model.layers.1.mlp.gate.weight"));
  EXPECT_FALSE(covered.count("model.layers.1.mlp.up_proj.weight"));  // MoE layer: no dense FFN
  EXPECT_TRUE(covered.count("model.layers.0.mlp.up_proj.weight"));
}

INSTANTIATE_TEST_SUITE_P(
    Shards, ShardSlices,
    ::testing::Combine(::testing::Values(1, 2, 4, 8),
                       ::testing::Values(config::NormKind::RmsNorm, config::NormKind::LayerNorm),
                       ::testing::Values(config::Activation::SwiGlu, config::Activation::Gelu)));

TEST(ModelInput, AReplicasRowsAreThoseRowsOfTheWholeInput) {
  auto d = deployment(1, config::NormKind::RmsNorm, config::Activation::SwiGlu);
  d.workload.batch_size = 5;
  CpuBackend be;
  const Tensor whole = makeModelInput(be, d);
  const Tensor part = makeModelInput(be, d, {2, 4});
  EXPECT_EQ(part.shape().str(), "[batch_size=2 (of 5), seq_len=3, hidden=24]");
  const long row = static_cast<long>(d.workload.seq_len) * d.model.hidden;
  for (long i = 0; i < part.numel(); ++i) {
    ASSERT_EQ(part.data<float>()[i], whole.data<float>()[2 * row + i]);
  }
}

TEST(ModelWeights, NamesAndShapesFollowHuggingFaceLlama) {
  const auto d = deployment(2, config::NormKind::RmsNorm, config::Activation::SwiGlu);
  const auto plan = config::makePlan(d);
  const auto s = layerWeightSpec(d.model, plan.tp_shards[1], 1, LayerWeight::QProj);
  EXPECT_EQ(s.name, "model.layers.1.self_attn.q_proj.weight");
  EXPECT_EQ(s.global_shape, (std::vector<int>{8 * 6, 24}));  // [out_features, in_features]
  EXPECT_EQ(s.slice[0], (config::Range{4 * 6, 8 * 6}));
  EXPECT_EQ(s.localShape().str(), "[out_features=24 (of 48), in_features=24]");
  const auto o = layerWeightSpec(d.model, plan.tp_shards[1], 0, LayerWeight::OProj);
  EXPECT_EQ(o.name, "model.layers.0.self_attn.o_proj.weight");
  EXPECT_EQ(o.slice[1], (config::Range{24, 48}));  // row-parallel: a column slice
  const auto down = layerWeightSpec(d.model, plan.tp_shards[0], 0, LayerWeight::DownProj);
  EXPECT_EQ(down.name, "model.layers.0.mlp.down_proj.weight");
  EXPECT_EQ(down.slice[1], (config::Range{0, 20}));
  EXPECT_FALSE(hasWeight(d.model, 0, LayerWeight::AttnNormBias));  // rmsnorm has no bias
  EXPECT_EQ(finalNormSpecs(d.model).at(0).name, "model.norm.weight");
}

TEST(ModelWeights, NormWeightsStartNearOneAndBiasesNearZero) {
  const auto d = deployment(1, config::NormKind::LayerNorm, config::Activation::Gelu);
  const auto plan = config::makePlan(d);
  for (float v : generateSlice(
           layerWeightSpec(d.model, plan.tp_shards[0], 0, LayerWeight::AttnNormWeight), 1)) {
    EXPECT_NEAR(v, 1.0f, 0.1f);
  }
  for (float v : generateSlice(
           layerWeightSpec(d.model, plan.tp_shards[0], 0, LayerWeight::AttnNormBias), 1)) {
    EXPECT_NEAR(v, 0.0f, 0.1f);
  }
}

}  // namespace
}  // namespace shardrt
