// Rotary position embedding on the GPU, Llama's rotate-half form as kernels/cpu/rope.h:
//   out[i] = x[i] cos(p f_i) - x[i + d/2] sin(p f_i),  out[i + d/2] = x[i + d/2] cos + x[i] sin
// with f_i = ropeFrequency(i) (kernels/rope_frequencies.h) and the angle computed in double, as
// on the CPU.
// fp32 or bf16 storage; the rotation is fp32 either way (bf16 is widened on load and rounded
// to nearest even on store). rotaryEmbeddingAt takes each token's position from positions[t]
// (generation: tokens at their places in their sequences); both share one device function.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/rope_frequencies.h"

namespace shardrt::kernels::cuda {

// x: (batch, seq_len, heads, head_dim), rotated in place. head_dim must be even.
void rotaryEmbedding(float* x, int batch, int seq_len, int heads, int head_dim,
                     const RopeFrequencies& rope, cudaStream_t stream);
void rotaryEmbedding(__nv_bfloat16* x, int batch, int seq_len, int heads, int head_dim,
                     const RopeFrequencies& rope, cudaStream_t stream);

// x: (tokens, heads, head_dim), rotated in place, token t at positions[t] (device, int32).
void rotaryEmbeddingAt(float* x, const std::int32_t* positions, long tokens, int heads,
                       int head_dim, const RopeFrequencies& rope, cudaStream_t stream);
void rotaryEmbeddingAt(__nv_bfloat16* x, const std::int32_t* positions, long tokens, int heads,
                       int head_dim, const RopeFrequencies& rope, cudaStream_t stream);

}  // namespace shardrt::kernels::cuda
