#include <cuda_bf16.h>

#include "common/cuda_check.h"
#include "kernels/cuda/argmax.cuh"
#include "kernels/cuda/element_type.cuh"

namespace shardrt::kernels::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kWarpSize = 32;

// A candidate: a value and its column; column -1 is no candidate (a thread with no columns).
struct Best {
  float value;
  int column;
};

// Does a come before b? A number before a NaN, then the larger value, then the smaller column
// (among equal values, and among NaNs). -0 and +0 are equal, as to the CPU's `>`.
__device__ inline bool before(const Best& a, const Best& b) {
  if (a.column < 0) return false;
  if (b.column < 0) return true;
  const bool a_nan = isnan(a.value), b_nan = isnan(b.value);
  if (a_nan != b_nan) return b_nan;
  if (!a_nan && a.value != b.value) return a.value > b.value;
  return a.column < b.column;
}

__device__ inline Best warpBest(Best v) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
    const Best other{__shfl_xor_sync(0xffffffffu, v.value, offset),
                     __shfl_xor_sync(0xffffffffu, v.column, offset)};
    if (before(other, v)) v = other;
  }
  return v;
}

template <typename T>
__global__ void argmaxRowsKernel(float* best_value, std::int32_t* best_index, const T* x, int cols,
                                 int first_index) {
  __shared__ Best partial[kThreads / kWarpSize];
  const T* row = x + static_cast<long>(blockIdx.x) * cols;
  Best best{0.0f, -1};
  for (int c = threadIdx.x; c < cols; c += blockDim.x) {
    const Best candidate{toFloat(row[c]), c};
    if (before(candidate, best)) best = candidate;
  }
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  best = warpBest(best);
  if (lane == 0) partial[warp] = best;
  __syncthreads();
  if (warp == 0) {
    const int warps = blockDim.x / kWarpSize;
    best = lane < warps ? partial[lane] : Best{0.0f, -1};
    best = warpBest(best);
    if (lane == 0) {
      best_value[blockIdx.x] = best.value;
      best_index[blockIdx.x] = best.column + first_index;
    }
  }
}

template <typename T>
void launchArgmaxRows(float* best_value, std::int32_t* best_index, const T* x, long rows, int cols,
                      int first_index, cudaStream_t stream) {
  if (rows == 0 || cols == 0) return;
  argmaxRowsKernel<T><<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(best_value, best_index,
                                                                            x, cols, first_index);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

void argmaxRows(float* best_value, std::int32_t* best_index, const float* x, long rows, int cols,
                int first_index, cudaStream_t stream) {
  launchArgmaxRows(best_value, best_index, x, rows, cols, first_index, stream);
}

void argmaxRows(float* best_value, std::int32_t* best_index, const __nv_bfloat16* x, long rows,
                int cols, int first_index, cudaStream_t stream) {
  launchArgmaxRows(best_value, best_index, x, rows, cols, first_index, stream);
}

}  // namespace shardrt::kernels::cuda
