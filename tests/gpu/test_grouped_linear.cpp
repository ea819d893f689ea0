// The grouped cuBLAS GEMM that runs all local experts at once, against one CPU linear per
// group, with empty groups and row counts that are not multiples of any tile.
#include <gtest/gtest.h>

#include "kernels/cpu/linear.h"
#include "kernels/cuda/grouped_linear.cuh"
#include "tests/gpu/gpu_test_util.h"
#include "tests/test_util.h"

namespace shardrt::kernels {
namespace {

using shardrt::testing::DeviceArray;
using shardrt::testing::randomVector;
using shardrt::testing::relErr;

// Small groups go to cublasGemmGroupedBatchedEx, large ones (1024+ rows a group on average) to
// one GEMM each: both paths against the CPU.
void expectMatchesOneCpuLinearPerGroup(const std::vector<int>& rows) {
  const int in = 203, out = 67;
  int total = 0;
  for (int r : rows) total += r;
  const auto x = randomVector(total * in, 1);
  std::vector<std::vector<float>> w;
  for (std::size_t g = 0; g < rows.size(); ++g) w.push_back(randomVector(out * in, 10 + g));

  std::vector<float> ref(total * out);
  int row = 0;
  for (std::size_t g = 0; g < rows.size(); ++g) {
    cpu::linear(ref.data() + row * out, x.data() + row * in, w[g].data(), rows[g], in, out);
    row += rows[g];
  }

  cublasHandle_t handle;
  CUBLAS_CHECK(cublasCreate(&handle));
  CUBLAS_CHECK(cublasSetMathMode(handle, CUBLAS_DEFAULT_MATH));
  std::vector<std::unique_ptr<DeviceArray<float>>> dw;
  std::vector<const float*> pointers;
  for (const auto& wg : w) {
    dw.push_back(std::make_unique<DeviceArray<float>>(wg));
    pointers.push_back(dw.back()->get());
  }
  DeviceArray<float> dx(x), dy(total * out);
  cuda::groupedLinear(handle, nullptr, dy.get(), dx.get(), pointers.data(), rows.data(),
                      static_cast<int>(rows.size()), in, out);
  EXPECT_LT(relErr(dy.download(), ref), 1e-5);
  cublasDestroy(handle);
}

TEST(CudaGroupedLinear, SmallGroupsMatchOneCpuLinearPerGroup) {
  SHARDRT_REQUIRE_GPU();
  expectMatchesOneCpuLinearPerGroup({13, 0, 1, 70, 0, 33});
}

TEST(CudaGroupedLinear, LargeGroupsMatchOneCpuLinearPerGroup) {
  SHARDRT_REQUIRE_GPU();
  expectMatchesOneCpuLinearPerGroup({1301, 0, 1117, 29});
}

}  // namespace
}  // namespace shardrt::kernels
