#include <cuda_bf16.h>

#include <type_traits>

#include "common/cuda_check.h"
#include "kernels/cuda/element_type.cuh"
#include "kernels/cuda/residual.cuh"
#include "kernels/cuda/vector_access.cuh"

namespace shardrt::kernels::cuda {
namespace {

template <typename T>
__global__ void residualAddKernel(T* out, const T* a, const T* b, long n) {
  const long i = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = fromFloat<T>(toFloat(a[i]) + toFloat(b[i]));
}

// 16-byte accesses (vector_access.cuh), one pack per thread, where n and the pointers allow.
template <typename T>
__global__ void residualAddPackedKernel(T* out, const T* a, const T* b, long packs) {
  const long i = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= packs) return;
  float x[kPack<T>], y[kPack<T>];
  loadPack(a + i * kPack<T>, x);
  loadPack(b + i * kPack<T>, y);
  for (int j = 0; j < kPack<T>; ++j) x[j] += y[j];
  storePack(out + i * kPack<T>, x);
}

template <typename T>
void launchResidualAdd(T* out, const T* a, const T* b, long n, cudaStream_t stream) {
  if (n == 0) return;
  constexpr int kThreads = 256;
  if (packFits<T>(n, out, a, b)) {
    const long packs = n / kPack<T>;
    residualAddPackedKernel<T><<<static_cast<unsigned>((packs + kThreads - 1) / kThreads), kThreads,
                                 0, stream>>>(out, a, b, packs);
  } else {
    residualAddKernel<T><<<static_cast<unsigned>((n + kThreads - 1) / kThreads), kThreads, 0,
                           stream>>>(out, a, b, n);
  }
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
