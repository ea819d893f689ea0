// `shardrt generate`'s prompts and their checks against the deployment
// (launch/generate_requests.h): each refusal names the field, the value and the limit.
#include <gtest/gtest.h>

#include <fstream>

#include "common/errors.h"
#include "launch/generate_requests.h"

namespace shardrt::launch {
namespace {

config::Deployment small() {
  config::Deployment d;
  d.model.layers = 2;
  d.model.hidden = 16;
  d.model.heads = 2;
  d.model.kv_heads = 2;
  d.model.head_dim = 8;
  d.model.ffn_hidden = 32;
  d.model.vocab = 50;
  d.workload = {2, 10, DType::F32};
  return d;
}

std::string refusal(const config::Deployment& d, const std::vector<GenerationRequest>& r) {
  try {
    checkRequests(d, r);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(GenerateRequests, InlinePromptsTakeTheDefaultLength) {
  const auto r = readRequests("", {"1,2, 3", "49"}, 4);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].prompt, (std::vector<std::int32_t>{1, 2, 3}));
  EXPECT_EQ(r[1].prompt, (std::vector<std::int32_t>{49}));
  EXPECT_EQ(r[1].max_new_tokens, 4);
}

TEST(GenerateRequests, AFileGivesEachRequestItsOwnLength) {
  const std::string path = ::testing::TempDir() + "/prompts.json";
  std::ofstream(path) << R"({"requests": [{"tokens": [4, 5], "max_new_tokens": 7},
                                          {"tokens": [6]}]})";
  const auto r = readRequests(path, {}, 3);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].max_new_tokens, 7);
  EXPECT_EQ(r[1].max_new_tokens, 3);
  std::ofstream(path) << "[[1, 2], [3]]";
  EXPECT_EQ(readRequests(path, {}, 3)[1].prompt, (std::vector<std::int32_t>{3}));
}

TEST(GenerateRequests, EveryLimitIsNamed) {
  const config::Deployment d = small();
  EXPECT_EQ(refusal(d, {{{1, 2}, 8}}), "");  // 10 tokens: exactly the context
  EXPECT_EQ(refusal(d, {{{1, 2, 3}, 8}}),
            "requests[0]: prompt 3 + max_new_tokens 8 = 11 tokens exceed workload.seq_len 10 "
            "(the KV cache's context)");
  EXPECT_EQ(refusal(d, {{{1}, 2}, {{50}, 2}}),
            "requests[1].tokens: token id 50 is outside the vocabulary (vocab_size 50)");
  EXPECT_EQ(refusal(d, {{{1}, 2}, {{2}, 2}, {{3}, 2}}),
            "requests: 3 prompts exceed workload.batch_size 2 (the KV cache's sequences)");
  config::Deployment no_vocab = small();
  no_vocab.model.vocab = 0;
  EXPECT_NE(refusal(no_vocab, {{{1}, 2}}).find("model.vocab_size: generate needs"),
            std::string::npos);
  config::Deployment bidirectional = small();
  bidirectional.model.causal = false;
  EXPECT_NE(refusal(bidirectional, {{{1}, 2}}).find("model.causal"), std::string::npos);
}

TEST(GenerateRequests, MalformedPromptsAreRefused) {
  EXPECT_THROW(readRequests("", {"1,,2"}, 3), ConfigError);
  EXPECT_THROW(readRequests("", {""}, 3), ConfigError);
  EXPECT_THROW(readRequests("", {"1,2x"}, 3), ConfigError);
  EXPECT_THROW(readRequests("", {}, 3), ConfigError);
  EXPECT_THROW(readRequests("/nonexistent/prompts.json", {}, 3), ConfigError);
}

// The step buffers hold the largest step: a microbatch's prompts packed, or its rows.
TEST(GenerateRequests, StepTokensAreTheLargestMicrobatchPrefill) {
  config::Deployment d = small();
  d.workload.batch_size = 8;
  d.strategy.dp = 2;
  d.strategy.microbatches = 2;  // replicas of rows 0-3 and 4-7, microbatches of 2 rows
  const config::Plan plan = config::makePlan(d);
  std::vector<GenerationRequest> r(6);
  const int lengths[] = {3, 4, 9, 1, 2, 2};  // microbatches: 7, 10, 4, and rows 6-7 empty
  for (int i = 0; i < 6; ++i) r[i].prompt.assign(lengths[i], 1);
  EXPECT_EQ(GenerationExecutor::stepTokens(plan, r), 10);
  r.resize(1);
  r[0].prompt.assign(1, 1);
  EXPECT_EQ(GenerationExecutor::stepTokens(plan, r), 2);  // a decode step of 2 rows
}

}  // namespace
}  // namespace shardrt::launch
