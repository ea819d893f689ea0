#include <cuda_bf16.h>

#include <type_traits>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/element_type.cuh"
#include "kernels/cuda/permute.cuh"

namespace shardrt::kernels::cuda {
namespace {

constexpr int kThreads = 256;

// A plain copy: no arithmetic, so bf16 moves bit for bit without a trip through float.
template <typename T>
__global__ void gatherRowsKernel(T* out, const T* inp, const std::int32_t* index, int cols) {
  const T* src = inp + static_cast<long>(index[blockIdx.x]) * cols;
  T* dst = out + static_cast<long>(blockIdx.x) * cols;
  for (int c = threadIdx.x; c < cols; c += blockDim.x) dst[c] = src[c];
}

template <typename T>
__global__ void scatterAddRowsKernel(T* out, const T* inp, const std::int32_t* index,
                                     const float* weight, long rows, int cols) {
  const long target = blockIdx.x;
  T* dst = out + target * cols;
  for (long i = 0; i < rows; ++i) {
    if (index[i] != target) continue;
    const float w = weight[i];
    const T* src = inp + i * cols;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
      dst[c] = fromFloat<T>(toFloat(dst[c]) + w * toFloat(src[c]));
    }
  }
}

template <typename T>
void launchGatherRows(T* out, const T* inp, const std::int32_t* index, long rows, int cols,
                      cudaStream_t stream) {
  if (rows == 0 || cols == 0) return;
  gatherRowsKernel<T><<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(out, inp, index, cols);
  CUDA_CHECK_LAUNCH();
}

template <typename T>
void launchScatterAddRows(T* out, long out_rows, const T* inp, const std::int32_t* index,
                          const float* weight, long rows, int cols, cudaStream_t stream) {
  if (out_rows == 0 || rows == 0 || cols == 0) return;
  scatterAddRowsKernel<T><<<static_cast<unsigned>(out_rows), kThreads, 0, stream>>>(
      out, inp, index, weight, rows, cols);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

void gatherRows(float* out, const float* inp, const std::int32_t* index, long rows, int cols,
                cudaStream_t stream) {
  launchGatherRows(out, inp, index, rows, cols, stream);
}

void gatherRows(__nv_bfloat16* out, const __nv_bfloat16* inp, const std::int32_t* index, long rows,
                int cols, cudaStream_t stream) {
  launchGatherRows(out, inp, index, rows, cols, stream);
}

void scatterAddRows(float* out, long out_rows, const float* inp, const std::int32_t* index,
                    const float* weight, long rows, int cols, cudaStream_t stream) {
  launchScatterAddRows(out, out_rows, inp, index, weight, rows, cols, stream);
}

void scatterAddRows(__nv_bfloat16* out, long out_rows, const __nv_bfloat16* inp,
                    const std::int32_t* index, const float* weight, long rows, int cols,
                    cudaStream_t stream) {
  launchScatterAddRows(out, out_rows, inp, index, weight, rows, cols, stream);
}

}  // namespace shardrt::kernels::cuda
