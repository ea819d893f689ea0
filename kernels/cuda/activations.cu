#include <cuda_bf16.h>

#include <type_traits>

#include "common/cuda_check.h"
#include "kernels/cuda/activations.cuh"
#include "kernels/cuda/element_type.cuh"
#include "kernels/cuda/vector_access.cuh"

namespace shardrt::kernels::cuda {
namespace {

constexpr int kThreads = 256;

unsigned blocksFor(long n) { return static_cast<unsigned>((n + kThreads - 1) / kThreads); }

__device__ inline float geluOf(float x) {
  return 0.5f * x * (1.0f + erff(x * 0.70710678118654752440f));
}
__device__ inline float swigluOf(float g, float u) { return g / (1.0f + expf(-g)) * u; }

template <typename T>
__global__ void geluKernel(T* out, const T* inp, long n) {
  const long i = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) {
    const float x = toFloat(inp[i]);
    out[i] = fromFloat<T>(geluOf(x));
  }
}

template <typename T>
__global__ void swigluKernel(T* out, const T* gate, const T* up, long n) {
  const long i = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) {
    const float g = toFloat(gate[i]);
    out[i] = fromFloat<T>(swigluOf(g, toFloat(up[i])));
  }
}

// 16-byte accesses (vector_access.cuh), one pack per thread, where n and the pointers allow.
template <typename T>
__global__ void geluPackedKernel(T* out, const T* inp, long packs) {
  const long i = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= packs) return;
  float v[kPack<T>];
  loadPack(inp + i * kPack<T>, v);
  for (float& x : v) x = geluOf(x);
  storePack(out + i * kPack<T>, v);
}

template <typename T>
__global__ void swigluPackedKernel(T* out, const T* gate, const T* up, long packs) {
  const long i = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= packs) return;
  float g[kPack<T>], u[kPack<T>];
  loadPack(gate + i * kPack<T>, g);
  loadPack(up + i * kPack<T>, u);
  for (int j = 0; j < kPack<T>; ++j) g[j] = swigluOf(g[j], u[j]);
  storePack(out + i * kPack<T>, g);
}

template <typename T>
void launchGelu(T* out, const T* inp, long n, cudaStream_t stream) {
  if (n == 0) return;
  if (packFits<T>(n, out, inp)) {
    const long packs = n / kPack<T>;
    geluPackedKernel<T><<<blocksFor(packs), kThreads, 0, stream>>>(out, inp, packs);
  } else {
    geluKernel<T><<<blocksFor(n), kThreads, 0, stream>>>(out, inp, n);
  }
  CUDA_CHECK_LAUNCH();
}

template <typename T>
void launchSwiglu(T* out, const T* gate, const T* up, long n, cudaStream_t stream) {
  if (n == 0) return;
  if (packFits<T>(n, out, gate, up)) {
    const long packs = n / kPack<T>;
    swigluPackedKernel<T><<<blocksFor(packs), kThreads, 0, stream>>>(out, gate, up, packs);
  } else {
    swigluKernel<T><<<blocksFor(n), kThreads, 0, stream>>>(out, gate, up, n);
  }
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
