// Every CPU kernel against a plain-loop reference computed in double, on random data with
// sizes that are not multiples of any tile or vector width. Tolerance: normwise relative error
// 1e-5 (fp32 arithmetic against a double reference; a wrong index gives errors near 1).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "kernels/cpu/activations.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/bias.h"
#include "kernels/cpu/column_copy.h"
#include "kernels/cpu/fast_exp.h"
#include "kernels/cpu/layernorm.h"
#include "kernels/cpu/linear.h"
#include "kernels/cpu/residual.h"
#include "kernels/cpu/rmsnorm.h"
#include "kernels/cpu/rope.h"
#include "kernels/cpu/sigmoid_gate.h"
#include "tests/test_util.h"

namespace shardrt::kernels::cpu {
namespace {

using shardrt::testing::poisoned;
using shardrt::testing::randomVector;
using shardrt::testing::relErr;

constexpr double kTol = 1e-5;

TEST(CpuKernels, LinearMatchesTripleLoop) {
  const int rows = 37, in = 203, out_f = 61;
  const auto x = randomVector(rows * in, 1), w = randomVector(out_f * in, 2);
  auto out = poisoned(rows * out_f), ref = poisoned(rows * out_f);
  linear(out.data(), x.data(), w.data(), rows, in, out_f);
  linearReference(ref.data(), x.data(), w.data(), rows, in, out_f);
  EXPECT_LT(relErr(out, ref), kTol);
}

TEST(CpuKernels, LinearUsesWeightAsOutByIn) {
  // out[r][o] = sum_i x[r][i] * w[o][i]: a transposed reading would give another result.
  const std::vector<float> x = {1, 2, 3};           // (1, 3)
  const std::vector<float> w = {1, 0, 0, 0, 0, 1};  // (2, 3)
  std::vector<float> out(2);
  linear(out.data(), x.data(), w.data(), 1, 3, 2);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], 3.0f);
}

TEST(CpuKernels, RmsNormMatchesDefinition) {
  const int rows = 13, cols = 197;
  const float eps = 1e-6f;
  const auto x = randomVector(rows * cols, 3), w = randomVector(cols, 4);
  auto out = poisoned(rows * cols);
  rmsNorm(out.data(), x.data(), w.data(), rows, cols, eps);
  std::vector<float> ref(rows * cols);
  for (int r = 0; r < rows; ++r) {
    double ss = 0;
    for (int c = 0; c < cols; ++c) ss += double(x[r * cols + c]) * x[r * cols + c];
    const double inv = 1.0 / std::sqrt(ss / cols + eps);
    for (int c = 0; c < cols; ++c) ref[r * cols + c] = float(x[r * cols + c] * inv * w[c]);
  }
  EXPECT_LT(relErr(out, ref), kTol);
}

TEST(CpuKernels, LayerNormMatchesDefinition) {
  const int rows = 11, cols = 131;
  const float eps = 1e-5f;
  auto x = randomVector(rows * cols, 5);
  for (auto& v : x) v += 3.0f;  // a mean far from zero: the case one-pass variance gets wrong
  const auto w = randomVector(cols, 6), b = randomVector(cols, 7);
  auto out = poisoned(rows * cols);
  layerNorm(out.data(), x.data(), w.data(), b.data(), rows, cols, eps);
  std::vector<float> ref(rows * cols);
  for (int r = 0; r < rows; ++r) {
    double mean = 0, var = 0;
    for (int c = 0; c < cols; ++c) mean += x[r * cols + c];
    mean /= cols;
    for (int c = 0; c < cols; ++c) var += (x[r * cols + c] - mean) * (x[r * cols + c] - mean);
    var /= cols;
    for (int c = 0; c < cols; ++c) {
      ref[r * cols + c] = float((x[r * cols + c] - mean) / std::sqrt(var + eps) * w[c] + b[c]);
    }
  }
  EXPECT_LT(relErr(out, ref), kTol);
}

