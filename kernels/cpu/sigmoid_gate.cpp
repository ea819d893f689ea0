#include "kernels/cpu/sigmoid_gate.h"

#include <cmath>

namespace shardrt::kernels::cpu {

void sigmoidGateRows(float* x, const float* gate_logits, long rows, int cols) {
  for (long r = 0; r < rows; ++r) {
    const float g = 1.0f / (1.0f + std::exp(-gate_logits[r]));
    float* row = x + r * cols;
    for (int c = 0; c < cols; ++c) row[c] *= g;
  }
}

}  // namespace shardrt::kernels::cpu
