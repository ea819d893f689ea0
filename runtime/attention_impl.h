// Which attention kernel the cuda Backend runs for bf16 (`run --attention`): our own
// (kernels/cuda/attention.cuh, the default) or cuDNN's fused one (kernels/cuda/
// attention_cudnn.cuh), with ours wherever cuDNN refuses a shape. New GPU paths stay off by
// default until a GPU run has validated them; fp32 always runs ours.
#pragma once

#include <string_view>

namespace shardrt {

enum class AttentionImpl { Own, Cudnn };

inline std::string_view attentionImplName(AttentionImpl a) {
  return a == AttentionImpl::Cudnn ? "cudnn" : "own";
}

}  // namespace shardrt
