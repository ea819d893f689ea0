// The vocabulary-parallel token embedding on the GPU, as kernels/cpu/embedding.h:
//   out[t] = table[ids[t] - first_id]   if first_id <= ids[t] < first_id + table_rows
//   out[t] = 0                          otherwise (another tp rank holds the row)
// One block per token copies its row bit for bit (no trip through float) or writes zeros.
// fp32 or bf16 rows; ids are int32.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace shardrt::kernels::cuda {

// out (tokens, hidden); ids (tokens); table (table_rows, hidden).
void embedRows(float* out, const std::int32_t* ids, const float* table, long tokens, int hidden,
               long table_rows, long first_id, cudaStream_t stream);
void embedRows(__nv_bfloat16* out, const std::int32_t* ids, const __nv_bfloat16* table, long tokens,
               int hidden, long table_rows, long first_id, cudaStream_t stream);

}  // namespace shardrt::kernels::cuda