// Hugging Face's rotate-half form written out, in double, on the first rd dims of each head
// (all of them when rd = d); the others are copied: x * cos + rotate_half(x) * sin with
// rotate_half(x) = cat(-x2, x1) and cos/sin = cat(f, f), f_i = theta^(-2i/rd).
std::vector<float> rotateHalfReference(const std::vector<float>& x, int rows, int seq, int heads,
                                       int d, int rd, double theta) {
  std::vector<float> ref(x.size());
  for (int r = 0; r < rows; ++r) {  // r: (batch, position, head)
    const int s = r / heads % seq;
    const float* v = &x[static_cast<std::size_t>(r) * d];
    float* o = &ref[static_cast<std::size_t>(r) * d];
    for (int i = 0; i < d; ++i) {
      if (i >= rd) {
        o[i] = v[i];
        continue;
      }
      const int fi = i % (rd / 2);
      const double angle = s * std::pow(theta, -2.0 * fi / rd);
      const double rot = i < rd / 2 ? -v[i + rd / 2] : v[i - rd / 2];
      o[i] = float(v[i] * std::cos(angle) + rot * std::sin(angle));
    }
  }
  return ref;
}

TEST(CpuKernels, RotaryEmbeddingMatchesRotateHalf) {
  const int batch = 2, seq = 23, heads = 3, d = 14;
  const float theta = 500000.0f;
  const auto x = randomVector(batch * seq * heads * d, 8);
  auto out = x;
  rotaryEmbedding(out.data(), batch, seq, heads, d, theta);
  EXPECT_LT(relErr(out, rotateHalfReference(x, batch * seq * heads, seq, heads, d, d, theta)),
            kTol);
}

// GLM-4.5's partial rotary: the first rotary_dim dims of each head rotate as a rotate-half
// embedding of that width (frequencies theta^(-2i/rotary_dim)); the rest are left as they were.
TEST(CpuKernels, PartialRotaryRotatesOnlyTheFirstDims) {
  const int batch = 2, seq = 19, heads = 3, d = 22, rd = 10;
  RopeFrequencies rope(10000.0);
  rope.rotary_dim = rd;
  const auto x = randomVector(batch * seq * heads * d, 9);
  auto out = x;
  rotaryEmbedding(out.data(), batch, seq, heads, d, rope);
  EXPECT_LT(relErr(out, rotateHalfReference(x, batch * seq * heads, seq, heads, d, rd, 10000.0)),
            kTol);
}

// DeepSeek's layout: the rope dims start after each head's nope dims and rotate in adjacent
// pairs (2i, 2i + 1), cos and sin times YaRN's magnitude; the nope dims are left alone.
TEST(CpuKernels, InterleavedRotaryAfterAnOffsetWithMagnitude) {
  const int batch = 2, seq = 17, heads = 3, d = 22, offset = 10, rd = 8;
  RopeFrequencies rope(10000.0);
  rope.rotary_dim = rd;
  rope.rotary_offset = offset;
  rope.interleaved = true;
  rope.magnitude = 1.25;
  const auto x = randomVector(batch * seq * heads * d, 10);
  auto out = x;
  rotaryEmbedding(out.data(), batch, seq, heads, d, rope);
  std::vector<float> ref = x;
  for (int b = 0; b < batch; ++b)
    for (int s = 0; s < seq; ++s)
      for (int h = 0; h < heads; ++h) {
        const float* v = &x[((b * seq + s) * heads + h) * d + offset];
        float* o = &ref[((b * seq + s) * heads + h) * d + offset];
        for (int i = 0; i < rd / 2; ++i) {  // as complex numbers: (v0 + i v1) e^(i angle)
          const double angle = s * std::pow(10000.0, -2.0 * i / rd);
          const double c = 1.25 * std::cos(angle), sn = 1.25 * std::sin(angle);
          o[2 * i] = float(v[2 * i] * c - v[2 * i + 1] * sn);
          o[2 * i + 1] = float(v[2 * i + 1] * c + v[2 * i] * sn);
        }
      }
  EXPECT_LT(relErr(out, ref), kTol);
  for (std::size_t h = 0; h < x.size() / d; ++h) {  // the nope dims and the tail: untouched
    for (int j = 0; j < d; ++j) {
      if (j < offset || j >= offset + rd) {
        ASSERT_EQ(out[h * d + j], x[h * d + j]);
      }
    }
  }
}

