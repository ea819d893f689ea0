// The host-side choice of the next token (runtime/token_sampler.h): greedy is the first
// maximum; the draw of a choice depends on (seed, request, step) alone; top-k and top-p keep
// the tokens transformers' warpers keep; the empirical frequencies follow the softmax.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

#include "runtime/token_sampler.h"
#include "tests/test_util.h"

namespace shardrt {
namespace {

TEST(TokenSampler, GreedyTakesTheFirstLargest) {
  const std::vector<float> logits = {0.5f, 2.0f, -1.0f, 2.0f, NAN};
  EXPECT_EQ(sampleToken(logits.data(), 5, Sampling{}, 0, 0), 1);
}

TEST(TokenSampler, TheDrawIsAFunctionOfSeedRequestAndStepAlone) {
  EXPECT_EQ(samplingUniform(7, 3, 11), samplingUniform(7, 3, 11));
  EXPECT_NE(samplingUniform(7, 3, 11), samplingUniform(8, 3, 11));
  EXPECT_NE(samplingUniform(7, 3, 11), samplingUniform(7, 4, 11));
  EXPECT_NE(samplingUniform(7, 3, 11), samplingUniform(7, 3, 12));
  for (int i = 0; i < 1000; ++i) {
    const double u = samplingUniform(1, i, 2 * i);
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
  }
}

// Over many draws (one request, many steps), each token's frequency is its softmax
// probability at the temperature, within 5 standard deviations.
TEST(TokenSampler, FrequenciesFollowTheSoftmaxAtTheTemperature) {
  const std::vector<float> logits = {1.0f, 0.0f, 2.0f, -0.5f, 1.5f};
  const Sampling s{0.7, 0, 1.0, 42};
  const int draws = 40000;
  std::vector<int> count(logits.size(), 0);
  for (int step = 0; step < draws; ++step) ++count[sampleToken(logits.data(), 5, s, 3, step)];
  double sum = 0.0;
  for (float l : logits) sum += std::exp(l / s.temperature);
  for (std::size_t t = 0; t < logits.size(); ++t) {
    const double p = std::exp(logits[t] / s.temperature) / sum;
    const double sd = std::sqrt(draws * p * (1 - p));
    EXPECT_NEAR(count[t], draws * p, 5 * sd + 1) << "token " << t;
  }
}

TEST(TokenSampler, TopKKeepsOnlyTheKLikeliest) {
  const std::vector<float> logits = {3.0f, 0.1f, 2.9f, 2.95f, -1.0f, 0.2f};
  const Sampling s{5.0, 2, 1.0, 3};  // a high temperature: without top-k every token would come
  std::map<int, int> seen;
  for (int step = 0; step < 2000; ++step) ++seen[sampleToken(logits.data(), 6, s, 0, step)];
  EXPECT_EQ(seen.size(), 2u);
  EXPECT_GT(seen[0], 0);
  EXPECT_GT(seen[3], 0);
}

// Probabilities 0.5, 0.3, 0.15, 0.05 (by log): top_p 0.8 keeps the first two (0.8 reached),
// top_p 0.81 the first three (the token that crosses the threshold is kept).
TEST(TokenSampler, TopPKeepsTheFewestThatReachP) {
  const std::vector<float> logits = {std::log(0.3f), std::log(0.05f), std::log(0.5f),
                                     std::log(0.15f)};
  for (const auto& [p, want] : std::vector<std::pair<double, std::size_t>>{{0.8, 2}, {0.81, 3}}) {
    std::map<int, int> seen;
    for (int step = 0; step < 4000; ++step) {
      ++seen[sampleToken(logits.data(), 4, Sampling{1.0, 0, p, 17}, 1, step)];
    }
    EXPECT_EQ(seen.size(), want) << "top_p " << p;
    EXPECT_EQ(seen.count(1), 0u) << "top_p " << p;
  }
}

}  // namespace
}  // namespace shardrt
