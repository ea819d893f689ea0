// The bf16 (storage) CUDA kernels against the fp32 CPU kernels. The random inputs are rounded
// to bf16 on the host first and the CPU runs on exactly those values, so what is left between
// the two is the GPU's bf16 stores (and fp32 summation order, ~1e-6). Tolerance: normwise 1e-2.
// bf16 keeps 8 significant bits, so one round-to-nearest moves a value by at most half an ulp,
// 2^-9 to 2^-8 of it (2e-3 to 3.9e-3); an output rounded once lands near 1.5e-3 normwise, and
// scatterAddRows, which rounds after each of a row's 3-4 entries, a few 1e-3. A wrong index or
// an unwritten element (outputs start as NaN) is off by O(1). Where the GPU does the CPU's very
// flops (residual add, gather) the result must be the CPU's, rounded, bit for bit.
#include <cuda_bf16.h>
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "common/bfloat16.h"
#include "kernels/cpu/activations.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/bias.h"
#include "kernels/cpu/layernorm.h"
#include "kernels/cpu/permute.h"
#include "kernels/cpu/residual.h"
#include "kernels/cpu/rmsnorm.h"
#include "kernels/cpu/rope.h"
#include "kernels/cpu/sigmoid_gate.h"
#include "kernels/cuda/activations.cuh"
#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/attention_tensor_core.cuh"
#include "kernels/cuda/bias.cuh"
#include "kernels/cuda/layernorm.cuh"
#include "kernels/cuda/permute.cuh"
#include "kernels/cuda/residual.cuh"
#include "kernels/cuda/rmsnorm.cuh"
#include "kernels/cuda/rope.cuh"
#include "kernels/cuda/sigmoid_gate.cuh"
#include "tests/gpu/attention_shapes.h"
#include "tests/gpu/gpu_test_util.h"
#include "tests/test_util.h"

