// The CUDA elementwise kernels (rope, gelu, swiglu, residual add) and the cuBLAS linear
// against the CPU kernels, on random data with sizes that are not multiples of the block
// size. Tolerance: normwise 1e-5 for fp32 (1e-6 where both sides do the same few flops).
#include <gtest/gtest.h>

#include <tuple>
#include <utility>

#include "kernels/cpu/activations.h"
#include "kernels/cpu/bias.h"
#include "kernels/cpu/column_copy.h"
#include "kernels/cpu/linear.h"
#include "kernels/cpu/residual.h"
#include "kernels/cpu/rope.h"
#include "kernels/cpu/sigmoid_gate.h"
#include "kernels/cuda/activations.cuh"
#include "kernels/cuda/bias.cuh"
#include "kernels/cuda/column_copy.cuh"
#include "kernels/cuda/linear.cuh"
#include "kernels/cuda/residual.cuh"
#include "kernels/cuda/rope.cuh"
#include "kernels/cuda/sigmoid_gate.cuh"
#include "tests/gpu/gpu_test_util.h"
#include "tests/test_util.h"

namespace shardrt::kernels {
namespace {

using shardrt::testing::DeviceArray;
using shardrt::testing::randomVector;
using shardrt::testing::relErr;

TEST(CudaElementwise, RotaryEmbeddingMatchesCpu) {
  SHARDRT_REQUIRE_GPU();
  const int batch = 3, seq = 77, heads = 5;
  for (int d : {46, 48, 128}) {  // half 23: element by element; 24 and 64: 16-byte packs
    const auto x = randomVector(batch * seq * heads * d, 1);
    auto ref = x;
    cpu::rotaryEmbedding(ref.data(), batch, seq, heads, d, 500000.0f);
    DeviceArray<float> dx(x);
    cuda::rotaryEmbedding(dx.get(), batch, seq, heads, d, 500000.0f, nullptr);
    EXPECT_LT(relErr(dx.download(), ref), 1e-6) << "head_dim " << d;
  }
}

// Llama 3.1's scaled frequencies (kernels/rope_frequencies.h), the same function on both sides:
// the three bands at head_dim 128 and theta 500000 with Llama 3.1's own parameters.
TEST(CudaElementwise, RotaryEmbeddingWithLlama3ScalingMatchesCpu) {
  SHARDRT_REQUIRE_GPU();
  const int batch = 2, seq = 301, heads = 3;
  RopeFrequencies rope(500000.0);
  rope.factor = 8.0;
  rope.low_freq_factor = 1.0;
  rope.high_freq_factor = 4.0;
  rope.original_context = 8192.0;
  for (int d : {46, 128}) {
    const auto x = randomVector(batch * seq * heads * d, 3);
    auto ref = x;
    cpu::rotaryEmbedding(ref.data(), batch, seq, heads, d, rope);
    auto plain = x;
    cpu::rotaryEmbedding(plain.data(), batch, seq, heads, d, RopeFrequencies(500000.0));
    ASSERT_GT(relErr(plain, ref), 1e-4) << "the scaling must change the result";
    DeviceArray<float> dx(x);
    cuda::rotaryEmbedding(dx.get(), batch, seq, heads, d, rope, nullptr);
    EXPECT_LT(relErr(dx.download(), ref), 1e-6) << "head_dim " << d;
  }
}

// GLM-4.5's partial rotary: only the first rotary_dim dims of each head turn. rotary_dim 64 of
// 128 takes the 16-byte packs, 20 of 40 and 46 of 52 the element-wise path (a pack would
// straddle a head there).
TEST(CudaElementwise, PartialRotaryMatchesCpu) {
  SHARDRT_REQUIRE_GPU();
  const int batch = 2, seq = 53, heads = 3;
  for (auto [d, rd] : {std::pair{128, 64}, {40, 20}, {52, 46}}) {
    RopeFrequencies rope(1e6);
    rope.rotary_dim = rd;
    const auto x = randomVector(batch * seq * heads * d, 6);
    auto ref = x;
    cpu::rotaryEmbedding(ref.data(), batch, seq, heads, d, rope);
    DeviceArray<float> dx(x);
    cuda::rotaryEmbedding(dx.get(), batch, seq, heads, d, rope, nullptr);
    const auto got = dx.download();
    EXPECT_LT(relErr(got, ref), 1e-6) << "head_dim " << d << " rotary_dim " << rd;
    for (int h = 0; h < batch * seq * heads; ++h) {  // the unrotated dims: untouched
      for (int i = rd; i < d; ++i) ASSERT_EQ(got[h * d + i], x[h * d + i]) << "dim " << i;
    }
  }
}

// DeepSeek's latent attention: the rope dims after each head's nope dims, rotated in adjacent
// pairs, cos and sin times YaRN's magnitude, the frequencies YaRN's: DeepSeek-V3's 128 + 64 and a
// small odd-sized head.
TEST(CudaElementwise, InterleavedYarnRotaryAfterAnOffsetMatchesCpu) {
  SHARDRT_REQUIRE_GPU();
  const int batch = 2, seq = 61, heads = 3;
  for (auto [d, offset, rd] : {std::tuple{192, 128, 64}, {24, 16, 8}, {30, 10, 14}}) {
    RopeFrequencies rope(10000.0);
    rope.rotary_dim = rd;
    rope.rotary_offset = offset;
    rope.interleaved = true;
    rope.factor = 40.0;
    rope.yarn = true;
    rope.original_context = 4096.0;
    rope.magnitude = 1.1;
    const auto x = randomVector(batch * seq * heads * d, 7);
    auto ref = x;
    cpu::rotaryEmbedding(ref.data(), batch, seq, heads, d, rope);
    ASSERT_GT(relErr(x, ref), 1e-3);
    DeviceArray<float> dx(x);
    cuda::rotaryEmbedding(dx.get(), batch, seq, heads, d, rope, nullptr);
    EXPECT_LT(relErr(dx.download(), ref), 1e-6) << "head_dim " << d << " offset " << offset;
  }
}

TEST(CudaElementwise, CopyColumnsMatchesCpu) {
  SHARDRT_REQUIRE_GPU();
  const int inp_rows = 37, inp_cols = 53, out_cols = 71, repeat = 5, width = 29;
  const auto inp = randomVector(inp_rows * inp_cols, 8);
  std::vector<float> ref(static_cast<std::size_t>(inp_rows) * repeat * out_cols);
  cpu::copyColumns(ref.data(), out_cols, 13, inp.data(), inp_cols, 17, inp_rows * repeat, width,
                   repeat);
  DeviceArray<float> din(inp), dout(shardrt::testing::poisoned(ref.size()));
  cuda::copyColumns(dout.get(), out_cols, 13, din.get(), inp_cols, 17, inp_rows * repeat, width,
                    repeat, nullptr);
  EXPECT_EQ(dout.download(), ref);  // a copy and zeros: bit for bit
}

TEST(CudaElementwise, AddBiasMatchesCpu) {
  SHARDRT_REQUIRE_GPU();
  const long rows = 203;
  const int cols = 77;
  const auto x = randomVector(rows * cols, 4), bias = randomVector(cols, 5);
  auto ref = x;
  cpu::addBias(ref.data(), bias.data(), rows, cols);
  ASSERT_GT(relErr(x, ref), 0.1);  // the bias is not a rounding error
  DeviceArray<float> dx(x), db(bias);
  cuda::addBias(dx.get(), db.get(), rows, cols, nullptr);
  EXPECT_EQ(dx.download(), ref);  // one fp32 add per element, as on the CPU
}

TEST(CudaElementwise, SigmoidGateRowsMatchesCpu) {
  SHARDRT_REQUIRE_GPU();
  const long rows = 211;
  const int cols = 83;
  auto g = randomVector(rows, 6);
  for (auto& v : g) v *= 6.0f;  // logits well into both tails of the sigmoid
  const auto x = randomVector(rows * cols, 7);
  auto ref = x;
  cpu::sigmoidGateRows(ref.data(), g.data(), rows, cols);
  DeviceArray<float> dx(x), dg(g);
  cuda::sigmoidGateRows(dx.get(), dg.get(), rows, cols, nullptr);
  EXPECT_LT(relErr(dx.download(), ref), 1e-6);
}

TEST(CudaElementwise, GeluAndSwigluMatchCpu) {
  SHARDRT_REQUIRE_GPU();
  for (long n : {100003L, 100008L}) {  // element by element; 16-byte packs
    auto x = randomVector(n, 2);
    for (auto& v : x) v *= 4.0f;
    const auto up = randomVector(n, 3);
    std::vector<float> ref_gelu(n), ref_swiglu(n);
    cpu::gelu(ref_gelu.data(), x.data(), n);
    cpu::swiglu(ref_swiglu.data(), x.data(), up.data(), n);
    DeviceArray<float> dx(x), dup(up), dg(n), ds(n);
    cuda::gelu(dg.get(), dx.get(), n, nullptr);
    cuda::swiglu(ds.get(), dx.get(), dup.get(), n, nullptr);
    EXPECT_LT(relErr(dg.download(), ref_gelu), 1e-6) << n;
    EXPECT_LT(relErr(ds.download(), ref_swiglu), 1e-6) << n;
  }
}

TEST(CudaElementwise, ResidualAddIsExact) {
  SHARDRT_REQUIRE_GPU();
  for (long n : {4097L, 4104L}) {  // element by element; 16-byte packs
    const auto a = randomVector(n, 4), b = randomVector(n, 5);
    std::vector<float> ref(n);
    cpu::residualAdd(ref.data(), a.data(), b.data(), n);
    DeviceArray<float> da(a), db(b), dy(n);
    cuda::residualAdd(dy.get(), da.get(), db.get(), n, nullptr);
    EXPECT_EQ(dy.download(), ref) << n;
  }
}

TEST(CudaLinear, CublasMatchesCpuWithWeightAsOutByIn) {
  SHARDRT_REQUIRE_GPU();
  cublasHandle_t handle;
  CUBLAS_CHECK(cublasCreate(&handle));
  CUBLAS_CHECK(cublasSetMathMode(handle, CUBLAS_DEFAULT_MATH));
  for (const auto& [rows, in, out] :
       {std::tuple{37, 203, 61}, std::tuple{1, 4096, 129}, std::tuple{300, 64, 1}}) {
    const auto x = randomVector(rows * in, 6), w = randomVector(out * in, 7);
    std::vector<float> ref(rows * out);
    cpu::linear(ref.data(), x.data(), w.data(), rows, in, out);
    DeviceArray<float> dx(x), dw(w), dy(rows * out);
    cuda::linear(handle, dy.get(), dx.get(), dw.get(), rows, in, out);
    EXPECT_LT(relErr(dy.download(), ref), 1e-5) << rows << "x" << in << "x" << out;
  }
  cublasDestroy(handle);
}

}  // namespace
}  // namespace shardrt::kernels
