#include <mma.h>

#include <cmath>
#include <cstdint>
#include <stdexcept>

#include "common/cuda_check.h"
#include "kernels/cuda/attention_tensor_core.cuh"

namespace shardrt::kernels::cuda {
namespace {

namespace wmma = nvcuda::wmma;
using bf16 = __nv_bfloat16;

constexpr int kWarpSize = 32;
constexpr int kWarps = 4;
constexpr int kThreads = kWarps * kWarpSize;
constexpr int kFrag = 16;                 // WMMA bf16 tiles are 16 x 16 x 16
constexpr int kRows = kWarps * kFrag;     // 64 query rows per block, 16 per warp
constexpr int kKeys = 64;                 // keys per tile
constexpr int kScoreStride = kKeys + 4;   // fp32 scores: WMMA wants a multiple of 4
constexpr int kWeightStride = kKeys + 8;  // bf16 weights: WMMA wants a multiple of 8
constexpr int kMaxHeadDim = 128;

// Shared memory of one block, in bytes from the start; every region starts 32-byte aligned, as
// WMMA loads and stores require. Q is staged in the K region and then held in registers.
template <int D>
struct SharedLayout {
  static constexpr int kTileStride = D + 8;  // bf16 K, V (and Q) rows: +8 staggers the banks
  static constexpr int kOutStride = D + 4;   // fp32 O rows
  static constexpr std::size_t kTileBytes = std::size_t{kKeys} * kTileStride * sizeof(bf16);
  static constexpr std::size_t k = 0;
  static constexpr std::size_t v = k + kTileBytes;
  static constexpr std::size_t s = v + kTileBytes;
  static constexpr std::size_t p = s + std::size_t{kRows} * kScoreStride * sizeof(float);
  static constexpr std::size_t o = p + std::size_t{kRows} * kWeightStride * sizeof(bf16);
  static constexpr std::size_t bytes = o + std::size_t{kRows} * kOutStride * sizeof(float);
};

// Rows row0 .. row0 + 63 of a matrix whose positions are pos_stride elements apart, D columns,
// into dst (stride D + 8), 16 bytes per load; rows at or past seq_len become zeros (finite
// scores, and 0 weight times a zero V row, never 0 times garbage).
template <int D>
__device__ void stageTile(bf16* dst, const bf16* src, long pos_stride, int row0, int seq_len) {
  constexpr int kVectors = D / 8;
  for (int idx = threadIdx.x; idx < kKeys * kVectors; idx += kThreads) {
    const int r = idx / kVectors, c = idx % kVectors * 8;
    uint4 value = make_uint4(0, 0, 0, 0);
    if (row0 + r < seq_len)
      value = *reinterpret_cast<const uint4*>(src + (row0 + r) * pos_stride + c);
    *reinterpret_cast<uint4*>(dst + r * SharedLayout<D>::kTileStride + c) = value;
  }
}

// Grid: (query tiles, q_heads, batch). See the header for the shape of the computation.
template <int D>
__global__ void __launch_bounds__(kThreads)
    tensorCoreAttentionKernel(bf16* out, const bf16* q, const bf16* k, const bf16* v, int seq_len,
                              AttentionHeads heads, bool causal, float scale) {
  using Layout = SharedLayout<D>;
  constexpr int ts = Layout::kTileStride, os = Layout::kOutStride;
  extern __shared__ __align__(128) unsigned char smem[];
  bf16* k_tile = reinterpret_cast<bf16*>(smem + Layout::k);
  bf16* v_tile = reinterpret_cast<bf16*>(smem + Layout::v);
  float* scores = reinterpret_cast<float*>(smem + Layout::s);
  bf16* weights = reinterpret_cast<bf16*>(smem + Layout::p);
  float* o_acc = reinterpret_cast<float*>(smem + Layout::o);

  // The last query tiles first: with a causal mask they see the most keys.
  const int q0 = (gridDim.x - 1 - blockIdx.x) * kRows;
  const int h = blockIdx.y, b = blockIdx.z;
  const int kvh = heads.localKvHead(h);
  const long q_pos_stride = static_cast<long>(heads.q_heads) * D;
  const long kv_pos_stride = static_cast<long>(heads.kv_heads) * D;
  const bf16* q_bh = q + static_cast<long>(b) * seq_len * q_pos_stride + h * D;
  bf16* out_bh = out + static_cast<long>(b) * seq_len * q_pos_stride + h * D;
  const bf16* k_bh = k + static_cast<long>(b) * seq_len * kv_pos_stride + kvh * D;
  const bf16* v_bh = v + static_cast<long>(b) * seq_len * kv_pos_stride + kvh * D;
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;

  // The warp's 16 query rows as D / 16 A fragments, kept in registers for every key tile.
  stageTile<D>(k_tile, q_bh, q_pos_stride, q0, seq_len);
  for (int idx = threadIdx.x; idx < kRows * os; idx += kThreads) o_acc[idx] = 0.0f;
  __syncthreads();
  wmma::fragment<wmma::matrix_a, kFrag, kFrag, kFrag, bf16, wmma::row_major> q_frag[D / kFrag];
#pragma unroll
  for (int kk = 0; kk < D / kFrag; ++kk) {
    wmma::load_matrix_sync(q_frag[kk], k_tile + warp * kFrag * ts + kk * kFrag, ts);
  }

  // Softmax bookkeeping: lanes 2r and 2r + 1 own row r of the warp's 16, key columns
  // 32 * half .. + 32 and output columns D / 2 * half .. + D / 2.
  const int row = warp * kFrag + lane / 2;
  const int half = lane % 2;
  const int i = q0 + row;  // this row's query position
  float m = -INFINITY, l = 0.0f;

  const int kv_end = causal ? min(q0 + kRows, seq_len) : seq_len;
  for (int k0 = 0; k0 < kv_end; k0 += kKeys) {
    __syncthreads();  // every warp is done with the previous K, V (and the Q staged in K)
    stageTile<D>(k_tile, k_bh, kv_pos_stride, k0, seq_len);
    stageTile<D>(v_tile, v_bh, kv_pos_stride, k0, seq_len);
    __syncthreads();

    // S = Q K^T for the warp's rows: B(d, j) = K[j][d] is K read column-major.
    {
      wmma::fragment<wmma::accumulator, kFrag, kFrag, kFrag, float> s_frag[kKeys / kFrag];
#pragma unroll
      for (int n = 0; n < kKeys / kFrag; ++n) wmma::fill_fragment(s_frag[n], 0.0f);
#pragma unroll
      for (int kk = 0; kk < D / kFrag; ++kk) {
#pragma unroll
        for (int n = 0; n < kKeys / kFrag; ++n) {
          wmma::fragment<wmma::matrix_b, kFrag, kFrag, kFrag, bf16, wmma::col_major> k_frag;
          wmma::load_matrix_sync(k_frag, k_tile + n * kFrag * ts + kk * kFrag, ts);
          wmma::mma_sync(s_frag[n], q_frag[kk], k_frag, s_frag[n]);
        }
      }
#pragma unroll
      for (int n = 0; n < kKeys / kFrag; ++n) {
        wmma::store_matrix_sync(scores + warp * kFrag * kScoreStride + n * kFrag, s_frag[n],
                                kScoreStride, wmma::mem_row_major);
      }
    }
    __syncwarp();

    // Online softmax over this tile: raise the running max, rescale what was summed under the
    // old one. The weights are rounded to bf16 for the P V product, and l sums the rounded
    // weights, so the normalisation matches what was accumulated.
    const float* s_row = scores + row * kScoreStride + half * 32;
    float tile_max = -INFINITY;
    for (int c = 0; c < 32; ++c) {
      const int j = k0 + half * 32 + c;
      const bool seen =
          j < seq_len && (!causal || (j <= i && (heads.window == 0 || i - j < heads.window)));
      if (seen) tile_max = fmaxf(tile_max, s_row[c] * scale);
    }
    tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
    const float m_new = fmaxf(m, tile_max);
    // m stays -inf only while every key so far is masked: nothing to rescale then.
    const float alpha = m == -INFINITY ? 0.0f : expf(m - m_new);
    bf16* p_row = weights + row * kWeightStride + half * 32;
    float sum = 0.0f;
    for (int c = 0; c < 32; ++c) {
      const int j = k0 + half * 32 + c;
      const bool visible =
          j < seq_len && (!causal || (j <= i && (heads.window == 0 || i - j < heads.window)));
      const bf16 p = __float2bfloat16_rn(visible ? expf(s_row[c] * scale - m_new) : 0.0f);
      p_row[c] = p;
      sum += __bfloat162float(p);
    }
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    l = l * alpha + sum;
    m = m_new;
    float* o_row = o_acc + row * os + half * (D / 2);
    for (int c = 0; c < D / 2; ++c) o_row[c] *= alpha;
    __syncwarp();

    // O += P V, one 16-column slice of the warp's O at a time.
#pragma unroll
    for (int n = 0; n < D / kFrag; ++n) {
      wmma::fragment<wmma::accumulator, kFrag, kFrag, kFrag, float> o_frag;
      float* o_slice = o_acc + warp * kFrag * os + n * kFrag;
      wmma::load_matrix_sync(o_frag, o_slice, os, wmma::mem_row_major);
#pragma unroll
      for (int kk = 0; kk < kKeys / kFrag; ++kk) {
        wmma::fragment<wmma::matrix_a, kFrag, kFrag, kFrag, bf16, wmma::row_major> p_frag;
        wmma::fragment<wmma::matrix_b, kFrag, kFrag, kFrag, bf16, wmma::row_major> v_frag;
        wmma::load_matrix_sync(p_frag, weights + warp * kFrag * kWeightStride + kk * kFrag,
                               kWeightStride);
        wmma::load_matrix_sync(v_frag, v_tile + kk * kFrag * ts + n * kFrag, ts);
        wmma::mma_sync(o_frag, p_frag, v_frag, o_frag);
      }
      wmma::store_matrix_sync(o_slice, o_frag, os, wmma::mem_row_major);
    }
    __syncwarp();
  }

  // Normalise by the row's sum (>= 1 rounded: the row max contributes exp(0)) and write.
  if (i < seq_len) {
    const float inv_l = 1.0f / l;
    const float* o_row = o_acc + row * os + half * (D / 2);
    bf16* dst = out_bh + i * q_pos_stride + half * (D / 2);
    for (int c = 0; c < D / 2; ++c) dst[c] = __float2bfloat16_rn(o_row[c] * inv_l);
  }
}

template <int D>
void launch(bf16* out, const bf16* q, const bf16* k, const bf16* v, int batch, int seq_len,
            const AttentionHeads& heads, bool causal, cudaStream_t stream) {
  constexpr int bytes = static_cast<int>(SharedLayout<D>::bytes);
  // Past 48 KiB of dynamic shared memory a kernel must opt in (on the current device).
  CUDA_CHECK(cudaFuncSetAttribute(tensorCoreAttentionKernel<D>,
                                  cudaFuncAttributeMaxDynamicSharedMemorySize, bytes));
  const int tiles = (seq_len + kRows - 1) / kRows;
  const float scale = heads.scoreScale(D);
  tensorCoreAttentionKernel<D><<<dim3(tiles, heads.q_heads, batch), kThreads, bytes, stream>>>(
      out, q, k, v, seq_len, heads, causal, scale);
  CUDA_CHECK_LAUNCH();
}

bool aligned16(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

}  // namespace

bool tensorCoreAttentionSupports(int head_dim, const void* out, const void* q, const void* k,
                                 const void* v) {
  return head_dim > 0 && head_dim <= kMaxHeadDim && head_dim % kFrag == 0 && aligned16(out) &&
         aligned16(q) && aligned16(k) && aligned16(v);
}

void tensorCoreAttention(bf16* out, const bf16* q, const bf16* k, const bf16* v, int batch,
                         int seq_len, int head_dim, const AttentionHeads& heads, bool causal,
                         cudaStream_t stream) {
  switch (head_dim) {  // one instantiation per head_dim: the fragment arrays stay in registers
    case 16:
      return launch<16>(out, q, k, v, batch, seq_len, heads, causal, stream);
    case 32:
      return launch<32>(out, q, k, v, batch, seq_len, heads, causal, stream);
    case 48:
      return launch<48>(out, q, k, v, batch, seq_len, heads, causal, stream);
    case 64:
      return launch<64>(out, q, k, v, batch, seq_len, heads, causal, stream);
    case 80:
      return launch<80>(out, q, k, v, batch, seq_len, heads, causal, stream);
    case 96:
      return launch<96>(out, q, k, v, batch, seq_len, heads, causal, stream);
    case 112:
      return launch<112>(out, q, k, v, batch, seq_len, heads, causal, stream);
    case 128:
      return launch<128>(out, q, k, v, batch, seq_len, heads, causal, stream);
    default:
      throw std::invalid_argument(
          "cuda::tensorCoreAttention: head_dim must be a multiple of 16 "
          "up to 128");
  }
}

}  // namespace shardrt::kernels::cuda
