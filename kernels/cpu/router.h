// The MoE router's scoring and top-k, on logits the router GEMM produced:
//   softmax: p = softmax(logits) over all experts;   sigmoid: p = 1 / (1 + exp(-logits))
//   top-k of p per token, largest first, ties to the lower expert index;
//   weights = p[top-k], divided by their sum when normalize is set.
#pragma once

#include <cstdint>

namespace shardrt::kernels::cpu {

// logits (tokens, experts) -> experts_out, weights_out (tokens, top_k).
void routerTopK(std::int32_t* experts_out, float* weights_out, const float* logits, int tokens,
                int experts, int top_k, bool sigmoid, bool normalize);

// The weights the router gives experts chosen elsewhere (experts (tokens, top_k), each in
// 0..experts-1): p of each as above, divided by their sum when normalize is set. Validation
// uses it to make a reference follow a run's routing (runtime/moe_block.h).
void routerWeightsOf(float* weights_out, const std::int32_t* experts, const float* logits,
                     int tokens, int experts_total, int top_k, bool sigmoid, bool normalize);

}  // namespace shardrt::kernels::cpu