// YaRN's frequencies (transformers' _compute_yarn_parameters written again here): DeepSeek-V3's
// factor 40, original context 4096, betas 32/1 at its 64 rope dims. Some dims keep their
// frequency, some are slowed by the whole factor, some ramp between.
TEST(CpuKernels, YarnFrequenciesRampBetweenKeptAndSlowed) {
  const int d = 64;
  const double theta = 10000.0, factor = 40.0, context = 4096.0;
  RopeFrequencies rope(theta);
  rope.factor = factor;
  rope.yarn = true;
  rope.original_context = context;
  const auto correction = [&](double rotations) {
    return d * std::log(context / (rotations * 2 * M_PI)) / (2 * std::log(theta));
  };
  const double low = std::max(std::floor(correction(32.0)), 0.0);
  const double high = std::min(std::ceil(correction(1.0)), d - 1.0);
  int kept = 0, slowed = 0, between = 0;
  for (int i = 0; i < d / 2; ++i) {
    const double f = std::pow(theta, -2.0 * i / d);
    const double ramp = std::clamp((i - low) / (high - low), 0.0, 1.0);
    const double extrapolation = 1.0 - ramp;
    const double want = f / factor * (1.0 - extrapolation) + f * extrapolation;
    EXPECT_NEAR(ropeFrequency(rope, i, d), want, 1e-14 * f) << "i " << i;
    kept += ramp == 0.0;
    slowed += ramp == 1.0;
    between += ramp > 0.0 && ramp < 1.0;
  }
  EXPECT_GT(kept, 0);
  EXPECT_GT(slowed, 0);
  EXPECT_GT(between, 0);
}

TEST(CpuKernels, CopyColumnsWritesTheBlockAndZeroElsewhere) {
  const int inp_rows = 7, inp_cols = 19, out_cols = 23, repeat = 3, width = 9;
  const int inp_col = 6, out_col = 11;
  const auto inp = randomVector(inp_rows * inp_cols, 11);
  auto out = poisoned(inp_rows * repeat * out_cols);
  copyColumns(out.data(), out_cols, out_col, inp.data(), inp_cols, inp_col, inp_rows * repeat,
              width, repeat);
  for (int r = 0; r < inp_rows * repeat; ++r) {
    for (int c = 0; c < out_cols; ++c) {
      const bool in_block = c >= out_col && c < out_col + width;
      const float want = in_block ? inp[(r / repeat) * inp_cols + inp_col + c - out_col] : 0.0f;
      ASSERT_EQ(out[r * out_cols + c], want) << "row " << r << " column " << c;
    }
  }
}

