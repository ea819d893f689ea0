// RMSNorm on the GPU, the same definition as kernels/cpu/rmsnorm.h:
//   out = inp * rsqrt(mean(inp^2) + eps) * weight
// One block per row: the block reduces the row's sum of squares in shared memory, then
// scales it. Rows of a transformer (hidden 1k-16k floats) fit a block's loop comfortably.
// fp32 or bf16 storage; the arithmetic is fp32 either way (bf16 is widened on load and rounded
// to nearest even on store).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

namespace shardrt::kernels::cuda {

// inp, out: (rows, cols); weight: (cols). out may alias inp.
void rmsNorm(float* out, const float* inp, const float* weight, int rows, int cols, float eps,
             cudaStream_t stream);
void rmsNorm(__nv_bfloat16* out, const __nv_bfloat16* inp, const __nv_bfloat16* weight, int rows,
             int cols, float eps, cudaStream_t stream);

}  // namespace shardrt::kernels::cuda
