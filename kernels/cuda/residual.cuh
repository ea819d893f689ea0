// Residual add on the GPU: out = a + b, elementwise. fp32 or bf16 storage; the add is fp32
// either way (bf16 is widened on load and the sum rounded to nearest even on store).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

namespace shardrt::kernels::cuda {

// n elements; out may alias a or b.
void residualAdd(float* out, const float* a, const float* b, long n, cudaStream_t stream);
void residualAdd(__nv_bfloat16* out, const __nv_bfloat16* a, const __nv_bfloat16* b, long n,
                 cudaStream_t stream);

}  // namespace shardrt::kernels::cuda