namespace shardrt::kernels {
namespace {

using shardrt::testing::DeviceArray;
using shardrt::testing::randomVector;
using shardrt::testing::relErr;

constexpr double kBf16Tolerance = 1e-2;

// The host's bf16 (common/bfloat16.h), as bits: round to nearest even, as __float2bfloat16_rn.
std::uint16_t toBf16Bits(float f) { return toBfloat16(f).bits; }
float fromBf16Bits(std::uint16_t b) { return toFloat(bfloat16{b}); }

// Each value rounded to the nearest bf16, still as float: the inputs both sides see.
std::vector<float> roundedToBf16(std::vector<float> x) {
  for (auto& v : x) v = fromBf16Bits(toBf16Bits(v));
  return x;
}

std::vector<float> randomBf16(std::size_t n, unsigned seed) {
  return roundedToBf16(randomVector(n, seed));
}

std::vector<__nv_bfloat16> toBf16(const std::vector<float>& x) {
  std::vector<__nv_bfloat16> out(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    __nv_bfloat16_raw raw;
    raw.x = toBf16Bits(x[i]);
    out[i] = raw;
  }
  return out;
}

std::vector<float> toFloat(const std::vector<__nv_bfloat16>& x) {
  std::vector<float> out(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    out[i] = fromBf16Bits(static_cast<__nv_bfloat16_raw>(x[i]).x);
  }
  return out;
}

// A bf16 device copy of host values (already bf16-exact, so the copy is lossless).
DeviceArray<__nv_bfloat16> upload(const std::vector<float>& x) {
  return DeviceArray<__nv_bfloat16>(toBf16(x));
}

// The host rounding helper itself, on values whose rounding is known.
TEST(Bf16Host, RoundsToNearestEven) {
  EXPECT_EQ(toBf16Bits(1.0f), 0x3f80u);
  EXPECT_EQ(toBf16Bits(-2.0f), 0xc000u);
  const float ulp = std::ldexp(1.0f, -7);                     // bf16 spacing in [1, 2)
  EXPECT_EQ(toBf16Bits(1.0f + ulp / 2), 0x3f80u);             // tie: down to even
  EXPECT_EQ(toBf16Bits(1.0f + ulp + ulp / 2), 0x3f82u);       // tie: up to even
  EXPECT_EQ(toBf16Bits(1.0f + ulp / 2 + ulp / 64), 0x3f81u);  // above the tie: up
  EXPECT_EQ(toBf16Bits(1.0f + ulp / 2 - ulp / 64), 0x3f80u);  // below the tie: down
  EXPECT_EQ(toBf16Bits(INFINITY), 0x7f80u);
  EXPECT_TRUE(std::isnan(fromBf16Bits(toBf16Bits(NAN))));
  EXPECT_EQ(fromBf16Bits(0x3fc0u), 1.5f);
}

TEST(CudaBf16, RmsNormMatchesCpu) {
  SHARDRT_REQUIRE_GPU();
  for (const auto& [rows, cols] : {std::pair{37, 197}, std::pair{5, 4099}, std::pair{1, 33},
                                   std::pair{37, 4104}, std::pair{3, 200}}) {
    const auto x = randomBf16(rows * cols, 1), w = randomBf16(cols, 2);
    std::vector<float> ref(x.size());
    cpu::rmsNorm(ref.data(), x.data(), w.data(), rows, cols, 1e-5f);
    auto dx = upload(x), dw = upload(w);
    DeviceArray<__nv_bfloat16> dy(x.size());
    cuda::rmsNorm(dy.get(), dx.get(), dw.get(), rows, cols, 1e-5f, nullptr);
    EXPECT_LT(relErr(toFloat(dy.download()), ref), kBf16Tolerance) << rows << "x" << cols;
  }
}

TEST(CudaBf16, LayerNormMatchesCpu) {
  SHARDRT_REQUIRE_GPU();
  for (const auto& [rows, cols] : {std::pair{37, 197}, std::pair{5, 4099}, std::pair{1, 33},
                                   std::pair{37, 4104}, std::pair{3, 200}}) {
    auto x = randomVector(rows * cols, 3);
    for (auto& v : x) v += 3.0f;  // a mean far from zero
    x = roundedToBf16(x);
    const auto w = randomBf16(cols, 4), b = randomBf16(cols, 5);
    std::vector<float> ref(x.size());
    cpu::layerNorm(ref.data(), x.data(), w.data(), b.data(), rows, cols, 1e-5f);
    auto dx = upload(x), dw = upload(w), db = upload(b);
    DeviceArray<__nv_bfloat16> dy(x.size());
    cuda::layerNorm(dy.get(), dx.get(), dw.get(), db.get(), rows, cols, 1e-5f, nullptr);
    EXPECT_LT(relErr(toFloat(dy.download()), ref), kBf16Tolerance) << rows << "x" << cols;
  }
}

TEST(CudaBf16, NormsInPlaceMatchCpu) {
  SHARDRT_REQUIRE_GPU();
  const int rows = 9, cols = 515;
  const auto x = randomBf16(rows * cols, 6), w = randomBf16(cols, 7), b = randomBf16(cols, 8);
  std::vector<float> ref_rms(x.size()), ref_ln(x.size());
  cpu::rmsNorm(ref_rms.data(), x.data(), w.data(), rows, cols, 1e-5f);
  cpu::layerNorm(ref_ln.data(), x.data(), w.data(), b.data(), rows, cols, 1e-5f);
  auto dx_rms = upload(x), dx_ln = upload(x), dw = upload(w), db = upload(b);
  cuda::rmsNorm(dx_rms.get(), dx_rms.get(), dw.get(), rows, cols, 1e-5f, nullptr);
  cuda::layerNorm(dx_ln.get(), dx_ln.get(), dw.get(), db.get(), rows, cols, 1e-5f, nullptr);
  EXPECT_LT(relErr(toFloat(dx_rms.download()), ref_rms), kBf16Tolerance);
  EXPECT_LT(relErr(toFloat(dx_ln.download()), ref_ln), kBf16Tolerance);
}

TEST(CudaBf16, RotaryEmbeddingMatchesCpu) {
  SHARDRT_REQUIRE_GPU();
  const int batch = 3, seq = 77, heads = 5;
  for (int d : {46, 48, 128}) {  // half 23: element by element; 24 and 64: 16-byte packs
    const auto x = randomBf16(batch * seq * heads * d, 1);
    auto ref = x;
    cpu::rotaryEmbedding(ref.data(), batch, seq, heads, d, 500000.0f);
    auto dx = upload(x);
    cuda::rotaryEmbedding(dx.get(), batch, seq, heads, d, 500000.0f, nullptr);
    EXPECT_LT(relErr(toFloat(dx.download()), ref), kBf16Tolerance) << "head_dim " << d;
  }
}

TEST(CudaBf16, GeluAndSwigluMatchCpu) {
  SHARDRT_REQUIRE_GPU();
  for (long n : {100003L, 100008L}) {  // element by element; 16-byte packs
    auto x = randomVector(n, 2);
    for (auto& v : x) v *= 4.0f;
    x = roundedToBf16(x);
    const auto up = randomBf16(n, 3);
    std::vector<float> ref_gelu(n), ref_swiglu(n);
    cpu::gelu(ref_gelu.data(), x.data(), n);
    cpu::swiglu(ref_swiglu.data(), x.data(), up.data(), n);
    auto dx = upload(x), dup = upload(up);
    DeviceArray<__nv_bfloat16> dg(n), ds(n);
    cuda::gelu(dg.get(), dx.get(), n, nullptr);
    cuda::swiglu(ds.get(), dx.get(), dup.get(), n, nullptr);
    EXPECT_LT(relErr(toFloat(dg.download()), ref_gelu), kBf16Tolerance) << n;
    EXPECT_LT(relErr(toFloat(ds.download()), ref_swiglu), kBf16Tolerance) << n;
    // A view one element in: a multiple of the pack long, but not 16-byte aligned, so the
    // element-by-element path must take it.
    const long m = n - 8;
    cuda::gelu(dg.get() + 1, dx.get() + 1, m, nullptr);
    const auto shifted = toFloat(dg.download());
    EXPECT_LT(relErr(std::vector<float>(shifted.begin() + 1, shifted.begin() + 1 + m),
                     std::vector<float>(ref_gelu.begin() + 1, ref_gelu.begin() + 1 + m)),
              kBf16Tolerance)
        << n << ", unaligned view";
  }
}

// One fp32 add on both sides, so the GPU's round-to-nearest-even store must give the CPU sum
// rounded by toBf16Bits, bit for bit (this also pins the host helper to __float2bfloat16_rn).
TEST(CudaBf16, ResidualAddIsTheCpuSumRounded) {
  SHARDRT_REQUIRE_GPU();
  for (long n : {4097L, 4104L}) {  // element by element; 16-byte packs
    const auto a = randomBf16(n, 4), b = randomBf16(n, 5);
    std::vector<float> ref(n);
    cpu::residualAdd(ref.data(), a.data(), b.data(), n);
    auto da = upload(a), db = upload(b);
    DeviceArray<__nv_bfloat16> dy(n);
    cuda::residualAdd(dy.get(), da.get(), db.get(), n, nullptr);
    const auto got = toFloat(dy.download());
    EXPECT_LT(relErr(got, ref), kBf16Tolerance) << n;
    EXPECT_EQ(got, roundedToBf16(ref)) << n;
    // In place (out aliases a), as the residual stream uses it.
    cuda::residualAdd(da.get(), da.get(), db.get(), n, nullptr);
    EXPECT_EQ(toFloat(da.download()), roundedToBf16(ref)) << n;
  }
}

// Qwen2's q/k/v bias add: bf16 in, fp32 add, rounded once; exactly the CPU sum rounded.
TEST(CudaBf16, AddBiasMatchesCpu) {
  SHARDRT_REQUIRE_GPU();
  const long rows = 67;
  const int cols = 131;
  const auto x = randomBf16(rows * cols, 6), bias = randomBf16(cols, 7);
  auto ref = x;
  cpu::addBias(ref.data(), bias.data(), rows, cols);
  auto dx = upload(x), db = upload(bias);
  cuda::addBias(dx.get(), db.get(), rows, cols, nullptr);
  const auto got = toFloat(dx.download());
  EXPECT_LT(relErr(got, ref), kBf16Tolerance);
  EXPECT_EQ(got, roundedToBf16(ref));
}

TEST(CudaBf16, SigmoidGateRowsMatchesCpu) {
  SHARDRT_REQUIRE_GPU();
  const long rows = 61;
  const int cols = 129;
  const auto x = randomBf16(rows * cols, 8), g = randomBf16(rows, 9);
  auto ref = x;
  cpu::sigmoidGateRows(ref.data(), g.data(), rows, cols);
  auto dx = upload(x), dg = upload(g);
  cuda::sigmoidGateRows(dx.get(), dg.get(), rows, cols, nullptr);
  EXPECT_LT(relErr(toFloat(dx.download()), ref), kBf16Tolerance);
}

TEST(CudaBf16, GatherAndScatterAddMatchCpu) {
  SHARDRT_REQUIRE_GPU();
  // 203 entries over table rows 0-56, each named 3 or 4 times; out rows 57-60 are named by none
  // and must come back untouched.
  const int cols = 131, table_rows = 57, out_rows = 61, rows = 203;
  const auto table = randomBf16(out_rows * cols, 2);
  std::vector<std::int32_t> index(rows);
  for (int i = 0; i < rows; ++i) index[i] = (i * 7 + 3) % table_rows;
  const auto weight = randomVector(rows, 3);  // router weights stay fp32: not rounded
  std::vector<float> ref_g(rows * cols);
  cpu::gatherRows(ref_g.data(), table.data(), index.data(), rows, cols);
  std::vector<float> ref_s = table;  // accumulate onto existing values
  cpu::scatterAddRows(ref_s.data(), ref_g.data(), index.data(), weight.data(), rows, cols);

  auto dt = upload(table), ds = upload(table);
  DeviceArray<__nv_bfloat16> dg(rows * cols);
  DeviceArray<float> dw(weight);
  DeviceArray<std::int32_t> di(index);
  cuda::gatherRows(dg.get(), dt.get(), di.get(), rows, cols, nullptr);
  EXPECT_EQ(toFloat(dg.download()), ref_g);  // a copy: exact
  cuda::scatterAddRows(ds.get(), out_rows, dg.get(), di.get(), dw.get(), rows, cols, nullptr);
  const auto got = toFloat(ds.download());
  EXPECT_LT(relErr(got, ref_s), kBf16Tolerance);
  const std::vector<float> untouched(got.begin() + table_rows * cols, got.end());
  EXPECT_EQ(untouched, std::vector<float>(table.begin() + table_rows * cols, table.end()));
}

using Shape = shardrt::testing::AttentionShape;
using shardrt::testing::describe;

// Both masks on one shape, against the double reference on the same bf16-rounded q, k, v.
void expectAttentionMatchesReference(const Shape& s) {
  const std::size_t q_size =
      static_cast<std::size_t>(s.batch) * s.seq_len * s.heads.q_heads * s.head_dim;
  const std::size_t kv_size =
      static_cast<std::size_t>(s.batch) * s.seq_len * s.heads.kv_heads * s.head_dim;
  const auto q = randomBf16(q_size, 1), k = randomBf16(kv_size, 2), v = randomBf16(kv_size, 3);
  auto dq = upload(q), dk = upload(k), dv = upload(v);
  for (const bool causal : {false, true}) {
    std::vector<float> ref(q_size);
    cpu::attentionReference(ref.data(), q.data(), k.data(), v.data(), s.batch, s.seq_len,
                            s.head_dim, s.heads, causal);
    DeviceArray<__nv_bfloat16> dout(q_size);
    cuda::attention(dout.get(), dq.get(), dk.get(), dv.get(), s.batch, s.seq_len, s.head_dim,
                    s.heads, causal, nullptr);
    EXPECT_LT(relErr(toFloat(dout.download()), ref), kBf16Tolerance) << describe(s, causal);
  }
}

TEST(CudaBf16, AttentionMatchesReference) {
  SHARDRT_REQUIRE_GPU();
  // head_dim 64, 80 and 128 run on the tensor-core kernel (64-row tiles), 8, 33 and 256 on the
  // scalar one (32-row tiles): both are covered below.
  alignas(16) int dummy = 0;
  EXPECT_TRUE(cuda::tensorCoreAttentionSupports(80, &dummy, &dummy, &dummy, &dummy));
  EXPECT_FALSE(cuda::tensorCoreAttentionSupports(33, &dummy, &dummy, &dummy, &dummy));
  // MHA; seq_len 37 is one full 32-row tile and 5 rows.
  for (const int head_dim : {8, 64, 80, 128}) {
    expectAttentionMatchesReference({2, 37, head_dim, {4, 4, 0, 0, 1}});
  }
  // GQA: 8 query heads on 2 kv heads (heads 0-3 read kv 0, 4-7 kv 1).
  expectAttentionMatchesReference({2, 300, 64, {8, 2, 0, 0, 4}});
  // A tensor-parallel shard: query heads 4-7 of a 12-head, group-3 model read kv heads 1-2,
  // the local ones; and query heads 5-6 of 8 (group 4), both on kv head 1.
  expectAttentionMatchesReference({2, 100, 80, {4, 2, 4, 1, 3}});
  expectAttentionMatchesReference({1, 65, 64, {2, 1, 5, 1, 4}});
  // Ragged seq_len (single row; 32 tiles and 5 rows) and odd / largest head_dim.
  expectAttentionMatchesReference({3, 1, 8, {4, 2, 0, 0, 2}});
  expectAttentionMatchesReference({1, 1029, 128, {2, 1, 0, 0, 2}});
  // Several 64-row tiles, the last ragged, GQA and an unaligned head count: tensor cores.
  expectAttentionMatchesReference({2, 203, 128, {6, 2, 0, 0, 3}});
  for (const int head_dim : {33, cuda::kAttentionMaxHeadDim}) {
    expectAttentionMatchesReference({2, 70, head_dim, {4, 2, 0, 0, 2}});
  }
}

}  // namespace
}  // namespace shardrt::kernels
