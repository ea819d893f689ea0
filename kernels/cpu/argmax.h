// The largest value of each row and its column, the first one on ties: the local half of a
// greedy choice over a vocabulary split across tp ranks. Each rank finds its shard's best,
// offset by the shard's first token id; the ranks then keep the best of the bests (the
// smallest id on ties, as here), so no rank gathers the whole logits.
#pragma once

#include <cstdint>

namespace shardrt::kernels::cpu {

// x (rows, cols) -> best_value (rows), best_index (rows) = column + first_index. A NaN in a
// row is never chosen over a number; a row of NaNs gives column 0.
void argmaxRows(float* best_value, std::int32_t* best_index, const float* x, long rows, int cols,
                int first_index);

}  // namespace shardrt::kernels::cpu
