#include "kernels/cpu/router.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <stdexcept>
#include <string>
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

// weights_out[k] = p[chosen[k]], over their sum when normalize is set, times the scale.
void weightsOf(float* weights_out, const std::int32_t* chosen, const float* p, int top_k,
               const RouterRule& rule) {
  float chosen_sum = 0.0f;
  for (int k = 0; k < top_k; ++k) chosen_sum += p[chosen[k]];
  for (int k = 0; k < top_k; ++k) {
    const float w = rule.normalize ? p[chosen[k]] / chosen_sum : p[chosen[k]];
    weights_out[k] = w * rule.scale;
  }
}

// Largest first; equal values keep the lower index first, so every backend and every sharding
// picks the same from the same scores.
void topIndices(std::vector<int>& order, int count, const std::vector<float>& value) {
  std::partial_sort(order.begin(), order.begin() + count, order.end(), [&](int a, int b) {
    return value[a] > value[b] || (value[a] == value[b] && a < b);
  });
}

// allowed[e]: whether expert e is in one of the top_groups best groups by choice score c.
void allowedExperts(std::vector<char>& allowed, const std::vector<float>& c, int experts,
                    const RouterRule& rule) {
  const int per_group = experts / rule.groups;
  std::vector<float> group_score(rule.groups);
  std::vector<float> members(per_group);
  for (int g = 0; g < rule.groups; ++g) {
    std::copy_n(c.begin() + static_cast<long>(g) * per_group, per_group, members.begin());
    std::sort(members.begin(), members.end(), std::greater<float>());
    group_score[g] = rule.group_top_two ? members[0] + members[1] : members[0];
  }
  std::vector<int> order(rule.groups);
  for (int g = 0; g < rule.groups; ++g) order[g] = g;
  topIndices(order, rule.top_groups, group_score);
  std::fill(allowed.begin(), allowed.end(), 0);
  for (int i = 0; i < rule.top_groups; ++i) {
    std::fill_n(allowed.begin() + static_cast<long>(order[i]) * per_group, per_group, 1);
  }
}

}  // namespace

void routerTopK(std::int32_t* experts_out, float* weights_out, const float* logits,
                const float* choice_bias, int tokens, int experts, int top_k,
                const RouterRule& rule) {
  if (const char* why = rule.broken(experts, top_k)) {
    throw std::invalid_argument(std::string("routerTopK: ") + why);
  }
  std::vector<float> p(experts), c(experts);
  std::vector<char> allowed(experts, 1);
  std::vector<int> order;
  for (int t = 0; t < tokens; ++t) {
    scores(p.data(), logits + static_cast<long>(t) * experts, experts, rule.sigmoid);
    for (int e = 0; e < experts; ++e) c[e] = p[e] + (choice_bias ? choice_bias[e] : 0.0f);
    if (rule.grouped()) allowedExperts(allowed, c, experts, rule);
    order.clear();
    for (int e = 0; e < experts; ++e) {
      if (allowed[e]) order.push_back(e);
    }
    topIndices(order, top_k, c);
    std::int32_t* chosen = experts_out + static_cast<long>(t) * top_k;
    std::copy_n(order.begin(), top_k, chosen);
    weightsOf(weights_out + static_cast<long>(t) * top_k, chosen, p.data(), top_k, rule);
  }
}

void routerWeightsOf(float* weights_out, const std::int32_t* experts, const float* logits,
                     int tokens, int experts_total, int top_k, const RouterRule& rule) {
  std::vector<float> p(experts_total);
  for (int t = 0; t < tokens; ++t) {
    scores(p.data(), logits + static_cast<long>(t) * experts_total, experts_total, rule.sigmoid);
    weightsOf(weights_out + static_cast<long>(t) * top_k, experts + static_cast<long>(t) * top_k,
              p.data(), top_k, rule);
  }
}

}  // namespace shardrt::kernels::cpu