// Llama 3.1's scaling (rope_type "llama3"), with an original context of 4096 so that
// head_dim 14 at theta 500000 has all three bands: wavelengths 6, 41 and 264 kept (< 4096/4),
// 1733 smoothed, 11287 and up slowed 8x (> 4096/1). The reference is written from the
// wavelengths, as Meta's apply_scaling states it, and each band is checked on its own too.
TEST(CpuKernels, RotaryEmbeddingWithLlama3ScalingHasThreeBands) {
  const int seq = 37, d = 14;
  RopeFrequencies rope(500000.0);
  rope.factor = 8.0;
  rope.low_freq_factor = 1.0;
  rope.high_freq_factor = 4.0;
  rope.original_context = 4096.0;
  std::vector<double> want(d / 2);
  int kept = 0, smoothed = 0, slowed = 0;
  for (int i = 0; i < d / 2; ++i) {
    const double f = std::pow(500000.0, -2.0 * i / d);
    const double wavelength = 2 * M_PI / f;
    if (wavelength < 4096.0 / 4.0) {
      want[i] = f;
      ++kept;
    } else if (wavelength > 4096.0 / 1.0) {
      want[i] = f / 8.0;
      ++slowed;
    } else {
      const double s = (4096.0 / wavelength - 1.0) / (4.0 - 1.0);
      want[i] = (1 - s) * f / 8.0 + s * f;
      EXPECT_GT(want[i], f / 8.0);
      EXPECT_LT(want[i], f);
      ++smoothed;
    }
    EXPECT_NEAR(ropeFrequency(rope, i, d), want[i], 1e-15 * want[i]) << "i " << i;
  }
  EXPECT_EQ(kept, 3);
  EXPECT_EQ(smoothed, 1);
  EXPECT_EQ(slowed, 3);
  const auto x = randomVector(seq * d, 31);
  auto out = x;
  rotaryEmbedding(out.data(), 1, seq, 1, d, rope);
  std::vector<float> ref(x.size());
  for (int s = 0; s < seq; ++s) {
    for (int i = 0; i < d / 2; ++i) {
      const double angle = s * want[i];
      const float x1 = x[s * d + i], x2 = x[s * d + i + d / 2];
      ref[s * d + i] = float(x1 * std::cos(angle) - x2 * std::sin(angle));
      ref[s * d + i + d / 2] = float(x2 * std::cos(angle) + x1 * std::sin(angle));
    }
  }
  EXPECT_LT(relErr(out, ref), kTol);
  // Not the unscaled rotation: the slowed band moves the result well past the tolerance.
  auto plain = x;
  rotaryEmbedding(plain.data(), 1, seq, 1, d, RopeFrequencies(500000.0));
  EXPECT_GT(relErr(out, plain), 1e-3);
}

// The bias row added to every row, in double: sizes that are no multiple of anything.
TEST(CpuKernels, AddBiasAddsTheRowToEveryRow) {
  const long rows = 37;
  const int cols = 29;
  const auto x = randomVector(rows * cols, 41), bias = randomVector(cols, 42);
  auto out = x;
  addBias(out.data(), bias.data(), rows, cols);
  std::vector<float> ref(x.size());
  for (long r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) ref[r * cols + c] = float(double(x[r * cols + c]) + bias[c]);
  EXPECT_LT(relErr(out, ref), kTol);
  EXPECT_GT(relErr(x, ref), 0.1);
}

// Each row scaled by the sigmoid of its own gate logit, in double.
TEST(CpuKernels, SigmoidGateRowsScalesEachRowByItsGate) {
  const long rows = 43;
  const int cols = 19;
  const auto x = randomVector(rows * cols, 51), g = randomVector(rows, 52);
  auto out = x;
  sigmoidGateRows(out.data(), g.data(), rows, cols);
  std::vector<float> ref(x.size());
  for (long r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c)
      ref[r * cols + c] = float(x[r * cols + c] / (1.0 + std::exp(-double(g[r]))));
  EXPECT_LT(relErr(out, ref), kTol);
}

TEST(CpuKernels, RotaryEmbeddingLeavesPositionZeroAlone) {
  const int d = 8;
  const auto x = randomVector(d, 9);
  auto out = x;
  rotaryEmbedding(out.data(), 1, 1, 1, d, 10000.0f);
  for (int i = 0; i < d; ++i) EXPECT_FLOAT_EQ(out[i], x[i]);
}

TEST(CpuKernels, GeluIsExactErfForm) {
  const long n = 1001;
  auto x = randomVector(n, 10);
  for (auto& v : x) v *= 4.0f;
  auto out = poisoned(n);
  gelu(out.data(), x.data(), n);
  std::vector<float> ref(n);
  for (long i = 0; i < n; ++i) ref[i] = float(0.5 * x[i] * (1.0 + std::erf(x[i] / std::sqrt(2.0))));
  EXPECT_LT(relErr(out, ref), kTol);
  // The tanh approximation differs from erf by ~1e-4 near |x| = 2: make sure it is not that.
  const float x2 = 2.0f;
  float g2;
  gelu(&g2, &x2, 1);
  EXPECT_NEAR(g2, 1.9544997f, 2e-6f);
}

