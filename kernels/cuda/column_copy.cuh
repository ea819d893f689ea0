// A block of columns copied into an otherwise zero matrix on the GPU, as
// kernels/cpu/column_copy.h: out[r, out_col + j] = inp[r / repeat, inp_col + j], every other
// element of out 0. fp32 or bf16, bit for bit (a copy). One thread per element of out: the rows
// are a few hundred columns of the tokens' heads, a pass over memory the GEMM before it wrote.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

namespace shardrt::kernels::cuda {

void copyColumns(float* out, int out_cols, int out_col, const float* inp, int inp_cols, int inp_col,
                 long out_rows, int width, int repeat, cudaStream_t stream);
void copyColumns(__nv_bfloat16* out, int out_cols, int out_col, const __nv_bfloat16* inp,
                 int inp_cols, int inp_col, long out_rows, int width, int repeat,
                 cudaStream_t stream);

}  // namespace shardrt::kernels::cuda
