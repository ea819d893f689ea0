// The FFN's elementwise activations on the GPU, as kernels/cpu/activations.h:
//   gelu:   out = 0.5 x (1 + erf(x / sqrt 2))            (exact)
//   swiglu: out = silu(gate) * up, silu(g) = g / (1 + exp(-g))
#pragma once

#include <cuda_runtime.h>

namespace shardrt::kernels::cuda {

void gelu(float* out, const float* inp, long n, cudaStream_t stream);
void swiglu(float* out, const float* gate, const float* up, long n, cudaStream_t stream);

}  // namespace shardrt::kernels::cuda
