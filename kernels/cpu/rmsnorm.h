// RMSNorm as Hugging Face's LlamaRMSNorm defines it:
//   out = inp * rsqrt(mean(inp^2) + eps) * weight
#pragma once

namespace shardrt::kernels::cpu {

// inp, out: (rows, cols); weight: (cols). out may alias inp.
void rmsNorm(float* out, const float* inp, const float* weight, int rows, int cols, float eps);

}  // namespace shardrt::kernels::cpu
