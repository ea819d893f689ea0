// Which heads one rank's attention kernel sees, shared by every backend's kernel.
// Query head h (global index q_head_begin + h) reads kv head (q_head_begin + h) / group_size,
// stored locally at that index minus kv_head_begin.
#pragma once

#include <math.h>

#include "kernels/host_device.h"

namespace shardrt::kernels {

struct AttentionHeads {
  int q_heads;        // query heads held locally
  int kv_heads;       // kv heads held locally
  int q_head_begin;   // global index of the first local query head
  int kv_head_begin;  // global index of the first local kv head
  int group_size;     // query heads per kv head in the whole model (heads / kv_heads)
  // The scores' scale: 0 for 1/sqrt(head_dim); DeepSeek's YaRN multiplies that by mscale^2.
  float score_scale = 0.0f;
  // Mistral's sliding window, with the causal mask: query i sees the keys j with
  // i - window < j <= i (transformers' sliding_window_overlay, kv_idx > q_idx - window); 0: all.
  int window = 0;

  // The local index of the kv head that local query head h reads; outside 0..kv_heads-1 when
  // the head ranges are wrong (each kernel checks).
  SHARDRT_HOST_DEVICE int localKvHead(int h) const {
    return (q_head_begin + h) / group_size - kv_head_begin;
  }

  // The first key query i sees (0 without a window); the CPU and CUDA cached attention both.
  SHARDRT_HOST_DEVICE int firstVisibleKey(int i) const {
    return window > 0 && i >= window ? i - window + 1 : 0;
  }

  float scoreScale(int head_dim) const {
    return score_scale > 0.0f ? score_scale : 1.0f / sqrtf(static_cast<float>(head_dim));
  }
};

}  // namespace shardrt::kernels
