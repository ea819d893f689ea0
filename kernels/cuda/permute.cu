#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/permute.cuh"

namespace shardrt::kernels::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void gatherRowsKernel(float* out, const float* inp, const std::int32_t* index,
                                 int cols) {
  const float* src = inp + static_cast<long>(index[blockIdx.x]) * cols;
  float* dst = out + static_cast<long>(blockIdx.x) * cols;
  for (int c = threadIdx.x; c < cols; c += blockDim.x) dst[c] = src[c];
}

__global__ void scatterAddRowsKernel(float* out, const float* inp, const std::int32_t* index,
                                     const float* weight, long rows, int cols) {
  const long target = blockIdx.x;
  float* dst = out + target * cols;
  for (long i = 0; i < rows; ++i) {
    if (index[i] != target) continue;
    const float w = weight[i];
    const float* src = inp + i * cols;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) dst[c] += w * src[c];
  }
}

}  // namespace

void gatherRows(float* out, const float* inp, const std::int32_t* index, long rows, int cols,
                cudaStream_t stream) {
  if (rows == 0 || cols == 0) return;
  gatherRowsKernel<<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(out, inp, index, cols);
  CUDA_CHECK_LAUNCH();
}

void scatterAddRows(float* out, long out_rows, const float* inp, const std::int32_t* index,
                    const float* weight, long rows, int cols, cudaStream_t stream) {
  if (out_rows == 0 || rows == 0 || cols == 0) return;
  scatterAddRowsKernel<<<static_cast<unsigned>(out_rows), kThreads, 0, stream>>>(
      out, inp, index, weight, rows, cols);
  CUDA_CHECK_LAUNCH();
}

}  // namespace shardrt::kernels::cuda
