// The FFN's elementwise activations on the GPU, as kernels/cpu/activations.h:
//   gelu:   out = 0.5 x (1 + erf(x / sqrt 2))            (exact)
//   swiglu: out = silu(gate) * up, silu(g) = g / (1 + exp(-g))
// fp32 or bf16 storage; the arithmetic is fp32 either way (bf16 is widened on load and rounded
// to nearest even on store).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

namespace shardrt::kernels::cuda {

void gelu(float* out, const float* inp, long n, cudaStream_t stream);
void gelu(__nv_bfloat16* out, const __nv_bfloat16* inp, long n, cudaStream_t stream);
void swiglu(float* out, const float* gate, const float* up, long n, cudaStream_t stream);
void swiglu(__nv_bfloat16* out, const __nv_bfloat16* gate, const __nv_bfloat16* up, long n,
            cudaStream_t stream);

}  // namespace shardrt::kernels::cuda
