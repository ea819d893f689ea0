#include <stdexcept>
#include <string>

#include "common/cuda_check.h"
#include "kernels/cuda/router.cuh"

namespace shardrt::kernels::cuda {
namespace {

__global__ void routerTopKKernel(std::int32_t* experts_out, float* weights_out, const float* logits,
                                 const float* choice_bias, int tokens, int experts, int top_k,
                                 RouterRule rule) {
  const int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= tokens) return;
  const float* z = logits + static_cast<long>(t) * experts;
  float max_z = -INFINITY, sum = 0.0f;
  if (!rule.sigmoid) {
    for (int e = 0; e < experts; ++e) max_z = fmaxf(max_z, z[e]);
    for (int e = 0; e < experts; ++e) sum += expf(z[e] - max_z);
  }
  auto score = [&](int e) {
    return rule.sigmoid ? 1.0f / (1.0f + expf(-z[e])) : expf(z[e] - max_z) / sum;
  };
  auto choice = [&](int e) { return score(e) + (choice_bias ? choice_bias[e] : 0.0f); };

  // Group-limited choice: the top_groups groups by their best one or two choice scores.
  unsigned long long kept = ~0ull;  // bit g: group g may be chosen from
  const int per_group = rule.grouped() ? experts / rule.groups : experts;
  if (rule.grouped()) {
    float group_score[kMaxRouterGroups];
    for (int g = 0; g < rule.groups; ++g) {
      float best = -INFINITY, second = -INFINITY;
      for (int e = g * per_group; e < (g + 1) * per_group; ++e) {
        const float c = choice(e);
        if (c > best) {
          second = best;
          best = c;
        } else if (c > second) {
          second = c;
        }
      }
      group_score[g] = rule.group_top_two ? best + second : best;
    }
    kept = 0;
    for (int i = 0; i < rule.top_groups; ++i) {
      int best = -1;
      for (int g = 0; g < rule.groups; ++g) {
        // Strictly greater while scanning upwards: a tie keeps the lower group.
        if (!(kept >> g & 1ull) && (best < 0 || group_score[g] > group_score[best])) best = g;
      }
      kept |= 1ull << best;
    }
  }

  int chosen[kMaxRouterTopK];
  float chosen_score[kMaxRouterTopK];
  float chosen_sum = 0.0f;
  for (int k = 0; k < top_k; ++k) {
    int best = -1;
    float best_choice = -INFINITY;
    for (int e = 0; e < experts; ++e) {
      if (!(kept >> (e / per_group) & 1ull)) continue;
      bool taken = false;
      for (int j = 0; j < k; ++j) taken |= chosen[j] == e;
      const float c = choice(e);
      // Strictly greater while scanning upwards: a tie keeps the lower index.
      if (!taken && (best < 0 || c > best_choice)) {
        best = e;
        best_choice = c;
      }
    }
    chosen[k] = best;
    chosen_score[k] = score(best);
    chosen_sum += chosen_score[k];
  }
  for (int k = 0; k < top_k; ++k) {
    const float w = rule.normalize ? chosen_score[k] / chosen_sum : chosen_score[k];
    experts_out[static_cast<long>(t) * top_k + k] = chosen[k];
    weights_out[static_cast<long>(t) * top_k + k] = w * rule.scale;
  }
}

}  // namespace

void routerTopK(std::int32_t* experts_out, float* weights_out, const float* logits,
                const float* choice_bias, int tokens, int experts, int top_k,
                const RouterRule& rule, cudaStream_t stream) {
  if (top_k > kMaxRouterTopK || top_k > experts) {
    throw std::invalid_argument("cuda routerTopK: top_k " + std::to_string(top_k) +
                                " exceeds the limit (" + std::to_string(kMaxRouterTopK) +
                                ") or the experts (" + std::to_string(experts) + ")");
  }
  if (const char* why = rule.broken(experts, top_k)) {
    throw std::invalid_argument(std::string("cuda routerTopK: ") + why);
  }
  if (rule.grouped() && rule.groups > kMaxRouterGroups) {
    throw std::invalid_argument("cuda routerTopK: groups " + std::to_string(rule.groups) +
                                " exceed the limit (" + std::to_string(kMaxRouterGroups) + ")");
  }
  if (tokens == 0) return;
  constexpr int kThreads = 128;
  routerTopKKernel<<<(tokens + kThreads - 1) / kThreads, kThreads, 0, stream>>>(
      experts_out, weights_out, logits, choice_bias, tokens, experts, top_k, rule);
  CUDA_CHECK_LAUNCH();
}

}  // namespace shardrt::kernels::cuda
