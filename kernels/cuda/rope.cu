#include <cuda_bf16.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "common/cuda_check.h"
#include "kernels/cuda/element_type.cuh"
#include "kernels/cuda/rope.cuh"
#include "kernels/cuda/vector_access.cuh"

namespace shardrt::kernels::cuda {
namespace {

// One block per token: its threads first compute the token's cos and sin for each of the
// head_dim / 2 frequencies into shared memory (double angle as the CPU kernel, rounded to
// float), then rotate every head of that token with them. A table per token, not a pow, cos
// and sin per rotated pair: the old kernel did those per pair, plus 64-bit divisions, and
// reached 12% of the copy's bandwidth in bf16 on an H200 (docs/benchmarks.md).
// P elements per access: kPack<T> (16 bytes, vector_access.cuh) where half and x allow, else 1.
// Both kernels below call this with the token's heads and its position; every thread of the
// block must call it.
template <typename T, int P>
__device__ void rotateToken(T* token, long pos, int heads, int head_dim,
                            const RopeFrequencies& rope) {
  extern __shared__ float table[];                 // cos for i < half, then sin
  const int rotated = rope.rotatedDims(head_dim);  // the rest of each head passes through
  const int half = rotated / 2;
  for (int i = threadIdx.x; i < half; i += blockDim.x) {
    const double angle = static_cast<double>(pos) * ropeFrequency(rope, i, rotated);
    table[i] = static_cast<float>(cos(angle) * rope.magnitude);
    table[half + i] = static_cast<float>(sin(angle) * rope.magnitude);
  }
  __syncthreads();
  T* base = token + rope.rotary_offset;
  const int per_head = half / P;
  for (int u = threadIdx.x; u < heads * per_head; u += blockDim.x) {
    const int i0 = (u % per_head) * P;
    T* v = base + static_cast<long>(u / per_head) * head_dim + i0;
    float a[P], b[P];
    // Pair i: (i, i + half), or (2i, 2i + 1) interleaved (element by element only).
    const int partner = rope.interleaved ? 1 : half;
    if (rope.interleaved) v += i0;  // v pointed at element i0 of the head; pair i0 starts at 2 i0
    if constexpr (P == 1) {
      a[0] = toFloat(v[0]);
      b[0] = toFloat(v[partner]);
    } else {
      loadPack(v, a);
      loadPack(v + half, b);
    }
    for (int j = 0; j < P; ++j) {
      const float c = table[i0 + j], sn = table[half + i0 + j];
      const float x1 = a[j], x2 = b[j];
      a[j] = x1 * c - x2 * sn;
      b[j] = x2 * c + x1 * sn;
    }
    if constexpr (P == 1) {
      v[0] = fromFloat<T>(a[0]);
      v[partner] = fromFloat<T>(b[0]);
    } else {
      storePack(v, a);
      storePack(v + half, b);
    }
  }
}

// x (batch * seq_len tokens, heads, head_dim): token b * seq_len + s at position s.
template <typename T, int P>
__global__ void ropeKernel(T* x, int seq_len, int heads, int head_dim, RopeFrequencies rope) {
  const long token = blockIdx.x;
  rotateToken<T, P>(x + token * heads * head_dim, token % seq_len, heads, head_dim, rope);
}

// x (tokens, heads, head_dim): token t at positions[t].
template <typename T, int P>
__global__ void ropeAtKernel(T* x, const std::int32_t* positions, int heads, int head_dim,
                             RopeFrequencies rope) {
  const long token = blockIdx.x;
  rotateToken<T, P>(x + token * heads * head_dim, positions[token], heads, head_dim, rope);
}

// positions null: token t of the batch at t % seq_len; else at positions[t].
template <typename T, int P>
void launchRopeWith(T* x, long tokens, int seq_len, const std::int32_t* positions, int heads,
                    int head_dim, const RopeFrequencies& rope, cudaStream_t stream) {
  if (tokens == 0) return;  // a generation step with no tokens on this rank: no launch
  const int half = rope.rotatedDims(head_dim) / 2;
  const long units = static_cast<long>(heads) * (half / P);
  const int threads =
      static_cast<int>(std::min<long>(256, std::max<long>(32, (units + 31) / 32 * 32)));
  const std::size_t shared = static_cast<std::size_t>(half) * 2 * sizeof(float);
  const auto blocks = static_cast<unsigned>(tokens);
  if (positions == nullptr) {
    ropeKernel<T, P><<<blocks, threads, shared, stream>>>(x, seq_len, heads, head_dim, rope);
  } else {
    ropeAtKernel<T, P><<<blocks, threads, shared, stream>>>(x, positions, heads, head_dim, rope);
  }
  CUDA_CHECK_LAUNCH();
}

template <typename T>
void launchRope(T* x, long tokens, int seq_len, const std::int32_t* positions, int heads,
                int head_dim, const RopeFrequencies& rope, cudaStream_t stream) {
  const int half = rope.rotatedDims(head_dim) / 2;
  if (tokens == 0 || heads == 0 || half < 1) return;
  // A pack must not straddle a head: head_dim and the offset multiples of the pack keep every
  // head's rotated part (and so its v and v + half) aligned when only part of it is rotated.
  // Interleaved pairs are adjacent elements: element by element.
  if (packFits<T>(half, x) && head_dim % kPack<T> == 0 && rope.rotary_offset % kPack<T> == 0 &&
      !rope.interleaved) {
    launchRopeWith<T, kPack<T>>(x, tokens, seq_len, positions, heads, head_dim, rope, stream);
  } else {
    launchRopeWith<T, 1>(x, tokens, seq_len, positions, heads, head_dim, rope, stream);
  }
}

}  // namespace

void rotaryEmbedding(float* x, int batch, int seq_len, int heads, int head_dim,
                     const RopeFrequencies& rope, cudaStream_t stream) {
  launchRope(x, static_cast<long>(batch) * seq_len, seq_len, nullptr, heads, head_dim, rope,
             stream);
}

void rotaryEmbedding(__nv_bfloat16* x, int batch, int seq_len, int heads, int head_dim,
                     const RopeFrequencies& rope, cudaStream_t stream) {
  launchRope(x, static_cast<long>(batch) * seq_len, seq_len, nullptr, heads, head_dim, rope,
             stream);
}

void rotaryEmbeddingAt(float* x, const std::int32_t* positions, long tokens, int heads,
                       int head_dim, const RopeFrequencies& rope, cudaStream_t stream) {
  launchRope(x, tokens, 1, positions, heads, head_dim, rope, stream);
}

void rotaryEmbeddingAt(__nv_bfloat16* x, const std::int32_t* positions, long tokens, int heads,
                       int head_dim, const RopeFrequencies& rope, cudaStream_t stream) {
  launchRope(x, tokens, 1, positions, heads, head_dim, rope, stream);
}

}  // namespace shardrt::kernels::cuda
