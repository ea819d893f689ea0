// The generation ops on the cuda Backend against the cpu Backend, on random data: embedRows,
// rotaryEmbeddingAt, scatterRows, cachedAttention and argmaxRows, in fp32 and bf16. bf16 inputs
// are rounded to bf16 on the host first and the CPU runs on exactly those values (the cpu
// Backend is fp32 only), so what is left is the GPU's rounding of its output. Tolerances:
// normwise 1e-5 in fp32, 1e-2 in bf16 (as tests/gpu/test_bf16_kernels.cpp, which explains it);
// the copies (embedRows, scatterRows) and argmaxRows must match bit for bit. Outputs start as
// NaN, so an element the GPU does not write fails. Sizes are not multiples of any tile; the
// caches hold NaN past each sequence's length, so a key read past a token's position shows.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "common/bfloat16.h"
#include "runtime/cpu_backend.h"
#include "runtime/cuda_backend.h"
#include "tests/gpu/gpu_test_util.h"
#include "tests/test_util.h"

namespace shardrt {
namespace {

using kernels::AttentionHeads;
using kernels::RopeFrequencies;
using shardrt::testing::poisoned;
using shardrt::testing::randomVector;
using shardrt::testing::relErr;

constexpr double kFp32Tolerance = 1e-5;
constexpr double kBf16Tolerance = 1e-2;
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

double tolerance(DType dtype) { return dtype == DType::BF16 ? kBf16Tolerance : kFp32Tolerance; }

// The values as a tensor of dtype holds them: rounded to bf16 for BF16 (NaN stays NaN).
std::vector<float> asStored(std::vector<float> values, DType dtype) {
  if (dtype == DType::BF16) {
    for (auto& v : values) v = toFloat(toBfloat16(v));
  }
  return values;
}

// One operand on both backends: in fp32 on the cpu, in the dtype under test on the gpu.
struct Operand {
  Tensor cpu, gpu;
};

struct Backends {
  CpuBackend cpu;
  CudaBackend gpu{0};

  // values must already be asStored(dtype): both sides then hold the same numbers.
  Operand floats(const Shape& shape, const std::vector<float>& values, DType dtype) {
    EXPECT_EQ(shape.numel(), static_cast<std::int64_t>(values.size()));
    Operand o{cpu.empty(shape, DType::F32), gpu.empty(shape, dtype)};
    cpu.copyFromHost(o.cpu, values.data());
    if (dtype == DType::BF16) {
      const std::vector<bfloat16> bits = toBfloat16(values);
      gpu.copyFromHost(o.gpu, bits.data());
    } else {
      gpu.copyFromHost(o.gpu, values.data());
    }
    return o;
  }

  Operand ints(const Shape& shape, const std::vector<std::int32_t>& values) {
    EXPECT_EQ(shape.numel(), static_cast<std::int64_t>(values.size()));
    Operand o{cpu.empty(shape, DType::I32), gpu.empty(shape, DType::I32)};
    cpu.copyFromHost(o.cpu, values.data());
    gpu.copyFromHost(o.gpu, values.data());
    return o;
  }

  // The values on each side, as floats.
  std::pair<std::vector<float>, std::vector<float>> results(const Operand& o) {
    std::vector<float> on_cpu(static_cast<std::size_t>(o.cpu.numel()));
    cpu.copyToHost(on_cpu.data(), o.cpu);
    std::vector<float> on_gpu(on_cpu.size());
    if (o.gpu.dtype() == DType::BF16) {
      std::vector<bfloat16> bits(on_gpu.size());
      gpu.copyToHost(bits.data(), o.gpu);
      for (std::size_t i = 0; i < bits.size(); ++i) on_gpu[i] = toFloat(bits[i]);
    } else {
      gpu.copyToHost(on_gpu.data(), o.gpu);
    }
    return {on_cpu, on_gpu};
  }

