// Bias add on the GPU: x[r, c] += bias[c], as kernels/cpu/bias.h. fp32 or bf16 storage; the add
// is fp32 either way (bf16 widened on load, rounded to nearest even on store). A kernel of its
// own after the GEMM rather than a cuBLASLt epilogue: q/k/v biases are one pass over
// activations the GEMM just wrote, against the GEMM's whole cost.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

namespace shardrt::kernels::cuda {

// x: rows x cols, in place; bias: cols.
void addBias(float* x, const float* bias, long rows, int cols, cudaStream_t stream);
void addBias(__nv_bfloat16* x, const __nv_bfloat16* bias, long rows, int cols, cudaStream_t stream);

}  // namespace shardrt::kernels::cuda
