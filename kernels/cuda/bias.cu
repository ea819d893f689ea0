#include <cuda_bf16.h>

#include "common/cuda_check.h"
#include "kernels/cuda/bias.cuh"
#include "kernels/cuda/element_type.cuh"

namespace shardrt::kernels::cuda {
namespace {

// One thread per element; the column is the index modulo cols.
template <typename T>
__global__ void addBiasKernel(T* x, const T* bias, long n, int cols) {
  const long i = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) x[i] = fromFloat<T>(toFloat(x[i]) + toFloat(bias[i % cols]));
}

template <typename T>
void launchAddBias(T* x, const T* bias, long rows, int cols, cudaStream_t stream) {
  const long n = rows * cols;
  if (n == 0) return;
  constexpr int kThreads = 256;
  addBiasKernel<T><<<static_cast<unsigned>((n + kThreads - 1) / kThreads), kThreads, 0, stream>>>(
      x, bias, n, cols);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

void addBias(float* x, const float* bias, long rows, int cols, cudaStream_t stream) {
  launchAddBias(x, bias, rows, cols, stream);
}

void addBias(__nv_bfloat16* x, const __nv_bfloat16* bias, long rows, int cols,
             cudaStream_t stream) {
  launchAddBias(x, bias, rows, cols, stream);
}

}  // namespace shardrt::kernels::cuda