  std::pair<std::vector<std::int32_t>, std::vector<std::int32_t>> intResults(const Operand& o) {
    std::vector<std::int32_t> on_cpu(static_cast<std::size_t>(o.cpu.numel())),
        on_gpu(on_cpu.size());
    cpu.copyToHost(on_cpu.data(), o.cpu);
    gpu.copyToHost(on_gpu.data(), o.gpu);
    return {on_cpu, on_gpu};
  }
};

// Bit for bit, except that any NaN equals any NaN (a bf16 NaN widens to another payload).
bool sameValue(float a, float b) {
  return (std::isnan(a) && std::isnan(b)) ||
         std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(b);
}

std::vector<std::int32_t> randomInts(std::size_t n, int lo, int hi, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(lo, hi);
  std::vector<std::int32_t> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

const char* name(DType dtype) { return dtype == DType::BF16 ? "bf16" : "fp32"; }

TEST(CudaGenerationOps, EmbedRowsMatchesCpu) {
  SHARDRT_REQUIRE_GPU();
  Backends be;
  const int tokens = 37, hidden = 133, table_rows = 50, first_id = 100;
  // Ids below, in and above the block [100, 150), its edges among them.
  auto ids = randomInts(tokens, 80, 169, 1);
  ids[0] = 100, ids[1] = 149, ids[2] = 99, ids[3] = 150, ids[4] = -1;
  const Shape out_shape{{"tokens", tokens}, {"hidden", hidden}};
  for (DType dtype : {DType::F32, DType::BF16}) {
    const auto table = asStored(randomVector(table_rows * hidden, 2), dtype);
    Operand t = be.floats({{"rows", table_rows}, {"hidden", hidden}}, table, dtype);
    Operand i = be.ints({{"tokens", tokens}}, ids);
    Operand out = be.floats(out_shape, poisoned(tokens * hidden), dtype);
    be.cpu.embedRows(out.cpu, i.cpu, t.cpu, first_id);
    be.gpu.embedRows(out.gpu, i.gpu, t.gpu, first_id);
    const auto [ref, got] = be.results(out);
    EXPECT_EQ(got, ref) << name(dtype);  // a copy and zeros: exact
  }
}

struct RopeCase {
  const char* what;
  int head_dim;
  RopeFrequencies rope;
};

std::vector<RopeCase> ropeCases() {
  std::vector<RopeCase> cases;
  cases.push_back({"plain, head_dim 40", 40, RopeFrequencies(10000.0)});
  cases.push_back({"plain, head_dim 64 (bf16 packs)", 64, RopeFrequencies(500000.0)});
  RopeFrequencies llama3(500000.0);
  llama3.factor = 8.0;
  llama3.rotary_dim = 24;
  cases.push_back({"Llama 3.1 scaling, partial rotary 24 of 40", 40, llama3});
  RopeFrequencies deepseek(10000.0);
  deepseek.rotary_dim = 8;
  deepseek.rotary_offset = 16;
  deepseek.interleaved = true;
  deepseek.factor = 40.0;
  deepseek.yarn = true;
  deepseek.original_context = 4096.0;
  deepseek.magnitude = 1.1;
  cases.push_back({"YaRN, interleaved 8 after an offset of 16", 24, deepseek});
  return cases;
}

TEST(CudaGenerationOps, RotaryEmbeddingAtMatchesCpu) {
  SHARDRT_REQUIRE_GPU();
  Backends be;
  const int heads = 5;
  for (const RopeCase& c : ropeCases()) {
    for (DType dtype : {DType::F32, DType::BF16}) {
      // (tokens, heads, head_dim) and (batch, seq, heads, head_dim): 23 and 2 * 7 tokens.
      for (const Shape& s :
           {Shape{{"tokens", 23}, {"heads", heads}, {"d", c.head_dim}},
            Shape{{"batch", 2}, {"seq", 7}, {"heads", heads}, {"d", c.head_dim}}}) {
        const int tokens = static_cast<int>(s.numel() / (heads * c.head_dim));
        auto positions = randomInts(tokens, 0, 40000, 3);
        positions[0] = 0, positions[1] = 4095, positions[2] = 32767;
        const auto x = asStored(randomVector(s.numel(), 4), dtype);
        Operand dx = be.floats(s, x, dtype);
        Operand p = be.ints({{"tokens", tokens}}, positions);
        be.cpu.rotaryEmbeddingAt(dx.cpu, p.cpu, c.rope);
        be.gpu.rotaryEmbeddingAt(dx.gpu, p.gpu, c.rope);
        const auto [ref, got] = be.results(dx);
        ASSERT_GT(relErr(x, ref), 1e-3) << c.what;  // the rotation is not a rounding error
        EXPECT_LT(relErr(got, ref), tolerance(dtype))
            << c.what << ", " << name(dtype) << ", " << s.str();
      }
    }
  }
}

TEST(CudaGenerationOps, ScatterRowsMatchesCpu) {
  SHARDRT_REQUIRE_GPU();
  Backends be;
  for (DType dtype : {DType::F32, DType::BF16}) {
    {  // (rows, cols): 23 of 61 rows, in a shuffled order
      const int out_rows = 61, cols = 75, rows = 23;
      std::vector<std::int32_t> index(out_rows);
      for (int r = 0; r < out_rows; ++r) index[r] = r;
      std::shuffle(index.begin(), index.end(), std::mt19937(5));
      index.resize(rows);
      Operand out = be.floats({{"rows", out_rows}, {"cols", cols}},
                              asStored(randomVector(out_rows * cols, 6), dtype), dtype);
      Operand inp = be.floats({{"rows", rows}, {"cols", cols}},
                              asStored(randomVector(rows * cols, 7), dtype), dtype);
      Operand i = be.ints({{"rows", rows}}, index);
      be.cpu.scatterRows(out.cpu, inp.cpu, i.cpu);
      be.gpu.scatterRows(out.gpu, inp.gpu, i.gpu);
      const auto [ref, got] = be.results(out);
      EXPECT_EQ(got, ref) << name(dtype) << ", (rows, cols)";
    }
    {  // a cache (sequences, context, kv_heads, head_dim): 5 tokens' keys, a row per kv head
      const int sequences = 3, context = 41, kv_heads = 2, d = 24, tokens = 5;
      const int slots[tokens][2] = {{0, 0}, {2, 40}, {1, 17}, {0, 1}, {2, 3}};  // (seq, pos)
      std::vector<std::int32_t> index;
      for (const auto& sp : slots) {
        for (int h = 0; h < kv_heads; ++h)
          index.push_back((sp[0] * context + sp[1]) * kv_heads + h);
      }
      const int n = sequences * context * kv_heads * d;
      Operand cache = be.floats(
          {{"sequences", sequences}, {"context", context}, {"kv_heads", kv_heads}, {"d", d}},
          asStored(randomVector(n, 8), dtype), dtype);
      Operand inp = be.floats({{"tokens", tokens}, {"kv_heads", kv_heads}, {"d", d}},
                              asStored(randomVector(tokens * kv_heads * d, 9), dtype), dtype);
      Operand i = be.ints({{"rows", tokens * kv_heads}}, index);
      be.cpu.scatterRows(cache.cpu, inp.cpu, i.cpu);
      be.gpu.scatterRows(cache.gpu, inp.gpu, i.gpu);
      const auto [ref, got] = be.results(cache);
      EXPECT_EQ(got, ref) << name(dtype) << ", into a cache";
    }
  }
}

struct CacheCase {
  const char* what;
  int context, head_dim;
  std::vector<int> lengths;  // keys and values written per sequence; NaN past them
  AttentionHeads heads;
  std::vector<std::pair<int, int>> tokens;  // (sequence, position); empty: every written one
};

// Each case on both backends, in fp32 and bf16.
void checkCachedAttention(Backends& be, const CacheCase& c) {
  const int sequences = static_cast<int>(c.lengths.size()), d = c.head_dim;
  const AttentionHeads& heads = c.heads;
  std::vector<std::pair<int, int>> tokens = c.tokens;
  if (tokens.empty()) {  // every written position of every sequence, shuffled together
    for (int s = 0; s < sequences; ++s) {
      for (int p = 0; p < c.lengths[s]; ++p) tokens.emplace_back(s, p);
    }
    std::shuffle(tokens.begin(), tokens.end(), std::mt19937(10));
  }
  const int n = static_cast<int>(tokens.size());
  std::vector<std::int32_t> seq(n), pos(n);
  for (int t = 0; t < n; ++t) seq[t] = tokens[t].first, pos[t] = tokens[t].second;

  const Shape cache_shape{
      {"sequences", sequences}, {"context", c.context}, {"kv_heads", heads.kv_heads}, {"d", d}};
  const long per_sequence = static_cast<long>(c.context) * heads.kv_heads * d;
  auto k = randomVector(sequences * per_sequence, 11), v = randomVector(k.size(), 12);
  for (int s = 0; s < sequences; ++s) {
    const long written = static_cast<long>(c.lengths[s]) * heads.kv_heads * d;
    std::fill(k.begin() + s * per_sequence + written, k.begin() + (s + 1) * per_sequence, kNaN);
    std::fill(v.begin() + s * per_sequence + written, v.begin() + (s + 1) * per_sequence, kNaN);
  }
  const Shape q_shape{{"tokens", n}, {"q_heads", heads.q_heads}, {"d", d}};
  auto q = randomVector(q_shape.numel(), 13);
  for (auto& x : q) x *= 3.0f;  // scores spread over a few units: a softmax with some peaks
  for (DType dtype : {DType::F32, DType::BF16}) {
    Operand dq = be.floats(q_shape, asStored(q, dtype), dtype);
    Operand dk = be.floats(cache_shape, asStored(k, dtype), dtype);
    Operand dv = be.floats(cache_shape, asStored(v, dtype), dtype);
    Operand ds = be.ints({{"tokens", n}}, seq), dp = be.ints({{"tokens", n}}, pos);
    Operand out = be.floats(q_shape, poisoned(q_shape.numel()), dtype);
    be.cpu.cachedAttention(out.cpu, dq.cpu, dk.cpu, dv.cpu, ds.cpu, dp.cpu, heads);
    be.gpu.cachedAttention(out.gpu, dq.gpu, dk.gpu, dv.gpu, ds.gpu, dp.gpu, heads);
    const auto [ref, got] = be.results(out);
    ASSERT_TRUE(std::all_of(ref.begin(), ref.end(), [](float x) { return std::isfinite(x); }))
        << c.what << ": the CPU read a NaN";
    EXPECT_LT(relErr(got, ref), tolerance(dtype)) << c.what << ", " << name(dtype);
  }
}

// 3 sequences of 29, 41 and 13 tokens in a cache of context 41, every token of all three
// queried in one shuffled call; head_dim 24 (under a warp) and 80.
TEST(CudaGenerationOps, CachedAttentionMatchesCpu) {
  SHARDRT_REQUIRE_GPU();
  Backends be;
  const std::vector<int> lengths{29, 41, 13};
  for (int d : {24, 80}) {
    checkCachedAttention(be, {"GQA 6 over 2", 41, d, lengths, {6, 2, 0, 0, 3}, {}});
    checkCachedAttention(be, {"4 heads, no grouping", 41, d, lengths, {4, 4, 0, 0, 1}, {}});
    checkCachedAttention(be,
                         {"window 7, GQA 6 over 2", 41, d, lengths, {6, 2, 0, 0, 3, 0.0f, 7}, {}});
    // tp rank 1 of 4 of 12 query and 4 kv heads: global query heads 3..5, kv head 1.
    checkCachedAttention(be, {"a tp slice", 41, d, lengths, {3, 1, 3, 1, 3}, {}});
    checkCachedAttention(
        be, {"a tp slice, window 5, scale 0.3", 41, d, lengths, {2, 1, 4, 2, 2, 0.3f, 5}, {}});
  }
}

// Latent attention's decode (runtime/latent_attention.h): every query head against one row of
// kv_rank + rope_dim = 576 a key, the same rows passed as keys and values, with the model's
// scale; and a width off every tile (577).
TEST(CudaGenerationOps, CachedAttentionOverLatentRowsMatchesCpu) {
  SHARDRT_REQUIRE_GPU();
  Backends be;
  const std::vector<int> lengths{29, 41, 13};
  checkCachedAttention(
      be, {"8 heads over one latent row of 576", 41, 576, lengths, {8, 1, 0, 0, 8, 0.0722f}, {}});
  checkCachedAttention(
      be,
      {"a tp slice: heads 4..7 of 8, width 577", 41, 577, lengths, {4, 1, 4, 0, 8, 0.0722f}, {}});
}

// Contexts past any chunk or tile: a decode-like token at position 4999 of 5000 written keys,
// others at 3000 and 17, in a cache with NaN past the written keys; with and without a window.
TEST(CudaGenerationOps, CachedAttentionLongContextMatchesCpu) {
  SHARDRT_REQUIRE_GPU();
  Backends be;
  const std::vector<std::pair<int, int>> tokens{{0, 4999}, {1, 3000}, {0, 17}};
  const std::vector<int> lengths{5000, 3001};
  checkCachedAttention(be, {"context 5003", 5003, 64, lengths, {4, 2, 0, 0, 2}, tokens});
  checkCachedAttention(
      be, {"context 5003, window 1000", 5003, 64, lengths, {4, 2, 0, 0, 2, 0.0f, 1000}, tokens});
}

// Rows built to test the rule: ties within a warp and across warps, NaNs, infinities, -0.
struct ArgmaxRows {
  int cols = 1000;
  std::vector<float> x;
  std::vector<int> expected;  // the column each row must give

  void add(std::vector<float> row, int column) {
    x.insert(x.end(), row.begin(), row.end());
    expected.push_back(column);
  }
  std::vector<float> filled(float v) const { return std::vector<float>(cols, v); }
};

ArgmaxRows specialRows() {
  ArgmaxRows r;
  r.add(r.filled(0.5f), 0);  // all equal
  auto row = r.filled(-1.0f);
  for (int c : {999, 256, 255, 511}) row[c] = 2.0f;  // tied across threads: the first
  r.add(row, 255);
  row = r.filled(-1.0f);
  for (int c : {34, 33, 1}) row[c] = 2.0f;  // tied within a warp
  r.add(row, 1);
  r.add(r.filled(kNaN), 0);  // all NaN: column 0
  row = randomVector(r.cols, 20);
  row[0] = row[513] = kNaN;
  row[700] = 1.5f;  // NaNs skipped for the largest number
  r.add(row, 700);
  row = r.filled(kNaN);
  row[777] = -5.0f;  // the one number among NaNs
  r.add(row, 777);
  r.add(r.filled(-kInf), 0);
  row = r.filled(-1.0f);
  row[10] = -0.0f;
  row[300] = 0.0f;  // -0 == +0: the first
  r.add(row, 10);
  row = r.filled(1.0f);
  row[0] = kNaN;
  row[600] = row[400] = kInf;
  r.add(row, 400);
  return r;
}

void checkArgmax(Backends& be, const std::vector<float>& x, int rows, int cols, DType dtype,
                 const std::vector<int>* expected) {
  const int first_index = 1000;
  Operand dx = be.floats({{"rows", rows}, {"cols", cols}}, asStored(x, dtype), dtype);
  const Shape r{{"rows", rows}};
  Operand value{be.cpu.empty(r, DType::F32), be.gpu.empty(r, DType::F32)};
  be.cpu.copyFromHost(value.cpu, poisoned(rows).data());
  be.gpu.copyFromHost(value.gpu, poisoned(rows).data());
  Operand index = be.ints(r, std::vector<std::int32_t>(rows, -7));
  be.cpu.argmaxRows(value.cpu, index.cpu, dx.cpu, first_index);
  be.gpu.argmaxRows(value.gpu, index.gpu, dx.gpu, first_index);
  const auto [ref_i, got_i] = be.intResults(index);
  const auto [ref_v, got_v] = be.results(value);
  const std::string what = std::string(name(dtype)) + ", " + std::to_string(cols) + " columns";
  EXPECT_EQ(got_i, ref_i) << what;
  for (int i = 0; i < rows; ++i) {
    EXPECT_TRUE(sameValue(got_v[i], ref_v[i]))
        << what << ", row " << i << ": " << got_v[i] << " vs " << ref_v[i];
    if (expected) {
      EXPECT_EQ(got_i[i], (*expected)[i] + first_index) << what << ", row " << i;
    }
  }
}

TEST(CudaGenerationOps, ArgmaxRowsFollowsTheTieAndNaNRules) {
  SHARDRT_REQUIRE_GPU();
  Backends be;
  const ArgmaxRows special = specialRows();
  const int rows = static_cast<int>(special.expected.size());
  for (DType dtype : {DType::F32, DType::BF16}) {
    checkArgmax(be, special.x, rows, special.cols, dtype, &special.expected);
  }
}

// Random rows: the same columns as the CPU, exactly (bf16 rounding makes ties likely).
TEST(CudaGenerationOps, ArgmaxRowsMatchesCpu) {
  SHARDRT_REQUIRE_GPU();
  Backends be;
  const int rows = 37;
  for (int cols : {5, 1000, 4099, 32000}) {
    const auto x = randomVector(static_cast<std::size_t>(rows) * cols, 21);
    for (DType dtype : {DType::F32, DType::BF16}) checkArgmax(be, x, rows, cols, dtype, nullptr);
  }
}

// The backend's shape checks run before any kernel: a mismatch throws instead of launching.
TEST(CudaGenerationOps, ChecksShapes) {
  SHARDRT_REQUIRE_GPU();
  CudaBackend gpu(0);
  Tensor x = gpu.empty({{"tokens", 4}, {"heads", 2}, {"d", 8}}, DType::F32);
  Tensor positions = gpu.empty({{"tokens", 3}}, DType::I32);
  EXPECT_THROW(gpu.rotaryEmbeddingAt(x, positions, RopeFrequencies()), std::logic_error);
  Tensor best = gpu.empty({{"rows", 8}}, DType::F32), index = gpu.empty({{"rows", 8}}, DType::F32);
  EXPECT_THROW(gpu.argmaxRows(best, index, x, 0), std::logic_error);  // index must be i32
}

}  // namespace
}  // namespace shardrt
