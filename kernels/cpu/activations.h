// The FFN's elementwise activations.
//   gelu:   out = 0.5 * x * (1 + erf(x / sqrt(2)))      (exact, torch's approximate='none')
//   swiglu: out = silu(gate) * up, silu(g) = g / (1 + exp(-g))   (HF Llama's MLP)
#pragma once

namespace shardrt::kernels::cpu {

// n elements; out may alias inp.
void gelu(float* out, const float* inp, long n);

// n elements; out may alias gate or up.
void swiglu(float* out, const float* gate, const float* up, long n);

}  // namespace shardrt::kernels::cpu
