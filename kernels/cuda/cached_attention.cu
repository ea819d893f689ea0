#include <cuda_bf16.h>

#include <climits>
#include <cmath>
#include <stdexcept>
#include <string>

#include "common/cuda_check.h"
#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/cached_attention.cuh"
#include "kernels/cuda/element_type.cuh"

namespace shardrt::kernels::cuda {
namespace {

constexpr int kWarpSize = 32;
constexpr int kWarps = 4;
constexpr int kThreads = kWarps * kWarpSize;  // 128 per block
constexpr int kKeysPerChunk = 64;             // scores held in shared memory at a time
constexpr int kDimsPerThread = kCachedAttentionMaxHeadDim / kThreads;  // output dims per thread
static_assert(kKeysPerChunk <= kThreads, "one thread per key turns a chunk's scores into weights");
static_assert(kDimsPerThread * kThreads == kCachedAttentionMaxHeadDim);

// Block (t, h): token t, local query head h. Every thread keeps the same running max m and sum
// l (each reads the whole chunk's scores from shared memory and reduces them in the same order),
// so no broadcast is needed; thread i accumulates the output dims i, i + kThreads.
template <typename T>
__global__ void cachedAttentionKernel(T* out, const T* q, const T* k_cache, const T* v_cache,
                                      const std::int32_t* seq, const std::int32_t* pos,
                                      long sequences, int context, int head_dim,
                                      AttentionHeads heads, float scale) {
  __shared__ float q_s[kCachedAttentionMaxHeadDim];
  __shared__ float p_s[kKeysPerChunk];  // a chunk's scores, then their weights exp(s - m)
  const long t = blockIdx.x;
  const int h = blockIdx.y;
  const long q_offset = (t * heads.q_heads + h) * head_dim;
  T* out_th = out + q_offset;
  const int i = pos[t];
  const long s = seq[t];
  if (i < 0 || i >= context || s < 0 || s >= sequences) {  // the whole block returns here
    for (int d = threadIdx.x; d < head_dim; d += blockDim.x) out_th[d] = fromFloat<T>(NAN);
    return;
  }
  const int kvh = heads.localKvHead(h);
  const long kv_stride = static_cast<long>(heads.kv_heads) * head_dim;  // between positions
  const int first = heads.firstVisibleKey(i), n = i + 1 - first;  // keys first .. i, no further
  const long head_base = (s * context + first) * kv_stride + static_cast<long>(kvh) * head_dim;
  const T* k_th = k_cache + head_base;
  const T* v_th = v_cache + head_base;
  for (int d = threadIdx.x; d < head_dim; d += blockDim.x) q_s[d] = toFloat(q[q_offset + d]);

  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  float m = -INFINITY, l = 0.0f;
  float acc[kDimsPerThread];
#pragma unroll
  for (int c = 0; c < kDimsPerThread; ++c) acc[c] = 0.0f;

  for (int k0 = 0; k0 < n; k0 += kKeysPerChunk) {
    const int keys = min(kKeysPerChunk, n - k0);
    __syncthreads();  // q_s is written (first chunk); every thread is done with the last p_s
    // Scores: one warp per key, lanes over the dims.
    for (int j = warp; j < keys; j += kWarps) {
      const T* k_row = k_th + (k0 + j) * kv_stride;
      float dot = 0.0f;
      for (int d = lane; d < head_dim; d += kWarpSize) dot += q_s[d] * toFloat(k_row[d]);
      dot = warpSum(dot);
      if (lane == 0) p_s[j] = dot * scale;
    }
    __syncthreads();
    // Online softmax: raise the running max, rescale what was summed under the old one (m is
    // -inf only before the first chunk: nothing to rescale, and exp(-inf - -inf) is NaN).
    float chunk_max = -INFINITY;
    for (int j = 0; j < keys; ++j) chunk_max = fmaxf(chunk_max, p_s[j]);
    const float m_new = fmaxf(m, chunk_max);
    const float alpha = m == -INFINITY ? 0.0f : expf(m - m_new);
    __syncthreads();  // every thread has read the scores
    if (threadIdx.x < keys) p_s[threadIdx.x] = expf(p_s[threadIdx.x] - m_new);
    __syncthreads();
    float sum = 0.0f;
    for (int j = 0; j < keys; ++j) sum += p_s[j];
    l = l * alpha + sum;
    m = m_new;
#pragma unroll
    for (int c = 0; c < kDimsPerThread; ++c) {
      const int d = threadIdx.x + c * kThreads;
      if (d < head_dim) {
        float a = acc[c] * alpha;
        for (int j = 0; j < keys; ++j) a += p_s[j] * toFloat(v_th[(k0 + j) * kv_stride + d]);
        acc[c] = a;
      }
    }
  }

  // l >= 1: the largest score contributes exp(0).
  const float inv_l = 1.0f / l;
#pragma unroll
  for (int c = 0; c < kDimsPerThread; ++c) {
    const int d = threadIdx.x + c * kThreads;
    if (d < head_dim) out_th[d] = fromFloat<T>(acc[c] * inv_l);
  }
}

template <typename T>
void launchCachedAttention(T* out, const T* q, const T* k_cache, const T* v_cache,
                           const std::int32_t* seq, const std::int32_t* pos, long tokens,
                           long sequences, int context, int head_dim, const AttentionHeads& heads,
                           cudaStream_t stream) {
  if (head_dim < 1 || head_dim > kCachedAttentionMaxHeadDim) {
    throw std::invalid_argument("cuda::cachedAttention: head_dim " + std::to_string(head_dim) +
                                " is outside 1.." + std::to_string(kCachedAttentionMaxHeadDim));
  }
  if (tokens < 0 || sequences < 0 || context < 0 || heads.q_heads < 0) {
    throw std::invalid_argument(
        "cuda::cachedAttention: negative tokens, sequences, context or q_heads");
  }
  if (tokens == 0 || heads.q_heads == 0) return;
  if (heads.group_size < 1) throw std::invalid_argument("cuda::cachedAttention: group_size < 1");
  for (int h = 0; h < heads.q_heads; ++h) {
    const int kvh = heads.localKvHead(h);
    if (kvh < 0 || kvh >= heads.kv_heads) {
      throw std::invalid_argument(
          "cuda::cachedAttention: query head has no local kv head (bad head ranges)");
    }
  }
  if (heads.q_heads > 65535 || tokens > INT_MAX) {
    throw std::invalid_argument(
        "cuda::cachedAttention: q_heads must be at most 65535 and tokens at most 2^31 - 1");
  }
  const dim3 grid(static_cast<unsigned>(tokens), static_cast<unsigned>(heads.q_heads));
  cachedAttentionKernel<T><<<grid, kThreads, 0, stream>>>(out, q, k_cache, v_cache, seq, pos,
                                                          sequences, context, head_dim, heads,
                                                          heads.scoreScale(head_dim));
  CUDA_CHECK_LAUNCH();
}

}  // namespace

void cachedAttention(float* out, const float* q, const float* k_cache, const float* v_cache,
                     const std::int32_t* seq, const std::int32_t* pos, long tokens, long sequences,
                     int context, int head_dim, const AttentionHeads& heads, cudaStream_t stream) {
  launchCachedAttention(out, q, k_cache, v_cache, seq, pos, tokens, sequences, context, head_dim,
                        heads, stream);
}

void cachedAttention(__nv_bfloat16* out, const __nv_bfloat16* q, const __nv_bfloat16* k_cache,
                     const __nv_bfloat16* v_cache, const std::int32_t* seq, const std::int32_t* pos,
                     long tokens, long sequences, int context, int head_dim,
                     const AttentionHeads& heads, cudaStream_t stream) {
  launchCachedAttention(out, q, k_cache, v_cache, seq, pos, tokens, sequences, context, head_dim,
                        heads, stream);
}

}  // namespace shardrt::kernels::cuda
