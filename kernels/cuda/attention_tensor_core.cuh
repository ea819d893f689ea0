// Attention on the tensor cores for bf16 storage: the same definition as kernels/cuda/attention.cuh
// (and kernels/cpu/attention.h), computed with WMMA bf16 x bf16 -> fp32 products.
//
// Why a second kernel: the scalar fused kernel ran a Llama-3-8B-shaped layer's attention (batch 8,
// seq 2048, 32 heads, head_dim 128, causal) in 24 ms on an H100, 11 TFLOP/s: two thirds of the
// layer. Its products are fp32 FMAs; bf16 tensor cores do them ~15x faster.
//
// Shape of the kernel (FlashAttention-2 style, Dao 2023, written with the WMMA API):
// - A block takes 64 query rows of one (batch, head) with 4 warps; each warp owns 16 rows.
// - Key tiles of 64 rows: K and V are staged in shared memory as bf16 (16-byte loads).
// - S = Q K^T for the warp's 16 x 64 scores: 4 accumulator fragments over head_dim / 16 steps,
//   stored to shared memory as fp32; the online softmax (running max m, sum l per row, two
//   lanes per row) turns them into weights P, rounded to bf16 for the P V product as
//   FlashAttention does, and rescales the running output O.
// - O (64 x head_dim, fp32) lives in shared memory, because a WMMA accumulator's element layout
//   is opaque and the softmax must rescale it row by row: each P V step loads the warp's O
//   fragments, accumulates P V into them and stores them back.
// - Causal: key tiles past the block's last query row are skipped; the diagonal tile masks.
// Shared memory per block at head_dim d: 3 * 64 * (d + 8) * 2 (Q, K, V) + 64 * 68 * 4 (S) +
// 64 * 72 * 2 (P) + 64 * (d + 4) * 4 (O) bytes: 113152 at d = 128, 64768 at d = 64.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "kernels/attention_heads.h"

namespace shardrt::kernels::cuda {

// head_dim a multiple of 16 up to 128, and q, k, v, out 16-byte aligned.
bool tensorCoreAttentionSupports(int head_dim, const void* out, const void* q, const void* k,
                                 const void* v);

// As cuda::attention for bf16; the caller has checked the arguments and
// tensorCoreAttentionSupports. batch, seq_len and q_heads are positive.
void tensorCoreAttention(__nv_bfloat16* out, const __nv_bfloat16* q, const __nv_bfloat16* k,
                         const __nv_bfloat16* v, int batch, int seq_len, int head_dim,
                         const AttentionHeads& heads, bool causal, cudaStream_t stream);

}  // namespace shardrt::kernels::cuda
