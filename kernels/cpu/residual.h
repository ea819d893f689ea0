// Residual add: out = a + b, elementwise.
#pragma once

namespace shardrt::kernels::cpu {

// n elements; out may alias a or b.
void residualAdd(float* out, const float* a, const float* b, long n);

}  // namespace shardrt::kernels::cpu
