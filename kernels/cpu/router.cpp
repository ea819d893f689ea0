#include "kernels/cpu/router.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace shardrt::kernels::cpu {

void routerTopK(std::int32_t* experts_out, float* weights_out, const float* logits, int tokens,
                int experts, int top_k, bool sigmoid, bool normalize) {
  std::vector<float> p(experts);
  std::vector<int> order(experts);
  for (int t = 0; t < tokens; ++t) {
    const float* z = logits + static_cast<long>(t) * experts;
    if (sigmoid) {
      for (int e = 0; e < experts; ++e) p[e] = 1.0f / (1.0f + std::exp(-z[e]));
    } else {
      const float max_z = *std::max_element(z, z + experts);
      float sum = 0.0f;
      for (int e = 0; e < experts; ++e) sum += (p[e] = std::exp(z[e] - max_z));
      for (int e = 0; e < experts; ++e) p[e] /= sum;
    }
    for (int e = 0; e < experts; ++e) order[e] = e;
    // Largest first; equal scores keep the lower index first, so every backend and every
    // sharding picks the same experts from the same scores.
    std::partial_sort(order.begin(), order.begin() + top_k, order.end(),
                      [&](int a, int b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
    float chosen_sum = 0.0f;
    for (int k = 0; k < top_k; ++k) chosen_sum += p[order[k]];
    for (int k = 0; k < top_k; ++k) {
      experts_out[static_cast<long>(t) * top_k + k] = order[k];
      weights_out[static_cast<long>(t) * top_k + k] =
          normalize ? p[order[k]] / chosen_sum : p[order[k]];
    }
  }
}

}  // namespace shardrt::kernels::cpu
