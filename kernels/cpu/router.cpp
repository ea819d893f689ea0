#include "kernels/cpu/router.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace shardrt::kernels::cpu {

namespace {

// p: the router's score of every expert for one token's logits z.
void scores(float* p, const float* z, int experts, bool sigmoid) {
  if (sigmoid) {
    for (int e = 0; e < experts; ++e) p[e] = 1.0f / (1.0f + std::exp(-z[e]));
  } else {
    const float max_z = *std::max_element(z, z + experts);
    float sum = 0.0f;
    for (int e = 0; e < experts; ++e) sum += (p[e] = std::exp(z[e] - max_z));
    for (int e = 0; e < experts; ++e) p[e] /= sum;
  }
}

// weights_out[k] = p[chosen[k]], over their sum when normalize is set.
void weightsOf(float* weights_out, const std::int32_t* chosen, const float* p, int top_k,
               bool normalize) {
  float chosen_sum = 0.0f;
  for (int k = 0; k < top_k; ++k) chosen_sum += p[chosen[k]];
  for (int k = 0; k < top_k; ++k) {
    weights_out[k] = normalize ? p[chosen[k]] / chosen_sum : p[chosen[k]];
  }
}

}  // namespace

void routerTopK(std::int32_t* experts_out, float* weights_out, const float* logits, int tokens,
                int experts, int top_k, bool sigmoid, bool normalize) {
  std::vector<float> p(experts);
  std::vector<int> order(experts);
  for (int t = 0; t < tokens; ++t) {
    scores(p.data(), logits + static_cast<long>(t) * experts, experts, sigmoid);
    for (int e = 0; e < experts; ++e) order[e] = e;
    // Largest first; equal scores keep the lower index first, so every backend and every
    // sharding picks the same experts from the same scores.
    std::partial_sort(order.begin(), order.begin() + top_k, order.end(),
                      [&](int a, int b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
    std::int32_t* chosen = experts_out + static_cast<long>(t) * top_k;
    std::copy_n(order.begin(), top_k, chosen);
    weightsOf(weights_out + static_cast<long>(t) * top_k, chosen, p.data(), top_k, normalize);
  }
}

void routerWeightsOf(float* weights_out, const std::int32_t* experts, const float* logits,
                     int tokens, int experts_total, int top_k, bool sigmoid, bool normalize) {
  std::vector<float> p(experts_total);
  for (int t = 0; t < tokens; ++t) {
    scores(p.data(), logits + static_cast<long>(t) * experts_total, experts_total, sigmoid);
    weightsOf(weights_out + static_cast<long>(t) * top_k, experts + static_cast<long>(t) * top_k,
              p.data(), top_k, normalize);
  }
}

}  // namespace shardrt::kernels::cpu
