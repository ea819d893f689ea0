#include "kernels/cpu/rmsnorm.h"

#include <cmath>

namespace shardrt::kernels::cpu {

void rmsNorm(float* out, const float* inp, const float* weight, int rows, int cols, float eps) {
  for (int r = 0; r < rows; ++r) {
    const float* x = inp + static_cast<long>(r) * cols;
    float* y = out + static_cast<long>(r) * cols;
    float sum_sq = 0.0f;
    for (int c = 0; c < cols; ++c) sum_sq += x[c] * x[c];
    const float inv_rms = 1.0f / std::sqrt(sum_sq / static_cast<float>(cols) + eps);
    for (int c = 0; c < cols; ++c) y[c] = x[c] * inv_rms * weight[c];
  }
}

}  // namespace shardrt::kernels::cpu
