// The MoE kernels (router top-k, row gather, weighted row scatter) against plain references
// written here, and the cpu Backend's wrappers of them, which must refuse mismatched shapes.
// Tolerances: router weights normwise relative 1e-6 (fp32 softmax/sigmoid against double);
// chosen experts exactly; gather exactly (a copy); scatter normwise 1e-6 against double.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <ostream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cpu/permute.h"
#include "kernels/cpu/router.h"
#include "runtime/cpu_backend.h"
#include "tests/test_util.h"

namespace shardrt::kernels::cpu {
namespace {

using shardrt::testing::poisoned;
using shardrt::testing::randomVector;
using shardrt::testing::relErr;

constexpr double kWeightTol = 1e-6;

struct Routing {
  std::vector<std::int32_t> experts;
  std::vector<float> weights;
};

// The rule of router.h, in double: score every expert, sort all of them (largest first, equal
// scores by lower index), keep the first top_k.
Routing routerReference(const std::vector<float>& logits, int tokens, int experts, int top_k,
                        bool sigmoid, bool normalize) {
  Routing r{std::vector<std::int32_t>(static_cast<std::size_t>(tokens) * top_k),
            std::vector<float>(static_cast<std::size_t>(tokens) * top_k)};
  for (int t = 0; t < tokens; ++t) {
    std::vector<double> p(experts);
    if (sigmoid) {
      for (int e = 0; e < experts; ++e)
        p[e] = 1.0 / (1.0 + std::exp(-double(logits[t * experts + e])));
    } else {
      double mx = -INFINITY, sum = 0.0;
      for (int e = 0; e < experts; ++e) mx = std::max(mx, double(logits[t * experts + e]));
      for (int e = 0; e < experts; ++e)
        sum += (p[e] = std::exp(double(logits[t * experts + e]) - mx));
      for (auto& v : p) v /= sum;
    }
    std::vector<int> order(experts);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&](int a, int b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
    double chosen = 0.0;
    for (int k = 0; k < top_k; ++k) chosen += p[order[k]];
    for (int k = 0; k < top_k; ++k) {
      r.experts[t * top_k + k] = order[k];
      r.weights[t * top_k + k] = float(normalize ? p[order[k]] / chosen : p[order[k]]);
    }
  }
  return r;
}

RouterRule ruleOf(bool sigmoid, bool normalize) {
  RouterRule rule;
  rule.sigmoid = sigmoid;
  rule.normalize = normalize;
  return rule;
}

Routing runRouter(const std::vector<float>& logits, int tokens, int experts, int top_k,
                  bool sigmoid, bool normalize) {
  Routing r{std::vector<std::int32_t>(static_cast<std::size_t>(tokens) * top_k, -7),
            poisoned(static_cast<std::size_t>(tokens) * top_k)};
  routerTopK(r.experts.data(), r.weights.data(), logits.data(), nullptr, tokens, experts, top_k,
             ruleOf(sigmoid, normalize));
  return r;
}

struct RouterCase {
  bool sigmoid, normalize;
};

void PrintTo(const RouterCase& c, std::ostream* os) {
  *os << (c.sigmoid ? "sigmoid" : "softmax") << (c.normalize ? ", normalized" : ", raw");
}

class RouterTopK : public ::testing::TestWithParam<RouterCase> {};

TEST_P(RouterTopK, MatchesDoubleReferenceOnRandomLogits) {
  const auto c = GetParam();
  const int tokens = 37, experts = 11, top_k = 3;
  auto logits = randomVector(tokens * experts, 21);
  for (auto& v : logits) v *= 3.0f;  // spread the scores: softmax of [-1, 1) is nearly flat
  const Routing got = runRouter(logits, tokens, experts, top_k, c.sigmoid, c.normalize);
  const Routing ref = routerReference(logits, tokens, experts, top_k, c.sigmoid, c.normalize);
  EXPECT_EQ(got.experts, ref.experts);
  EXPECT_LT(relErr(got.weights, ref.weights), kWeightTol);
  for (int t = 0; t < tokens; ++t) {
    for (int k = 1; k < top_k; ++k) {
      EXPECT_GE(got.weights[t * top_k + k - 1], got.weights[t * top_k + k]) << "token " << t;
    }
  }
}

TEST_P(RouterTopK, TopKEqualToExpertCountAndSingleChoice) {
  const auto c = GetParam();
  const int tokens = 5, experts = 7;
  const auto logits = randomVector(tokens * experts, 22);
  for (int top_k : {1, experts}) {
    const Routing got = runRouter(logits, tokens, experts, top_k, c.sigmoid, c.normalize);
    const Routing ref = routerReference(logits, tokens, experts, top_k, c.sigmoid, c.normalize);
    EXPECT_EQ(got.experts, ref.experts) << "top_k " << top_k;
    EXPECT_LT(relErr(got.weights, ref.weights), kWeightTol) << "top_k " << top_k;
  }
}

TEST_P(RouterTopK, EqualScoresGoToTheLowerIndex) {
  const auto c = GetParam();
  const int experts = 6, top_k = 3;
  // Row 0: all equal -> 0, 1, 2. Row 1: two pairs of ties straddling the top_k boundary:
  // 0.9 at 1 and 4, 0.5 at 0, 3 and 5 -> 1, 4, 0. Row 2: the tie is the last pick: 3 over 5.
  const std::vector<float> logits = {0.25f, 0.25f, 0.25f, 0.25f, 0.25f, 0.25f, 0.5f, 0.9f, -2.0f,
                                     0.5f,  0.9f,  0.5f,  -1.0f, 2.0f,  -1.0f, 0.7f, 3.0f, 0.7f};
  const Routing got = runRouter(logits, 3, experts, top_k, c.sigmoid, c.normalize);
  const std::vector<std::int32_t> want = {0, 1, 2, 1, 4, 0, 4, 1, 3};
  EXPECT_EQ(got.experts, want);
  // Tied experts get identical weights.
  EXPECT_EQ(got.weights[0], got.weights[1]);
  EXPECT_EQ(got.weights[1], got.weights[2]);
  EXPECT_EQ(got.weights[3], got.weights[4]);
  if (c.normalize) {
    EXPECT_FLOAT_EQ(got.weights[0], 1.0f / 3.0f);
  } else if (c.sigmoid) {
    EXPECT_NEAR(got.weights[0], 1.0 / (1.0 + std::exp(-0.25)), 1e-6);
  } else {
    EXPECT_NEAR(got.weights[0], 1.0 / 6.0, 1e-6);
  }
}

TEST_P(RouterTopK, NormalizedWeightsSumToOne) {
  const auto c = GetParam();
  const int tokens = 29, experts = 13, top_k = 4;
  auto logits = randomVector(tokens * experts, 23);
  for (auto& v : logits) v *= 5.0f;
  const Routing got = runRouter(logits, tokens, experts, top_k, c.sigmoid, c.normalize);
  for (int t = 0; t < tokens; ++t) {
    double sum = 0.0;
    for (int k = 0; k < top_k; ++k) sum += got.weights[t * top_k + k];
    if (c.normalize) {
      EXPECT_NEAR(sum, 1.0, 1e-6) << "token " << t;
    } else {
      // Without normalize the top-k probabilities of 13 experts do not sum to 1 (softmax) and
      // sigmoid scores are each below 1: the flag must change something.
      EXPECT_GT(std::abs(sum - 1.0), 1e-4) << "token " << t;
    }
  }
}

// A reference made to follow a run's routing: the router's own choice gives routerTopK's
// weights bit for bit; another choice (here the lowest-scored experts, reversed) gives p of
// those experts, normalised as the rule says, against the double reference.
TEST_P(RouterTopK, WeightsOfExpertsChosenElsewhere) {
  const auto c = GetParam();
  const int tokens = 29, experts = 9, top_k = 2;
  auto logits = randomVector(tokens * experts, 23);
  for (auto& v : logits) v *= 3.0f;
  const Routing own = runRouter(logits, tokens, experts, top_k, c.sigmoid, c.normalize);
  std::vector<float> again = poisoned(own.weights.size());
  routerWeightsOf(again.data(), own.experts.data(), logits.data(), tokens, experts, top_k,
                  ruleOf(c.sigmoid, c.normalize));
  EXPECT_EQ(again, own.weights);

  const Routing all = routerReference(logits, tokens, experts, experts, c.sigmoid, false);
  std::vector<std::int32_t> forced(static_cast<std::size_t>(tokens) * top_k);
  std::vector<float> want(forced.size());
  for (int t = 0; t < tokens; ++t) {
    double sum = 0.0;
    for (int k = 0; k < top_k; ++k) {  // the last experts of the full order, lowest first
      forced[t * top_k + k] = all.experts[t * experts + experts - 1 - k];
      sum += (want[t * top_k + k] = all.weights[t * experts + experts - 1 - k]);
    }
    for (int k = 0; c.normalize && k < top_k; ++k)
      want[t * top_k + k] = float(want[t * top_k + k] / sum);
  }
  std::vector<float> got = poisoned(forced.size());
  routerWeightsOf(got.data(), forced.data(), logits.data(), tokens, experts, top_k,
                  ruleOf(c.sigmoid, c.normalize));
  EXPECT_LT(relErr(got, want), kWeightTol);
}

INSTANTIATE_TEST_SUITE_P(Scorings, RouterTopK,
                         ::testing::Values(RouterCase{false, false}, RouterCase{false, true},
                                           RouterCase{true, false}, RouterCase{true, true}),
                         [](const auto& info) {
                           return std::string(info.param.sigmoid ? "Sigmoid" : "Softmax") +
                                  (info.param.normalize ? "Normalized" : "Raw");
                         });

// DeepSeek-V3's router as transformers writes it (DeepseekV3TopkRouter.forward), in double:
// scores, the bias added for choosing, each group scored by the sum of its best two choice
// scores (DeepSeek-V2: its best one), the best top_groups groups kept and the other experts
// masked to -inf, the top_k of the rest by choice, their scores gathered, normalised, scaled.
struct GroupedCase {
  const char* name;
  bool sigmoid, normalize, top_two, bias;
  float scale;
};

Routing groupedReference(const std::vector<float>& logits, const std::vector<float>& bias,
                         int tokens, int experts, int top_k, int groups, int top_groups,
                         const GroupedCase& c) {
  Routing r{std::vector<std::int32_t>(static_cast<std::size_t>(tokens) * top_k),
            std::vector<float>(static_cast<std::size_t>(tokens) * top_k)};
  const int per_group = experts / groups;
  for (int t = 0; t < tokens; ++t) {
    std::vector<double> p(experts), choice(experts);
    double mx = -INFINITY, sum = 0.0;
    for (int e = 0; e < experts; ++e) mx = std::max(mx, double(logits[t * experts + e]));
    for (int e = 0; e < experts; ++e) {
      const double z = logits[t * experts + e];
      p[e] = c.sigmoid ? 1.0 / (1.0 + std::exp(-z)) : std::exp(z - mx);
      sum += p[e];
    }
    for (int e = 0; e < experts; ++e) {
      if (!c.sigmoid) p[e] /= sum;
      choice[e] = p[e] + (c.bias ? double(bias[e]) : 0.0);
    }
    std::vector<double> group_score(groups);
    for (int g = 0; g < groups; ++g) {
      std::vector<double> members(choice.begin() + g * per_group,
                                  choice.begin() + (g + 1) * per_group);
      std::sort(members.rbegin(), members.rend());
      group_score[g] = c.top_two ? members[0] + members[1] : members[0];
    }
    std::vector<int> group_order(groups);
    std::iota(group_order.begin(), group_order.end(), 0);
    std::stable_sort(group_order.begin(), group_order.end(),
                     [&](int a, int b) { return group_score[a] > group_score[b]; });
    std::vector<double> masked(experts, -INFINITY);
    for (int i = 0; i < top_groups; ++i) {
      for (int e = group_order[i] * per_group; e < (group_order[i] + 1) * per_group; ++e) {
        masked[e] = choice[e];
      }
    }
    std::vector<int> order(experts);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int a, int b) { return masked[a] > masked[b]; });
    double chosen = 0.0;
    for (int k = 0; k < top_k; ++k) chosen += p[order[k]];
    for (int k = 0; k < top_k; ++k) {
      r.experts[t * top_k + k] = order[k];
      r.weights[t * top_k + k] =
          float((c.normalize ? p[order[k]] / chosen : p[order[k]]) * c.scale);
    }
  }
  return r;
}

