// The attention shapes the GPU attention tests (fp32 and bf16) run, and how they name one.
#pragma once

#include <string>

#include "kernels/attention_heads.h"

namespace shardrt::testing {

struct AttentionShape {
  int batch, seq_len, head_dim;
  kernels::AttentionHeads heads;
};

inline std::string describe(const AttentionShape& s, bool causal) {
  const auto& h = s.heads;
  return "batch " + std::to_string(s.batch) + " seq_len " + std::to_string(s.seq_len) +
         " head_dim " + std::to_string(s.head_dim) + " heads {q " + std::to_string(h.q_heads) +
         ", kv " + std::to_string(h.kv_heads) + ", q_begin " + std::to_string(h.q_head_begin) +
         ", kv_begin " + std::to_string(h.kv_head_begin) + ", group " +
         std::to_string(h.group_size) + "}" + (causal ? " causal" : " bidirectional");
}

}  // namespace shardrt::testing
