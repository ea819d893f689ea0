// The rotary frequencies a model's config asks for, as the rope kernels take them: rope_theta
// and, when the config has them, Llama 3.1's scaling and a partial rotary dimension. One conversion
// for the executor and for the check of a checkpoint's stored inv_freq buffer.
#pragma once

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
  }
  return rope;
}

}  // namespace shardrt