class GroupedRouter : public ::testing::TestWithParam<GroupedCase> {};

// 14 experts in 7 groups of 2, the best 3 groups kept, top 5: sizes no kernel tiles by.
TEST_P(GroupedRouter, MatchesTheReferenceRouter) {
  const auto c = GetParam();
  const int tokens = 37, experts = 14, top_k = 5, groups = 7, top_groups = 3;
  auto logits = randomVector(tokens * experts, 25);
  for (auto& v : logits) v *= 3.0f;
  auto bias = randomVector(experts, 26);
  for (auto& v : bias) v *= 0.3f;
  RouterRule rule = ruleOf(c.sigmoid, c.normalize);
  rule.scale = c.scale;
  rule.groups = groups;
  rule.top_groups = top_groups;
  rule.group_top_two = c.top_two;
  Routing got{std::vector<std::int32_t>(tokens * top_k, -7), poisoned(tokens * top_k)};
  routerTopK(got.experts.data(), got.weights.data(), logits.data(), c.bias ? bias.data() : nullptr,
             tokens, experts, top_k, rule);
  const Routing ref = groupedReference(logits, bias, tokens, experts, top_k, groups, top_groups, c);
  EXPECT_EQ(got.experts, ref.experts);
  EXPECT_LT(relErr(got.weights, ref.weights), kWeightTol);
  // The groups matter here: without them some token would choose otherwise.
  const Routing free = groupedReference(logits, bias, tokens, experts, top_k, 1, 1, c);
  EXPECT_NE(free.experts, ref.experts);
  // The weights of the chosen, as a reference following this routing computes them.
  std::vector<float> again = poisoned(got.weights.size());
  routerWeightsOf(again.data(), got.experts.data(), logits.data(), tokens, experts, top_k, rule);
  EXPECT_EQ(again, got.weights);
}

