// The cpu Backend's own duties: memory, copies, and refusing ops whose shapes disagree.
#include <gtest/gtest.h>

#include <cstdint>

#include "runtime/cpu_backend.h"
#include "tests/test_util.h"

namespace shardrt {
namespace {

TEST(CpuBackend, AllocatesAlignedAndCopiesBothWays) {
  CpuBackend be;
  Tensor t = be.empty({Dim("rows", 7), Dim("hidden", 13)}, DType::F32);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.data<float>()) % 64, 0u);
  const auto src = testing::randomVector(7 * 13, 1);
  be.copyFromHost(t, src.data());
  Tensor u = be.empty(t.shape(), DType::F32);
  be.copy(u, t);
  std::vector<float> back(src.size());
  be.copyToHost(back.data(), u);
  EXPECT_EQ(back, src);
}

TEST(CpuBackend, LinearRefusesMismatchedShapesNamingThem) {
  CpuBackend be;
  Tensor x = be.empty({Dim("tokens", 4), Dim("hidden", 8)}, DType::F32);
  Tensor w = be.empty({Dim("out_features", 3), Dim("in_features", 9)}, DType::F32);
  Tensor y = be.empty({Dim("tokens", 4), Dim("out", 3)}, DType::F32);
  try {
    be.linear(y, x, w);
    FAIL() << "linear accepted in_features 9 against hidden 8";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("in_features=9"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("hidden=8"), std::string::npos) << e.what();
  }
}

TEST(CpuBackend, AttentionRefusesHeadCountsThatDisagreeWithShapes) {
  CpuBackend be;
  Tensor q = be.empty({Dim("b", 1), Dim("s", 3), Dim("heads", 2), Dim("d_k", 4)}, DType::F32);
  Tensor kv = be.empty({Dim("b", 1), Dim("s", 3), Dim("kv_heads", 1), Dim("d_k", 4)}, DType::F32);
  Tensor out = be.empty(q.shape(), DType::F32);
  const kernels::AttentionHeads wrong{3, 1, 0, 0, 3};
  EXPECT_THROW(be.attention(out, q, kv, kv, wrong, true), std::logic_error);
}

TEST(CpuBackend, ElementwiseOpsRefuseDifferentSizes) {
  CpuBackend be;
  Tensor a = be.empty({Dim("n", 5)}, DType::F32);
  Tensor b = be.empty({Dim("n", 6)}, DType::F32);
  EXPECT_THROW(be.add(a, a, b), std::logic_error);
  EXPECT_THROW(be.swiglu(a, a, b), std::logic_error);
  EXPECT_THROW(be.gelu(a, b), std::logic_error);
}

TEST(CpuBackend, GroupedLinearIsOneLinearPerGroupOfRows) {
  CpuBackend be;
  const int in = 19, out = 7;
  const std::vector<int> rows = {3, 0, 5};
  Tensor x = be.empty({Dim("tokens", 8), Dim("hidden", in)}, DType::F32);
  be.copyFromHost(x, testing::randomVector(8 * in, 4).data());
  std::vector<Tensor> w;
  for (int g = 0; g < 3; ++g) {
    w.push_back(be.empty({Dim("out_features", out), Dim("in_features", in)}, DType::F32));
    be.copyFromHost(w.back(), testing::randomVector(out * in, 5 + g).data());
  }
  Tensor y = be.empty({Dim("tokens", 8), Dim("out", out)}, DType::F32);
  be.groupedLinear(y, x, {&w[0], &w[1], &w[2]}, rows);
  Tensor ref = be.empty(y.shape(), DType::F32);
  be.linear(ref.view().rows(0, 3), x.view().rows(0, 3), w[0]);
  be.linear(ref.view().rows(3, 5), x.view().rows(3, 5), w[2]);
  std::vector<float> got(8 * out), want(8 * out);
  be.copyToHost(got.data(), y);
  be.copyToHost(want.data(), ref);
  EXPECT_EQ(got, want);
  EXPECT_THROW(be.groupedLinear(y, x, {&w[0], &w[1]}, rows), std::logic_error);  // 2 weights
  EXPECT_THROW(be.groupedLinear(y, x, {&w[0], &w[1], &w[2]}, {3, 0, 4}), std::logic_error);
}

}  // namespace
}  // namespace shardrt
