// The largest value of each row and its column on the GPU, as kernels/cpu/argmax.h: the first
// maximum on ties, a NaN never chosen over a number, a row of NaNs giving column 0.
// One block per row: each thread scans its columns in ascending order, then the threads'
// (value, column) pairs are merged by the same order (value first, the smaller column on ties),
// so the rule holds across threads as within one. x is fp32 or bf16 (widened exactly);
// best_value is fp32 and best_index int32 either way.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace shardrt::kernels::cuda {

// x (rows, cols) -> best_value (rows), best_index (rows) = column + first_index.
void argmaxRows(float* best_value, std::int32_t* best_index, const float* x, long rows, int cols,
                int first_index, cudaStream_t stream);
void argmaxRows(float* best_value, std::int32_t* best_index, const __nv_bfloat16* x, long rows,
                int cols, int first_index, cudaStream_t stream);

}  // namespace shardrt::kernels::cuda
