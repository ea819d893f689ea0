// The CUDA norm kernels against the CPU kernels, on random data with row lengths that are not
// multiples of the block size. Tolerance: normwise 1e-5 (both fp32; the block reduction
// sums in another order than the CPU loop).
#include <gtest/gtest.h>

#include "kernels/cpu/layernorm.h"
#include "kernels/cpu/rmsnorm.h"
#include "kernels/cuda/layernorm.cuh"
#include "kernels/cuda/rmsnorm.cuh"
#include "tests/gpu/gpu_test_util.h"
#include "tests/test_util.h"

namespace shardrt::kernels {
namespace {

using shardrt::testing::DeviceArray;
using shardrt::testing::randomVector;
using shardrt::testing::relErr;

TEST(CudaNorms, RmsNormMatchesCpu) {
  SHARDRT_REQUIRE_GPU();
  for (const auto& [rows, cols] : {std::pair{37, 197}, std::pair{5, 4099}, std::pair{1, 33}, std::pair{37, 4104},
                                  std::pair{3, 200}}) {
    const auto x = randomVector(rows * cols, 1), w = randomVector(cols, 2);
    std::vector<float> ref(x.size());
    cpu::rmsNorm(ref.data(), x.data(), w.data(), rows, cols, 1e-5f);
    DeviceArray<float> dx(x), dw(w), dy(x.size());
    cuda::rmsNorm(dy.get(), dx.get(), dw.get(), rows, cols, 1e-5f, nullptr);
    EXPECT_LT(relErr(dy.download(), ref), 1e-5) << rows << "x" << cols;
  }
}

TEST(CudaNorms, LayerNormMatchesCpu) {
  SHARDRT_REQUIRE_GPU();
  for (const auto& [rows, cols] : {std::pair{37, 197}, std::pair{5, 4099}, std::pair{1, 33}, std::pair{37, 4104},
                                  std::pair{3, 200}}) {
    auto x = randomVector(rows * cols, 3);
    for (auto& v : x) v += 3.0f;  // a mean far from zero
    const auto w = randomVector(cols, 4), b = randomVector(cols, 5);
    std::vector<float> ref(x.size());
    cpu::layerNorm(ref.data(), x.data(), w.data(), b.data(), rows, cols, 1e-5f);
    DeviceArray<float> dx(x), dw(w), db(b), dy(x.size());
    cuda::layerNorm(dy.get(), dx.get(), dw.get(), db.get(), rows, cols, 1e-5f, nullptr);
    EXPECT_LT(relErr(dy.download(), ref), 1e-5) << rows << "x" << cols;
  }
}

}  // namespace
}  // namespace shardrt::kernels
