#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/layernorm.cuh"

namespace shardrt::kernels::cuda {
namespace {

__global__ void layerNormKernel(float* out, const float* inp, const float* weight,
                                const float* bias, int cols, float eps) {
  const float* x = inp + static_cast<long>(blockIdx.x) * cols;
  float* y = out + static_cast<long>(blockIdx.x) * cols;
  float sum = 0.0f;
  for (int c = threadIdx.x; c < cols; c += blockDim.x) sum += x[c];
  const float mean = blockSum(sum) / cols;
  float sq = 0.0f;
  for (int c = threadIdx.x; c < cols; c += blockDim.x) sq += (x[c] - mean) * (x[c] - mean);
  const float inv_std = rsqrtf(blockSum(sq) / cols + eps);
  for (int c = threadIdx.x; c < cols; c += blockDim.x) {
    y[c] = (x[c] - mean) * inv_std * weight[c] + bias[c];
  }
}

}  // namespace

void layerNorm(float* out, const float* inp, const float* weight, const float* bias, int rows,
               int cols, float eps, cudaStream_t stream) {
  if (rows == 0) return;
  constexpr int kThreads = 256;
  layerNormKernel<<<rows, kThreads, 0, stream>>>(out, inp, weight, bias, cols, eps);
  CUDA_CHECK_LAUNCH();
}

}  // namespace shardrt::kernels::cuda
