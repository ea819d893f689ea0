// The vocabulary-parallel token embedding (Megatron-LM's VocabParallelEmbedding, Shoeybi et al.
// 2019, section 3): each tp rank holds the rows of a block of token ids, looks up the tokens
// that fall in its block and writes zeros for the rest, so that an all-reduce over tp gives
// every rank every token's row.
//   out[t] = table[ids[t] - first_id]   if first_id <= ids[t] < first_id + table_rows
//   out[t] = 0                          otherwise
#pragma once

#include <cstdint>

namespace shardrt::kernels::cpu {

// out (tokens, hidden); ids (tokens); table (table_rows, hidden).
void embedRows(float* out, const std::int32_t* ids, const float* table, long tokens, int hidden,
               long table_rows, long first_id);

}  // namespace shardrt::kernels::cpu
