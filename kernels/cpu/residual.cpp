#include "kernels/cpu/residual.h"

namespace shardrt::kernels::cpu {

void residualAdd(float* out, const float* a, const float* b, long n) {
  for (long i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

}  // namespace shardrt::kernels::cpu
