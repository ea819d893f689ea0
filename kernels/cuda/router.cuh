// The MoE router's scoring and top-k on the GPU, the rule of kernels/router_rule.h: softmax
// or sigmoid scores, an optional choice bias, group-limited choice, the top-k largest first
// with ties to the lower expert index, weights optionally renormalised, then scaled. One
// thread per token: experts number tens to a few hundred, and the scans over them are a
// fraction of the router GEMM before it.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/router_rule.h"

namespace shardrt::kernels::cuda {

inline constexpr int kMaxRouterTopK = 32;
inline constexpr int kMaxRouterGroups = 64;  // one bit each in the kept-groups mask

// logits (tokens, experts), choice_bias (experts) or null -> experts_out, weights_out
// (tokens, top_k). top_k <= 32, groups <= 64.
void routerTopK(std::int32_t* experts_out, float* weights_out, const float* logits,
                const float* choice_bias, int tokens, int experts, int top_k,
                const RouterRule& rule, cudaStream_t stream);

}  // namespace shardrt::kernels::cuda
