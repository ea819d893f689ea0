// The Plan: which rank holds what. Plain data, serialisable to JSON; the runtime executes any
// valid Plan and derives nothing on its own, so a hand-written or planner-written plan with
// uneven splits runs the same way.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <vector>

#include "config/deployment.h"

namespace shardrt::config {

// Half-open [begin, end) of some global index (heads, columns, layers).
struct Range {
  int begin = 0;
  int end = 0;
  int size() const { return end - begin; }
  bool operator==(const Range&) const = default;
};

// What one tensor-parallel rank holds of every layer in its stage.
struct TensorParallelShard {
  Range q_heads;         // query heads; q_proj rows and o_proj columns follow (x head_dim)
  Range kv_heads;        // kv heads this rank's query heads read; replicated where tp > kv_heads
  Range ffn_columns;     // columns of the FFN's first layer, rows of its second
  Range shared_columns;  // the same for the MoE layers' shared-experts MLP
  Range vocab;           // token ids: rows of the embedding and of the LM head (generate)
};

struct PipelineStage {
  Range layers;
};

struct Plan {
  int tp = 1, pp = 1, ep = 1, dp = 1;
  int microbatches = 1;
  std::vector<PipelineStage> stages;           // pp entries
  std::vector<TensorParallelShard> tp_shards;  // tp entries, by tp rank
  // ep entries: the experts each ep rank holds. An expert may be held by several ep ranks
  // (redundant copies of a hot expert), never twice by one.
  std::vector<std::vector<int>> expert_placement;
  std::vector<Range> dp_batches;  // dp entries: each replica's batch rows

  // The ep ranks holding a copy of expert e, ascending (empty when the model has no experts).
  std::vector<int> expertCopies(int expert) const;
  // The stage holding layer l.
  int stageOf(int layer) const;
};

// The plan for a deployment: its explicit placements where given, else even splits of heads,
// FFN columns, layers, experts and batch rows.
Plan makePlan(const Deployment& deployment);

// The kv heads query heads [q.begin, q.end) need when query head h reads kv head h / group.
Range kvHeadsFor(Range q_heads, int group_size);

nlohmann::json toJson(const Plan& plan);

}  // namespace shardrt::config
