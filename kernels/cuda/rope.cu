#include <cuda_bf16.h>

#include <type_traits>

#include "common/cuda_check.h"
#include "kernels/cuda/element_type.cuh"
#include "kernels/cuda/rope.cuh"

namespace shardrt::kernels::cuda {
namespace {

// One thread per rotated pair (b, s, h, i < d/2).
template <typename T>
__global__ void ropeKernel(T* x, long pairs, int seq_len, int heads, int head_dim, float theta) {
  const long idx = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= pairs) return;
  const int half = head_dim / 2;
  const int i = static_cast<int>(idx % half);
  const long row = idx / half;  // (b, s, h) flattened
  const int s = static_cast<int>((row / heads) % seq_len);
  const double angle = s * pow(static_cast<double>(theta), -2.0 * i / head_dim);
  const float c = static_cast<float>(cos(angle)), sn = static_cast<float>(sin(angle));
  T* v = x + row * head_dim;
  const float x1 = toFloat(v[i]), x2 = toFloat(v[i + half]);
  v[i] = fromFloat<T>(x1 * c - x2 * sn);
  v[i + half] = fromFloat<T>(x2 * c + x1 * sn);
}

template <typename T>
void launchRope(T* x, int batch, int seq_len, int heads, int head_dim, float theta,
                cudaStream_t stream) {
  const long pairs = static_cast<long>(batch) * seq_len * heads * (head_dim / 2);
  if (pairs == 0) return;
  constexpr int kThreads = 256;
  const long blocks = (pairs + kThreads - 1) / kThreads;
  ropeKernel<T><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(x, pairs, seq_len, heads,
                                                                        head_dim, theta);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

void rotaryEmbedding(float* x, int batch, int seq_len, int heads, int head_dim, float theta,
                     cudaStream_t stream) {
  launchRope(x, batch, seq_len, heads, head_dim, theta, stream);
}

void rotaryEmbedding(__nv_bfloat16* x, int batch, int seq_len, int heads, int head_dim, float theta,
                     cudaStream_t stream) {
  launchRope(x, batch, seq_len, heads, head_dim, theta, stream);
}

}  // namespace shardrt::kernels::cuda
