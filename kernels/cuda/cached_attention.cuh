// Attention of new tokens over a KV cache on the GPU, as kernels/cpu/cached_attention.h:
// token t, sequence seq[t]'s token at position pos[t], sees that sequence's keys
// firstVisibleKey(pos[t]) .. pos[t] and nothing past pos[t] (the cache there may hold anything,
// NaN included):
//   out[t, h] = sum_j softmax_j(scale * q[t, h] . K[j]) V[j]
// K[j], V[j] = k_cache[seq[t], j, kv(h)], v_cache[seq[t], j, kv(h)];
// with kv(h) = heads.localKvHead(h) and scale heads.scoreScale.
//
// One block of 128 threads per (token, query head), a single pass over the visible keys in
// chunks of 64 with an online softmax (running max and sum, the accumulator rescaled when the
// max rises), all in fp32: shared memory is the query and one chunk's scores whatever the
// context, so a decode step at position 32767 runs as one at position 0, only longer. Scores:
// one warp per key, lanes over head_dim (coalesced loads); the output: thread i owns the dims
// i and i + 128. No split over the keys (flash-decoding): a long single sequence is one block
// per head, correct but not fast.
// fp32 or bf16 storage (q, caches and out the same type); bf16 is widened on load and out
// rounded to nearest even once. A position outside [0, context) or a sequence outside the cache
// writes NaN for that token (the CPU kernel throws; a kernel cannot).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/attention_heads.h"

namespace shardrt::kernels::cuda {

// 640 = 5 x 128 threads: room for latent attention's rows of kv_rank + rope_dim (576 for
// DeepSeek-V2/V3, runtime/latent_attention.h), five output dims a thread.
constexpr int kCachedAttentionMaxHeadDim = 640;

// q, out (tokens, q_heads, head_dim); k_cache, v_cache (sequences, context, kv_heads, head_dim);
// seq, pos (tokens, int32, on the device). Throws std::invalid_argument for head_dim outside
// 1..kCachedAttentionMaxHeadDim, more than 65535 query heads, or head ranges where a query
// head has no local kv head.
void cachedAttention(float* out, const float* q, const float* k_cache, const float* v_cache,
                     const std::int32_t* seq, const std::int32_t* pos, long tokens, long sequences,
                     int context, int head_dim, const AttentionHeads& heads, cudaStream_t stream);
void cachedAttention(__nv_bfloat16* out, const __nv_bfloat16* q, const __nv_bfloat16* k_cache,
                     const __nv_bfloat16* v_cache, const std::int32_t* seq, const std::int32_t* pos,
                     long tokens, long sequences, int context, int head_dim,
                     const AttentionHeads& heads, cudaStream_t stream);

}  // namespace shardrt::kernels::cuda
