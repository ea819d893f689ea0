// cuDNN's fused attention (kernels/cuda/attention_cudnn.cuh) against the CPU reference
// (kernels::cpu::attentionReference, in double) on the same bf16-rounded random q, k, v:
// causal and bidirectional, GQA, a tensor-parallel slice, seq_len not a multiple of any tile.
// Tolerance: normwise 1e-2, as for our bf16 kernels (tests/gpu/test_bf16_kernels.cpp: the
// output is rounded to bf16, 2^-9 relative, and the probabilities feed the PV product in bf16).
// Then the refusals: a shape cuDNN rejects and a head split it cannot express must return
// false with a reason and leave out unwritten; and the cuda Backend with --attention cudnn
// must fall back to our kernel for them, saying so in attentionSummary().
// Skipped without a GPU, on GPUs before sm_80 (cuDNN has no fused bf16 attention there) and
// in builds without cuDNN.
#include <cuda_bf16.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "common/bfloat16.h"
#include "kernels/cpu/attention.h"
#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/attention_cudnn.cuh"
#include "runtime/cuda_backend.h"
#include "tests/gpu/attention_shapes.h"
#include "tests/gpu/gpu_test_util.h"
#include "tests/test_util.h"

namespace shardrt::kernels {
namespace {

using shardrt::testing::AttentionShape;
using shardrt::testing::describe;
using shardrt::testing::DeviceArray;
using shardrt::testing::randomVector;
using shardrt::testing::relErr;

constexpr double kBf16Tolerance = 1e-2;

// Empty when cuDNN's attention can run here, else why not.
std::string whyNoCudnn() {
  if (std::string why = shardrt::testing::whyNoGpu(); !why.empty()) return why;
  if (!cuda::cudnnAttentionBuilt()) return "this build has no cuDNN (SHARDRT_CUDNN)";
  int device = 0, major = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  if (major < 8) return "cuDNN's fused bf16 attention needs sm_80 or newer";
  return "";
}

#define REQUIRE_CUDNN()                                        \
  do {                                                         \
    const std::string why_no_cudnn_ = whyNoCudnn();            \
    if (!why_no_cudnn_.empty()) GTEST_SKIP() << why_no_cudnn_; \
  } while (0)

std::vector<__nv_bfloat16> toDeviceBf16(const std::vector<float>& x) {
  std::vector<__nv_bfloat16> out(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    __nv_bfloat16_raw raw;
    raw.x = toBfloat16(x[i]).bits;
    out[i] = raw;
  }
  return out;
}

std::vector<float> toFloats(const std::vector<__nv_bfloat16>& x) {
  std::vector<float> out(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    out[i] = toFloat(bfloat16{static_cast<__nv_bfloat16_raw>(x[i]).x});
  }
  return out;
}

// q, k and v of a shape, bf16-exact (so the reference sees what the GPU sees).
struct Inputs {
  std::vector<float> q, k, v;
  explicit Inputs(const AttentionShape& s)
      : q(rounded(randomVector(size(s, s.heads.q_heads), 1))),
        k(rounded(randomVector(size(s, s.heads.kv_heads), 2))),
        v(rounded(randomVector(size(s, s.heads.kv_heads), 3))) {}
  static std::size_t size(const AttentionShape& s, int heads) {
    return static_cast<std::size_t>(s.batch) * s.seq_len * heads * s.head_dim;
  }
  static std::vector<float> rounded(std::vector<float> x) {
    for (float& f : x) f = toFloat(toBfloat16(f));
    return x;
  }
  std::vector<float> reference(const AttentionShape& s, bool causal) const {
    std::vector<float> ref(q.size());
    cpu::attentionReference(ref.data(), q.data(), k.data(), v.data(), s.batch, s.seq_len,
                            s.head_dim, s.heads, causal);
    return ref;
  }
};

void expectMatchesReference(cuda::CudnnAttention& cudnn, const AttentionShape& s) {
  const Inputs in(s);
  DeviceArray<__nv_bfloat16> dq(toDeviceBf16(in.q)), dk(toDeviceBf16(in.k)), dv(toDeviceBf16(in.v));
  for (const bool causal : {false, true}) {
    DeviceArray<__nv_bfloat16> dout(in.q.size());  // NaN until written
    std::string why_not;
    ASSERT_TRUE(cudnn.run(dout.get(), dq.get(), dk.get(), dv.get(), s.batch, s.seq_len, s.head_dim,
                          s.heads, causal, &why_not))
        << describe(s, causal) << ": " << why_not;
    EXPECT_LT(relErr(toFloats(dout.download()), in.reference(s, causal)), kBf16Tolerance)
        << describe(s, causal);
  }
}

TEST(CudnnAttention, MatchesReference) {
  REQUIRE_CUDNN();
  cuda::CudnnAttention cudnn(nullptr);
  // GQA, 6 query heads on 2 kv heads; seq_len 77 is no multiple of any tile.
  expectMatchesReference(cudnn, {2, 77, 64, {6, 2, 0, 0, 3}});
  expectMatchesReference(cudnn, {2, 77, 128, {6, 2, 0, 0, 3}});
  // MHA, several tiles and a ragged last one; the tiny examples' head_dims (16, 32).
  expectMatchesReference(cudnn, {1, 300, 128, {4, 4, 0, 0, 1}});
  expectMatchesReference(cudnn, {3, 45, 32, {8, 2, 0, 0, 4}});
  expectMatchesReference(cudnn, {2, 33, 16, {4, 2, 0, 0, 2}});
  // A tensor-parallel shard: query heads 4-7 of a 12-head, group-3 model read kv heads 1-2
  // (local 0, 0, 1, 1: cuDNN's grouping of 4 on 2); and heads 5-6 of 8 (group 4), on kv head 1.
  expectMatchesReference(cudnn, {2, 100, 64, {4, 2, 4, 1, 3}});
  expectMatchesReference(cudnn, {1, 65, 64, {2, 1, 5, 1, 4}});
  // A single position.
  expectMatchesReference(cudnn, {3, 1, 64, {4, 2, 0, 0, 2}});
}

TEST(CudnnAttention, CachedGraphGivesTheSameResult) {
  REQUIRE_CUDNN();
  cuda::CudnnAttention cudnn(nullptr);
  const AttentionShape s{2, 77, 64, {6, 2, 0, 0, 3}};
  const Inputs in(s);
  DeviceArray<__nv_bfloat16> dq(toDeviceBf16(in.q)), dk(toDeviceBf16(in.k)), dv(toDeviceBf16(in.v)),
      first(in.q.size()), second(in.q.size());
  for (auto* out : {&first, &second}) {
    ASSERT_TRUE(cudnn.run(out->get(), dq.get(), dk.get(), dv.get(), s.batch, s.seq_len, s.head_dim,
                          s.heads, true));
  }
  EXPECT_EQ(toFloats(first.download()), toFloats(second.download()));
}

// Returns run()'s answer; out must stay poisoned when it is false.
bool runsOrRefusesCleanly(cuda::CudnnAttention& cudnn, const AttentionShape& s, bool causal,
                          std::string& why_not) {
  const Inputs in(s);
  DeviceArray<__nv_bfloat16> dq(toDeviceBf16(in.q)), dk(toDeviceBf16(in.k)), dv(toDeviceBf16(in.v)),
      dout(in.q.size());
  const bool ran = cudnn.run(dout.get(), dq.get(), dk.get(), dv.get(), s.batch, s.seq_len,
                             s.head_dim, s.heads, causal, &why_not);
  const std::vector<float> out = toFloats(dout.download());
  if (ran) {
    EXPECT_LT(relErr(out, in.reference(s, causal)), kBf16Tolerance) << describe(s, causal);
  } else {
    EXPECT_FALSE(why_not.empty()) << describe(s, causal);
    std::size_t written = 0;
    for (const float x : out) written += std::isnan(x) ? 0 : 1;
    EXPECT_EQ(written, 0u) << describe(s, causal) << ": written although refused";
  }
  return ran;
}

TEST(CudnnAttention, RefusesWhatItCannotRunAndWritesNothing) {
  REQUIRE_CUDNN();
  cuda::CudnnAttention cudnn(nullptr);
  std::string why;
  // head_dim 20: cuDNN's bf16 attention needs a multiple of 8.
  EXPECT_FALSE(runsOrRefusesCleanly(cudnn, {2, 77, 20, {6, 2, 0, 0, 3}}, true, why));
  EXPECT_NE(why.find("cuDNN refused"), std::string::npos) << why;
  // Asked again: the refusal is cached, the answer the same.
  why.clear();
  EXPECT_FALSE(runsOrRefusesCleanly(cudnn, {2, 77, 20, {6, 2, 0, 0, 3}}, true, why));
  EXPECT_FALSE(why.empty());
  // Query heads 2-5 of a group-3 model read kv heads 0, 1, 1, 1: no even grouping, refused
  // before cuDNN is asked.
  why.clear();
  EXPECT_FALSE(runsOrRefusesCleanly(cudnn, {1, 40, 64, {4, 2, 2, 0, 3}}, false, why));
  EXPECT_NE(why.find("split evenly"), std::string::npos) << why;
  // head_dim 72 and 256: run (and then match) or are refused, depending on the cuDNN version
  // and GPU; either is fine, a wrong answer or a write after a refusal is not.
  for (const int head_dim : {72, 256}) {
    why.clear();
    const bool ran = runsOrRefusesCleanly(cudnn, {2, 77, head_dim, {6, 2, 0, 0, 3}}, true, why);
    std::printf("head_dim %d: %s\n", head_dim, ran ? "ran on cuDNN" : why.c_str());
  }
}

// The Backend: --attention cudnn runs cuDNN where it can and our kernel elsewhere, counting.
TEST(CudnnAttention, BackendFallsBackAndSaysSo) {
  REQUIRE_CUDNN();
  CudaBackend backend(0, AttentionImpl::Cudnn);
  auto attention = [&](const AttentionShape& s) {
    const Inputs in(s);
    auto tensor = [&](const std::vector<float>& host, int heads) {
      Tensor t = backend.empty(
          Shape{{"batch", s.batch}, {"seq", s.seq_len}, {"heads", heads}, {"d", s.head_dim}},
          DType::BF16);
      const std::vector<bfloat16> bits = toBfloat16(host);
      backend.copyFromHost(t, bits.data());
      return t;
    };
    Tensor q = tensor(in.q, s.heads.q_heads), k = tensor(in.k, s.heads.kv_heads),
           v = tensor(in.v, s.heads.kv_heads),
           out = tensor(std::vector<float>(in.q.size(), NAN), s.heads.q_heads);
    backend.attention(out, q, k, v, s.heads, true);
    std::vector<bfloat16> host(in.q.size());
    backend.copyToHost(host.data(), out);
    std::vector<float> got(host.size());
    for (std::size_t i = 0; i < host.size(); ++i) got[i] = toFloat(host[i]);
    EXPECT_LT(relErr(got, in.reference(s, true)), kBf16Tolerance) << describe(s, true);
  };
  attention({2, 77, 64, {6, 2, 0, 0, 3}});  // cuDNN
  attention({2, 77, 20, {6, 2, 0, 0, 3}});  // refused by cuDNN: our kernel
  const std::string summary = backend.attentionSummary();
  EXPECT_NE(summary.find("1 calls ran cuDNN"), std::string::npos) << summary;
  EXPECT_NE(summary.find("1 bf16 calls fell back"), std::string::npos) << summary;
  EXPECT_NE(summary.find("head_dim 20"), std::string::npos) << summary;
  std::printf("%s\n", summary.c_str());
}

// Without --attention cudnn the Backend says nothing: the summary line is only for the option.
TEST(CudnnAttention, OwnBackendHasNoSummary) {
  SHARDRT_REQUIRE_GPU();
  CudaBackend backend(0);
  EXPECT_EQ(backend.attentionSummary(), "");
}

}  // namespace
}  // namespace shardrt::kernels
