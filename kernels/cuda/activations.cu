#include <cuda_bf16.h>

#include <type_traits>

#include "common/cuda_check.h"
#include "kernels/cuda/activations.cuh"
#include "kernels/cuda/element_type.cuh"

namespace shardrt::kernels::cuda {
namespace {

constexpr int kThreads = 256;

unsigned blocksFor(long n) { return static_cast<unsigned>((n + kThreads - 1) / kThreads); }

template <typename T>
__global__ void geluKernel(T* out, const T* inp, long n) {
  const long i = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) {
    const float x = toFloat(inp[i]);
    out[i] = fromFloat<T>(0.5f * x * (1.0f + erff(x * 0.70710678118654752440f)));
  }
}

template <typename T>
__global__ void swigluKernel(T* out, const T* gate, const T* up, long n) {
  const long i = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) {
    const float g = toFloat(gate[i]);
    out[i] = fromFloat<T>(g / (1.0f + expf(-g)) * toFloat(up[i]));
  }
}

template <typename T>
void launchGelu(T* out, const T* inp, long n, cudaStream_t stream) {
  if (n == 0) return;
  geluKernel<T><<<blocksFor(n), kThreads, 0, stream>>>(out, inp, n);
  CUDA_CHECK_LAUNCH();
}

template <typename T>
void launchSwiglu(T* out, const T* gate, const T* up, long n, cudaStream_t stream) {
  if (n == 0) return;
  swigluKernel<T><<<blocksFor(n), kThreads, 0, stream>>>(out, gate, up, n);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

void gelu(float* out, const float* inp, long n, cudaStream_t stream) {
  launchGelu(out, inp, n, stream);
}

void gelu(__nv_bfloat16* out, const __nv_bfloat16* inp, long n, cudaStream_t stream) {
  launchGelu(out, inp, n, stream);
}

void swiglu(float* out, const float* gate, const float* up, long n, cudaStream_t stream) {
  launchSwiglu(out, gate, up, n, stream);
}

void swiglu(__nv_bfloat16* out, const __nv_bfloat16* gate, const __nv_bfloat16* up, long n,
            cudaStream_t stream) {
  launchSwiglu(out, gate, up, n, stream);
}

}  // namespace shardrt::kernels::cuda