INSTANTIATE_TEST_SUITE_P(
    Families, GroupedRouter,
    ::testing::Values(GroupedCase{"DeepSeekV3", true, true, true, true, 2.5f},
                      GroupedCase{"DeepSeekV3NoBiasRaw", true, false, true, false, 1.0f},
                      GroupedCase{"DeepSeekV2", false, false, false, false, 16.0f},
                      GroupedCase{"SoftmaxTopTwoNormalized", false, true, true, true, 0.5f}),
    [](const auto& info) { return std::string(info.param.name); });

// The bias chooses and does not weigh: a bias of 10 on expert 3 puts it first for every token,
// and its weight is still its sigmoid score over the chosen's scores.
TEST(RouterChoiceBias, ChoosesWithoutWeighing) {
  const int tokens = 23, experts = 9, top_k = 3;
  auto logits = randomVector(tokens * experts, 27);
  std::vector<float> bias(experts, 0.0f);
  bias[3] = 10.0f;
  RouterRule rule = ruleOf(true, true);
  Routing got{std::vector<std::int32_t>(tokens * top_k, -7), poisoned(tokens * top_k)};
  routerTopK(got.experts.data(), got.weights.data(), logits.data(), bias.data(), tokens, experts,
             top_k, rule);
  for (int t = 0; t < tokens; ++t) {
    EXPECT_EQ(got.experts[t * top_k], 3) << "token " << t;
    double sum = 0.0;
    for (int k = 0; k < top_k; ++k) {
      sum += 1.0 / (1.0 + std::exp(-double(logits[t * experts + got.experts[t * top_k + k]])));
    }
    const double p3 = 1.0 / (1.0 + std::exp(-double(logits[t * experts + 3])));
    EXPECT_NEAR(got.weights[t * top_k], p3 / sum, 1e-6) << "token " << t;
  }
}

