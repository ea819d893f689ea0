#include <cuda_bf16.h>

#include <type_traits>

#include "common/cuda_check.h"
#include "kernels/cuda/element_type.cuh"
#include "kernels/cuda/residual.cuh"

namespace shardrt::kernels::cuda {
namespace {

template <typename T>
__global__ void residualAddKernel(T* out, const T* a, const T* b, long n) {
  const long i = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = fromFloat<T>(toFloat(a[i]) + toFloat(b[i]));
}

template <typename T>
void launchResidualAdd(T* out, const T* a, const T* b, long n, cudaStream_t stream) {
  if (n == 0) return;
  constexpr int kThreads = 256;
  residualAddKernel<T>
      <<<static_cast<unsigned>((n + kThreads - 1) / kThreads), kThreads, 0, stream>>>(out, a, b, n);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

void residualAdd(float* out, const float* a, const float* b, long n, cudaStream_t stream) {
  launchResidualAdd(out, a, b, n, stream);
}

void residualAdd(__nv_bfloat16* out, const __nv_bfloat16* a, const __nv_bfloat16* b, long n,
                 cudaStream_t stream) {
  launchResidualAdd(out, a, b, n, stream);
}

}  // namespace shardrt::kernels::cuda
