// Row permutations that move tokens to and from experts, on the GPU, as kernels/cpu/permute.h:
//   gatherRows:     out[i] = inp[index[i]]
//   scatterAddRows: out[index[i]] += weight[i] * inp[i]
// scatterAddRows gives each output row one block that adds the entries naming it in entry
// order, so the sum is deterministic and in the CPU's order (no atomics). It reads the whole
// index once per output row: fine for the tens of thousands of slots of one MoE layer; a
// sorted (CSR) index is the next step if it ever shows in a profile.
// fp32 or bf16 rows; index is int32 and the router's weight fp32 in both. gatherRows copies
// bf16 bit for bit. scatterAddRows on bf16 does each add in fp32 and rounds out to nearest even
// after every entry (out lives in memory between entries), so a row named k times is rounded k
// times, not once.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace shardrt::kernels::cuda {

// out (rows, cols), inp (any rows, cols), index (rows).
void gatherRows(float* out, const float* inp, const std::int32_t* index, long rows, int cols,
                cudaStream_t stream);
void gatherRows(__nv_bfloat16* out, const __nv_bfloat16* inp, const std::int32_t* index, long rows,
                int cols, cudaStream_t stream);

// out (out_rows, cols) accumulates; inp (rows, cols), index and weight (rows).
void scatterAddRows(float* out, long out_rows, const float* inp, const std::int32_t* index,
                    const float* weight, long rows, int cols, cudaStream_t stream);
void scatterAddRows(__nv_bfloat16* out, long out_rows, const __nv_bfloat16* inp,
                    const std::int32_t* index, const float* weight, long rows, int cols,
                    cudaStream_t stream);

}  // namespace shardrt::kernels::cuda
