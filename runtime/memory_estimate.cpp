#include "runtime/memory_estimate.h"

#include <algorithm>

#include "runtime/model_weights.h"

namespace shardrt {

MemoryEstimate estimateMemory(const config::Deployment& deployment, const config::Plan& plan,
                              const config::ParallelLayout& layout, long step_tokens) {
  const bool token_level = step_tokens > 0;
  MemoryEstimate e;
  const auto& m = deployment.model;
  const std::size_t element = dtypeSize(deployment.workload.dtype);
  const auto holdings =
      ShardHoldings::of(plan, layout.tpRank(), layout.ppRank(), layout.epRank(), token_level);
  for (const auto& spec : shardWeightSpecs(m, holdings)) {
    e.weight_bytes +=
        static_cast<std::size_t>(spec.localNumel()) * (spec.fp32 ? sizeof(float) : element);
  }

  const auto& shard = plan.tp_shards[layout.tpRank()];
  const std::size_t replica_rows = plan.dp_batches[layout.dpRank()].size();
  const std::size_t tokens = token_level
                                 ? static_cast<std::size_t>(step_tokens)
                                 : replica_rows / plan.microbatches * deployment.workload.seq_len;
  const std::size_t hidden = m.hidden, hd = m.head_dim;
  // residual, normed, partial (+ moe_out), q, k, v, attn, ffn a and b: the executor's buffers.
  std::size_t per_token = 4 * hidden + 2 * shard.q_heads.size() * hd +
                          2 * shard.kv_heads.size() * hd + 2 * shard.ffn_columns.size() +
                          2 * shard.shared_columns.size();
  if (m.mla.on()) {  // runtime/latent_attention.h's buffers
    const auto& a = m.mla;
    per_token += a.q_rank + 2 * a.kv_rank + 2 * a.rope_dim +
                 shard.q_heads.size() * (a.nope_dim + 2 * a.v_dim + hd);
    if (token_level) {  // the latent cache's: a row, four per-head buffers, two of the latent
      const std::size_t width = a.kv_rank + a.rope_dim;
      const std::size_t widest = std::max({a.nope_dim, a.kv_rank, a.v_dim});
      per_token += width + shard.q_heads.size() * (4 * widest + 2 * width + 2);
    }
  }
  if (m.hasMoe()) {
    // Router logits and choices, and at worst every slot of the microbatch on this rank:
    // send, receive, regrouped, expert output, returned rows, and the expert FFN's two
    // intermediate buffers.
    const std::size_t k = m.moe.top_k;
    per_token += m.moe.experts + 2 * k + k * (5 * hidden + 2 * m.moe.expert_ffn_hidden);
  }
  e.activation_bytes = tokens * per_token * element;
  if (token_level) {
    // The LM head's logits and their gathered copy (a microbatch's rows), and the step's
    // four i32 index tensors; no model input or output.
    const std::size_t rows = replica_rows / plan.microbatches;
    e.activation_bytes += (rows * shard.vocab.size() + rows * m.vocab) * element +
                          4 * tokens * sizeof(std::int32_t) + tokens * hidden * element;
    e.kv_cache_bytes = kvCacheBytes(deployment, plan, layout);
  } else {
    // The replica's input and output rows.
    e.activation_bytes += 2 * replica_rows * deployment.workload.seq_len * hidden * element;
  }
  return e;
}

std::size_t kvCacheBytes(const config::Deployment& deployment, const config::Plan& plan,
                         const config::ParallelLayout& layout) {
  const auto& m = deployment.model;
  const std::size_t layers = plan.stages[layout.ppRank()].layers.size();
  const std::size_t kv_heads = plan.tp_shards[layout.tpRank()].kv_heads.size();
  const std::size_t rows = plan.dp_batches[layout.dpRank()].size();
  const std::size_t positions = layers * rows * deployment.workload.seq_len;
  const std::size_t element = dtypeSize(deployment.workload.dtype);
  // Latent attention caches one row of kv_rank + rope_dim a token, on every tp rank.
  if (m.mla.on()) {
    return positions * static_cast<std::size_t>(m.mla.kv_rank + m.mla.rope_dim) * element;
  }
  return 2 * positions * kv_heads * m.head_dim * element;
}

}  // namespace shardrt
