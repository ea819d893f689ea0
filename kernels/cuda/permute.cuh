// Row permutations that move tokens to and from experts, on the GPU, as kernels/cpu/permute.h:
//   gatherRows:     out[i] = inp[index[i]]
//   scatterAddRows: out[index[i]] += weight[i] * inp[i]
//   scatterRows:    out[index[i]] = inp[i]            (new keys and values into the KV cache)
// scatterAddRows groups the entries by output row first (a counting sort, kept in
// stream-ordered scratch memory) and gives each output row one block that adds its entries in
// ascending entry order, so the sum is deterministic and in the CPU's order (no atomics on the
// data). fp32 or bf16 rows; index is int32 and the router's weight fp32 in both. gatherRows
// copies bf16 bit for bit. scatterAddRows on bf16 adds a row's entries in fp32 and rounds to
// nearest even once (per 64 entries). scatterRows copies bit for bit, one block per
// entry; no row of out may be named twice (which entry would win is not defined), and entries
// whose index is outside [0, out_rows) are skipped.
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

// out (out_rows, cols) written at the rows index names; inp (rows, cols), index (rows).
void scatterRows(float* out, long out_rows, const float* inp, const std::int32_t* index, long rows,
                 int cols, cudaStream_t stream);
void scatterRows(__nv_bfloat16* out, long out_rows, const __nv_bfloat16* inp,
                 const std::int32_t* index, long rows, int cols, cudaStream_t stream);

// out (out_rows, cols) accumulates; inp (rows, cols), index and weight (rows).
void scatterAddRows(float* out, long out_rows, const float* inp, const std::int32_t* index,
                    const float* weight, long rows, int cols, cudaStream_t stream);
void scatterAddRows(__nv_bfloat16* out, long out_rows, const __nv_bfloat16* inp,
                    const std::int32_t* index, const float* weight, long rows, int cols,
                    cudaStream_t stream);

}  // namespace shardrt::kernels::cuda