TEST(RouterRuleBroken, RefusesGroupsThatCannotHoldTopK) {
  std::vector<float> logits(2 * 8, 0.0f);
  std::vector<std::int32_t> experts(2 * 5);
  std::vector<float> weights(2 * 5);
  RouterRule rule = ruleOf(true, true);
  rule.groups = 4;
  rule.top_groups = 2;  // 2 groups of 2 experts: 4 < top_k 5
  EXPECT_THROW(routerTopK(experts.data(), weights.data(), logits.data(), nullptr, 2, 8, 5, rule),
               std::invalid_argument);
  rule.groups = 3;  // does not divide 8
  EXPECT_THROW(routerTopK(experts.data(), weights.data(), logits.data(), nullptr, 2, 8, 2, rule),
               std::invalid_argument);
  rule.groups = 8;  // one expert a group, scored by its best two
  rule.top_groups = 6;
  EXPECT_THROW(routerTopK(experts.data(), weights.data(), logits.data(), nullptr, 2, 8, 2, rule),
               std::invalid_argument);
  rule.group_top_two = false;  // by its best one: fine
  EXPECT_NO_THROW(
      routerTopK(experts.data(), weights.data(), logits.data(), nullptr, 2, 8, 2, rule));
}

TEST(RouterTopKSoftmax, SurvivesLargeLogits) {
  // exp(100) overflows fp32: only a max-subtracted softmax gives finite weights here.
  const int tokens = 9, experts = 11, top_k = 3;
  auto logits = randomVector(tokens * experts, 24);
  for (auto& v : logits) v = 100.0f + 4.0f * v;
  for (bool normalize : {false, true}) {
    const Routing got = runRouter(logits, tokens, experts, top_k, false, normalize);
    const Routing ref = routerReference(logits, tokens, experts, top_k, false, normalize);
    EXPECT_EQ(got.experts, ref.experts) << "normalize " << normalize;
    for (float w : got.weights) EXPECT_TRUE(std::isfinite(w)) << "normalize " << normalize;
    EXPECT_LT(relErr(got.weights, ref.weights), kWeightTol) << "normalize " << normalize;
  }
}

