// LayerNorm on the GPU, the same definition as kernels/cpu/layernorm.h (biased variance,
// two passes over the row so a large mean costs no digits). One block per row.
// fp32 or bf16 storage; the arithmetic is fp32 either way (bf16 is widened on load and rounded
// to nearest even on store).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

namespace shardrt::kernels::cuda {

// inp, out: (rows, cols); weight, bias: (cols). out may alias inp.
void layerNorm(float* out, const float* inp, const float* weight, const float* bias, int rows,
               int cols, float eps, cudaStream_t stream);
void layerNorm(__nv_bfloat16* out, const __nv_bfloat16* inp, const __nv_bfloat16* weight,
               const __nv_bfloat16* bias, int rows, int cols, float eps, cudaStream_t stream);

}  // namespace shardrt::kernels::cuda
