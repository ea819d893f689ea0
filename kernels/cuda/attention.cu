#include <cuda_bf16.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "common/cuda_check.h"
#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/attention_tensor_core.cuh"
#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/element_type.cuh"

namespace shardrt::kernels::cuda {
namespace {

constexpr int kWarpSize = 32;
constexpr int kWarps = 8;
constexpr int kThreads = kWarps * kWarpSize;  // 256 per block
constexpr int kRowsPerWarp = 4;
constexpr int kRowsPerTile = kWarps * kRowsPerWarp;                // 32 query rows per block
constexpr int kKeysPerTile = kWarpSize;                            // 32 keys: one per lane
constexpr int kMaxDimsPerLane = kAttentionMaxHeadDim / kWarpSize;  // 8 output dims per row

__device__ inline float warpMax(float v) {
  for (int offset = 16; offset > 0; offset /= 2) {
    v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  }
  return v;
}

// Grid: (query tiles, q_heads, batch). Warp w owns rows w * kRowsPerWarp .. + kRowsPerWarp of
// the block's query tile; every lane keeps their running max m, partial sum l and the output
// dims d = lane + 32 * c (c < kMaxDimsPerLane) in registers. T is the storage type of q, k, v
// and out; the tiles are float, filled by widening on load.
template <typename T>
__global__ void __launch_bounds__(kThreads)
    attentionKernel(T* out, const T* q, const T* k, const T* v, int seq_len, int head_dim,
                    AttentionHeads heads, bool causal, float scale) {
  extern __shared__ float smem[];
  const int k_stride = head_dim | 1;  // odd: lane l reading K row l hits bank (l * k_stride) % 32
  float* q_tile = smem;               // (kRowsPerTile, head_dim)
  float* k_tile = q_tile + kRowsPerTile * head_dim;  // (kKeysPerTile, k_stride)
  float* v_tile = k_tile + kKeysPerTile * k_stride;  // (kKeysPerTile, head_dim)

  // The last query tiles first: with a causal mask they see the most keys, so they start early.
  const int q0 = (gridDim.x - 1 - blockIdx.x) * kRowsPerTile;
  const int h = blockIdx.y, b = blockIdx.z;
  const int kvh = heads.localKvHead(h);
  const long q_pos_stride = static_cast<long>(heads.q_heads) * head_dim;  // between positions
  const long kv_pos_stride = static_cast<long>(heads.kv_heads) * head_dim;
  const T* q_bh = q + static_cast<long>(b) * seq_len * q_pos_stride + h * head_dim;
  T* out_bh = out + static_cast<long>(b) * seq_len * q_pos_stride + h * head_dim;
  const T* k_bh = k + static_cast<long>(b) * seq_len * kv_pos_stride + kvh * head_dim;
  const T* v_bh = v + static_cast<long>(b) * seq_len * kv_pos_stride + kvh * head_dim;

  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  const int row0 = warp * kRowsPerWarp;  // this warp's first row within the tile

  // Q tile; rows past seq_len are zeros (finite scores, never written out).
  for (int idx = threadIdx.x; idx < kRowsPerTile * head_dim; idx += blockDim.x) {
    const int r = idx / head_dim, d = idx % head_dim;
    q_tile[idx] = q0 + r < seq_len ? toFloat(q_bh[(q0 + r) * q_pos_stride + d]) : 0.0f;
  }

  float m[kRowsPerWarp], l[kRowsPerWarp], acc[kRowsPerWarp][kMaxDimsPerLane];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    m[r] = -INFINITY;
    l[r] = 0.0f;
#pragma unroll
    for (int c = 0; c < kMaxDimsPerLane; ++c) acc[r][c] = 0.0f;
  }

  // Keys at or past kv_end are masked for every row of the tile: causal skips their tiles.
  const int kv_end = causal ? min(q0 + kRowsPerTile, seq_len) : seq_len;
  for (int k0 = 0; k0 < kv_end; k0 += kKeysPerTile) {
    const int keys = min(kKeysPerTile, kv_end - k0);  // same for the whole block
    __syncthreads();  // every warp is done with the previous K, V tile
    for (int idx = threadIdx.x; idx < kKeysPerTile * head_dim; idx += blockDim.x) {
      const int r = idx / head_dim, d = idx % head_dim;
      const long src = (k0 + r) * kv_pos_stride + d;
      k_tile[r * k_stride + d] = r < keys ? toFloat(k_bh[src]) : 0.0f;
      v_tile[idx] = r < keys ? toFloat(v_bh[src]) : 0.0f;  // zeros: 0 * garbage could be NaN
    }
    __syncthreads();  // K, V (and on the first pass Q) are in shared memory

    // s[r] = q[row r] . k[key k0 + lane]: the K row is this lane's, the Q row a broadcast.
    float s[kRowsPerWarp] = {};
    const float* k_row = k_tile + lane * k_stride;
    for (int d = 0; d < head_dim; ++d) {
      const float kd = k_row[d];
#pragma unroll
      for (int r = 0; r < kRowsPerWarp; ++r) s[r] += q_tile[(row0 + r) * head_dim + d] * kd;
    }

    // Online softmax: raise the running max, rescale what was summed under the old one.
    const int j = k0 + lane;
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) {
      const int i = q0 + row0 + r;
      const bool visible =
          lane < keys && (!causal || (j <= i && (heads.window == 0 || i - j < heads.window)));
      const float score = visible ? s[r] * scale : -INFINITY;
      const float m_new = fmaxf(m[r], warpMax(score));
      // m stays -inf only while every key so far is masked: nothing to rescale then, and
      // exp(-inf - -inf) would be NaN.
      const float alpha = m[r] == -INFINITY ? 0.0f : expf(m[r] - m_new);
      s[r] = visible ? expf(score - m_new) : 0.0f;  // s becomes this lane's weight p
      l[r] = l[r] * alpha + s[r];  // this lane's share of the sum; lanes are added at the end
#pragma unroll
      for (int c = 0; c < kMaxDimsPerLane; ++c) acc[r][c] *= alpha;
      m[r] = m_new;
    }