std::vector<std::int32_t> randomIndex(std::size_t n, int bound, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(0, bound - 1);
  std::vector<std::int32_t> idx(n);
  for (auto& i : idx) i = dist(rng);
  return idx;
}

TEST(PermuteKernels, GatherRowsCopiesIndexedRows) {
  const int table_rows = 29, cols = 45;
  const long rows = 53;  // more rows than the table: indices repeat
  const auto inp = randomVector(table_rows * cols, 31);
  auto index = randomIndex(rows, table_rows, 32);
  index[0] = 0;
  index[1] = table_rows - 1;  // both ends of the table
  index[2] = index[3];        // a repeat for certain
  auto out = poisoned(rows * cols);
  gatherRows(out.data(), inp.data(), index.data(), rows, cols);
  std::vector<float> ref(rows * cols);
  for (long i = 0; i < rows; ++i)
    for (int c = 0; c < cols; ++c) ref[i * cols + c] = inp[index[i] * cols + c];
  EXPECT_EQ(out, ref);  // a copy: bit for bit, and no NaN left from the poison
}

TEST(PermuteKernels, GatherRowsOfZeroRowsWritesNothing) {
  const int cols = 7;
  const auto inp = randomVector(3 * cols, 33);
  auto out = randomVector(2 * cols, 34);
  const auto before = out;
  gatherRows(out.data(), inp.data(), nullptr, 0, cols);
  EXPECT_EQ(out, before);
}

TEST(PermuteKernels, ScatterAddRowsAccumulatesRepeatedIndices) {
  const int out_rows = 17, cols = 39;
  const long rows = 61;  // more entries than rows of out: many targets are hit several times
  const auto inp = randomVector(rows * cols, 35), weight = randomVector(rows, 36);
  auto index = randomIndex(rows, out_rows - 2, 37);  // rows out_rows-2, -1 are never named
  index[5] = index[6] = index[7] = 3;
  auto out = randomVector(out_rows * cols, 38);  // accumulates onto what is there
  std::vector<double> ref_d(out.begin(), out.end());
  for (long i = 0; i < rows; ++i)
    for (int c = 0; c < cols; ++c)
      ref_d[index[i] * cols + c] += double(weight[i]) * inp[i * cols + c];
  const auto before = out;
  scatterAddRows(out.data(), inp.data(), index.data(), weight.data(), rows, cols);
  const std::vector<float> ref(ref_d.begin(), ref_d.end());
  EXPECT_LT(relErr(out, ref), kWeightTol);
  // Rows nobody names are left bit for bit.
  for (int r = out_rows - 2; r < out_rows; ++r)
    for (int c = 0; c < cols; ++c) EXPECT_EQ(out[r * cols + c], before[r * cols + c]);
}

TEST(PermuteKernels, ScatterAddRowsExactSmallCase) {
  // Values exact in fp32: row 2 receives three entries, row 0 one, row 1 none.
  const int cols = 3;
  const std::vector<float> inp = {1, 2, 3, 10, 20, 30, 100, 200, 300, 4, 8, 16};
  const std::vector<std::int32_t> index = {2, 0, 2, 2};
  const std::vector<float> weight = {1.0f, 2.0f, 0.5f, -0.25f};
  std::vector<float> out = {1, 1, 1, 5, 5, 5, 0, 0, 0};
  scatterAddRows(out.data(), inp.data(), index.data(), weight.data(), 4, cols);
  const std::vector<float> want = {1 + 2 * 10.0f, 1 + 2 * 20.0f,  1 + 2 * 30.0f, 5, 5, 5,
                                   1 + 50 - 1.0f, 2 + 100 - 2.0f, 3 + 150 - 4.0f};
  EXPECT_EQ(out, want);
}

TEST(PermuteKernels, ScatterAddRowsOfZeroRowsWritesNothing) {
  const int cols = 5;
  auto out = randomVector(4 * cols, 39);
  const auto before = out;
  scatterAddRows(out.data(), nullptr, nullptr, nullptr, 0, cols);
  EXPECT_EQ(out, before);
}

