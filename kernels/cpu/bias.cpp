#include "kernels/cpu/bias.h"

namespace shardrt::kernels::cpu {

void addBias(float* x, const float* bias, long rows, int cols) {
  for (long r = 0; r < rows; ++r) {
    float* row = x + r * cols;
    for (int c = 0; c < cols; ++c) row[c] += bias[c];
  }
}

}  // namespace shardrt::kernels::cpu
