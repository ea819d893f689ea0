// LayerNorm as torch.nn.LayerNorm defines it (biased variance):
//   out = (inp - mean) / sqrt(var + eps) * weight + bias
#pragma once

namespace shardrt::kernels::cpu {

// inp, out: (rows, cols); weight, bias: (cols). out may alias inp.
void layerNorm(float* out, const float* inp, const float* weight, const float* bias, int rows,
               int cols, float eps);

}  // namespace shardrt::kernels::cpu
