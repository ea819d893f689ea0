// The MoE router's scoring and top-k on logits the router GEMM produced, by the rule of
// kernels/router_rule.h (softmax or sigmoid scores, an optional choice bias, group-limited
// choice, top-k with ties to the lower index, renormalised and scaled weights).
#pragma once

#include <cstdint>

#include "kernels/router_rule.h"

namespace shardrt::kernels::cpu {

// logits (tokens, experts), choice_bias (experts) or null -> experts_out, weights_out
// (tokens, top_k).
void routerTopK(std::int32_t* experts_out, float* weights_out, const float* logits,
                const float* choice_bias, int tokens, int experts, int top_k,
                const RouterRule& rule);

// The weights the router gives experts chosen elsewhere (experts (tokens, top_k), each in
// 0..experts-1): p of each as above, divided by their sum when normalize is set, times the
// scale. Validation uses it to make a reference follow a run's routing (runtime/moe_block.h).
void routerWeightsOf(float* weights_out, const std::int32_t* experts, const float* logits,
                     int tokens, int experts_total, int top_k, const RouterRule& rule);

}  // namespace shardrt::kernels::cpu
