// Residual add on the GPU: out = a + b, elementwise.
#pragma once

#include <cuda_runtime.h>

namespace shardrt::kernels::cuda {

// n elements; out may alias a or b.
void residualAdd(float* out, const float* a, const float* b, long n, cudaStream_t stream);

}  // namespace shardrt::kernels::cuda
