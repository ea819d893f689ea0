// What one rank will allocate for a run, predicted from the plan before anything is allocated:
// its weights (exact, from the weight specs) and its activations (the executor's per-microbatch
// buffers, the model input and the replica's output, and the largest MoE exchange buffers).
// Compared with the device's free memory, it turns an out-of-memory crash deep in a run into
// a one-line error at the start.
#pragma once

#include <cstddef>

#include "config/deployment.h"
#include "config/parallel_layout.h"
#include "config/plan.h"

namespace shardrt {

struct MemoryEstimate {
  std::size_t weight_bytes = 0;
  std::size_t activation_bytes = 0;
  std::size_t kv_cache_bytes = 0;  // generate: keys and values of the stage's layers
  std::size_t total() const { return weight_bytes + activation_bytes + kv_cache_bytes; }
};

// step_tokens > 0 (generate): with the embedding and LM head the rank holds, the buffers of a
// step of that many tokens (runtime/generation_executor.h, stepTokens) and the KV cache of its
// replica's rows: workload.batch_size rows of workload.seq_len positions over the dp replicas.
MemoryEstimate estimateMemory(const config::Deployment& deployment, const config::Plan& plan,
                              const config::ParallelLayout& layout, long step_tokens = 0);

// Bytes of the KV cache one rank of `layout` holds (generate).
std::size_t kvCacheBytes(const config::Deployment& deployment, const config::Plan& plan,
                         const config::ParallelLayout& layout);

}  // namespace shardrt
