// Row permutations that move tokens to and from experts.
//   gatherRows:     out[i] = inp[index[i]]                       (dispatch order)
//   scatterAddRows: out[index[i]] += weight[i] * inp[i]          (the weighted combine)
//   scatterRows:    out[index[i]] = inp[i]                       (new keys into the KV cache)
#pragma once

#include <cstdint>

namespace shardrt::kernels::cpu {

// out (rows, cols), inp (any rows, cols), index (rows).
void gatherRows(float* out, const float* inp, const std::int32_t* index, long rows, int cols);

// out (any rows, cols) accumulates; inp (rows, cols), index and weight (rows). Rows of out that
// several entries name receive all of them, in entry order.
void scatterAddRows(float* out, const float* inp, const std::int32_t* index, const float* weight,
                    long rows, int cols);

// out (any rows, cols) written at the rows index names; inp (rows, cols), index (rows), which
// names no row twice.
void scatterRows(float* out, const float* inp, const std::int32_t* index, long rows, int cols);

}  // namespace shardrt::kernels::cpu