    // acc[r] += sum over the tile's keys of p[r][key] * v[key]; key jj's weight is in lane jj.
    for (int jj = 0; jj < keys; ++jj) {
      float p[kRowsPerWarp];
#pragma unroll
      for (int r = 0; r < kRowsPerWarp; ++r) p[r] = __shfl_sync(0xffffffffu, s[r], jj);
      const float* v_row = v_tile + jj * head_dim;
#pragma unroll
      for (int c = 0; c < kMaxDimsPerLane; ++c) {
        const int d = lane + c * kWarpSize;
        if (d < head_dim) {
          const float vd = v_row[d];
#pragma unroll
          for (int r = 0; r < kRowsPerWarp; ++r) acc[r][c] += p[r] * vd;
        }
      }
    }
  }

  // Normalise by the row's sum (>= 1: the row max contributes exp(0) = 1) and write.
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const float inv_l = 1.0f / warpSum(l[r]);
    const int i = q0 + row0 + r;
    if (i >= seq_len) continue;
#pragma unroll
    for (int c = 0; c < kMaxDimsPerLane; ++c) {
      const int d = lane + c * kWarpSize;
      if (d < head_dim) out_bh[i * q_pos_stride + d] = fromFloat<T>(acc[r][c] * inv_l);
    }
  }
}

// The argument checks and the launch, for either storage type.
template <typename T>
void launchAttention(T* out, const T* q, const T* k, const T* v, int batch, int seq_len,
                     int head_dim, const AttentionHeads& heads, bool causal, cudaStream_t stream) {
  if (head_dim < 1 || head_dim > kAttentionMaxHeadDim) {
    throw std::invalid_argument("cuda::attention: head_dim " + std::to_string(head_dim) +
                                " is outside 1.." + std::to_string(kAttentionMaxHeadDim) +
                                " (kAttentionMaxHeadDim)");
  }
  if (batch < 0 || seq_len < 0 || heads.q_heads < 0) {
    throw std::invalid_argument("cuda::attention: negative batch, seq_len or q_heads");
  }
  if (batch == 0 || seq_len == 0 || heads.q_heads == 0) return;
  if (heads.group_size < 1) throw std::invalid_argument("cuda::attention: group_size < 1");
  for (int h = 0; h < heads.q_heads; ++h) {
    const int kvh = heads.localKvHead(h);
    if (kvh < 0 || kvh >= heads.kv_heads) {
      throw std::invalid_argument(
          "cuda::attention: query head has no local kv head (bad head ranges)");
    }
  }
  if (heads.q_heads > 65535 || batch > 65535) {
    throw std::invalid_argument("cuda::attention: q_heads and batch must be at most 65535");
  }

  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    if (tensorCoreAttentionSupports(head_dim, out, q, k, v)) {
      tensorCoreAttention(out, q, k, v, batch, seq_len, head_dim, heads, causal, stream);
      return;
    }
  }

  const int tiles = (seq_len + kRowsPerTile - 1) / kRowsPerTile;
  const int smem_bytes =
      static_cast<int>(sizeof(float) * (kRowsPerTile * head_dim + kKeysPerTile * (head_dim | 1) +
                                        kKeysPerTile * head_dim));
  // Past 48 KiB of dynamic shared memory a kernel must opt in (on the current device).
  CUDA_CHECK(cudaFuncSetAttribute(attentionKernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                  smem_bytes));
  const float scale = heads.scoreScale(head_dim);
  attentionKernel<T><<<dim3(tiles, heads.q_heads, batch), kThreads, smem_bytes, stream>>>(
      out, q, k, v, seq_len, head_dim, heads, causal, scale);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

void attention(float* out, const float* q, const float* k, const float* v, int batch, int seq_len,
               int head_dim, const AttentionHeads& heads, bool causal, cudaStream_t stream) {
  launchAttention(out, q, k, v, batch, seq_len, head_dim, heads, causal, stream);
}

template <typename T, typename>
void attention(T* out, const T* q, const T* k, const T* v, int batch, int seq_len, int head_dim,
               const AttentionHeads& heads, bool causal, cudaStream_t stream) {
  launchAttention(out, q, k, v, batch, seq_len, head_dim, heads, causal, stream);
}

template void attention<__nv_bfloat16>(__nv_bfloat16* out, const __nv_bfloat16* q,
                                       const __nv_bfloat16* k, const __nv_bfloat16* v, int batch,
                                       int seq_len, int head_dim, const AttentionHeads& heads,
                                       bool causal, cudaStream_t stream);

}  // namespace shardrt::kernels::cuda
