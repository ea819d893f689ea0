// The CUDA router and row permutations against the CPU kernels. Router: the chosen experts
// must be identical (the data keep a margin between scores far above fp32 rounding) and the
// weights within 1e-6 normwise. Permutations: exact.
#include <gtest/gtest.h>

#include "kernels/cpu/permute.h"
#include "kernels/cpu/router.h"
#include "kernels/cuda/permute.cuh"
#include "kernels/cuda/router.cuh"
#include "tests/gpu/gpu_test_util.h"
#include "tests/test_util.h"

namespace shardrt::kernels {
namespace {

using shardrt::testing::DeviceArray;
using shardrt::testing::randomVector;
using shardrt::testing::relErr;

// Every rule of kernels/router_rule.h: softmax or sigmoid, renormalised or not, and
// DeepSeek-V3's choice bias, best-2-of-6 groups by their best-two sum, scaled weights (and
// V2's best-one group score).
TEST(CudaMoeKernels, RouterTopKMatchesCpu) {
  SHARDRT_REQUIRE_GPU();
  const int tokens = 1031, experts = 18, k = 3;
  auto logits = randomVector(tokens * experts, 1);
  for (auto& z : logits) z *= 4.0f;
  auto bias = randomVector(experts, 2);
  for (auto& b : bias) b *= 0.2f;
  for (int grouped = 0; grouped < 3; ++grouped) {
    for (bool sigmoid : {false, true}) {
      for (bool normalize : {false, true}) {
        RouterRule rule;
        rule.sigmoid = sigmoid;
        rule.normalize = normalize;
        if (grouped > 0) {
          rule.groups = 6;
          rule.top_groups = 2;
          rule.group_top_two = grouped == 1;
          rule.scale = 2.5f;
        }
        const float* host_bias = grouped == 1 ? bias.data() : nullptr;
        std::vector<std::int32_t> ref_e(tokens * k);
        std::vector<float> ref_w(tokens * k);
        cpu::routerTopK(ref_e.data(), ref_w.data(), logits.data(), host_bias, tokens, experts, k,
                        rule);
        DeviceArray<float> dl(logits), dw(tokens * k), db(bias);
        DeviceArray<std::int32_t> de(tokens * k);
        cuda::routerTopK(de.get(), dw.get(), dl.get(), host_bias ? db.get() : nullptr, tokens,
                         experts, k, rule, nullptr);
        EXPECT_EQ(de.download(), ref_e)
            << "sigmoid " << sigmoid << " normalize " << normalize << " grouped " << grouped;
        EXPECT_LT(relErr(dw.download(), ref_w), 1e-6);
      }
    }
  }
}

TEST(CudaMoeKernels, RouterRefusesWhatItCannotRun) {
  SHARDRT_REQUIRE_GPU();
  RouterRule rule;
  EXPECT_THROW(cuda::routerTopK(nullptr, nullptr, nullptr, nullptr, 1, 64, cuda::kMaxRouterTopK + 1,
                                rule, nullptr),
               std::invalid_argument);
  rule.groups = 128;
  rule.top_groups = 4;
  rule.group_top_two = false;
  EXPECT_THROW(cuda::routerTopK(nullptr, nullptr, nullptr, nullptr, 1, 128, 2, rule, nullptr),
               std::invalid_argument);  // more groups than the kept-groups mask has bits
}

TEST(CudaMoeKernels, GatherAndScatterAddMatchCpu) {
  SHARDRT_REQUIRE_GPU();
  const int cols = 131, table_rows = 57, rows = 203;
  const auto table = randomVector(table_rows * cols, 2);
  std::vector<std::int32_t> index(rows);
  for (int i = 0; i < rows; ++i) index[i] = (i * 7 + 3) % table_rows;  // repeats every row
  const auto weight = randomVector(rows, 3);
  std::vector<float> ref_g(rows * cols);
  cpu::gatherRows(ref_g.data(), table.data(), index.data(), rows, cols);
  std::vector<float> ref_s = table;  // accumulate onto existing values
  cpu::scatterAddRows(ref_s.data(), ref_g.data(), index.data(), weight.data(), rows, cols);

  DeviceArray<float> dt(table), dg(rows * cols), dw(weight), ds(table);
  DeviceArray<std::int32_t> di(index);
  cuda::gatherRows(dg.get(), dt.get(), di.get(), rows, cols, nullptr);
  EXPECT_EQ(dg.download(), ref_g);
  cuda::scatterAddRows(ds.get(), table_rows, dg.get(), di.get(), dw.get(), rows, cols, nullptr);
  // Same entry order per row as the CPU: the same sums, up to fma contraction.
  EXPECT_LT(relErr(ds.download(), ref_s), 1e-6);
}

// Rows named by hundreds of slots (more than one 64-slot chunk), rows named by none, and
// slot order scrambled, so the counting sort and the per-row ordering both matter.
TEST(CudaMoeKernels, ScatterAddWithHotAndEmptyRowsMatchesCpu) {
  SHARDRT_REQUIRE_GPU();
  const int cols = 77, out_rows = 11, rows = 1003;
  std::vector<std::int32_t> index(rows);
  for (int i = 0; i < rows; ++i) index[i] = i % 3 == 0 ? 2 : (i * 5 + 1) % 7 * (i % 2 ? 1 : 0);
  const auto base = randomVector(out_rows * cols, 4);
  const auto inp = randomVector(rows * cols, 5);
  const auto weight = randomVector(rows, 6);
  std::vector<float> ref = base;
  cpu::scatterAddRows(ref.data(), inp.data(), index.data(), weight.data(), rows, cols);

  DeviceArray<float> dout(base), dinp(inp), dw(weight);
  DeviceArray<std::int32_t> di(index);
  cuda::scatterAddRows(dout.get(), out_rows, dinp.get(), di.get(), dw.get(), rows, cols, nullptr);
  const auto got = dout.download();
  EXPECT_LT(relErr(got, ref), 1e-6);
  // Rows 7..10 are named by no slot: left exactly as they were.
  EXPECT_EQ(std::vector<float>(got.begin() + 7 * cols, got.end()),
            std::vector<float>(base.begin() + 7 * cols, base.end()));
}

}  // namespace
}  // namespace shardrt::kernels
