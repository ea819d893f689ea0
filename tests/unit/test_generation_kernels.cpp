// The CPU kernels of generation against kernels already checked against plain loops:
// attention over a KV cache must give the rows of full causal attention (attentionReference),
// the rotary embedding at given positions the rows of the sequence-wise rotation. Sizes are
// not multiples of any tile; tokens are taken in a shuffled order from several sequences, and
// the cache past each sequence's length is NaN, so a read past a token's position shows.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/cpu/argmax.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/cached_attention.h"
#include "kernels/cpu/embedding.h"
#include "kernels/cpu/permute.h"
#include "kernels/cpu/rope.h"
#include "tests/test_util.h"

namespace shardrt::kernels::cpu {
namespace {

using shardrt::testing::poisoned;
using shardrt::testing::randomVector;
using shardrt::testing::relErr;

constexpr double kTol = 1e-5;
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Every (sequence, position) pair of `batch` sequences of `seq_len`, in order (a packed
// prefill), or shuffled when seed is not 0.
std::vector<std::pair<int, int>> shuffledTokens(int batch, int seq_len, unsigned seed) {
  std::vector<std::pair<int, int>> tokens;
  for (int b = 0; b < batch; ++b) {
    for (int p = 0; p < seq_len; ++p) tokens.emplace_back(b, p);
  }
  if (seed != 0) std::shuffle(tokens.begin(), tokens.end(), std::mt19937(seed));
  return tokens;
}

struct CacheCase {
  int window;
  int q_heads, kv_heads, q_head_begin, kv_head_begin, group;
};

class CachedAttention : public ::testing::TestWithParam<CacheCase> {};

// Keys and values written into a larger cache (context > seq_len, the rest NaN) and queried
// with the tokens in `order` (0: sequence by sequence, as a packed prefill, which the kernel
// takes in runs; else shuffled, mostly single tokens): each token's output is its row of causal
// attention over its own sequence.
double cachedAgainstFullAttention(const CacheCase& c, int batch, int seq_len, unsigned order) {
  const int context = seq_len + 12, d = 24;
  const AttentionHeads heads{c.q_heads, c.kv_heads, c.q_head_begin, c.kv_head_begin,
                             c.group,   0.0f,       c.window};
  const int qw = c.q_heads * d, kvw = c.kv_heads * d;
  const auto q = randomVector(batch * seq_len * qw, 11);
  const auto k = randomVector(batch * seq_len * kvw, 12);
  const auto v = randomVector(batch * seq_len * kvw, 13);
  std::vector<float> ref(q.size());
  attentionReference(ref.data(), q.data(), k.data(), v.data(), batch, seq_len, d, heads, true);

  // The cache, written through scatterRows at slot (b, p) = b * context + p.
  std::vector<float> k_cache(static_cast<std::size_t>(batch) * context * kvw, kNaN);
  std::vector<float> v_cache(k_cache.size(), kNaN);
  std::vector<std::int32_t> slots(batch * seq_len);
  for (int b = 0; b < batch; ++b) {
    for (int p = 0; p < seq_len; ++p) slots[b * seq_len + p] = b * context + p;
  }
  scatterRows(k_cache.data(), k.data(), slots.data(), batch * seq_len, kvw);
  scatterRows(v_cache.data(), v.data(), slots.data(), batch * seq_len, kvw);

  const auto tokens = shuffledTokens(batch, seq_len, order);
  const long n = static_cast<long>(tokens.size());
  std::vector<float> q_tok(n * qw), expect(n * qw);
  std::vector<std::int32_t> seq(n), pos(n);
  for (long t = 0; t < n; ++t) {
    const auto [b, p] = tokens[t];
    seq[t] = b, pos[t] = p;
    const long row = (static_cast<long>(b) * seq_len + p) * qw;
    std::copy_n(q.begin() + row, qw, q_tok.begin() + t * qw);
    std::copy_n(ref.begin() + row, qw, expect.begin() + t * qw);
  }
  auto out = poisoned(n * qw);
  cachedAttention(out.data(), q_tok.data(), k_cache.data(), v_cache.data(), seq.data(), pos.data(),
                  n, context, d, heads);
  return relErr(out, expect);
}

TEST_P(CachedAttention, EachTokenGetsItsRowOfCausalAttention) {
  EXPECT_LT(cachedAgainstFullAttention(GetParam(), 3, 29, 14), kTol) << "shuffled tokens";
  EXPECT_LT(cachedAgainstFullAttention(GetParam(), 3, 29, 0), kTol) << "a packed prefill";
  // Runs longer than the kernel's block of 128 query rows.
  EXPECT_LT(cachedAgainstFullAttention(GetParam(), 1, 301, 0), kTol) << "a long prompt";
}

INSTANTIATE_TEST_SUITE_P(Heads, CachedAttention,
                         ::testing::Values(CacheCase{0, 6, 2, 0, 0, 3},  // GQA, every head
                                           CacheCase{7, 6, 2, 0, 0, 3},  // with a sliding window
                                           CacheCase{0, 2, 1, 4, 1,
                                                     3},  // a tp shard's heads: q 4..5, kv 1
                                           CacheCase{0, 5, 5, 0, 0, 1}));  // multi-head, odd count

TEST(GenerationKernels, CachedAttentionRejectsAPositionOutsideTheCache) {
  const AttentionHeads heads{1, 1, 0, 0, 1};
  std::vector<float> cache(4 * 2, 0.0f), q(2, 0.0f), out(2);
  const std::int32_t seq = 0, pos = 4;
  EXPECT_THROW(
      cachedAttention(out.data(), q.data(), cache.data(), cache.data(), &seq, &pos, 1, 4, 2, heads),
      std::logic_error);
}

TEST(GenerationKernels, RotaryAtPositionsMatchesTheSequenceRotation) {
  const int batch = 2, seq_len = 23, heads = 3, d = 14;
  RopeFrequencies rope(10000.0);
  rope.rotary_dim = 10;  // partial, so the rotated and kept dims are both checked
  const int token = heads * d;
  const auto x = randomVector(batch * seq_len * token, 21);
  auto whole = x;
  rotaryEmbedding(whole.data(), batch, seq_len, heads, d, rope);
  const auto tokens = shuffledTokens(batch, seq_len, 22);
  std::vector<float> picked(x.size()), expect(x.size());
  std::vector<std::int32_t> positions(tokens.size());
  for (std::size_t t = 0; t < tokens.size(); ++t) {
    const auto [b, p] = tokens[t];
    positions[t] = p;
    const long row = (static_cast<long>(b) * seq_len + p) * token;
    std::copy_n(x.begin() + row, token, picked.begin() + t * token);
    std::copy_n(whole.begin() + row, token, expect.begin() + t * token);
  }
  rotaryEmbeddingAt(picked.data(), positions.data(), static_cast<long>(tokens.size()), heads, d,
                    rope);
  EXPECT_LT(relErr(picked, expect), kTol);
  EXPECT_GT(relErr(x, expect), 0.1);  // the rotation did something
}

TEST(GenerationKernels, EmbedRowsLooksUpItsBlockAndZeroesTheRest) {
  const int hidden = 7, rows = 5, first_id = 10;
  const auto table = randomVector(rows * hidden, 31);
  const std::vector<std::int32_t> ids = {12, 3, 14, 10, 15, 9, 12};
  auto out = poisoned(ids.size() * hidden);
  embedRows(out.data(), ids.data(), table.data(), static_cast<long>(ids.size()), hidden, rows,
            first_id);
  for (std::size_t t = 0; t < ids.size(); ++t) {
    const int row = ids[t] - first_id;
    for (int c = 0; c < hidden; ++c) {
      const float want = row >= 0 && row < rows ? table[row * hidden + c] : 0.0f;
      ASSERT_EQ(out[t * hidden + c], want) << "token " << t << " col " << c;
    }
  }
}

TEST(GenerationKernels, ArgmaxRowsTakesTheFirstMaximumAndSkipsNaN) {
  const int cols = 6;
  const std::vector<float> x = {1,    5,    3,    5,    -2,   0,      // tie: the first 5
                                kNaN, -7,   -3,   -9,   kNaN, -3.5f,  // NaN never wins
                                -1,   -1,   -1,   -1,   -1,   -1,     // all equal: column 0
                                kNaN, kNaN, kNaN, kNaN, kNaN, kNaN};
  std::vector<float> value(4);
  std::vector<std::int32_t> index(4);
  argmaxRows(value.data(), index.data(), x.data(), 4, cols, 100);
  EXPECT_EQ(index, (std::vector<std::int32_t>{101, 102, 100, 100}));
  EXPECT_EQ(value[0], 5.0f);
  EXPECT_EQ(value[1], -3.0f);
  EXPECT_TRUE(std::isnan(value[3]));
}

TEST(GenerationKernels, ArgmaxRowsMatchesMaxElementOnRandomRows) {
  const int rows = 9, cols = 1031;
  const auto x = randomVector(rows * cols, 41);
  std::vector<float> value(rows);
  std::vector<std::int32_t> index(rows);
  argmaxRows(value.data(), index.data(), x.data(), rows, cols, 7);
  for (int r = 0; r < rows; ++r) {
    const auto* row = x.data() + static_cast<long>(r) * cols;
    const long want = std::max_element(row, row + cols) - row;
    EXPECT_EQ(index[r], want + 7);
    EXPECT_EQ(value[r], row[want]);
  }
}

}  // namespace
}  // namespace shardrt::kernels::cpu