TEST(CpuKernels, SwigluIsSiluGateTimesUp) {
  const long n = 777;
  const auto g = randomVector(n, 11), u = randomVector(n, 12);
  auto out = poisoned(n);
  swiglu(out.data(), g.data(), u.data(), n);
  std::vector<float> ref(n);
  for (long i = 0; i < n; ++i) ref[i] = float(g[i] / (1.0 + std::exp(-double(g[i]))) * u[i]);
  EXPECT_LT(relErr(out, ref), kTol);
}

TEST(CpuKernels, FastExpIsWithinTwoUlpOfExp) {
  double worst = 0.0;
  for (float x = -87.0f; x < 88.0f; x += 0.00731f) {
    const double want = std::exp(static_cast<double>(x));
    worst = std::max(worst, std::abs(fastExp(x) - want) / want);
  }
  EXPECT_LT(worst, 2.0 * 1.1920929e-7);  // 2 ulp of fp32
  EXPECT_TRUE(std::isnan(fastExp(NAN)));
  EXPECT_EQ(fastExp(0.0f), 1.0f);
  EXPECT_EQ(fastExp(-1000.0f), fastExp(-87.3f));  // clamped: positive, never NaN
  EXPECT_GT(fastExp(-1000.0f), 0.0f);
}

TEST(CpuKernels, ResidualAdd) {
  const long n = 333;
  const auto a = randomVector(n, 13), b = randomVector(n, 14);
  auto out = poisoned(n);
  residualAdd(out.data(), a.data(), b.data(), n);
  for (long i = 0; i < n; ++i) EXPECT_EQ(out[i], a[i] + b[i]);
}

struct AttentionCase {
  int batch, seq, q_heads, kv_heads, head_dim, q_begin, kv_begin, group;
  bool causal;
};

class CpuAttention : public ::testing::TestWithParam<AttentionCase> {};

TEST_P(CpuAttention, MatchesRowByRowReference) {
  const auto c = GetParam();
  const AttentionHeads heads{c.q_heads, c.kv_heads, c.q_begin, c.kv_begin, c.group};
  const auto q = randomVector(c.batch * c.seq * c.q_heads * c.head_dim, 15);
  const auto k = randomVector(c.batch * c.seq * c.kv_heads * c.head_dim, 16);
  const auto v = randomVector(c.batch * c.seq * c.kv_heads * c.head_dim, 17);
  auto out = poisoned(q.size()), ref = poisoned(q.size());
  attention(out.data(), q.data(), k.data(), v.data(), c.batch, c.seq, c.head_dim, heads, c.causal);
  attentionReference(ref.data(), q.data(), k.data(), v.data(), c.batch, c.seq, c.head_dim, heads,
                     c.causal);
  EXPECT_LT(relErr(out, ref), kTol);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, CpuAttention,
    ::testing::Values(
        AttentionCase{2, 37, 4, 4, 16, 0, 0, 1, true},     // multi-head, causal
        AttentionCase{2, 37, 4, 4, 16, 0, 0, 1, false},    // bidirectional
        AttentionCase{1, 300, 6, 2, 24, 0, 0, 3, true},    // grouped, more rows than one block
        AttentionCase{3, 129, 2, 1, 8, 4, 1, 4, true},     // a tp shard: heads 4-5 read kv 1
        AttentionCase{1, 19, 3, 2, 10, 3, 1, 2, false}));  // a shard straddling two kv heads

