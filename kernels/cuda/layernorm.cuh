// LayerNorm on the GPU, the same definition as kernels/cpu/layernorm.h (biased variance,
// two passes over the row so a large mean costs no digits). One block per row.
#pragma once

#include <cuda_runtime.h>

namespace shardrt::kernels::cuda {

// inp, out: (rows, cols); weight, bias: (cols). out may alias inp.
void layerNorm(float* out, const float* inp, const float* weight, const float* bias, int rows,
               int cols, float eps, cudaStream_t stream);

}  // namespace shardrt::kernels::cuda
