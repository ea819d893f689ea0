// Storage type T (float or bf16) to the float every kernel computes in, and back with
// round-to-nearest-even: the two conversions each kernel with a bf16 launcher uses.
#pragma once

#include <cuda_bf16.h>

#include <type_traits>

namespace shardrt::kernels::cuda {

__device__ inline float toFloat(float x) { return x; }
__device__ inline float toFloat(__nv_bfloat16 x) { return __bfloat162float(x); }

template <typename T>
__device__ inline T fromFloat(float x) {
  if constexpr (std::is_same_v<T, float>) {
    return x;
  } else {
    return __float2bfloat16_rn(x);
  }
}

}  // namespace shardrt::kernels::cuda
