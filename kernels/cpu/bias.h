// Bias add: x[r, c] += bias[c] for every row, the bias of a linear layer (Qwen2's q/k/v
// projections) added after its GEMM.
#pragma once

namespace shardrt::kernels::cpu {

// x: rows x cols, in place; bias: cols.
void addBias(float* x, const float* bias, long rows, int cols);

}  // namespace shardrt::kernels::cpu
