#include "kernels/cpu/layernorm.h"

#include <cmath>

namespace shardrt::kernels::cpu {

void layerNorm(float* out, const float* inp, const float* weight, const float* bias, int rows,
               int cols, float eps) {
  for (int r = 0; r < rows; ++r) {
    const float* x = inp + static_cast<long>(r) * cols;
    float* y = out + static_cast<long>(r) * cols;
    float mean = 0.0f;
    for (int c = 0; c < cols; ++c) mean += x[c];
    mean /= static_cast<float>(cols);
    // Two passes over the row: the one-pass E[x^2] - E[x]^2 loses digits when |mean| >> std.
    float var = 0.0f;
    for (int c = 0; c < cols; ++c) var += (x[c] - mean) * (x[c] - mean);
    var /= static_cast<float>(cols);
    const float inv_std = 1.0f / std::sqrt(var + eps);
    for (int c = 0; c < cols; ++c) y[c] = (x[c] - mean) * inv_std * weight[c] + bias[c];
  }
}

}  // namespace shardrt::kernels::cpu
