// Sum of one float per thread over a block (warp shuffles, then one warp over the warps'
// sums). Every thread of the block must call it; every thread gets the total.
#pragma once

namespace shardrt::kernels::cuda {

__device__ inline float warpSum(float v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

__device__ inline float blockSum(float v) {
  __shared__ float partial[32];
  __shared__ float total;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  v = warpSum(v);
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  if (warp == 0) {
    const int warps = (blockDim.x + 31) / 32;
    float w = lane < warps ? partial[lane] : 0.0f;
    w = warpSum(w);
    if (lane == 0) total = w;
  }
  __syncthreads();
  return total;
}

}  // namespace shardrt::kernels::cuda