TEST(PermuteKernels, GatherThenScatterWithUnitWeightsIsCountTimesRow) {
  // The dispatch/combine round trip: gather rows out, scatter them back with weight 1. Each
  // row of the table comes back multiplied by how often it was gathered.
  const int table_rows = 11, cols = 19;
  const long rows = 23;
  const auto inp = randomVector(table_rows * cols, 40);
  const auto index = randomIndex(rows, table_rows, 41);
  auto mid = poisoned(rows * cols);
  gatherRows(mid.data(), inp.data(), index.data(), rows, cols);
  std::vector<float> back(table_rows * cols, 0.0f), ones(rows, 1.0f);
  scatterAddRows(back.data(), mid.data(), index.data(), ones.data(), rows, cols);
  std::vector<int> count(table_rows, 0);
  for (auto i : index) ++count[i];
  std::vector<float> ref(table_rows * cols);
  for (int r = 0; r < table_rows; ++r)
    for (int c = 0; c < cols; ++c) ref[r * cols + c] = float(count[r]) * inp[r * cols + c];
  EXPECT_LT(relErr(back, ref), kWeightTol);
}

}  // namespace
}  // namespace shardrt::kernels::cpu

namespace shardrt {
namespace {

using shardrt::testing::randomVector;

Tensor upload(CpuBackend& be, const std::vector<float>& v, Shape shape) {
  Tensor t = be.empty(std::move(shape), DType::F32);
  be.copyFromHost(t, v.data());
  return t;
}

Tensor uploadIndex(CpuBackend& be, const std::vector<std::int32_t>& v) {
  Tensor t = be.empty({Dim("rows", static_cast<std::int64_t>(v.size()))}, DType::I32);
  be.copyFromHost(t, v.data());
  return t;
}

template <typename T>
std::vector<T> download(CpuBackend& be, const TensorView& t) {
  std::vector<T> v(static_cast<std::size_t>(t.numel()));
  be.copyToHost(v.data(), t);
  return v;
}

TEST(CpuBackendMoe, RouterTopKRunsTheKernelOnTheTensors) {
  CpuBackend be;
  const int tokens = 13, experts = 9, top_k = 2;
  const auto logits_h = randomVector(tokens * experts, 51);
  Tensor logits = upload(be, logits_h, {Dim("tokens", tokens), Dim("experts", experts)});
  Tensor idx = be.empty({Dim("tokens", tokens), Dim("top_k", top_k)}, DType::I32);
  Tensor wts = be.empty({Dim("tokens", tokens), Dim("top_k", top_k)}, DType::F32);
  be.routerTopK(idx, wts, logits, nullptr,
                kernels::cpu::ruleOf(/*sigmoid=*/false, /*normalize=*/true));
  std::vector<std::int32_t> want_idx(tokens * top_k);
  std::vector<float> want_w(tokens * top_k);
  kernels::cpu::routerTopK(want_idx.data(), want_w.data(), logits_h.data(), nullptr, tokens,
                           experts, top_k, kernels::cpu::ruleOf(false, true));
  EXPECT_EQ(download<std::int32_t>(be, idx), want_idx);
  EXPECT_EQ(download<float>(be, wts), want_w);
}

TEST(CpuBackendMoe, RouterWeightsOfRunsTheKernelOnTheTensors) {
  CpuBackend be;
  const int tokens = 13, experts = 9, top_k = 3;
  const auto logits_h = randomVector(tokens * experts, 53);
  std::vector<std::int32_t> chosen_h(tokens * top_k);
  std::mt19937 rng(54);
  for (auto& e : chosen_h) e = std::uniform_int_distribution<std::int32_t>(0, experts - 1)(rng);
  Tensor logits = upload(be, logits_h, {Dim("tokens", tokens), Dim("experts", experts)});
  Tensor chosen = be.empty({Dim("tokens", tokens), Dim("top_k", top_k)}, DType::I32);
  be.copyFromHost(chosen, chosen_h.data());
  Tensor wts = be.empty({Dim("tokens", tokens), Dim("top_k", top_k)}, DType::F32);
  for (bool sigmoid : {false, true}) {
    for (bool normalize : {false, true}) {
      be.routerWeightsOf(wts, chosen, logits, kernels::cpu::ruleOf(sigmoid, normalize));
      std::vector<float> want = shardrt::testing::poisoned(tokens * top_k);
      kernels::cpu::routerWeightsOf(want.data(), chosen_h.data(), logits_h.data(), tokens, experts,
                                    top_k, kernels::cpu::ruleOf(sigmoid, normalize));
      EXPECT_EQ(download<float>(be, wts), want) << sigmoid << normalize;  // bit for bit
    }
  }
}

TEST(CpuBackendMoe, RouterWeightsOfRefusesMismatchedShapesAndDtypes) {
  CpuBackend be;
  Tensor logits = be.empty({Dim("tokens", 6), Dim("experts", 4)}, DType::F32);
  Tensor idx = be.empty({Dim("tokens", 6), Dim("top_k", 2)}, DType::I32);
  Tensor wts = be.empty({Dim("tokens", 6), Dim("top_k", 2)}, DType::F32);
  be.fillZero(idx);
  EXPECT_NO_THROW(be.routerWeightsOf(wts, idx, logits,
                                     kernels::cpu::ruleOf(true, false)));  // the well-formed call
  Tensor wts3 = be.empty({Dim("tokens", 6), Dim("top_k", 3)}, DType::F32);
  EXPECT_THROW(be.routerWeightsOf(wts3, idx, logits, kernels::cpu::ruleOf(true, false)),
               std::logic_error);
  Tensor idx5 = be.empty({Dim("tokens", 5), Dim("top_k", 2)}, DType::I32);
  Tensor wts5 = be.empty({Dim("tokens", 5), Dim("top_k", 2)}, DType::F32);
  EXPECT_THROW(be.routerWeightsOf(wts5, idx5, logits, kernels::cpu::ruleOf(true, false)),
               std::logic_error);
  // the experts as floats, not indices
  EXPECT_THROW(be.routerWeightsOf(wts, wts, logits, kernels::cpu::ruleOf(true, false)),
               std::logic_error);
}

TEST(CpuBackendMoe, RouterTopKRefusesMismatchedShapes) {
  CpuBackend be;
  Tensor logits = be.empty({Dim("tokens", 6), Dim("experts", 4)}, DType::F32);
  Tensor idx = be.empty({Dim("tokens", 6), Dim("top_k", 2)}, DType::I32);
  Tensor wts = be.empty({Dim("tokens", 6), Dim("top_k", 2)}, DType::F32);
  EXPECT_NO_THROW(be.routerTopK(idx, wts, logits, nullptr,
                                kernels::cpu::ruleOf(true, false)));  // the well-formed call
  // weights of another top_k than experts
  Tensor wts3 = be.empty({Dim("tokens", 6), Dim("top_k", 3)}, DType::F32);
  EXPECT_THROW(be.routerTopK(idx, wts3, logits, nullptr, kernels::cpu::ruleOf(true, false)),
               std::logic_error);
  // another token count than the logits
  Tensor idx5 = be.empty({Dim("tokens", 5), Dim("top_k", 2)}, DType::I32);
  Tensor wts5 = be.empty({Dim("tokens", 5), Dim("top_k", 2)}, DType::F32);
  EXPECT_THROW(be.routerTopK(idx5, wts5, logits, nullptr, kernels::cpu::ruleOf(true, false)),
               std::logic_error);
  // top_k above the number of experts
  Tensor idx_big = be.empty({Dim("tokens", 6), Dim("top_k", 5)}, DType::I32);
  Tensor wts_big = be.empty({Dim("tokens", 6), Dim("top_k", 5)}, DType::F32);
  EXPECT_THROW(be.routerTopK(idx_big, wts_big, logits, nullptr, kernels::cpu::ruleOf(true, false)),
               std::logic_error);
}

TEST(CpuBackendMoe, GatherAndScatterRunTheKernels) {
  CpuBackend be;
  const int table_rows = 10, cols = 21, rows = 15;
  const auto table_h = randomVector(table_rows * cols, 52);
  std::vector<std::int32_t> index_h(rows);
  for (int i = 0; i < rows; ++i) index_h[i] = (i * 7 + 3) % table_rows;  // repeats
  const auto weight_h = randomVector(rows, 53);
  Tensor table = upload(be, table_h, {Dim("tokens", table_rows), Dim("hidden", cols)});
  Tensor index = uploadIndex(be, index_h);
  Tensor weight = upload(be, weight_h, {Dim("rows", rows)});

  Tensor gathered = be.empty({Dim("rows", rows), Dim("hidden", cols)}, DType::F32);
  be.gatherRows(gathered, table, index);
  std::vector<float> want_g(rows * cols);
  kernels::cpu::gatherRows(want_g.data(), table_h.data(), index_h.data(), rows, cols);
  EXPECT_EQ(download<float>(be, gathered), want_g);

  Tensor out = be.empty({Dim("tokens", table_rows), Dim("hidden", cols)}, DType::F32);
  be.copyFromHost(out, table_h.data());
  be.scatterAddRows(out, gathered, index, weight);
  std::vector<float> want_s = table_h;
  kernels::cpu::scatterAddRows(want_s.data(), want_g.data(), index_h.data(), weight_h.data(), rows,
                               cols);
  EXPECT_EQ(download<float>(be, out), want_s);
}

TEST(CpuBackendMoe, GatherAndScatterOfZeroRows) {
  CpuBackend be;
  const int cols = 8;
  const auto table_h = randomVector(4 * cols, 54);
  Tensor table = upload(be, table_h, {Dim("tokens", 4), Dim("hidden", cols)});
  Tensor index = be.empty({Dim("rows", 0)}, DType::I32);
  Tensor weight = be.empty({Dim("rows", 0)}, DType::F32);
  Tensor none = be.empty({Dim("rows", 0), Dim("hidden", cols)}, DType::F32);
  EXPECT_NO_THROW(be.gatherRows(none, table, index));
  EXPECT_NO_THROW(be.scatterAddRows(table, none, index, weight));
  EXPECT_EQ(download<float>(be, table), table_h);
}

TEST(CpuBackendMoe, GatherRowsRefusesMismatchedShapes) {
  CpuBackend be;
  Tensor table = be.empty({Dim("tokens", 10), Dim("hidden", 6)}, DType::F32);
  Tensor index = be.empty({Dim("rows", 4)}, DType::I32);
  be.fillZero(index);
  Tensor out_ok = be.empty({Dim("rows", 4), Dim("hidden", 6)}, DType::F32);
  EXPECT_NO_THROW(be.gatherRows(out_ok, table, index));
  Tensor out_cols = be.empty({Dim("rows", 4), Dim("hidden", 5)}, DType::F32);
  EXPECT_THROW(be.gatherRows(out_cols, table, index), std::logic_error);
  Tensor out_rows = be.empty({Dim("rows", 3), Dim("hidden", 6)}, DType::F32);
  EXPECT_THROW(be.gatherRows(out_rows, table, index), std::logic_error);
}

TEST(CpuBackendMoe, ScatterAddRowsRefusesMismatchedShapes) {
  CpuBackend be;
  Tensor out = be.empty({Dim("tokens", 10), Dim("hidden", 6)}, DType::F32);
  Tensor index = be.empty({Dim("rows", 4)}, DType::I32);
  Tensor weight = be.empty({Dim("rows", 4)}, DType::F32);
  Tensor inp = be.empty({Dim("rows", 4), Dim("hidden", 6)}, DType::F32);
  be.fillZero(out);
  be.fillZero(index);
  be.fillZero(weight);
  be.fillZero(inp);
  EXPECT_NO_THROW(be.scatterAddRows(out, inp, index, weight));
  Tensor inp_cols = be.empty({Dim("rows", 4), Dim("hidden", 7)}, DType::F32);
  EXPECT_THROW(be.scatterAddRows(out, inp_cols, index, weight), std::logic_error);
  Tensor inp_rows = be.empty({Dim("rows", 5), Dim("hidden", 6)}, DType::F32);
  EXPECT_THROW(be.scatterAddRows(out, inp_rows, index, weight), std::logic_error);
  Tensor weight3 = be.empty({Dim("rows", 3)}, DType::F32);
  EXPECT_THROW(be.scatterAddRows(out, inp, index, weight3), std::logic_error);
}

TEST(CpuBackendMoe, FillZeroClearsEveryElementOfEitherDtype) {
  CpuBackend be;
  const int n = 37;
  Tensor f = upload(be, randomVector(n, 55), {Dim("n", n)});
  be.fillZero(f);
  EXPECT_EQ(download<float>(be, f), std::vector<float>(n, 0.0f));
  Tensor i = be.empty({Dim("a", 3), Dim("b", 5)}, DType::I32);
  const std::vector<std::int32_t> junk(15, -1);
  be.copyFromHost(i, junk.data());
  be.fillZero(i);
  EXPECT_EQ(download<std::int32_t>(be, i), std::vector<std::int32_t>(15, 0));
}

}  // namespace
}  // namespace shardrt