// A scores' scale other than 1/sqrt(head_dim) (DeepSeek's YaRN mscale^2): the same as the
// default scale on queries multiplied by scale * sqrt(head_dim), for both kernels.
TEST(CpuKernels, AttentionScoreScaleActsAsScaledQueries) {
  const int batch = 2, seq = 41, heads_n = 3, d = 24;
  const float scale = 0.37f;
  AttentionHeads scaled{heads_n, heads_n, 0, 0, 1, scale};
  const AttentionHeads plain{heads_n, heads_n, 0, 0, 1};
  const auto q = randomVector(batch * seq * heads_n * d, 18);
  const auto k = randomVector(q.size(), 19), v = randomVector(q.size(), 20);
  auto q_scaled = q;
  for (auto& x : q_scaled) x *= scale * std::sqrt(static_cast<float>(d));
  auto want = poisoned(q.size()), got = poisoned(q.size()), got_ref = poisoned(q.size());
  attentionReference(want.data(), q_scaled.data(), k.data(), v.data(), batch, seq, d, plain, true);
  attention(got.data(), q.data(), k.data(), v.data(), batch, seq, d, scaled, true);
  attentionReference(got_ref.data(), q.data(), k.data(), v.data(), batch, seq, d, scaled, true);
  EXPECT_LT(relErr(got, want), kTol);
  EXPECT_LT(relErr(got_ref, want), kTol);
  auto unscaled = poisoned(q.size());
  attention(unscaled.data(), q.data(), k.data(), v.data(), batch, seq, d, plain, true);
  EXPECT_GT(relErr(unscaled, want), 1e-2);  // the scale matters at these sizes
}

// Mistral's sliding window: the blocked kernel against the row-by-row reference at a window
// that cuts across its 128-row blocks, and two cases known without either: a window of 1 sees
// only its own position (out = v), a window of seq_len is the plain causal mask.
TEST(CpuKernels, SlidingWindowAttention) {
  const int batch = 2, seq = 300, heads_n = 4, kv = 2, d = 12;
  const auto q = randomVector(batch * seq * heads_n * d, 21);
  const auto k = randomVector(batch * seq * kv * d, 22), v = randomVector(k.size(), 23);
  const auto run = [&](int window, bool reference) {
    const AttentionHeads heads{heads_n, kv, 0, 0, 2, 0.0f, window};
    auto out = poisoned(q.size());
    (reference ? attentionReference : attention)(out.data(), q.data(), k.data(), v.data(), batch,
                                                 seq, d, heads, true);
    return out;
  };
  const auto windowed = run(37, false);
  EXPECT_LT(relErr(windowed, run(37, true)), kTol);
  EXPECT_GT(relErr(windowed, run(0, false)), 1e-2);  // the window changes the result
  EXPECT_LT(relErr(run(seq, false), run(0, false)), 1e-7);
  const auto own = run(1, false);
  for (int b = 0; b < batch; ++b)
    for (int s = 0; s < seq; ++s)
      for (int h = 0; h < heads_n; ++h)
        for (int j = 0; j < d; ++j) {
          ASSERT_NEAR(own[((b * seq + s) * heads_n + h) * d + j],
                      v[((b * seq + s) * kv + h / 2) * d + j], 1e-6);
        }
}

TEST(CpuKernels, AttentionRowZeroCausalCopiesFirstValue) {
  // Causal position 0 sees only key 0, so its output is v[0] exactly.
  const int seq = 5, d = 6;
  const AttentionHeads heads{1, 1, 0, 0, 1};
  const auto q = randomVector(seq * d, 18), k = randomVector(seq * d, 19),
             v = randomVector(seq * d, 20);
  auto out = poisoned(q.size());
  attention(out.data(), q.data(), k.data(), v.data(), 1, seq, d, heads, true);
  for (int i = 0; i < d; ++i) EXPECT_FLOAT_EQ(out[i], v[i]);
}

TEST(CpuKernels, AttentionRejectsHeadRangesWithoutTheirKvHead) {
  const AttentionHeads heads{2, 1, 0, 1, 2};  // q heads 0-1 need kv head 0, but kv 1 is held
  std::vector<float> q(2 * 4), kv(4), out(8);
  EXPECT_THROW(attention(out.data(), q.data(), kv.data(), kv.data(), 1, 1, 4, heads, true),
               std::logic_error);
}

}  // namespace
}  // namespace shardrt::kernels::cpu
