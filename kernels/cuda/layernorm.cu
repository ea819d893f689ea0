#include <cuda_bf16.h>

#include <type_traits>

#include "common/cuda_check.h"
#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/element_type.cuh"
#include "kernels/cuda/layernorm.cuh"
#include "kernels/cuda/vector_access.cuh"

namespace shardrt::kernels::cuda {
namespace {

template <typename T>
__global__ void layerNormKernel(T* out, const T* inp, const T* weight, const T* bias, int cols,
                                float eps) {
  const T* x = inp + static_cast<long>(blockIdx.x) * cols;
  T* y = out + static_cast<long>(blockIdx.x) * cols;
  float sum = 0.0f;
  for (int c = threadIdx.x; c < cols; c += blockDim.x) sum += toFloat(x[c]);
  const float mean = blockSum(sum) / cols;
  float sq = 0.0f;
  for (int c = threadIdx.x; c < cols; c += blockDim.x) {
    const float xc = toFloat(x[c]);
    sq += (xc - mean) * (xc - mean);
  }
  const float inv_std = rsqrtf(blockSum(sq) / cols + eps);
  for (int c = threadIdx.x; c < cols; c += blockDim.x) {
    y[c] = fromFloat<T>((toFloat(x[c]) - mean) * inv_std * toFloat(weight[c]) + toFloat(bias[c]));
  }
}

// The same with 16-byte accesses (vector_access.cuh), where cols and the pointers allow.
template <typename T>
__global__ void layerNormPackedKernel(T* out, const T* inp, const T* weight, const T* bias,
                                      int cols, float eps) {
  constexpr int P = kPack<T>;
  const T* x = inp + static_cast<long>(blockIdx.x) * cols;
  T* y = out + static_cast<long>(blockIdx.x) * cols;
  float sum = 0.0f;
  for (int c = threadIdx.x * P; c < cols; c += blockDim.x * P) {
    float v[P];
    loadPack(x + c, v);
    for (int j = 0; j < P; ++j) sum += v[j];
  }
  const float mean = blockSum(sum) / cols;
  float sq = 0.0f;
  for (int c = threadIdx.x * P; c < cols; c += blockDim.x * P) {
    float v[P];
    loadPack(x + c, v);
    for (int j = 0; j < P; ++j) sq += (v[j] - mean) * (v[j] - mean);
  }
  const float inv_std = rsqrtf(blockSum(sq) / cols + eps);
  for (int c = threadIdx.x * P; c < cols; c += blockDim.x * P) {
    float v[P], w[P], b[P];
    loadPack(x + c, v);
    loadPack(weight + c, w);
    loadPack(bias + c, b);
    for (int j = 0; j < P; ++j) v[j] = (v[j] - mean) * inv_std * w[j] + b[j];
    storePack(y + c, v);
  }
}

template <typename T>
void launchLayerNorm(T* out, const T* inp, const T* weight, const T* bias, int rows, int cols,
                     float eps, cudaStream_t stream) {
  if (rows == 0) return;
  constexpr int kThreads = 256;
  if (packFits<T>(cols, out, inp, weight, bias)) {
    layerNormPackedKernel<T><<<rows, kThreads, 0, stream>>>(out, inp, weight, bias, cols, eps);
  } else {
    layerNormKernel<T><<<rows, kThreads, 0, stream>>>(out, inp, weight, bias, cols, eps);
  }
  CUDA_CHECK_LAUNCH();
}

}  // namespace

void layerNorm(float* out, const float* inp, const float* weight, const float* bias, int rows,
               int cols, float eps, cudaStream_t stream) {
  launchLayerNorm(out, inp, weight, bias, rows, cols, eps, stream);
}

void layerNorm(__nv_bfloat16* out, const __nv_bfloat16* inp, const __nv_bfloat16* weight,
               const __nv_bfloat16* bias, int rows, int cols, float eps, cudaStream_t stream) {
  launchLayerNorm(out, inp, weight, bias, rows, cols, eps, stream);
}

}  // namespace shardrt::kernels::cuda
