// The MoE router's scoring and top-k on the GPU, the rule of kernels/cpu/router.h: softmax
// over all experts (or sigmoid), the top-k largest first with ties to the lower expert index,
// weights optionally renormalised over the chosen. One thread per token: experts number tens
// to a few hundred, and the scan over them is a fraction of the router GEMM before it.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace shardrt::kernels::cuda {

inline constexpr int kMaxRouterTopK = 32;

// logits (tokens, experts) -> experts_out, weights_out (tokens, top_k). top_k <= 32.
void routerTopK(std::int32_t* experts_out, float* weights_out, const float* logits, int tokens,
                int experts, int top_k, bool sigmoid, bool normalize, cudaStream_t stream);

}  // namespace shardrt::kernels::cuda
