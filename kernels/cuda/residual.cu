#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/residual.cuh"

namespace shardrt::kernels::cuda {
namespace {

__global__ void residualAddKernel(float* out, const float* a, const float* b, long n) {
  const long i = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = a[i] + b[i];
}

}  // namespace

void residualAdd(float* out, const float* a, const float* b, long n, cudaStream_t stream) {
  if (n == 0) return;
  constexpr int kThreads = 256;
  residualAddKernel<<<static_cast<unsigned>((n + kThreads - 1) / kThreads), kThreads, 0, stream>>>(
      out, a, b, n);
  CUDA_CHECK_LAUNCH();
}

}  // namespace shardrt::kernels::cuda
