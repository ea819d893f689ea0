// Scaled dot-product attention on the GPU, the same definition as kernels/cpu/attention.h:
//   out[b, i, h] = sum_j softmax_j(q[b, i, h] . k[b, j, kv(h)] / sqrt(head_dim)) v[b, j, kv(h)]
// with j <= i when causal; kv(h) as AttentionHeads defines it (GQA and tensor-parallel slices).
//
// One fused kernel in the FlashAttention style (Dao et al. 2022), fp32, no tensor cores:
// - Tiling: a block takes 32 query rows of one (batch, head) and walks the keys in tiles of 32.
//   Each K, V tile is staged in shared memory once and used by all 32 rows. The block's 8 warps
//   own 4 rows each; when scoring, lane l takes key l of the tile, and when accumulating
//   softmax(scores) @ V, lane l owns the output dims l, l+32, ... (up to head_dim 256: 8 per row).
// - Memory traffic: q and out move once; k and v once per query tile (seq_len / 32 times, mostly
//   from L2). The seq_len x seq_len scores live only in registers, one key tile at a time, so
//   global memory holds O(seq_len * head_dim) per head instead of O(seq_len^2).
// - Online softmax: a row's max and sum are only known after its last key, but we see the keys a
//   tile at a time and cannot keep the scores. So each row carries a running max m and a running
//   sum l; when a tile raises the max from m to m', the sum and the output accumulator so far are
//   multiplied by exp(m - m') and the tile's terms are added as exp(s - m'). One pass over the
//   keys, and the output is divided by l once at the end.
// - Causal: key tiles that start after the block's last query row are never loaded; in the
//   diagonal tile the masked scores are -inf (weight 0).
// Per block: 256 threads and (32 * head_dim + 32 * (head_dim | 1) + 32 * head_dim) * 4 bytes of
// dynamic shared memory (Q, K padded to an odd row stride against bank conflicts, V):
// 24704 bytes at head_dim 64, 49280 at 128, 98432 at 256. Above 48 KiB needs an opt-in, which
// the launcher makes; sm_80 and sm_90 allow up to 163 and 227 KiB.
// bf16 storage with head_dim a multiple of 16 up to 128 (and 16-byte aligned buffers) runs on
// the tensor cores instead (kernels/cuda/attention_tensor_core.cuh); otherwise, as here,
// bf16 storage: q, k, v are widened to float as they are staged, so the tiles, the scores, the
// online softmax and the accumulators are the fp32 kernel's (same shared memory); out is rounded
// to nearest even once, at the store.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <type_traits>

#include "kernels/attention_heads.h"

namespace shardrt::kernels::cuda {

// The largest head_dim the kernel supports: each lane keeps head_dim / 32 accumulators per row.
constexpr int kAttentionMaxHeadDim = 256;

// q, out: (batch, seq_len, q_heads, head_dim); k, v: (batch, seq_len, kv_heads, head_dim).
// Scale 1/sqrt(head_dim). Throws std::invalid_argument for head_dim outside
// 1..kAttentionMaxHeadDim or head ranges where a query head has no local kv head.
void attention(float* out, const float* q, const float* k, const float* v, int batch, int seq_len,
               int head_dim, const AttentionHeads& heads, bool causal, cudaStream_t stream);

// The same for bf16 storage (T = __nv_bfloat16 only; defined in attention.cu). A template rather
// than a plain overload so that a call with nullptr for every tensor, as the argument checks in
// tests/gpu/test_attention.cpp make, still means the fp32 version: nullptr deduces no T.
template <typename T, typename = std::enable_if_t<std::is_same_v<T, __nv_bfloat16>>>
void attention(T* out, const T* q, const T* k, const T* v, int batch, int seq_len, int head_dim,
               const AttentionHeads& heads, bool causal, cudaStream_t stream);

}  // namespace shardrt::kernels::cuda
