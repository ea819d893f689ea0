#include "kernels/cpu/argmax.h"

namespace shardrt::kernels::cpu {

void argmaxRows(float* best_value, std::int32_t* best_index, const float* x, long rows, int cols,
                int first_index) {
  for (long r = 0; r < rows; ++r) {
    const float* row = x + r * cols;
    int best = 0;
    for (int c = 1; c < cols; ++c) {
      // `!(row[best] >= row[c])` would let a NaN win; a strict > keeps the first maximum.
      if (row[c] > row[best] || (row[best] != row[best] && row[c] == row[c])) best = c;
    }
    best_value[r] = row[best];
    best_index[r] = best + first_index;
  }
}

}  // namespace shardrt::kernels::cpu
