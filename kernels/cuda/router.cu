#include <stdexcept>
#include <string>

#include "common/cuda_check.h"
#include "kernels/cuda/router.cuh"

namespace shardrt::kernels::cuda {
namespace {

__global__ void routerTopKKernel(std::int32_t* experts_out, float* weights_out, const float* logits,
                                 int tokens, int experts, int top_k, bool sigmoid, bool normalize) {
  const int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= tokens) return;
  const float* z = logits + static_cast<long>(t) * experts;
  float max_z = -INFINITY, sum = 0.0f;
  if (!sigmoid) {
    for (int e = 0; e < experts; ++e) max_z = fmaxf(max_z, z[e]);
    for (int e = 0; e < experts; ++e) sum += expf(z[e] - max_z);
  }
  auto score = [&](int e) {
    return sigmoid ? 1.0f / (1.0f + expf(-z[e])) : expf(z[e] - max_z) / sum;
  };
  int chosen[kMaxRouterTopK];
  float chosen_score[kMaxRouterTopK];
  float chosen_sum = 0.0f;
  for (int k = 0; k < top_k; ++k) {
    int best = -1;
    float best_score = -INFINITY;
    for (int e = 0; e < experts; ++e) {
      bool taken = false;
      for (int j = 0; j < k; ++j) taken |= chosen[j] == e;
      const float p = score(e);
      // Strictly greater while scanning upwards: a tie keeps the lower index.
      if (!taken && (best < 0 || p > best_score)) {
        best = e;
        best_score = p;
      }
    }
    chosen[k] = best;
    chosen_score[k] = best_score;
    chosen_sum += best_score;
  }
  for (int k = 0; k < top_k; ++k) {
    experts_out[static_cast<long>(t) * top_k + k] = chosen[k];
    weights_out[static_cast<long>(t) * top_k + k] =
        normalize ? chosen_score[k] / chosen_sum : chosen_score[k];
  }
}

}  // namespace

void routerTopK(std::int32_t* experts_out, float* weights_out, const float* logits, int tokens,
                int experts, int top_k, bool sigmoid, bool normalize, cudaStream_t stream) {
  if (top_k > kMaxRouterTopK || top_k > experts) {
    throw std::invalid_argument("cuda routerTopK: top_k " + std::to_string(top_k) +
                                " exceeds the limit (" + std::to_string(kMaxRouterTopK) +
                                ") or the experts (" + std::to_string(experts) + ")");
  }
  if (tokens == 0) return;
  constexpr int kThreads = 128;
  routerTopKKernel<<<(tokens + kThreads - 1) / kThreads, kThreads, 0, stream>>>(
      experts_out, weights_out, logits, tokens, experts, top_k, sigmoid, normalize);
  CUDA_CHECK_LAUNCH();
}

}  // namespace shardrt::kernels::cuda
