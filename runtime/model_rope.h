// The rotary frequencies a model's config asks for, as the rope kernels take them: rope_theta
// and, when the config has them, Llama 3.1's scaling and a partial rotary dimension. One conversion
// for the executor and for the check of a checkpoint's stored inv_freq buffer.
#pragma once

#include <cmath>

#include "config/deployment.h"
#include "kernels/rope_frequencies.h"

namespace shardrt {

inline kernels::RopeFrequencies ropeFrequenciesOf(const config::ModelConfig& model) {
  kernels::RopeFrequencies rope(model.rope_theta);
  rope.rotary_dim = model.rotary_dim;
  if (model.mla.on()) {  // the rope dims after each head's nope dims, DeepSeek's pairs
    rope.rotary_dim = model.mla.rope_dim;
    rope.rotary_offset = model.mla.nope_dim;
    rope.interleaved = model.mla.interleaved;
  }
  if (model.rope_scaling.on()) {
    rope.factor = model.rope_scaling.factor;
    rope.low_freq_factor = model.rope_scaling.low_freq_factor;
    rope.high_freq_factor = model.rope_scaling.high_freq_factor;
    rope.original_context = model.rope_scaling.original_max_position_embeddings;
    rope.yarn = model.rope_scaling.yarn();
    rope.beta_fast = model.rope_scaling.beta_fast;
    rope.beta_slow = model.rope_scaling.beta_slow;
    if (rope.yarn) rope.magnitude = model.rope_scaling.attention_factor;
  }
  return rope;
}

// The attention scores' scale: 1/sqrt(head_dim), and with latent attention under YaRN times
// mscale(factor, mscale_all_dim)^2 (transformers' yarn_apply_mscale, after DeepSeek's
// reference: softmax_scale = qk_scale * mscale * mscale). 0 stands for the plain 1/sqrt.
inline float attentionScoreScale(const config::ModelConfig& model) {
  const auto& s = model.rope_scaling;
  if (!model.mla.on() || !s.yarn() || !(s.mscale_all_dim > 0.0) || s.factor <= 1.0) return 0.0f;
  const double mscale = 0.1 * s.mscale_all_dim * std::log(s.factor) + 1.0;
  return static_cast<float>(mscale * mscale / std::sqrt(static_cast<double>(model.head_dim)));
}

}  // namespace shardrt
