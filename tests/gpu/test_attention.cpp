// The CUDA attention kernel against the CPU reference (kernels::cpu::attentionReference, in
// double), on random data: causal and bidirectional, MHA, GQA and a tensor-parallel slice whose
// query heads straddle two kv heads; seq_len not a multiple of the 32-row tile, head_dim from 8
// to the 256 limit (odd ones too). Tolerance: normwise 1e-5 (fp32 against double; the kernel
// sums keys tile by tile with online rescaling, another order than the reference).
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include "kernels/cpu/attention.h"
#include "kernels/cuda/attention.cuh"
#include "tests/gpu/attention_shapes.h"
#include "tests/gpu/gpu_test_util.h"
#include "tests/test_util.h"

namespace shardrt::kernels {
namespace {

using shardrt::testing::DeviceArray;
using shardrt::testing::randomVector;
using shardrt::testing::relErr;

using Shape = shardrt::testing::AttentionShape;
using shardrt::testing::describe;

// Runs both masks on one shape; out starts as NaN, so a row the kernel skips fails.
void expectMatchesReference(const Shape& s) {
  const std::size_t q_size =
      static_cast<std::size_t>(s.batch) * s.seq_len * s.heads.q_heads * s.head_dim;
  const std::size_t kv_size =
      static_cast<std::size_t>(s.batch) * s.seq_len * s.heads.kv_heads * s.head_dim;
  const auto q = randomVector(q_size, 1), k = randomVector(kv_size, 2),
             v = randomVector(kv_size, 3);
  DeviceArray<float> dq(q), dk(k), dv(v);
  for (const bool causal : {false, true}) {
    std::vector<float> ref(q_size);
    cpu::attentionReference(ref.data(), q.data(), k.data(), v.data(), s.batch, s.seq_len,
                            s.head_dim, s.heads, causal);
    DeviceArray<float> dout(q_size);
    cuda::attention(dout.get(), dq.get(), dk.get(), dv.get(), s.batch, s.seq_len, s.head_dim,
                    s.heads, causal, nullptr);
    EXPECT_LT(relErr(dout.download(), ref), 1e-5) << describe(s, causal);
  }
}

TEST(CudaAttention, MultiHeadMatchesReference) {
  SHARDRT_REQUIRE_GPU();
  for (const int head_dim : {8, 64, 80, 128}) {
    expectMatchesReference({2, 37, head_dim, {4, 4, 0, 0, 1}});
  }
}

// DeepSeek's YaRN mscale^2 on the scores (AttentionHeads::score_scale), at its 192 head dims
// and a small one.
TEST(CudaAttention, ScoreScaleMatchesReference) {
  SHARDRT_REQUIRE_GPU();
  expectMatchesReference({2, 77, 192, {4, 4, 0, 0, 1, 0.1352f}});
  expectMatchesReference({1, 45, 24, {3, 3, 0, 0, 1, 0.37f}});
}

// Mistral's sliding window across the 32-row tiles and the key tiles, on both CUDA paths
// (head_dim 64 and 128 take the tensor-core kernel for bf16; fp32 here takes the scalar one).
TEST(CudaAttention, SlidingWindowMatchesReference) {
  SHARDRT_REQUIRE_GPU();
  expectMatchesReference({2, 300, 64, {8, 2, 0, 0, 4, 0.0f, 45}});
  expectMatchesReference({1, 77, 24, {3, 3, 0, 0, 1, 0.0f, 1}});
}

TEST(CudaAttention, GroupedQueryMatchesReference) {
  SHARDRT_REQUIRE_GPU();
  // 8 query heads on 2 kv heads: heads 0-3 read kv 0, heads 4-7 read kv 1.
  expectMatchesReference({2, 300, 64, {8, 2, 0, 0, 4}});
  expectMatchesReference({1, 300, 128, {8, 2, 0, 0, 4}});
}

TEST(CudaAttention, TensorParallelSliceMatchesReference) {
  SHARDRT_REQUIRE_GPU();
  // The model has 12 query heads on 4 kv heads (group 3). This rank holds query heads 4-7,
  // which read kv heads 1 (heads 4, 5) and 2 (heads 6, 7): kv heads 1-2 are local.
  expectMatchesReference({2, 100, 80, {4, 2, 4, 1, 3}});
  // Query heads 5-6 of 8 on 2 kv heads (group 4): both read kv head 1, the only local one.
  expectMatchesReference({1, 65, 64, {2, 1, 5, 1, 4}});
}

TEST(CudaAttention, RaggedSeqLenMatchesReference) {
  SHARDRT_REQUIRE_GPU();
  // 1: a single row and key; 33: one full tile and one of a single row; 1029: 32 tiles and 5.
  for (const int seq_len : {1, 33, 37, 300, 1029}) {
    expectMatchesReference({1, seq_len, 64, {2, 1, 0, 0, 2}});
  }
  expectMatchesReference({1, 1029, 128, {2, 2, 0, 0, 1}});
  expectMatchesReference({3, 1, 8, {4, 2, 0, 0, 2}});
}

TEST(CudaAttention, AnyHeadDimUpToTheLimitMatchesReference) {
  SHARDRT_REQUIRE_GPU();
  // Odd and non-multiple-of-32 head_dims, and the limit (98 KB of shared memory per block).
  for (const int head_dim : {1, 33, 127, 200, cuda::kAttentionMaxHeadDim}) {
    expectMatchesReference({2, 70, head_dim, {4, 2, 0, 0, 2}});
  }
}

TEST(CudaAttention, EmptyInputWritesNothing) {
  SHARDRT_REQUIRE_GPU();
  const AttentionHeads heads{2, 1, 0, 0, 2};
  DeviceArray<float> out(4);
  cuda::attention(out.get(), nullptr, nullptr, nullptr, 0, 5, 2, heads, true, nullptr);
  cuda::attention(out.get(), nullptr, nullptr, nullptr, 3, 0, 2, heads, false, nullptr);
  for (const float x : out.download()) EXPECT_TRUE(std::isnan(x));  // still poisoned
}

// A host-side argument check: it throws before any CUDA call, so it runs without a device too.
TEST(CudaAttention, HeadDimAboveTheLimitThrows) {
  const AttentionHeads heads{1, 1, 0, 0, 1};
  const int too_big = cuda::kAttentionMaxHeadDim + 1;
  try {
    cuda::attention(nullptr, nullptr, nullptr, nullptr, 1, 4, too_big, heads, false, nullptr);
    FAIL() << "head_dim " << too_big << " was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(std::to_string(cuda::kAttentionMaxHeadDim)),
              std::string::npos)
        << "the message should name the limit: " << e.what();
  }
}

TEST(CudaAttention, QueryHeadWithoutLocalKvHeadThrows) {
  // Query head 4 of a group-4 model reads kv head 1, but this rank holds only kv head 0.
  const AttentionHeads heads{2, 1, 3, 0, 4};
  EXPECT_THROW(cuda::attention(nullptr, nullptr, nullptr, nullptr, 1, 4, 8, heads, false, nullptr),
               std::invalid_argument);
}

}  // namespace
}  // namespace shardrt::kernels
