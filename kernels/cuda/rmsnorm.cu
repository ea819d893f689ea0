#include <cuda_bf16.h>

#include <type_traits>

#include "common/cuda_check.h"
#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/element_type.cuh"
#include "kernels/cuda/rmsnorm.cuh"
#include "kernels/cuda/vector_access.cuh"

namespace shardrt::kernels::cuda {
namespace {

template <typename T>
__global__ void rmsNormKernel(T* out, const T* inp, const T* weight, int cols, float eps) {
  const T* x = inp + static_cast<long>(blockIdx.x) * cols;
  T* y = out + static_cast<long>(blockIdx.x) * cols;
  float sum_sq = 0.0f;
  for (int c = threadIdx.x; c < cols; c += blockDim.x) {
    const float xc = toFloat(x[c]);
    sum_sq += xc * xc;
  }
  const float inv_rms = rsqrtf(blockSum(sum_sq) / cols + eps);
  for (int c = threadIdx.x; c < cols; c += blockDim.x) {
    y[c] = fromFloat<T>(toFloat(x[c]) * inv_rms * toFloat(weight[c]));
  }
}

// The same with 16-byte accesses (vector_access.cuh): cols a multiple of the pack, every row
// 16-byte aligned. The sum of squares is added in another order than above: fp32 rounding
// differs in the last bits, as any change of block size would make it.
template <typename T>
__global__ void rmsNormPackedKernel(T* out, const T* inp, const T* weight, int cols, float eps) {
  constexpr int P = kPack<T>;
  const T* x = inp + static_cast<long>(blockIdx.x) * cols;
  T* y = out + static_cast<long>(blockIdx.x) * cols;
  float sum_sq = 0.0f;
  for (int c = threadIdx.x * P; c < cols; c += blockDim.x * P) {
    float v[P];
    loadPack(x + c, v);
    for (int j = 0; j < P; ++j) sum_sq += v[j] * v[j];
  }
  const float inv_rms = rsqrtf(blockSum(sum_sq) / cols + eps);
  for (int c = threadIdx.x * P; c < cols; c += blockDim.x * P) {
    float v[P], w[P];
    loadPack(x + c, v);
    loadPack(weight + c, w);
    for (int j = 0; j < P; ++j) v[j] = v[j] * inv_rms * w[j];
    storePack(y + c, v);
  }
}

template <typename T>
void launchRmsNorm(T* out, const T* inp, const T* weight, int rows, int cols, float eps,
                   cudaStream_t stream) {
  if (rows == 0) return;
  constexpr int kThreads = 256;
  if (packFits<T>(cols, out, inp, weight)) {
    rmsNormPackedKernel<T><<<rows, kThreads, 0, stream>>>(out, inp, weight, cols, eps);
  } else {
    rmsNormKernel<T><<<rows, kThreads, 0, stream>>>(out, inp, weight, cols, eps);
  }
  CUDA_CHECK_LAUNCH();
}

}  // namespace

void rmsNorm(float* out, const float* inp, const float* weight, int rows, int cols, float eps,
             cudaStream_t stream) {
  launchRmsNorm(out, inp, weight, rows, cols, eps, stream);
}

void rmsNorm(__nv_bfloat16* out, const __nv_bfloat16* inp, const __nv_bfloat16* weight, int rows,
             int cols, float eps, cudaStream_t stream) {
  launchRmsNorm(out, inp, weight, rows, cols, eps, stream);
}

}  // namespace shardrt::kernels::cuda
