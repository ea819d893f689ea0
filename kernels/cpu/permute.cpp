#include "kernels/cpu/permute.h"

#include <cstring>

namespace shardrt::kernels::cpu {

void gatherRows(float* out, const float* inp, const std::int32_t* index, long rows, int cols) {
  for (long i = 0; i < rows; ++i) {
    std::memcpy(out + i * cols, inp + static_cast<long>(index[i]) * cols, sizeof(float) * cols);
  }
}

void scatterAddRows(float* out, const float* inp, const std::int32_t* index, const float* weight,
                    long rows, int cols) {
  for (long i = 0; i < rows; ++i) {
    float* dst = out + static_cast<long>(index[i]) * cols;
    const float* src = inp + i * cols;
    for (int c = 0; c < cols; ++c) dst[c] += weight[i] * src[c];
  }
}

void scatterRows(float* out, const float* inp, const std::int32_t* index, long rows, int cols) {
  for (long i = 0; i < rows; ++i) {
    std::memcpy(out + static_cast<long>(index[i]) * cols, inp + i * cols, sizeof(float) * cols);
  }
}

}  // namespace shardrt::kernels::cpu
