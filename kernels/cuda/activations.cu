#include "kernels/cuda/activations.cuh"
#include "kernels/cuda/cuda_check.h"

namespace shardrt::kernels::cuda {
namespace {

constexpr int kThreads = 256;

unsigned blocksFor(long n) { return static_cast<unsigned>((n + kThreads - 1) / kThreads); }

__global__ void geluKernel(float* out, const float* inp, long n) {
  const long i = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = 0.5f * inp[i] * (1.0f + erff(inp[i] * 0.70710678118654752440f));
}

__global__ void swigluKernel(float* out, const float* gate, const float* up, long n) {
  const long i = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) {
    const float g = gate[i];
    out[i] = g / (1.0f + expf(-g)) * up[i];
  }
}

}  // namespace

void gelu(float* out, const float* inp, long n, cudaStream_t stream) {
  if (n == 0) return;
  geluKernel<<<blocksFor(n), kThreads, 0, stream>>>(out, inp, n);
  CUDA_CHECK_LAUNCH();
}

void swiglu(float* out, const float* gate, const float* up, long n, cudaStream_t stream) {
  if (n == 0) return;
  swigluKernel<<<blocksFor(n), kThreads, 0, stream>>>(out, gate, up, n);
  CUDA_CHECK_LAUNCH();
}

}  // namespace shardrt::kernels::cuda
