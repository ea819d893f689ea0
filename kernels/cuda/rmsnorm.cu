#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/rmsnorm.cuh"

namespace shardrt::kernels::cuda {
namespace {

__global__ void rmsNormKernel(float* out, const float* inp, const float* weight, int cols,
                              float eps) {
  const float* x = inp + static_cast<long>(blockIdx.x) * cols;
  float* y = out + static_cast<long>(blockIdx.x) * cols;
  float sum_sq = 0.0f;
  for (int c = threadIdx.x; c < cols; c += blockDim.x) sum_sq += x[c] * x[c];
  const float inv_rms = rsqrtf(blockSum(sum_sq) / cols + eps);
  for (int c = threadIdx.x; c < cols; c += blockDim.x) y[c] = x[c] * inv_rms * weight[c];
}

}  // namespace

void rmsNorm(float* out, const float* inp, const float* weight, int rows, int cols, float eps,
             cudaStream_t stream) {
  if (rows == 0) return;
  constexpr int kThreads = 256;
  rmsNormKernel<<<rows, kThreads, 0, stream>>>(out, inp, weight, cols, eps);
  CUDA_CHECK_LAUNCH();
}

}  // namespace shardrt::kernels::cuda
